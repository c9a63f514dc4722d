/*
 * The [UnmanagedCallersOnly] entry points of NetIsolator.Bridge.NativeExports, as the provider binds them.
 * Their C# declarations must match these signatures exactly (NativeExports.cs says so too).
 */
#ifndef NETISOLATOR_PROVIDER_MANAGED_EXPORTS_H
#define NETISOLATOR_PROVIDER_MANAGED_EXPORTS_H

#include <stdint.h>

#include "netisolator/netisolator.h"

/* Lifecycle method ids passed to `invoke`; NetIsolator.Bridge.LifecycleMethod mirrors them. `metrics` is not a
 * Mesos lifecycle method, but it travels the same way: a bridge that predates it answers "unknown lifecycle
 * method #8" through the completion instead of failing to bind. */
enum lifecycle_method {
    LIFECYCLE_RECOVER = 0,
    LIFECYCLE_PREPARE = 1,
    LIFECYCLE_ISOLATE = 2,
    LIFECYCLE_WATCH = 3,
    LIFECYCLE_UPDATE = 4,
    LIFECYCLE_USAGE = 5,
    LIFECYCLE_STATUS = 6,
    LIFECYCLE_CLEANUP = 7,
    LIFECYCLE_METRICS = 8,
};

/* Called by managed code for every log line; forwards to the sink set with netiso_set_log_sink. */
typedef void (*managed_log_fn)(int32_t level, const uint8_t* message, int32_t length);

typedef int32_t (*managed_initialize_fn)(managed_log_fn log, const char* assembly_path, char** error);
typedef int32_t (*managed_create_fn)(const char* module_name, const netiso_parameter* parameters,
                                     int32_t parameter_count, intptr_t* handle, char** error);
typedef int32_t (*managed_capabilities_fn)(intptr_t handle);
typedef void (*managed_destroy_fn)(intptr_t handle);
typedef void (*managed_invoke_fn)(intptr_t handle, int32_t method, const uint8_t* request, int32_t length,
                                  netiso_completion_fn done, void* context);

/* The entry points bound for one managed assembly (each assembly lives in its own AssemblyLoadContext). */
struct managed_exports {
    managed_initialize_fn initialize;
    managed_create_fn create;
    managed_capabilities_fn capabilities;
    managed_destroy_fn destroy;
    managed_invoke_fn invoke;
};

/* The X-macro list of entry points: (field, managed method name). One list drives binding and checking. */
#define MANAGED_EXPORTS(X)          \
    X(initialize, "Initialize")     \
    X(create, "Create")             \
    X(capabilities, "Capabilities") \
    X(destroy, "Destroy")           \
    X(invoke, "Invoke")

/* Assembly-qualified name of the type that holds the entry points. */
#define MANAGED_EXPORTS_TYPE "NetIsolator.Bridge.NativeExports, NetIsolator.Bridge"

#endif /* NETISOLATOR_PROVIDER_MANAGED_EXPORTS_H */
