using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.Loader;

namespace NetIsolator.Bridge.Tests;

/// <summary>The registry over this test assembly, whose modules are declared in RegisteredIsolators.cs.</summary>
public sealed class IsolatorRegistryTests
{
    private static readonly Assembly s_testAssembly = typeof(IsolatorRegistryTests).Assembly;
    private readonly IsolatorRegistry _registry = new(s_testAssembly);

    private static KeyValuePair<string, string>[] Parameters(params (string Key, string Value)[] parameters) =>
        parameters.Select(p => KeyValuePair.Create(p.Key, p.Value)).ToArray();

    [Fact]
    public void RegistryListsEveryModuleOfTheAssembly()
    {
        Assert.Equal(s_testAssembly.Location, _registry.Source);
        Assert.Equal(
            [
                GoodIsolator.AliasModuleName, GoodIsolator.ModuleName, ThrowingIsolator.IsolatorExceptionModule,
                ThrowingIsolator.OtherExceptionModule, ThrowingIsolator.ParameterExceptionModule,
            ],
            _registry.ModuleNames.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void CreatePassesTheParametersAndTheModuleName()
    {
        var isolator = Assert.IsType<GoodIsolator>(
            _registry.Create(GoodIsolator.ModuleName, Parameters(("label", "blue"), ("verbose", "true"))));

        Assert.Equal("blue", isolator.Label);
        Assert.True(isolator.Verbose);
        Assert.Equal(GoodIsolator.ModuleName, isolator.Parameters.ModuleName);
    }

    [Fact]
    public void CreateOfAnotherModuleNameForTheSameTypeGetsThatName()
    {
        var isolator = Assert.IsType<GoodIsolator>(_registry.Create(GoodIsolator.AliasModuleName, []));

        Assert.Equal(GoodIsolator.AliasModuleName, isolator.Parameters.ModuleName);
        Assert.Equal("none", isolator.Label);
    }

    [Fact]
    public void CreateGivesANewInstanceEachTime()
    {
        Assert.NotSame(_registry.Create(GoodIsolator.ModuleName, []), _registry.Create(GoodIsolator.ModuleName, []));
    }

    [Fact]
    public void UnknownModuleErrorListsTheRegisteredNamesAndTheAssemblyPath()
    {
        var error = Assert.Throws<ModuleParameterException>(() => _registry.Create("org_test_Missing", []));

        Assert.Equal(
            $"no isolator module 'org_test_Missing' in '{s_testAssembly.Location}' (registered: "
            + $"'{GoodIsolator.AliasModuleName}', '{GoodIsolator.ModuleName}', '{ThrowingIsolator.IsolatorExceptionModule}', "
            + $"'{ThrowingIsolator.OtherExceptionModule}', '{ThrowingIsolator.ParameterExceptionModule}')",
            error.Message);
    }

    [Fact]
    public void ModuleNamesAreCaseSensitive()
    {
        Assert.Throws<ModuleParameterException>(() => _registry.Create(GoodIsolator.ModuleName.ToUpperInvariant(), []));
    }

    [Fact]
    public void UnknownParameterIsRejectedNamingItAndTheKnownOnes()
    {
        var error = Assert.Throws<ModuleParameterException>(
            () => _registry.Create(GoodIsolator.ModuleName, Parameters(("label", "x"), ("lable", "y"))));

        Assert.Equal(
            $"module '{GoodIsolator.ModuleName}': unknown parameter(s) 'lable'; "
            + "known: 'assembly', 'dotnet_root', 'label', 'verbose'",
            error.Message);
    }

    [Fact]
    public void ProviderParametersAreAccepted()
    {
        Assert.Equal(["assembly", "dotnet_root"], IsolatorRegistry.ProviderParameters);

        var isolator = _registry.Create(GoodIsolator.ModuleName,
            Parameters(("assembly", "/opt/netisolator/NetIsolator.Isolators.dll"), ("dotnet_root", "/usr/share/dotnet")));

        Assert.IsType<GoodIsolator>(isolator);
    }

    [Fact]
    public void ParameterErrorOfTheIsolatorSurfacesUnwrapped()
    {
        var error = Assert.Throws<ModuleParameterException>(
            () => _registry.Create(GoodIsolator.ModuleName, Parameters(("verbose", "yes"))));

        Assert.Equal($"module '{GoodIsolator.ModuleName}': parameter 'verbose' must be true or false, not 'yes'", error.Message);
    }

    [Fact]
    public void ConstructorThrowingModuleParameterExceptionSurfacesItsMessage()
    {
        var error = Assert.Throws<ModuleParameterException>(
            () => _registry.Create(ThrowingIsolator.ParameterExceptionModule, []));

        Assert.Equal($"module '{ThrowingIsolator.ParameterExceptionModule}': parameter 'network' is required", error.Message);
    }

    [Fact]
    public void ConstructorThrowingIsolatorExceptionSurfacesItsMessage()
    {
        var error = Assert.Throws<IsolatorException>(() => _registry.Create(ThrowingIsolator.IsolatorExceptionModule, []));

        Assert.Equal("network 'net1' has no CNI config in /etc/cni", error.Message);
        Assert.Null(error.InnerException);
    }

    [Fact]
    public void OtherConstructorExceptionsAreWrappedWithTheModuleName()
    {
        var error = Assert.Throws<IsolatorException>(() => _registry.Create(ThrowingIsolator.OtherExceptionModule, []));

        Assert.Equal(
            $"module '{ThrowingIsolator.OtherExceptionModule}': creating the isolator failed: /etc/cni/net1.conf is missing",
            error.Message);
        Assert.IsType<FileNotFoundException>(error.InnerException);
    }

    [Fact]
    public void AssemblyWithoutModulesHasNoneRegistered()
    {
        var registry = new IsolatorRegistry(typeof(Xunit.Assert).Assembly);

        Assert.Empty(registry.ModuleNames);
        var error = Assert.Throws<ModuleParameterException>(() => registry.Create(GoodIsolator.ModuleName, []));
        Assert.EndsWith("(registered: none)", error.Message);
    }

    // ----- registration errors, from a generated assembly that declares only IsolatorModule attributes -----

    [Fact]
    public void TypeThatIsNotAnIsolatorIsRefused()
    {
        var error = Assert.Throws<InvalidOperationException>(
            () => new IsolatorRegistry(ModulesAssembly(("org_test_NotAnIsolator", typeof(NotAnIsolator)))));

        Assert.Matches(
            $"^module 'org_test_NotAnIsolator' in '.+\\.dll': {typeof(NotAnIsolator).FullName} is not a concrete Isolator$",
            error.Message);
    }

    [Fact]
    public void AbstractIsolatorIsRefused()
    {
        var error = Assert.Throws<InvalidOperationException>(
            () => new IsolatorRegistry(ModulesAssembly(("org_test_Abstract", typeof(AbstractIsolator)))));

        Assert.EndsWith($"{typeof(AbstractIsolator).FullName} is not a concrete Isolator", error.Message);
    }

    [Theory]
    [InlineData(typeof(ParameterlessIsolator))]
    [InlineData(typeof(PrivateConstructorIsolator))]
    public void IsolatorWithoutAPublicParametersConstructorIsRefused(Type type)
    {
        var error = Assert.Throws<InvalidOperationException>(
            () => new IsolatorRegistry(ModulesAssembly(("org_test_NoConstructor", type))));

        Assert.EndsWith($"{type.FullName} has no public constructor taking ModuleParameters", error.Message);
        Assert.StartsWith("module 'org_test_NoConstructor' in '", error.Message);
    }

    [Fact]
    public void ModuleRegisteredTwiceIsRefused()
    {
        var assembly = ModulesAssembly(("org_test_Twice", typeof(GoodIsolator)), ("org_test_Twice", typeof(ThrowingIsolator)));

        var error = Assert.Throws<InvalidOperationException>(() => new IsolatorRegistry(assembly));

        Assert.Equal($"module 'org_test_Twice' is registered twice in '{assembly.Location}'", error.Message);
    }

    [Fact]
    public void GeneratedAssemblyWithValidModulesWorks()
    {
        var assembly = ModulesAssembly(("org_test_Generated", typeof(GoodIsolator)));

        var registry = new IsolatorRegistry(assembly);

        Assert.Equal(["org_test_Generated"], registry.ModuleNames);
        Assert.IsType<GoodIsolator>(registry.Create("org_test_Generated", []));
    }

    /// <summary>
    /// An assembly on disk whose only content is the given [assembly: IsolatorModule] attributes (the types stay
    /// in this test assembly), loaded into its own collectible load context. The file is deleted once loaded.
    /// </summary>
    private static Assembly ModulesAssembly(params (string ModuleName, Type Type)[] modules)
    {
        var name = $"NetIsolator.Bridge.Tests.Generated{Guid.NewGuid():N}";
        var builder = new PersistedAssemblyBuilder(new AssemblyName(name), typeof(object).Assembly);
        builder.DefineDynamicModule(name);
        var constructor = typeof(IsolatorModuleAttribute).GetConstructor([typeof(string), typeof(Type)])!;
        foreach (var (moduleName, type) in modules)
        {
            builder.SetCustomAttribute(new CustomAttributeBuilder(constructor, [moduleName, type]));
        }

        var directory = Directory.CreateTempSubdirectory("netisolator-bridge-tests-");
        var path = Path.Combine(directory.FullName, name + ".dll");
        builder.Save(path);
        try
        {
            return new AssemblyLoadContext(name, isCollectible: true).LoadFromAssemblyPath(path);
        }
        finally
        {
            // The loaded image stays mapped; Location keeps naming the path, which is all the registry reads.
            directory.Delete(recursive: true);
        }
    }
}
