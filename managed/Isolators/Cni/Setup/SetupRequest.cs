namespace NetIsolator.Isolators.Cni;

/// <summary>
/// What <see cref="NetworkFilesSetup"/> does for one container: the flags of Mesos's
/// <c>mesos-containerizer network-cni-setup</c> (Mesos §3), as data. The isolator builds one per case (§2.3, see
/// SetupRequest.Cases.cs); the <c>network-cni-setup</c> helper subcommand builds one from its command line.
/// </summary>
/// <param name="Pid">The container's first process, whose mount (and, with a hostname, UTS and network) namespaces are set up.</param>
/// <param name="Hostname">Set as host name, and <c>lo</c> brought up; null for a container sharing its parent's UTS namespace.</param>
/// <param name="Rootfs">The image's root filesystem, whose <c>/etc</c> files are mounted over too; null without an image.</param>
/// <param name="EtcHostsPath">Source of <c>/etc/hosts</c>; null: left alone.</param>
/// <param name="EtcHostnamePath">Source of <c>/etc/hostname</c>; null: left alone.</param>
/// <param name="EtcResolvConf">Source of <c>/etc/resolv.conf</c> (always given).</param>
/// <param name="BindHostFiles">Also mount over <c>/etc</c> of the container's mount namespace (the host's view).</param>
/// <param name="BindReadOnly">Mount read-only (the host's own files exposed to a host-network image).</param>
public sealed partial record SetupRequest(
    int Pid,
    string? Hostname,
    string? Rootfs,
    string? EtcHostsPath,
    string? EtcHostnamePath,
    string EtcResolvConf,
    bool BindHostFiles,
    bool BindReadOnly);
