using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace NetIsolator.Bridge;

/// <summary>
/// The entry points the provider library binds with hostfxr's load_assembly_and_get_function_pointer.
/// Signatures mirror <c>native/provider/managed_exports.h</c> exactly. An exception escaping an
/// [UnmanagedCallersOnly] method terminates the process (the agent!), so each one catches everything.
/// </summary>
/// <remarks>
/// Each managed assembly the provider loads gets its own AssemblyLoadContext and so its own copy of this
/// class's state: the registry of that assembly's isolators and the instances created from it.
/// </remarks>
public static unsafe class NativeExports
{
    /// <summary>One module parameter, laid out as <c>netiso_parameter</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct NativeParameter
    {
        public byte* Key;
        public byte* Value;
    }

    private static readonly ConcurrentDictionary<nint, IsolatorHost> s_instances = new();
    private static long s_lastHandle;
    private static IsolatorRegistry? s_registry;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    public static int Initialize(delegate* unmanaged<int, byte*, int, void> log, byte* assemblyPath, byte** error)
    {
        try
        {
            BridgeLog.Attach(log);
            var path = NativeText.Read(assemblyPath);
            var loadContext = AssemblyLoadContext.GetLoadContext(typeof(NativeExports).Assembly)
                ?? AssemblyLoadContext.Default;
            s_registry = new IsolatorRegistry(loadContext.LoadFromAssemblyPath(path));
            BridgeLog.LogInfo($"isolator modules in '{path}': "
                              + (s_registry.ModuleNames.Count == 0 ? "none" : string.Join(", ", s_registry.ModuleNames)));
            return 0;
        }
        catch (Exception e)
        {
            return Fail(error, $"initializing the bridge failed: {e.Message}");
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    public static int Create(byte* moduleName, NativeParameter* parameters, int count, nint* handle, byte** error)
    {
        try
        {
            var name = NativeText.Read(moduleName);
            var registry = s_registry ?? throw new InvalidOperationException("the bridge is not initialized");
            var list = new KeyValuePair<string, string>[count];
            for (var i = 0; i < count; i++)
            {
                list[i] = new(NativeText.Read(parameters[i].Key), NativeText.Read(parameters[i].Value));
            }
            var host = new IsolatorHost(name, registry.Create(name, list));
            var id = (nint)Interlocked.Increment(ref s_lastHandle);
            s_instances[id] = host;
            *handle = id;
            BridgeLog.LogInfo($"created isolator '{name}' ({host.Isolator.GetType().FullName})");
            return 0;
        }
        catch (Exception e)
        {
            return Fail(error, e is ModuleParameterException or IsolatorException
                ? e.Message
                : $"creating isolator '{NativeText.Read(moduleName)}' failed: {e.GetType().Name}: {e.Message}");
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    public static int Capabilities(nint handle)
    {
        try
        {
            return s_instances.TryGetValue(handle, out var host) ? host.Capabilities : 0;
        }
        catch (Exception e)
        {
            BridgeLog.LogError($"capabilities of isolator #{handle}: {e}");
            return 0;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    public static void Destroy(nint handle)
    {
        try
        {
            if (s_instances.TryRemove(handle, out var host))
            {
                host.Close();
            }
        }
        catch (Exception e)
        {
            BridgeLog.LogError($"destroying isolator #{handle}: {e}");
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    public static void Invoke(nint handle, int method, byte* request, int length,
        delegate* unmanaged<void*, int, byte*, int, void> done, void* context)
    {
        var completion = new Completion(done, context);
        try
        {
            if (!s_instances.TryGetValue(handle, out var host))
            {
                completion.Fail($"no isolator with handle #{handle} (destroyed, or never created)");
                return;
            }
            host.Dispatch((LifecycleMethod)method, new ReadOnlySpan<byte>(request, length), completion);
        }
        catch (Exception e)
        {
            completion.Fail($"lifecycle call #{method} on isolator #{handle} failed: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>Hands the error text to the native caller, which reports it (the shim to the agent's log).</summary>
    private static int Fail(byte** error, string message)
    {
        if (error != null)
        {
            *error = NativeText.Allocate(message);
        }
        return -1;
    }
}
