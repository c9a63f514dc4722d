using NetIsolator.Linux;

namespace NetIsolator.Isolators.Cni;

/// <summary>
/// Puts a container's hosts, hostname and resolv.conf in place and sets its host name: what Mesos's
/// <c>mesos-containerizer network-cni-setup</c> does (Mesos §3). The CNI isolator runs it in-process from isolate, while
/// the container's first process is held before exec; the <c>network-cni-setup</c> helper subcommand runs the same
/// code from its command line.
/// </summary>
/// <remarks>
/// <para>Steps; the first failure throws a <see cref="NetworkSetupException"/> with Mesos's wording:</para>
/// <list type="number">
/// <item>The container's mount namespace is joined by a dedicated thread (<see cref="MountNamespace"/>), which does
/// every step below and then leaves it. Refused: a pid in this process's own mount namespace (the mounts would land on the
/// host's /etc, where Mesos mounts regardless), and one that has already changed its root.</item>
/// <item>Every source file given must exist.</item>
/// <item><c>/</c> made recursively slave, so none of the mounts below propagates back to the host.</item>
/// <item>For /etc/hosts, /etc/hostname and /etc/resolv.conf, in that order: with <see cref="SetupRequest.BindHostFiles"/>,
/// the source is bind-mounted over the file of the container's mount namespace (a missing hosts or hostname is created
/// empty first; a missing resolv.conf is an error); with a rootfs, also over the file in the image, which is created
/// if missing and replaces a symlink (e.g. to systemd-resolved's file), provided the image's /etc resolves inside the
/// rootfs. <see cref="SetupRequest.BindReadOnly"/> remounts each read-only, nosuid, nodev, noexec.</item>
/// <item>With a host name: the UTS namespace of the pid is joined and the host name set, then its network namespace,
/// where <c>lo</c> is brought up (Mesos runs <c>ip link set dev lo up</c>).</item>
/// </list>
/// </remarks>
public static class NetworkFilesSetup
{
    /// <exception cref="NetworkSetupException">A step failed; the message names the step and the path.</exception>
    public static void Run(SetupRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var pid = request.Pid;
        try
        {
            MountNamespace.RunInNamespaceOf(pid, () => Apply(request));
        }
        catch (MountNamespaceRefusedException e)
        {
            throw new NetworkSetupException($"Refusing to set up the network files of pid {pid}: {e.Reason}");
        }
        catch (LinuxException e)
        {
            throw new NetworkSetupException($"Failed to enter the mount namespace of pid {pid}: {e.Message}");
        }
    }

    /// <summary>Every step after the join, on the thread inside the container's mount namespace.</summary>
    private static void Apply(SetupRequest request)
    {
        var files = new List<(string Target, string Source)>();
        foreach (var (target, source) in new[] { ("/etc/hosts", request.EtcHostsPath), ("/etc/hostname", request.EtcHostnamePath) })
        {
            if (source is not null)
            {
                files.Add((target, RequireExisting(source)));
            }
        }

        files.Add(("/etc/resolv.conf", RequireExisting(request.EtcResolvConf)));

        Step("Failed to mark '/' as a SLAVE mount", () => BindMounts.MakeRecursiveSlave("/"));
        foreach (var (target, source) in files)
        {
            if (request.BindHostFiles)
            {
                PrepareHostTarget(target);
                Step($"Failed to mount '{source}' to '{target}'", () => BindMounts.Bind(source, target, request.BindReadOnly));
            }

            if (request.Rootfs is { } rootfs)
            {
                var inImage = PrepareImageTarget(rootfs, target);
                Step($"Failed to mount '{source}' to '{inImage}'", () => BindMounts.Bind(source, inImage, request.BindReadOnly));
            }
        }

        if (request.Hostname is { } hostname)
        {
            Step($"Failed to set the hostname of pid {request.Pid} to '{hostname}'", () =>
            {
                ThreadNamespaces.JoinOnCurrentThread(request.Pid, ThreadNamespaces.Uts);
                ThreadNamespaces.SetHostname(hostname);
            });
            Step($"Failed to bring up the loopback interface of pid {request.Pid}", () =>
            {
                ThreadNamespaces.JoinOnCurrentThread(request.Pid, ThreadNamespaces.Network);
                ThreadNamespaces.BringLoopbackUp();
            });
        }
    }

    private static string RequireExisting(string source) =>
        File.Exists(source) ? source : throw new NetworkSetupException($"Unable to find '{source}'");

    /// <summary>
    /// A missing /etc/hosts or /etc/hostname is created empty, to have something to mount over. The container's mount
    /// namespace still shows the host's filesystem here, so the file appears on the host too (CoreOS ships no
    /// /etc/hosts, MESOS-6052). A host without /etc/resolv.conf is not papered over.
    /// </summary>
    private static void PrepareHostTarget(string target)
    {
        if (File.Exists(target))
        {
            return;
        }

        if (target == "/etc/resolv.conf")
        {
            throw new NetworkSetupException($"Mount point '{target}' does not exist on the host filesystem");
        }

        Step($"Failed to create the mount point '{target}'", () => CreateEmptyFile(target));
    }

    /// <summary>
    /// The file in the image to mount over: its directory must resolve inside the rootfs (an image whose /etc is a
    /// symlink out of it would otherwise get a mount on the host's side), a symlink in its place is replaced by an
    /// empty file, and a missing one is created.
    /// </summary>
    private static string PrepareImageTarget(string rootfs, string target)
    {
        var root = Step($"Failed to resolve the rootfs '{rootfs}'", () => MountPropagation.RealPath(rootfs));
        var path = Path.Join(root, target);
        var directory = Path.GetDirectoryName(path)!;
        Step($"Failed to create '{directory}'", () => Directory.CreateDirectory(directory));
        var resolved = Step($"Failed to resolve '{directory}'", () => MountPropagation.RealPath(directory));
        if (resolved != root && !resolved.StartsWith(root + "/", StringComparison.Ordinal))
        {
            throw new NetworkSetupException($"Refusing to mount over '{path}': '{directory}' resolves to '{resolved}', outside the rootfs '{root}'");
        }

        var info = new FileInfo(path);
        if (info.LinkTarget is not null)
        {
            Step($"Failed to remove the symlink '{path}'", info.Delete);
        }

        if (info.LinkTarget is not null || !info.Exists)
        {
            Step($"Failed to create the mount point '{path}'", () => CreateEmptyFile(path));
        }

        return path;
    }

    private static void CreateEmptyFile(string path)
    {
        using var _ = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        });
    }

    private static void Step(string failure, Action action) => Step<object?>(failure, () =>
    {
        action();
        return null;
    });

    private static T Step<T>(string failure, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            throw new NetworkSetupException($"{failure}: {e.Message}");
        }
    }
}

/// <summary>A failed <see cref="NetworkFilesSetup"/> step, in Mesos's words.</summary>
public sealed class NetworkSetupException(string message) : Exception(message);
