using NetIsolator.Bridge;
using NetIsolator.Bridge.Tests;

// The modules this test assembly offers, for IsolatorRegistryTests (which builds a registry over this assembly).
[assembly: IsolatorModule(GoodIsolator.ModuleName, typeof(GoodIsolator))]
[assembly: IsolatorModule(GoodIsolator.AliasModuleName, typeof(GoodIsolator))]
[assembly: IsolatorModule(ThrowingIsolator.IsolatorExceptionModule, typeof(ThrowingIsolator))]
[assembly: IsolatorModule(ThrowingIsolator.ParameterExceptionModule, typeof(ThrowingIsolator))]
[assembly: IsolatorModule(ThrowingIsolator.OtherExceptionModule, typeof(ThrowingIsolator))]

namespace NetIsolator.Bridge.Tests;

/// <summary>Reads two optional parameters and keeps what it was given.</summary>
public sealed class GoodIsolator : Isolator
{
    public const string ModuleName = "org_test_Good";
    public const string AliasModuleName = "org_test_Alias";

    public GoodIsolator(ModuleParameters parameters)
    {
        Parameters = parameters;
        Label = parameters.Get("label", "none");
        Verbose = parameters.GetBoolean("verbose", false);
    }

    public ModuleParameters Parameters { get; }

    public string Label { get; }

    public bool Verbose { get; }
}

/// <summary>Fails to construct in the way its module name says.</summary>
public sealed class ThrowingIsolator : Isolator
{
    public const string IsolatorExceptionModule = "org_test_ThrowsIsolatorException";
    public const string ParameterExceptionModule = "org_test_ThrowsParameterException";
    public const string OtherExceptionModule = "org_test_ThrowsOther";

    public ThrowingIsolator(ModuleParameters parameters)
    {
        switch (parameters.ModuleName)
        {
            case IsolatorExceptionModule:
                throw new IsolatorException("network 'net1' has no CNI config in /etc/cni");
            case ParameterExceptionModule:
                parameters.Require("network");
                break;
            case OtherExceptionModule:
                throw new FileNotFoundException("/etc/cni/net1.conf is missing");
        }
    }
}

// Types that must not be registered: IsolatorRegistryTests registers them in a generated assembly.

public sealed class NotAnIsolator
{
    public NotAnIsolator(ModuleParameters parameters) => _ = parameters;
}

public abstract class AbstractIsolator : Isolator
{
    protected AbstractIsolator(ModuleParameters parameters) => _ = parameters;
}

public sealed class ParameterlessIsolator : Isolator
{
}

public sealed class PrivateConstructorIsolator : Isolator
{
    private PrivateConstructorIsolator(ModuleParameters parameters) => _ = parameters;
}
