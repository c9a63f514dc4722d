#include "runtime_host.h"

#include <coreclr_delegates.h>
#include <dlfcn.h>
#include <hostfxr.h>
#include <nethost.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"

/* Each assembly gets its own AssemblyLoadContext; a handful is plenty for one agent. */
#define MAX_BOUND_ASSEMBLIES 8

struct bound_assembly {
    char* path;
    struct managed_exports exports;
};

/* Everything below is guarded by host_lock. Binding happens at module creation, so contention is irrelevant. */
static pthread_mutex_t host_lock = PTHREAD_MUTEX_INITIALIZER;
static load_assembly_and_get_function_pointer_fn load_assembly; /* non-NULL once the runtime runs */
static char* runtime_dotnet_root;                                /* what the running runtime was asked for */
static struct bound_assembly bound[MAX_BOUND_ASSEMBLIES];
static int bound_count;

/* hostfxr reports why it failed through a per-thread "error writer" rather than its return codes; collect those
 * lines while we call it so they end up in the error text the operator sees. */
static char hostfxr_messages[4096];
static size_t hostfxr_messages_length;

static void collect_hostfxr_message(const char_t* message) {
    size_t room = sizeof hostfxr_messages - hostfxr_messages_length;
    if (room <= 1) {
        return;
    }
    int written = snprintf(hostfxr_messages + hostfxr_messages_length, room, "%s%s",
                           hostfxr_messages_length == 0 ? "" : " | ", message);
    if (written > 0) {
        hostfxr_messages_length += (size_t)written < room ? (size_t)written : room - 1;
    }
}

static const char* collected_hostfxr_messages(void) {
    return hostfxr_messages_length == 0 ? "(hostfxr gave no details)" : hostfxr_messages;
}

static int is_regular_file(const char* path) {
    return access(path, R_OK) == 0;
}

/* "x/Foo.dll" -> "x/Foo.runtimeconfig.json": the SDK writes it beside a component built with EnableDynamicLoading. */
static char* runtimeconfig_path_for(const char* assembly_path) {
    size_t length = strlen(assembly_path);
    size_t stem = length > 4 && strcmp(assembly_path + length - 4, ".dll") == 0 ? length - 4 : length;
    const char suffix[] = ".runtimeconfig.json";
    char* path = malloc(stem + sizeof suffix);
    if (path != NULL) {
        memcpy(path, assembly_path, stem);
        memcpy(path + stem, suffix, sizeof suffix);
    }
    return path;
}

static int32_t locate_hostfxr(const char* assembly_path, const char* dotnet_root, char* path, size_t path_size,
                              char** error) {
    struct get_hostfxr_parameters parameters = {sizeof parameters, assembly_path, dotnet_root};
    size_t size = path_size;
    int32_t rc = get_hostfxr_path(path, &size, &parameters);
    if (rc == 0) {
        return 0;
    }
    if (dotnet_root != NULL) {
        return set_error(error,
                         "the .NET host resolver libhostfxr.so was not found under dotnet_root '%s' (module parameter "
                         "'dotnet_root'; expected %s/host/fxr/<version>/libhostfxr.so) [get_hostfxr_path: 0x%08x %s]",
                         dotnet_root, dotnet_root, (uint32_t)rc, host_status_name(rc));
    }
    const char* environment_root = getenv("DOTNET_ROOT");
    return set_error(error,
                     "the .NET host resolver libhostfxr.so was not found: looked next to '%s', under DOTNET_ROOT (%s), "
                     "in /etc/dotnet/install_location and in the default install location; install the .NET runtime "
                     "or set the module parameter 'dotnet_root' [get_hostfxr_path: 0x%08x %s]",
                     assembly_path, environment_root != NULL ? environment_root : "unset", (uint32_t)rc,
                     host_status_name(rc));
}

