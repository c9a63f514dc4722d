/*
 * netisolator.h: the C ABI between native hosts (the Mesos module shim, the `isolator` runner, the native test
 * host) and the isolators written in C#.
 *
 * The provider library (libnetisolator_provider.so) exports these functions. Behind them it loads the .NET
 * runtime through nethost/hostfxr (the mechanism DNNE uses) and forwards every call to [UnmanagedCallersOnly]
 * entry points in the managed bridge (NetIsolator.Bridge.NativeExports).
 *
 * Contract:
 *   - Only plain C types cross this boundary. Lifecycle arguments and answers are protobuf-encoded messages
 *     from proto/netisolator/bridge.proto (which wraps Mesos's own messages, same field numbers).
 *   - Every function is thread-safe. A handle may be used from any number of threads at once.
 *   - Each lifecycle function takes a completion callback. The callback is invoked exactly once per call,
 *     on any thread, possibly before the lifecycle function returns. The receiver owns `data` and must release
 *     it with netiso_free (it is NULL when `length` is 0).
 *   - Nothing here aborts the process: every failure comes back as a status plus a UTF-8 error text that
 *     names the thing and the step that failed.
 */
#ifndef NETISOLATOR_NETISOLATOR_H
#define NETISOLATOR_NETISOLATOR_H

#include <stdint.h>

#ifdef __cplusplus
#define NETISO_EXTERN_C extern "C"
#else
#define NETISO_EXTERN_C
#endif

#define NETISO_API NETISO_EXTERN_C __attribute__((visibility("default")))

/* Bumped on any incompatible change to this header. Hosts compare it with netiso_abi_version().
 *   1  the eight lifecycle calls
 *   2  netiso_isolator_metrics (a host built for 2 calls a function a provider of 1 does not export) */
#define NETISO_ABI_VERSION 2u

/* Opaque isolator instance created by netiso_isolator_create. */
typedef struct netiso_isolator netiso_isolator;

/* One module parameter, as given in the Mesos --modules manifest. Both strings are UTF-8 and NUL-terminated. */
typedef struct netiso_parameter {
    const char* key;
    const char* value;
} netiso_parameter;

/* Completion status of a lifecycle call. */
enum {
    /* `data` is the serialized response message named in bridge.proto for that call. */
    NETISO_STATUS_OK = 0,
    /* `data` is a UTF-8 error text (not NUL-terminated). The host fails its future with it. */
    NETISO_STATUS_FAILED = 1,
    /* No data. The call will never produce an answer and the host should abandon its future (not fail it).
     * Used for watch() once the container has been cleaned up: a failed watch would destroy the container. */
    NETISO_STATUS_ABANDONED = 2,
};

/* Capability bits returned by netiso_isolator_capabilities. */
enum {
    NETISO_SUPPORTS_NESTING = 1 << 0,
    NETISO_SUPPORTS_STANDALONE = 1 << 1,
};

/* Log levels of the log sink; they map onto glog's VLOG(1), INFO, WARNING and ERROR. */
enum {
    NETISO_LOG_DEBUG = 0,
    NETISO_LOG_INFO = 1,
    NETISO_LOG_WARNING = 2,
    NETISO_LOG_ERROR = 3,
};

typedef void (*netiso_completion_fn)(void* context, int32_t status, uint8_t* data, int32_t length);

/* `message` is UTF-8, not NUL-terminated, valid only during the call. Called on any thread. */
typedef void (*netiso_log_fn)(void* context, int32_t level, const char* message, int32_t length);

/* The ABI version the provider was built with (NETISO_ABI_VERSION at its build time). */
NETISO_API uint32_t netiso_abi_version(void);

/* Routes log lines of the provider and of managed code to `sink` (NULL: to stderr). Process-wide; may be called
 * at any time, before or after the runtime is loaded. */
NETISO_API void netiso_set_log_sink(netiso_log_fn sink, void* context);

/* Creates the isolator registered under `module_name` in the managed assembly, loading the runtime first if
 * this is the first call in the process. Parameters understood by the provider itself:
 *   assembly     path of the managed assembly holding the isolators
 *                (default: NetIsolator.Isolators.dll next to the provider library)
 *   dotnet_root  the .NET installation to use (default: nethost's discovery: DOTNET_ROOT, /etc/dotnet, ...)
 * All parameters, these included, are passed on to the isolator, which rejects keys it does not know.
 * Returns 0 and sets *out, or returns non-zero and sets *error to a text the caller frees with netiso_free. */
NETISO_API int32_t netiso_isolator_create(const char* module_name, const netiso_parameter* parameters,
                                          int32_t parameter_count, netiso_isolator** out, char** error);

/* NETISO_SUPPORTS_* bits of the instance. */
NETISO_API int32_t netiso_isolator_capabilities(netiso_isolator* isolator);

/* Releases the instance. Calls still in flight complete normally; no call may start after this. */
NETISO_API void netiso_isolator_destroy(netiso_isolator* isolator);

/* The lifecycle, one function per mesos::slave::Isolator method, plus `metrics`. Request and response types, from
 * proto/netisolator/bridge.proto:
 *   recover   RecoverRequest  -> Empty
 *   prepare   PrepareRequest  -> PrepareResponse
 *   isolate   IsolateRequest  -> Empty
 *   watch     WatchRequest    -> mesos.slave.ContainerLimitation   (or NETISO_STATUS_ABANDONED)
 *   update    UpdateRequest   -> Empty
 *   usage     UsageRequest    -> mesos.ResourceStatistics
 *   status    StatusRequest   -> mesos.ContainerStatus
 *   cleanup   CleanupRequest  -> Empty
 *   metrics   MetricsRequest  -> MetricsResponse  (no Isolator method: the isolator's counters and gauges by their
 *                                                 full names, for the agent's /metrics/snapshot; the request may
 *                                                 be empty, length 0)
 */
#define NETISO_LIFECYCLE_FUNCTION(name)                                                                      \
    NETISO_API void netiso_isolator_##name(netiso_isolator* isolator, const uint8_t* request, int32_t length, \
                                           netiso_completion_fn done, void* context)

NETISO_LIFECYCLE_FUNCTION(recover);
NETISO_LIFECYCLE_FUNCTION(prepare);
NETISO_LIFECYCLE_FUNCTION(isolate);
NETISO_LIFECYCLE_FUNCTION(watch);
NETISO_LIFECYCLE_FUNCTION(update);
NETISO_LIFECYCLE_FUNCTION(usage);
NETISO_LIFECYCLE_FUNCTION(status);
NETISO_LIFECYCLE_FUNCTION(cleanup);
NETISO_LIFECYCLE_FUNCTION(metrics);

#undef NETISO_LIFECYCLE_FUNCTION

/* Releases a buffer handed out by this library (completion data, error texts). NULL is allowed. */
NETISO_API void netiso_free(void* buffer);

#endif /* NETISOLATOR_NETISOLATOR_H */
