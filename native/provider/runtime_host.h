/*
 * Loads the .NET runtime into this process and binds the bridge's entry points of a managed assembly.
 * The mechanism is DNNE's: nethost finds hostfxr, hostfxr starts CoreCLR from the assembly's
 * runtimeconfig.json, and load_assembly_and_get_function_pointer binds [UnmanagedCallersOnly] methods.
 */
#ifndef NETISOLATOR_PROVIDER_RUNTIME_HOST_H
#define NETISOLATOR_PROVIDER_RUNTIME_HOST_H

#include "managed_exports.h"

/*
 * Returns the entry points of `assembly_path` (an absolute path), starting the runtime first if no assembly has
 * been bound yet in this process. `dotnet_root` (may be NULL) is the .NET installation to start the runtime from.
 * Thread-safe; an assembly is bound once and its entry points live as long as the process.
 * On failure returns NULL and sets *error to a text naming what was looked for and where.
 */
const struct managed_exports* runtime_bind_assembly(const char* assembly_path, const char* dotnet_root, char** error);

#endif /* NETISOLATOR_PROVIDER_RUNTIME_HOST_H */
