using System.Diagnostics;
using System.Globalization;
using NetIsolator.Bridge;

namespace NetIsolator.Isolators.Cni;

/// <summary>
/// What the <c>network-cni-setup</c> helper is asked to do for one container (Mesos §3; the three cases of §2.3).
/// </summary>
/// <param name="Pid">The container's first process, whose mount (and, with a hostname, UTS and network) namespaces are set up.</param>
/// <param name="Hostname">Set as host name, and <c>lo</c> brought up; null for a container sharing its parent's UTS namespace.</param>
/// <param name="Rootfs">The image's root filesystem, whose <c>/etc</c> files are mounted over too; null without an image.</param>
/// <param name="BindHostFiles">Also mount over <c>/etc</c> of the container's mount namespace (the host's view).</param>
/// <param name="BindReadOnly">Mount read-only (the host's own files exposed to a host-network image).</param>
public sealed record SetupRequest(
    int Pid,
    string? Hostname,
    string? Rootfs,
    string? EtcHostsPath,
    string? EtcHostnamePath,
    string EtcResolvConf,
    bool BindHostFiles,
    bool BindReadOnly)
{
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

    private const string HostHosts = "/etc/hosts";
    private const string HostHostname = "/etc/hostname";
    private const string HostResolvConf = "/etc/resolv.conf";

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

    /// <summary>
    /// The helper's arguments: the subcommand, then every flag that has a value as <c>--name=value</c>, in
    /// alphabetical order of name, booleans and <c>--help=false</c> always included: the command line Mesos builds.
    /// </summary>
    public IReadOnlyList<string> Arguments()
    {
        var flags = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["bind_host_files"] = BindHostFiles ? "true" : "false",
            ["bind_readonly"] = BindReadOnly ? "true" : "false",
            ["etc_resolv_conf"] = EtcResolvConf,
            ["help"] = "false",
            ["pid"] = Pid.ToString(CultureInfo.InvariantCulture),
        };
        void AddIfSet(string name, string? value)
        {
            if (value is not null)
            {
                flags[name] = value;
            }
        }

        AddIfSet("etc_hostname_path", EtcHostnamePath);
        AddIfSet("etc_hosts_path", EtcHostsPath);
        AddIfSet("hostname", Hostname);
        AddIfSet("rootfs", Rootfs);
        return [SetupHelper.Subcommand, .. flags.Select(f => $"--{f.Key}={f.Value}")];
    }
}

/// <summary>
/// Runs the <c>network-cni-setup</c> helper (<c>netisolator-helper</c>, see managed/Helpers) for a container, as
/// Mesos runs <c>mesos-containerizer network-cni-setup</c>: stdin and stdout on /dev/null, stderr captured for the
/// error, the agent's environment inherited.
/// </summary>
/// <remarks>
/// Unlike Mesos: the agent's <c>MESOS_CONTAINERIZER_*</c> variables are not passed on (the helper would read them as
/// flags the isolator did not give), and the run is bounded by the plugin time limit (Mesos waits forever); a helper
/// that overruns it is killed.
/// </remarks>
public static class SetupHelper
{
    public const string Subcommand = "network-cni-setup";

    /// <summary>The executable's file name, looked for beside the isolator's assembly when not configured.</summary>
    public const string ExecutableName = "netisolator-helper";

    private const string FlagEnvironmentPrefix = "MESOS_CONTAINERIZER_";
    private const int MaxStderrChars = 16 << 10;

    /// <summary>
    /// Where the helper is installed relative to the isolator's assembly: beside it, or in the <c>bin</c> directory
    /// of the build tree (build/lib → build/bin) or of an install prefix (lib/netisolator → bin).
    /// </summary>
    public static IEnumerable<string> DefaultLocations(string assemblyDirectory) =>
    [
        Path.Join(assemblyDirectory, ExecutableName),
        Path.GetFullPath(Path.Join(assemblyDirectory, "..", "bin", ExecutableName)),
        Path.GetFullPath(Path.Join(assemblyDirectory, "..", "..", "bin", ExecutableName)),
    ];

    /// <summary>Runs the helper; fails with Mesos's message and the helper's stderr.</summary>
    /// <exception cref="IsolatorException">The helper could not be started, failed or overran <paramref name="timeLimit"/>.</exception>
    public static async Task RunAsync(string helperPath, SetupRequest request, TimeSpan timeLimit, string step)
    {
        var startInfo = new ProcessStartInfo(helperPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = false,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in request.Arguments())
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var name in startInfo.Environment.Keys.Where(k => k.StartsWith(FlagEnvironmentPrefix, StringComparison.Ordinal)).ToList())
        {
            startInfo.Environment.Remove(name);
        }

        Process process;
        try
        {
            // stdout is not redirected: it is inherited, and the helper writes nothing there but usage text. Redirected
            // stdin is closed at once, which gives the helper an empty stdin, as /dev/null does.
            process = Process.Start(startInfo) ?? throw new InvalidOperationException("no process was started");
            process.StandardInput.Close();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new IsolatorException($"{step}: Failed to setup hostname and network files: starting '{helperPath}': {e.Message}", e);
        }

        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            using var limit = new CancellationTokenSource(timeLimit);
            try
            {
                await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().ConfigureAwait(false);
                throw new IsolatorException(
                    $"{step}: Failed to setup hostname and network files: '{helperPath}' did not finish within {timeLimit.TotalSeconds:0.#} s (killed)");
            }

            var message = (await stderr.ConfigureAwait(false)).Trim();
            if (process.ExitCode != 0)
            {
                if (message.Length > MaxStderrChars)
                {
                    message = message[..MaxStderrChars] + "…";
                }

                throw new IsolatorException(
                    $"{step}: Failed to setup hostname and network files: {(message.Length > 0 ? message : $"'{helperPath}' exited with status {process.ExitCode}")}");
            }
        }
    }
}
