namespace NetIsolator.Linux.Tests;

/// <summary>Observations of network namespaces, taken the way a human would check them.</summary>
internal static class Netns
{
    /// <summary><c>readlink /proc/thread-self/ns/net</c>, e.g. <c>net:[4026531840]</c>.</summary>
    public static string CurrentThreadLink() => Link("/proc/thread-self/ns/net");

    public static string Link(string path) =>
        new FileInfo(path).LinkTarget ?? throw new InvalidOperationException($"{path} is not a link");

    /// <summary>Interface names listed by <c>/proc/thread-self/net/dev</c> (the calling thread's namespace).</summary>
    public static List<string> CurrentThreadInterfaces() => InterfacesIn(File.ReadAllText("/proc/thread-self/net/dev"));

    /// <summary>Parses /proc/net/dev: two header lines, then "  name: counters...".</summary>
    public static List<string> InterfacesIn(string netDev) =>
        netDev.Split('\n')
            .Skip(2)
            .Where(line => line.Contains(':'))
            .Select(line => line[..line.IndexOf(':')].Trim())
            .ToList();

    /// <summary>The ns/net link of every thread of this process that still exists.</summary>
    public static Dictionary<string, string> ThreadLinks()
    {
        var links = new Dictionary<string, string>();
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                links[Path.GetFileName(task)] = Link(Path.Combine(task, "ns/net"));
            }
            catch (IOException)
            {
                // The thread ended in between.
            }
        }
        return links;
    }
}
