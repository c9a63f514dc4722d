namespace NetIsolator.Cni.Config;

/// <summary>One config file that was skipped, and why (the message names the file and the key).</summary>
public sealed record ConfigFileProblem(string Path, string Message)
{
    public override string ToString() => Message;
}

/// <summary>What a config directory holds: the usable networks and the files that were skipped.</summary>
public sealed class ConfigDirectoryContents
{
    internal ConfigDirectoryContents(
        string directory, IReadOnlyList<NetworkConfigList> networks, IReadOnlyList<ConfigFileProblem> problems)
    {
        Directory = directory;
        Networks = networks;
        Problems = problems;
        ByName = networks.ToDictionary(n => n.Name, StringComparer.Ordinal);
    }

    public string Directory { get; }

    /// <summary>The usable networks in file order (sorted by file name).</summary>
    public IReadOnlyList<NetworkConfigList> Networks { get; }

    /// <summary>The usable networks by name.</summary>
    public IReadOnlyDictionary<string, NetworkConfigList> ByName { get; }

    /// <summary>Files that were skipped: unreadable, invalid, or defining a name an earlier file already defined.</summary>
    public IReadOnlyList<ConfigFileProblem> Problems { get; }

    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out NetworkConfigList? network) =>
        ByName.TryGetValue(name, out network);
}

/// <summary>
/// Loads every network of a flat config directory: <c>.conf</c>, <c>.json</c> and <c>.conflist</c> files (other
/// names are ignored, subdirectories are not entered), in ordinal order of file name (libcni ConfFiles). One bad
/// file never fails the load: it is reported in <see cref="ConfigDirectoryContents.Problems"/> and skipped, as Mesos
/// skips it with a log line. When two files define the same network name the first in sorted order wins.
/// </summary>
public static class ConfigDirectory
{
    /// <summary>The file extensions read, as libcni's defaults plus <c>.conflist</c>.</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".conf", ".conflist", ".json"];

    /// <summary>The config files of <paramref name="directory"/> in load order.</summary>
    public static IReadOnlyList<string> ConfigFiles(string directory)
    {
        try
        {
            return new DirectoryInfo(directory).EnumerateFiles()
                .Where(f => Extensions.Contains(Path.GetExtension(f.Name), StringComparer.Ordinal))
                .Select(f => f.FullName)
                .Order(StringComparer.Ordinal)
                .ToList();
        }
        catch (DirectoryNotFoundException e)
        {
            throw new CniConfigException($"'{directory}': config directory does not exist", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CniConfigException($"'{directory}': cannot list config directory: {e.Message}", e);
        }
    }

    /// <summary>
    /// Loads the directory. Throws only when the directory itself cannot be listed; per-file problems are returned.
    /// </summary>
    public static ConfigDirectoryContents Load(string directory)
    {
        var networks = new List<NetworkConfigList>();
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        var problems = new List<ConfigFileProblem>();
        foreach (var file in ConfigFiles(directory))
        {
            NetworkConfigList network;
            try
            {
                network = NetworkConfigList.LoadFile(file);
            }
            catch (CniConfigException e)
            {
                problems.Add(new ConfigFileProblem(file, e.Message));
                continue;
            }

            if (owners.TryGetValue(network.Name, out var owner))
            {
                problems.Add(new ConfigFileProblem(
                    file,
                    $"'{file}': \"name\": network \"{network.Name}\" is already defined by '{owner}'; this file is ignored"));
                continue;
            }

            owners.Add(network.Name, file);
            networks.Add(network);
        }

        return new ConfigDirectoryContents(directory, networks, problems);
    }
}
