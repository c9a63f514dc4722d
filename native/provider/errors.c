#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int32_t set_error(char** error, const char* format, ...) {
    if (error == NULL) {
        return -1;
    }
    va_list args;
    va_start(args, format);
    if (vasprintf(error, format, args) < 0) {
        *error = NULL;
    }
    va_end(args);
    return -1;
}

const char* host_status_name(int32_t status) {
    /* The hosting layer's status codes that an operator can actually cause (wrong install, wrong files). */
    switch ((uint32_t)status) {
        case 0x80008081u: return "ExeNotFound";
        case 0x80008082u: return "AppArgNotRunnable";
        case 0x80008083u: return "CoreHostLibMissingFailure";
        case 0x80008084u: return "CoreHostLibLoadFailure";
        case 0x80008085u: return "CoreHostEntryPointFailure";
        case 0x80008089u: return "CoreClrResolveFailure";
        case 0x8000808au: return "CoreClrBindFailure";
        case 0x8000808bu: return "CoreClrInitFailure";
        case 0x8000808cu: return "CoreClrExeFailure";
        case 0x80008092u: return "ResolverResolveFailure";
        case 0x80008093u: return "InvalidConfigFile";
        case 0x80008094u: return "InvalidArgFailure";
        case 0x80008095u: return "AppPathFindFailure";
        case 0x80008096u: return "FrameworkMissingFailure";
        case 0x80008097u: return "HostApiFailed";
        case 0x80008098u: return "HostApiBufferTooSmall";
        case 0x8000809au: return "AppPathFindFailure";
        case 0x8000809bu: return "SdkResolverResolveFailure";
        case 0x800080a0u: return "HostInvalidState";
        case 0x800080a1u: return "HostPropertyNotFound";
        case 0x800080a2u: return "CoreHostIncompatibleConfig";
        case 0x800080a3u: return "HostApiUnsupportedVersion";
        case 0x800080a4u: return "HostFeatureDisabled";
        case 0x800080a5u: return "HostIncompatibleConfig";
        default: return "unknown";
    }
}
