namespace NetIsolator.Isolators.Cni;

/// <summary>The isolator's three cases (Mesos §2.3).</summary>
public sealed partial record SetupRequest
{
    private const string HostHosts = "/etc/hosts";
    private const string HostHostname = "/etc/hostname";
    private const string HostResolvConf = "/etc/resolv.conf";

    /// <summary>
    /// Case C: a container with networks of its own. Its files under ROOT/&lt;CID&gt;; the host's resolv.conf when no
    /// DNS was configured for it.
    /// </summary>
    public static SetupRequest OwnNetworks(int pid, string hostname, string? rootfs, string containerDirectory) =>
        FilesOf(pid, hostname, rootfs, containerDirectory);

    /// <summary>
    /// Case N: a nested container joining its top-level container's network: the top-level container's files, no
    /// host name (the UTS namespace is shared).
    /// </summary>
    public static SetupRequest JoinsParent(int pid, string? rootfs, string rootContainerDirectory) =>
        FilesOf(pid, hostname: null, rootfs, rootContainerDirectory);

    /// <summary>
    /// Case H: a host-network container with an image sees the host's files, read-only: hosts and hostname only if
    /// the host has them.
    /// </summary>
    public static SetupRequest HostNetworkImage(int pid, string rootfs, Func<string, bool> fileExists) => new(
        pid, Hostname: null, rootfs,
        fileExists(HostHosts) ? HostHosts : null,
        fileExists(HostHostname) ? HostHostname : null,
        HostResolvConf,
        BindHostFiles: false,
        BindReadOnly: true);

    private static SetupRequest FilesOf(int pid, string? hostname, string? rootfs, string directory) => new(
        pid, hostname, rootfs,
        Path.Join(directory, ContainerFileWriter.HostsFileName),
        Path.Join(directory, ContainerFileWriter.HostnameFileName),
        ResolvConfIn(directory),
        BindHostFiles: true,
        BindReadOnly: false);

    private static string ResolvConfIn(string directory)
    {
        var own = Path.Join(directory, ContainerFileWriter.ResolvConfFileName);
        return File.Exists(own) ? own : HostResolvConf;
    }
}