/* Starts CoreCLR with the runtimeconfig.json of `assembly_path` and keeps its assembly loader. */
static int32_t start_runtime(const char* assembly_path, const char* dotnet_root, char** error) {
    char hostfxr_path[4096];
    if (locate_hostfxr(assembly_path, dotnet_root, hostfxr_path, sizeof hostfxr_path, error) != 0) {
        return -1;
    }

    /* hostfxr is never unloaded: the runtime it starts cannot be stopped, and its function pointers stay in use. */
    void* hostfxr = dlopen(hostfxr_path, RTLD_LAZY | RTLD_LOCAL);
    if (hostfxr == NULL) {
        return set_error(error, "could not load the .NET host resolver '%s': %s", hostfxr_path, dlerror());
    }
    hostfxr_initialize_for_runtime_config_fn initialize =
        (hostfxr_initialize_for_runtime_config_fn)dlsym(hostfxr, "hostfxr_initialize_for_runtime_config");
    hostfxr_get_runtime_delegate_fn get_delegate =
        (hostfxr_get_runtime_delegate_fn)dlsym(hostfxr, "hostfxr_get_runtime_delegate");
    hostfxr_close_fn close_context = (hostfxr_close_fn)dlsym(hostfxr, "hostfxr_close");
    hostfxr_set_error_writer_fn set_error_writer =
        (hostfxr_set_error_writer_fn)dlsym(hostfxr, "hostfxr_set_error_writer");
    if (initialize == NULL || get_delegate == NULL || close_context == NULL || set_error_writer == NULL) {
        return set_error(error, "'%s' lacks the hosting API (hostfxr_initialize_for_runtime_config and friends): "
                                "the .NET installation is older than .NET 5",
                         hostfxr_path);
    }

    char* config_path = runtimeconfig_path_for(assembly_path);
    if (config_path == NULL) {
        return set_error(error, "out of memory while starting the .NET runtime");
    }
    if (!is_regular_file(config_path)) {
        set_error(error,
                  "'%s' not found: the managed assembly '%s' must be built as a framework-dependent component "
                  "(EnableDynamicLoading) with its runtimeconfig.json beside it",
                  config_path, assembly_path);
        free(config_path);
        return -1;
    }

    hostfxr_messages_length = 0;
    hostfxr_messages[0] = '\0';
    set_error_writer(collect_hostfxr_message);

    hostfxr_handle context = NULL;
    int32_t rc = initialize(config_path, NULL, &context);
    /* 0: we started it; 1: already running in this process; 2: running, with other properties. All usable. */
    if (rc < 0 || context == NULL) {
        set_error(error,
                  "the .NET runtime could not be initialized from '%s' with the host resolver '%s' "
                  "[hostfxr_initialize_for_runtime_config: 0x%08x %s]: %s",
                  config_path, hostfxr_path, (uint32_t)rc, host_status_name(rc), collected_hostfxr_messages());
        if (context != NULL) {
            close_context(context);
        }
        set_error_writer(NULL);
        free(config_path);
        return -1;
    }
    if (rc == 2) {
        provider_log(NETISO_LOG_WARNING, "the .NET runtime was already running with other properties than '%s' asks for",
                     config_path);
    }

    void* loader = NULL;
    rc = get_delegate(context, hdt_load_assembly_and_get_function_pointer, &loader);
    /* The loader outlives the context. Closing it now matters: an open first context blocks every later
     * hostfxr_initialize_* call in this process. */
    close_context(context);
    set_error_writer(NULL);
    if (rc != 0 || loader == NULL) {
        set_error(error,
                  "the .NET runtime could not be started from '%s' [hostfxr_get_runtime_delegate: 0x%08x %s]: %s",
                  config_path, (uint32_t)rc, host_status_name(rc), collected_hostfxr_messages());
        free(config_path);
        return -1;
    }

    provider_log(NETISO_LOG_INFO, "started the .NET runtime with '%s' (host resolver '%s')", config_path,
                 hostfxr_path);
    free(config_path);
    load_assembly = (load_assembly_and_get_function_pointer_fn)loader;
    runtime_dotnet_root = dotnet_root != NULL ? strdup(dotnet_root) : NULL;
    return 0;
}

static int32_t bind_entry_points(const char* assembly_path, struct managed_exports* exports, char** error) {
#define BIND_ONE(field, method)                                                                                   \
    {                                                                                                             \
        void* pointer = NULL;                                                                                     \
        int32_t rc = load_assembly(assembly_path, MANAGED_EXPORTS_TYPE, method, UNMANAGEDCALLERSONLY_METHOD, NULL, \
                                   &pointer);                                                                     \
        if (rc != 0 || pointer == NULL) {                                                                         \
            return set_error(error,                                                                               \
                             "could not bind the entry point %s.%s from '%s' (is NetIsolator.Bridge.dll beside it "   \
                             "and listed in its .deps.json?) [load_assembly_and_get_function_pointer: 0x%08x]",       \
                             MANAGED_EXPORTS_TYPE, method, assembly_path, (uint32_t)rc);                           \
        }                                                                                                         \
        memcpy(&exports->field, &pointer, sizeof pointer);                                                        \
    }
    MANAGED_EXPORTS(BIND_ONE)
#undef BIND_ONE
    return 0;
}

static const struct managed_exports* find_bound(const char* assembly_path) {
    for (int i = 0; i < bound_count; i++) {
        if (strcmp(bound[i].path, assembly_path) == 0) {
            return &bound[i].exports;
        }
    }
    return NULL;
}

static const struct managed_exports* bind_locked(const char* assembly_path, const char* dotnet_root, char** error) {
    const struct managed_exports* existing = find_bound(assembly_path);
    if (existing != NULL) {
        return existing;
    }
    if (!is_regular_file(assembly_path)) {
        set_error(error, "managed assembly '%s' not found or not readable", assembly_path);
        return NULL;
    }
    if (load_assembly == NULL) {
        if (start_runtime(assembly_path, dotnet_root, error) != 0) {
            return NULL;
        }
    } else if (dotnet_root != NULL &&
               (runtime_dotnet_root == NULL || strcmp(runtime_dotnet_root, dotnet_root) != 0)) {
        provider_log(NETISO_LOG_WARNING,
                     "dotnet_root '%s' ignored for '%s': the .NET runtime already runs in this process and only one "
                     "runtime can",
                     dotnet_root, assembly_path);
    }
    if (bound_count == MAX_BOUND_ASSEMBLIES) {
        set_error(error, "cannot load '%s': already %d managed assemblies are loaded in this process", assembly_path,
                  MAX_BOUND_ASSEMBLIES);
        return NULL;
    }

    struct bound_assembly* slot = &bound[bound_count];
    if (bind_entry_points(assembly_path, &slot->exports, error) != 0) {
        return NULL;
    }
    if (slot->exports.initialize(provider_log_from_managed, assembly_path, error) != 0) {
        return NULL;
    }
    slot->path = strdup(assembly_path);
    if (slot->path == NULL) {
        set_error(error, "out of memory while binding '%s'", assembly_path);
        return NULL;
    }
    bound_count++;
    return &slot->exports;
}

const struct managed_exports* runtime_bind_assembly(const char* assembly_path, const char* dotnet_root, char** error) {
    pthread_mutex_lock(&host_lock);
    const struct managed_exports* exports = bind_locked(assembly_path, dotnet_root, error);
    pthread_mutex_unlock(&host_lock);
    return exports;
}
