using System.Runtime.CompilerServices;

namespace NetIsolator.Testing;

/// <summary>
/// The native executables CMake builds (scripts/setup.sh; CI builds them before running the managed tests), found by
/// walking up to the repository root from the test assembly, or, for assemblies built elsewhere (a private
/// <c>--artifacts-path</c>), from this source file's place in the checkout.
/// </summary>
public static class BuildTree
{
    private static readonly Lazy<string> s_repositoryRoot = new(FindRepositoryRoot);

    /// <summary>The directory holding Isolator.sln.</summary>
    public static string RepositoryRoot => s_repositoryRoot.Value;

    /// <summary>The path of <c>build/bin/&lt;name&gt;</c>; fails the test with the fix when it was not built.</summary>
    public static string Executable(string name)
    {
        var path = Path.Join(RepositoryRoot, "build", "bin", name);
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"'{path}' has not been built: run ./scripts/setup.sh (CMake builds it) before the tests", path);
    }

    /// <summary><c>build/bin/netisolator-helper</c>, the NativeAOT helper subcommands.</summary>
    public static string Helper => Executable("netisolator-helper");

    /// <summary><c>build/bin/mesos-cni-port-mapper</c>, the NativeAOT CNI port-mapper plugin.</summary>
    public static string PortMapper => Executable("mesos-cni-port-mapper");

    private static string FindRepositoryRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(ThisFile())! })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Join(directory.FullName, "Isolator.sln")))
                {
                    return directory.FullName;
                }
            }
        }

        throw new DirectoryNotFoundException($"no Isolator.sln above '{AppContext.BaseDirectory}' or '{ThisFile()}'");
    }

    private static string ThisFile([CallerFilePath] string path = "") => path;
}
