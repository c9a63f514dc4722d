using NetIsolator.Cni.Config;
using NetIsolator.Linux;
using NetIsolator.Cni.Requests;
using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace NetIsolator.Cni.Invocation;

/// <summary>
/// The real <see cref="IPluginExecutor"/>: starts the plugin binary directly (argv, never a shell) with an explicit
/// environment, writes its stdin, drains stdout and stderr concurrently, enforces the time limit by killing the
/// whole process tree, and turns failures into <see cref="CniPluginException"/>.
/// </summary>
/// <remarks>
/// With a host network namespace path, each plugin process is started from a thread inside that namespace (so the
/// plugin, and everything it creates "on the host", lives there); waiting and I/O happen outside it. Tests and the
/// standalone runner use this to keep plugins away from the machine's real network.
/// </remarks>
public sealed class ProcessPluginExecutor : IPluginExecutor
{
    /// <summary>Most stdout accepted from a plugin that exits 0.</summary>
    public const int MaxStdoutBytes = 16 << 20;

    /// <summary>Most stderr kept (the rest is drained and dropped).</summary>
    public const int MaxStderrBytes = 64 << 10;

    private const int ErrnoTextFileBusy = 26;
    private const int TextFileBusyAttempts = 5;
    private static readonly TimeSpan TextFileBusyDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>How long the output pipes may stay open after the plugin itself has exited (a leaked descendant).</summary>
    private static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(2);

    /// <summary>How long to wait for a killed process to be reaped.</summary>
    private static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(5);

    private readonly IReadOnlyList<KeyValuePair<string, string>>? _baseEnvironment;

    /// <param name="hostNetworkNamespacePath">
    /// When set, plugins are started inside this network namespace (e.g. <c>/run/netns/test-host</c>) instead of the
    /// agent's own.
    /// </param>
    /// <param name="baseEnvironment">
    /// The environment plugins start from (CNI_* entries are dropped); null means the agent's environment at the time
    /// of each call.
    /// </param>
    public ProcessPluginExecutor(string? hostNetworkNamespacePath = null, IEnumerable<KeyValuePair<string, string>>? baseEnvironment = null)
    {
        if (hostNetworkNamespacePath is not null && !Path.IsPathRooted(hostNetworkNamespacePath))
        {
            throw new ArgumentException("the host network namespace path must be absolute", nameof(hostNetworkNamespacePath));
        }

        HostNetworkNamespacePath = hostNetworkNamespacePath;
        _baseEnvironment = baseEnvironment?.ToList();
    }

    /// <summary>The network namespace plugins are started in, or null for the agent's own.</summary>
    public string? HostNetworkNamespacePath { get; }

    /// <inheritdoc/>
    public string FindPlugin(string type, string cniPath)
    {
        try
        {
            return PluginPath.Find(type, cniPath);
        }
        catch (PluginNotFoundException e)
        {
            throw new CniPluginException(PluginFailureKind.NotFound, e.Message, invocation: null, pluginPath: null, pluginType: type);
        }
        catch (CniConfigException e)
        {
            throw new CniPluginException(PluginFailureKind.InvalidType, e.Message, invocation: null, pluginPath: null, pluginType: type);
        }
    }

