/*
 * The C ABI of netisolator.h. Each function is a thin forwarder to the managed entry point bound for the
 * instance's assembly; the only logic here is finding the assembly and turning failures into error texts.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "managed_exports.h"
#include "netisolator/netisolator.h"
#include "runtime_host.h"

/* The managed assembly loaded when the module parameters name none. */
#define DEFAULT_ASSEMBLY_NAME "NetIsolator.Isolators.dll"

struct netiso_isolator {
    const struct managed_exports* exports;
    intptr_t managed_handle;
};

NETISO_API uint32_t netiso_abi_version(void) {
    return NETISO_ABI_VERSION;
}

NETISO_API void netiso_free(void* buffer) {
    /* Managed code allocates with NativeMemory.Alloc, which is malloc on Linux; so does set_error. */
    free(buffer);
}

static const char* find_parameter(const netiso_parameter* parameters, int32_t count, const char* key) {
    const char* value = NULL;
    for (int32_t i = 0; i < count; i++) {
        if (parameters[i].key != NULL && strcmp(parameters[i].key, key) == 0) {
            value = parameters[i].value; /* the last one wins, as with repeated agent flags */
        }
    }
    return value;
}

/* The directory this library was loaded from, found through the address of one of our own functions. */
static int32_t own_directory(char* directory, size_t size, char** error) {
    Dl_info info;
    if (dladdr((void*)&netiso_abi_version, &info) == 0 || info.dli_fname == NULL) {
        return set_error(error, "could not find where libnetisolator_provider.so was loaded from (dladdr failed)");
    }
    char resolved[PATH_MAX];
    if (realpath(info.dli_fname, resolved) == NULL) {
        return set_error(error, "could not resolve the path of libnetisolator_provider.so ('%s')", info.dli_fname);
    }
    char* slash = strrchr(resolved, '/');
    size_t length = slash != NULL ? (size_t)(slash - resolved) : 0;
    if (length + 1 > size) {
        return set_error(error, "the directory of libnetisolator_provider.so is too long: '%s'", resolved);
    }
    memcpy(directory, resolved, length);
    directory[length] = '\0';
    return 0;
}

/* The absolute path of the managed assembly: the `assembly` parameter, or the default one beside this library. */
static int32_t resolve_assembly(const char* parameter, char* path, size_t size, char** error) {
    if (parameter != NULL) {
        if (parameter[0] == '\0') {
            return set_error(error, "module parameter 'assembly' is empty");
        }
        if (realpath(parameter, path) == NULL) {
            return set_error(error, "managed assembly '%s' (module parameter 'assembly') not found", parameter);
        }
        return 0;
    }
    char directory[PATH_MAX];
    if (own_directory(directory, sizeof directory, error) != 0) {
        return -1;
    }
    int written = snprintf(path, size, "%s/%s", directory, DEFAULT_ASSEMBLY_NAME);
    if (written < 0 || (size_t)written >= size) {
        return set_error(error, "the default assembly path under '%s' is too long", directory);
    }
    return 0;
}

NETISO_API int32_t netiso_isolator_create(const char* module_name, const netiso_parameter* parameters,
                                          int32_t parameter_count, netiso_isolator** out, char** error) {
    if (out == NULL) {
        return set_error(error, "netiso_isolator_create: no place for the result (out is NULL)");
    }
    *out = NULL;
    if (module_name == NULL || module_name[0] == '\0') {
        return set_error(error, "netiso_isolator_create: the module name is empty");
    }
    if (parameter_count < 0 || (parameter_count > 0 && parameters == NULL)) {
        return set_error(error, "netiso_isolator_create('%s'): %d parameters given without an array", module_name,
                         parameter_count);
    }
    for (int32_t i = 0; i < parameter_count; i++) {
        if (parameters[i].key == NULL || parameters[i].value == NULL) {
            return set_error(error, "netiso_isolator_create('%s'): parameter #%d has no %s", module_name, i,
                             parameters[i].key == NULL ? "key" : "value");
        }
    }

    char assembly[PATH_MAX];
    if (resolve_assembly(find_parameter(parameters, parameter_count, "assembly"), assembly, sizeof assembly,
                         error) != 0) {
        return -1;
    }
    const char* dotnet_root = find_parameter(parameters, parameter_count, "dotnet_root");
    if (dotnet_root != NULL && dotnet_root[0] == '\0') {
        dotnet_root = NULL;
    }

    const struct managed_exports* exports = runtime_bind_assembly(assembly, dotnet_root, error);
    if (exports == NULL) {
        return -1;
    }

    struct netiso_isolator* isolator = malloc(sizeof *isolator);
    if (isolator == NULL) {
        return set_error(error, "out of memory while creating isolator '%s'", module_name);
    }
    isolator->exports = exports;
    if (exports->create(module_name, parameters, parameter_count, &isolator->managed_handle, error) != 0) {
        free(isolator);
        return -1;
    }
    *out = isolator;
    return 0;
}

NETISO_API int32_t netiso_isolator_capabilities(netiso_isolator* isolator) {
    return isolator != NULL ? isolator->exports->capabilities(isolator->managed_handle) : 0;
}

NETISO_API void netiso_isolator_destroy(netiso_isolator* isolator) {
    if (isolator != NULL) {
        isolator->exports->destroy(isolator->managed_handle);
        free(isolator);
    }
}

static void invoke(netiso_isolator* isolator, enum lifecycle_method method, const uint8_t* request, int32_t length,
                   netiso_completion_fn done, void* context) {
    if (done == NULL) {
        return; /* nobody to answer: the call would be lost anyway */
    }
    if (isolator == NULL || length < 0 || (length > 0 && request == NULL)) {
        char* error = NULL;
        set_error(&error, "lifecycle call #%d rejected: %s", (int)method,
                  isolator == NULL ? "no isolator (NULL handle)" : "request buffer and length disagree");
        done(context, NETISO_STATUS_FAILED, (uint8_t*)error, error != NULL ? (int32_t)strlen(error) : 0);
        return;
    }
    isolator->exports->invoke(isolator->managed_handle, method, request, length, done, context);
}

#define LIFECYCLE_EXPORT(name, method)                                                                         \
    NETISO_API void netiso_isolator_##name(netiso_isolator* isolator, const uint8_t* request, int32_t length, \
                                           netiso_completion_fn done, void* context) {                        \
        invoke(isolator, method, request, length, done, context);                                             \
    }

LIFECYCLE_EXPORT(recover, LIFECYCLE_RECOVER)
LIFECYCLE_EXPORT(prepare, LIFECYCLE_PREPARE)
LIFECYCLE_EXPORT(isolate, LIFECYCLE_ISOLATE)
LIFECYCLE_EXPORT(watch, LIFECYCLE_WATCH)
LIFECYCLE_EXPORT(update, LIFECYCLE_UPDATE)
LIFECYCLE_EXPORT(usage, LIFECYCLE_USAGE)
LIFECYCLE_EXPORT(status, LIFECYCLE_STATUS)
LIFECYCLE_EXPORT(cleanup, LIFECYCLE_CLEANUP)
LIFECYCLE_EXPORT(metrics, LIFECYCLE_METRICS)
