using System.Reflection;

namespace NetIsolator.Bridge;

/// <summary>The isolators an assembly offers, by module name, from its <see cref="IsolatorModuleAttribute"/>s.</summary>
internal sealed class IsolatorRegistry
{
    /// <summary>Parameters the provider library consumes itself; every module accepts them.</summary>
    internal static readonly string[] ProviderParameters = ["assembly", "dotnet_root"];

    private readonly Dictionary<string, ConstructorInfo> _constructors = new(StringComparer.Ordinal);

    public IsolatorRegistry(Assembly assembly)
    {
        Source = assembly.Location;
        foreach (var module in assembly.GetCustomAttributes<IsolatorModuleAttribute>())
        {
            var type = module.IsolatorType;
            if (!type.IsSubclassOf(typeof(Isolator)) || type.IsAbstract)
            {
                throw new InvalidOperationException(
                    $"module '{module.ModuleName}' in '{Source}': {type.FullName} is not a concrete {nameof(Isolator)}");
            }
            var constructor = type.GetConstructor([typeof(ModuleParameters)])
                ?? throw new InvalidOperationException(
                    $"module '{module.ModuleName}' in '{Source}': {type.FullName} has no public constructor "
                    + $"taking {nameof(ModuleParameters)}");
            if (!_constructors.TryAdd(module.ModuleName, constructor))
            {
                throw new InvalidOperationException($"module '{module.ModuleName}' is registered twice in '{Source}'");
            }
        }
    }

    /// <summary>The assembly the isolators come from, for error texts.</summary>
    public string Source { get; }

    public IReadOnlyCollection<string> ModuleNames => _constructors.Keys;

    /// <summary>Creates the isolator of <paramref name="moduleName"/>; every failure is a <see cref="ModuleParameterException"/>
    /// or carries the module name.</summary>
    public Isolator Create(string moduleName, IReadOnlyList<KeyValuePair<string, string>> parameters)
    {
        if (!_constructors.TryGetValue(moduleName, out var constructor))
        {
            var registered = ModuleNames.Count == 0 ? "none" : string.Join(", ", ModuleNames.Order().Select(n => $"'{n}'"));
            throw new ModuleParameterException(
                $"no isolator module '{moduleName}' in '{Source}' (registered: {registered})");
        }

        var moduleParameters = new ModuleParameters(moduleName, parameters);
        moduleParameters.MarkRead(ProviderParameters);
        Isolator isolator;
        try
        {
            isolator = (Isolator)constructor.Invoke([moduleParameters]);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException is ModuleParameterException or IsolatorException
                ? e.InnerException
                : new IsolatorException($"module '{moduleName}': creating the isolator failed: {e.InnerException.Message}",
                    e.InnerException);
        }
        try
        {
            moduleParameters.RejectUnknown();
        }
        catch
        {
            isolator.DisposeAsync().AsTask().GetAwaiter().GetResult(); // it may already hold resources
            throw;
        }
        return isolator;
    }
}