    /// <inheritdoc/>
    public async Task<PluginOutput> ExecuteAsync(PluginInvocation invocation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        if (!Path.IsPathRooted(invocation.PluginPath))
        {
            throw new ArgumentException($"plugin path \"{invocation.PluginPath}\" must be absolute", nameof(invocation));
        }

        if (invocation.TimeLimit <= TimeSpan.Zero)
        {
            throw new ArgumentException("the time limit must be positive", nameof(invocation));
        }

        cancellationToken.ThrowIfCancellationRequested();
        var startInfo = CreateStartInfo(invocation);
        var stopwatch = Stopwatch.StartNew();
        using var process = await StartAsync(invocation, startInfo, cancellationToken).ConfigureAwait(false);
        if (invocation.BeforeStdin is { } beforeStdin)
        {
            await RunBeforeStdinAsync(process, beforeStdin).ConfigureAwait(false);
        }

        var stdout = new OutputCollector(MaxStdoutBytes);
        var stderr = new OutputCollector(MaxStderrBytes);
        var stdoutTask = stdout.DrainAsync(process.StandardOutput.BaseStream);
        var stderrTask = stderr.DrainAsync(process.StandardError.BaseStream);
        var stdinTask = WriteStdinAsync(process, invocation.Stdin);

        var timedOut = false;
        using (var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            limit.CancelAfter(invocation.TimeLimit);
            try
            {
                await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                KillTree(process);
                await WaitReapedAsync(process).ConfigureAwait(false);
                if (cancellationToken.IsCancellationRequested)
                {
                    await FinishDrainingAsync(process, stdoutTask, stderrTask, stdinTask).ConfigureAwait(false);
                    throw new OperationCanceledException($"{invocation.Describe()} was cancelled; the plugin was killed", cancellationToken);
                }

                timedOut = true;
            }
        }

        await FinishDrainingAsync(process, stdoutTask, stderrTask, stdinTask).ConfigureAwait(false);
        stopwatch.Stop();

        var stderrText = CniPluginException.Bound(Decode(stderr.Snapshot()));
        if (timedOut)
        {
            throw new CniPluginException(
                PluginFailureKind.TimedOut,
                $"{invocation.Describe()} timed out after {FormatSeconds(invocation.TimeLimit)} (killed){StderrSuffix(stderrText)}; plugin {invocation.PluginPath}",
                invocation,
                pluginPath: null,
                pluginType: null)
            {
                Stderr = stderrText,
                TimeLimit = invocation.TimeLimit,
            };
        }

        var exitCode = process.ExitCode;
        var stdoutBytes = stdout.Snapshot();
        if (exitCode == 0)
        {
            if (stdout.Overflowed)
            {
                throw new CniPluginException(
                    PluginFailureKind.OutputTooLarge,
                    $"{invocation.Describe()} wrote more than {MaxStdoutBytes} bytes to stdout; plugin {invocation.PluginPath}",
                    invocation,
                    pluginPath: null,
                    pluginType: null)
                {
                    ExitCode = 0,
                    Stderr = stderrText,
                };
            }

            return new PluginOutput(stdoutBytes, stderrText, stopwatch.Elapsed);
        }

        throw NonZeroExit(invocation, exitCode, stdoutBytes, stderrText);
    }

    internal static CniPluginException NonZeroExit(PluginInvocation invocation, int exitCode, byte[] stdout, string stderr)
    {
        var message = new StringBuilder($"{invocation.Describe()} failed (exit {exitCode})");
        string? rawStdout = null;
        if (CniError.TryParse(stdout, out var error))
        {
            message.Append(": ").Append(CniPluginException.Bound(error.ToString()));
        }
        else
        {
            var text = CniPluginException.Bound(Decode(stdout));
            if (text.Length > 0)
            {
                rawStdout = text;
                message.Append(": stdout: ").Append(text);
            }
            else if (stderr.Length == 0)
            {
                message.Append(" with no output");
            }
        }

        message.Append(StderrSuffix(stderr)).Append("; plugin ").Append(invocation.PluginPath);
        return new CniPluginException(PluginFailureKind.ExitedNonZero, message.ToString(), invocation, pluginPath: null, pluginType: null)
        {
            ExitCode = exitCode,
            Error = error,
            RawStdout = rawStdout,
            Stderr = stderr,
        };
    }

    private ProcessStartInfo CreateStartInfo(PluginInvocation invocation)
    {
        var environment = PluginEnvironment.Build(invocation, _baseEnvironment ?? PluginEnvironment.Current());
        var startInfo = new ProcessStartInfo(invocation.PluginPath)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
            WorkingDirectory = "/",
        };
        startInfo.Environment.Clear();
        foreach (var (name, value) in environment)
        {
            startInfo.Environment[name] = value;
        }

