using System.Collections;
using System.Globalization;
using NetIsolator.Isolators.Cni;

namespace NetIsolator.Helpers.Cni;

/// <summary>
/// <c>network-cni-setup</c>: puts a container's hosts, hostname and resolv.conf in place and sets its host name,
/// with the flags of Mesos's <c>mesos-containerizer network-cni-setup</c>: the command line for
/// <see cref="NetworkFilesSetup"/>, the code the CNI isolator runs in-process from isolate.
/// </summary>
/// <remarks>
/// Flags come from the command line, else from <c>MESOS_CONTAINERIZER_*</c> variables; <c>--help</c> prints the usage
/// and exits 0. <c>--pid</c> and <c>--etc_resolv_conf</c> are required. Every failure is one line on stderr and exit
/// status 1.
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
        catch (NetworkSetupException e)
        {
            stderr.WriteLine(e.Message);
            return 1;
        }
    }

    private static void SetUp(HelperFlags flags)
    {
        if (flags.String("pid") is not { } pidText)
        {
            throw new NetworkSetupException("Container PID not specified");
        }

        if (!int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid <= 0)
        {
            throw new NetworkSetupException($"Invalid container PID '{pidText}'");
        }

        var resolvConf = flags.String("etc_resolv_conf") ?? throw new NetworkSetupException("Path to 'resolv.conf' not specified.");
        NetworkFilesSetup.Run(new SetupRequest(
            pid,
            flags.String("hostname"),
            flags.String("rootfs"),
            flags.String("etc_hosts_path"),
            flags.String("etc_hostname_path"),
            resolvConf,
            flags.Boolean("bind_host_files"),
            flags.Boolean("bind_readonly")));
    }
}
