namespace NetIsolator.Testing;

/// <summary>
/// The native executables CMake builds (scripts/setup.sh; CI builds them before running the managed tests), found
/// from the test assembly by walking up to the repository root.
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

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Join(directory.FullName, "Isolator.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no Isolator.sln above '{AppContext.BaseDirectory}'");
    }
}