        return startInfo;
    }

    private async Task<Process> StartAsync(PluginInvocation invocation, ProcessStartInfo startInfo, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return StartOnce(startInfo);
            }
            catch (Win32Exception e) when (e.NativeErrorCode == ErrnoTextFileBusy && attempt < TextFileBusyAttempts)
            {
                // The binary is still open for writing (being installed or copied): libcni retries too.
                await Task.Delay(TextFileBusyDelay * attempt, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is Win32Exception or IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                var reason = e is Win32Exception w ? $"{w.Message} (errno {w.NativeErrorCode})" : e.Message;
                throw new CniPluginException(
                    PluginFailureKind.CouldNotStart,
                    $"{invocation.Describe()} could not be started: {reason}; plugin {invocation.PluginPath}" +
                        (HostNetworkNamespacePath is null ? "" : $" (in network namespace {HostNetworkNamespacePath})"),
                    invocation,
                    pluginPath: null,
                    pluginType: null,
                    e);
            }
        }
    }

    private Process StartOnce(ProcessStartInfo startInfo)
    {
        if (HostNetworkNamespacePath is null)
        {
            return Process.Start(startInfo) ?? throw new InvalidOperationException("Process.Start returned no process");
        }

        // Only the start happens inside: the pipes are read, and the process waited for, outside.
        using var hostNamespace = NetworkNamespace.Open(HostNetworkNamespacePath);
        return hostNamespace.StartProcess(startInfo);
    }

    /// <summary>
    /// Runs the caller's work while the plugin starts; it is blocked reading its stdin meanwhile (or has not got that
    /// far). On failure it is killed and reaped before anything reaches its stdin, so it cannot have acted.
    /// </summary>
    private static async Task RunBeforeStdinAsync(Process process, Func<Task> beforeStdin)
    {
        try
        {
            await beforeStdin().ConfigureAwait(false);
        }
        catch
        {
            KillTree(process);
            await WaitReapedAsync(process).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task WriteStdinAsync(Process process, ReadOnlyMemory<byte> data)
    {
        try
        {
            if (!data.IsEmpty)
            {
                await process.StandardInput.BaseStream.WriteAsync(data).ConfigureAwait(false);
                await process.StandardInput.BaseStream.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The plugin exited (or was killed) without reading all of its stdin; its exit status tells the story.
        }
        finally
        {
            try
            {
                process.StandardInput.Close();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
            }
        }
    }

    private static async Task FinishDrainingAsync(Process process, Task stdoutTask, Task stderrTask, Task stdinTask)
    {
        var all = Task.WhenAll(stdoutTask, stderrTask, stdinTask);
        if (await Task.WhenAny(all, Task.Delay(DrainGrace)).ConfigureAwait(false) == all)
        {
            return;
        }

        // A descendant that outlived the plugin still holds the pipes: kill what is left of the tree, then close our
        // ends so the reads end; what was read so far is kept.
        KillTree(process);
        try
        {
            process.StandardOutput.BaseStream.Dispose();
            process.StandardError.BaseStream.Dispose();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }

        await Task.WhenAny(all, Task.Delay(DrainGrace)).ConfigureAwait(false);
    }

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception or NotSupportedException)
        {
            // Already exited.
        }
    }

    private static async Task WaitReapedAsync(Process process)
    {
        using var grace = new CancellationTokenSource(KillGrace);
        try
        {
            await process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static string Decode(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    private static string StderrSuffix(string stderr) => stderr.Length == 0 ? "" : $"; stderr: {stderr}";

    private static string FormatSeconds(TimeSpan span) =>
        span.TotalSeconds == Math.Floor(span.TotalSeconds)
            ? $"{(long)span.TotalSeconds}s"
            : $"{span.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)}s";

    /// <summary>Collects a stream to EOF, keeping at most a bounded prefix; safe to snapshot while still reading.</summary>
    private sealed class OutputCollector(int limit)
    {
        private readonly object _gate = new();
        private readonly MemoryStream _kept = new();

        public bool Overflowed { get; private set; }

        public async Task DrainAsync(Stream stream)
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                {
                    lock (_gate)
                    {
                        var keep = (int)Math.Min(read, limit - _kept.Length);
                        if (keep > 0)
                        {
                            _kept.Write(buffer, 0, keep);
                        }

                        if (keep < read)
                        {
                            Overflowed = true;
                        }
                    }
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
            {
                // Our end was closed because a leaked descendant kept the pipe open; keep what was read.
            }
        }

        public byte[] Snapshot()
        {
            lock (_gate)
            {
                return _kept.ToArray();
            }
        }
    }
}
