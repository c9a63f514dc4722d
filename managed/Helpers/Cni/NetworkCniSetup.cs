using System.Collections;
using System.Globalization;
using NetIsolator.Linux;

namespace NetIsolator.Helpers.Cni;

/// <summary>
/// <c>network-cni-setup</c>: puts a container's hosts, hostname and resolv.conf in place and sets its host name,
/// with the flags of Mesos's <c>mesos-containerizer network-cni-setup</c>. The CNI isolator runs it from isolate,
/// while the container's first process is held before exec, in the namespaces the launcher cloned for it.
/// </summary>
/// <remarks>
/// <para>Steps, each failure a message on stderr and exit status 1:</para>
/// <list type="number">
/// <item>Flags; <c>--help</c> prints the usage and exits 0. <c>--pid</c> and <c>--etc_resolv_conf</c> are required,
/// and every source file given must exist.</item>
/// <item>The container's mount namespace: entered before the runtime started (see <see cref="MountNamespaceEntry"/>).
/// A pid in this process's own mount namespace is refused: the mounts below would land on the host's /etc (Mesos
/// mounts there regardless).</item>
/// <item><c>/</c> made recursively slave, so none of the mounts below propagates back to the host.</item>
/// <item>For /etc/hosts, /etc/hostname and /etc/resolv.conf, in that order: with <c>--bind_host_files</c>, the source
/// is bind-mounted over the file of the container's mount namespace (a missing hosts or hostname is created empty
/// first; a missing resolv.conf is an error); with <c>--rootfs</c>, also over the file in the image, which is created
/// if missing and replaces a symlink (e.g. to systemd-resolved's file), provided the image's /etc resolves inside
/// the rootfs. <c>--bind_readonly</c> remounts each read-only, nosuid, nodev, noexec.</item>
/// <item>With <c>--hostname</c>: the UTS namespace of the pid is joined and the host name set, then its network
/// namespace, where <c>lo</c> is brought up in-process (Mesos runs <c>ip link set dev lo up</c>).</item>
/// </list>
/// </remarks>
public static class NetworkCniSetup
{
    public const string Name = "network-cni-setup";

    /// <summary>Flags not on the command line are read from variables with this prefix, as Mesos's subcommands do.</summary>
    public const string EnvironmentPrefix = "MESOS_CONTAINERIZER_";

    public static readonly IReadOnlyList<FlagDefinition> Flags =
    [
        new("bind_host_files", FlagKind.Boolean, "Also bind-mount the files over /etc of the container's mount namespace."),
        new("bind_readonly", FlagKind.Boolean, "Make the bind mounts read-only."),
        new("etc_hostname_path", FlagKind.String, "Source of /etc/hostname."),
        new("etc_hosts_path", FlagKind.String, "Source of /etc/hosts."),
        new("etc_resolv_conf", FlagKind.String, "Source of /etc/resolv.conf (required)."),
        new("help", FlagKind.Boolean, "Print this usage and exit."),
        new("hostname", FlagKind.String, "Host name to set; also brings up lo."),
        new("pid", FlagKind.String, "Pid of the container's first process, whose namespaces are set up (required)."),
        new("rootfs", FlagKind.String, "The container image's root filesystem, on the host."),
    ];

    public static int Run(IReadOnlyList<string> arguments, IDictionary environment, TextWriter stdout, TextWriter stderr)
    {
        HelperFlags flags;
        try
        {
            flags = HelperFlags.Parse(Flags, arguments, EnvironmentPrefix, environment);
        }
        catch (FlagException e)
        {
            stderr.WriteLine($"{Name}: Failed to load flags: {e.Message}");
            return 1;
        }

        if (flags.Boolean("help"))
        {
            stdout.Write(HelperFlags.Usage($"netisolator-helper {Name}", Flags));
            return 0;
        }

        try
        {
            SetUp(flags);
            return 0;
        }
        catch (SetupException e)
        {
            stderr.WriteLine(e.Message);
            return 1;
        }
        catch (IOException e)
        {
            stderr.WriteLine(e.Message);
            return 1;
        }
    }

    private static void SetUp(HelperFlags flags)
    {
        if (flags.String("pid") is not { } pidText)
        {
            throw new SetupException("Container PID not specified");
        }

        if (!int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid <= 0)
        {
            throw new SetupException($"Invalid container PID '{pidText}'");
        }

        var files = new List<(string Target, string Source)>();
        foreach (var (target, flag) in new[] { ("/etc/hosts", "etc_hosts_path"), ("/etc/hostname", "etc_hostname_path") })
        {
            if (flags.String(flag) is { } source)
            {
                files.Add((target, RequireExisting(source)));
            }
        }

        var resolvConf = flags.String("etc_resolv_conf") ?? throw new SetupException("Path to 'resolv.conf' not specified.");
        files.Add(("/etc/resolv.conf", RequireExisting(resolvConf)));

        var (state, error) = MountNamespaceEntry.Outcome(pid);
        switch (state)
        {
            case MountNamespaceState.Entered:
                break;
            case MountNamespaceState.SameNamespace:
                throw new SetupException(
                    $"Refusing to set up the network files of pid {pid}: it is in the host's mount namespace, so the mounts would change the host's own /etc");
            case MountNamespaceState.Failed:
                throw new SetupException($"Failed to enter the mount namespace of pid {pid}: {error}");
            default:
                throw new SetupException(
                    $"Failed to enter the mount namespace of pid {pid}: this helper was built without its native entry (publish it with NativeAOT)");
        }

        Step("Failed to mark '/' as a SLAVE mount", () => BindMounts.MakeRecursiveSlave("/"));

        var readOnly = flags.Boolean("bind_readonly");
        var rootfs = flags.String("rootfs");
        foreach (var (target, source) in files)
        {
            if (flags.Boolean("bind_host_files"))
            {
                PrepareHostTarget(target);
                Step($"Failed to mount '{source}' to '{target}'", () => BindMounts.Bind(source, target, readOnly));
            }

            if (rootfs is not null)
            {
                var inImage = PrepareImageTarget(rootfs, target);
                Step($"Failed to mount '{source}' to '{inImage}'", () => BindMounts.Bind(source, inImage, readOnly));
            }
        }

        if (flags.String("hostname") is { } hostname)
        {
            Step($"Failed to set the hostname of pid {pid} to '{hostname}'", () =>
            {
                ThreadNamespaces.JoinOnCurrentThread(pid, ThreadNamespaces.Uts);
                ThreadNamespaces.SetHostname(hostname);
            });
            Step($"Failed to bring up the loopback interface of pid {pid}", () =>
            {
                ThreadNamespaces.JoinOnCurrentThread(pid, ThreadNamespaces.Network);
                ThreadNamespaces.BringLoopbackUp();
            });
        }
    }

    private static string RequireExisting(string source) =>
        File.Exists(source) ? source : throw new SetupException($"Unable to find '{source}'");

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
            throw new SetupException($"Mount point '{target}' does not exist on the host filesystem");
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
            throw new SetupException($"Refusing to mount over '{path}': '{directory}' resolves to '{resolved}', outside the rootfs '{root}'");
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
            throw new SetupException($"{failure}: {e.Message}");
        }
    }

    private sealed class SetupException(string message) : Exception(message);
}
