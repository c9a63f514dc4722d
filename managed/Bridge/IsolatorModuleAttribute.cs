namespace NetIsolator.Bridge;

/// <summary>
/// Registers an isolator under a Mesos module name. The assembly the provider loads declares one attribute per
/// isolator it offers; the type must derive from <see cref="Isolator"/> and have a public constructor taking
/// <see cref="ModuleParameters"/>.
/// </summary>
/// <example><c>[assembly: IsolatorModule("org_netisolator_NetworkCniIsolator", typeof(CniIsolator))]</c></example>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
public sealed class IsolatorModuleAttribute(string moduleName, Type isolatorType) : Attribute
{
    /// <summary>The module name, as in the agent's --modules manifest and --isolation flag.</summary>
    public string ModuleName { get; } = moduleName;

    /// <summary>The <see cref="Isolator"/> subclass created for that module.</summary>
    public Type IsolatorType { get; } = isolatorType;
}
