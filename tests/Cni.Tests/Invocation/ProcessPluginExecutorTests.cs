using System.Diagnostics;
using System.Text;
using NetIsolator.Cni.Invocation;
using Xunit;

namespace NetIsolator.Cni.Tests.Invocation;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ProcessPluginExecutorTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ProcessPluginExecutor _executor = new();

    public void Dispose() => _dir.Dispose();

    private PluginInvocation Add(string pluginPath, string stdin = "{}", TimeSpan? timeLimit = null, Func<Task>? beforeStdin = null) => new()
    {
        BeforeStdin = beforeStdin,
        PluginPath = pluginPath,
        Command = PluginCommand.Add,
        ContainerId = "c1",
        NetNsPath = "/var/run/netns/c1",
        IfName = "eth0",
        CniPath = _dir.Path,
        Stdin = Encoding.UTF8.GetBytes(stdin),
        TimeLimit = timeLimit ?? TimeSpan.FromSeconds(20),
    };

    [Fact]
    public async Task Success_ReturnsStdoutExactlyAndStderrAsLogs()
    {
        var plugin = _dir.WriteScript("mock", """
            echo 'some log' >&2
            printf '{"cniVersion":"1.0.0","ips":[]}'
            """);

        var output = await _executor.ExecuteAsync(Add(plugin));

        Assert.Equal("{\"cniVersion\":\"1.0.0\",\"ips\":[]}", Encoding.UTF8.GetString(output.Stdout));
        Assert.Equal("some log", output.Stderr);
        Assert.True(output.Elapsed > TimeSpan.Zero);
    }

    [Fact]
    public async Task NonZeroExit_WithCniError_IsParsedIntoTheException()
    {
        var plugin = _dir.WriteScript("bridge", """
            cat >/dev/null
            echo '{"cniVersion":"1.0.0","code":11,"msg":"try again later","details":"lock held"}'
            echo 'plugin log line' >&2
            exit 1
            """);

        var e = await Assert.ThrowsAsync<CniPluginException>(() => _executor.ExecuteAsync(Add(plugin)));

        Assert.Equal(PluginFailureKind.ExitedNonZero, e.Kind);
        Assert.Equal(1, e.ExitCode);
        Assert.Equal(11u, e.ErrorCode);
        Assert.Equal("try again later", e.Error!.Msg);
        Assert.Equal("lock held", e.Error.Details);
        Assert.Equal("1.0.0", e.Error.CniVersion);
        Assert.Null(e.RawStdout);
        Assert.Equal("plugin log line", e.Stderr);
        Assert.Equal(plugin, e.PluginPath);
        Assert.Equal("bridge", e.PluginType);
        Assert.Equal(PluginCommand.Add, e.Command);
        Assert.Equal("c1", e.ContainerId);
        Assert.Equal("eth0", e.IfName);
        Assert.Equal(
            $"bridge ADD for container 'c1' eth0 failed (exit 1): [code 11 (try again later)] try again later: lock held; stderr: plugin log line; plugin {plugin}",
            e.Message);
    }

    [Fact]
    public async Task NonZeroExit_WithGarbageStdout_KeepsRawStdoutAndStderr()
    {
        var plugin = _dir.WriteScript("mock", """
            echo 'this is not json {'
            echo 'panic: something broke' >&2
            exit 2
            """);

        var e = await Assert.ThrowsAsync<CniPluginException>(() => _executor.ExecuteAsync(Add(plugin)));

        Assert.Equal(2, e.ExitCode);
        Assert.Null(e.Error);
        Assert.Equal("this is not json {", e.RawStdout);
        Assert.Equal("panic: something broke", e.Stderr);
        Assert.Contains("mock ADD for container 'c1' eth0 failed (exit 2): stdout: this is not json {; stderr: panic: something broke", e.Message);
        Assert.Contains(plugin, e.Message);
    }

    [Fact]
    public async Task NonZeroExit_WithoutOutput_SaysSo()
    {
        var plugin = _dir.WriteScript("mock", "exit 3");

        var e = await Assert.ThrowsAsync<CniPluginException>(() => _executor.ExecuteAsync(Add(plugin)));

        Assert.Equal(3, e.ExitCode);
        Assert.Contains("failed (exit 3) with no output", e.Message);
    }

    [Fact]
    public async Task HugeStderr_IsBoundedInTheException()
    {
        var plugin = _dir.WriteScript("mock", """
            i=0
            while [ $i -lt 2000 ]; do echo "stderr line $i with some padding to make it long enough" >&2; i=$((i+1)); done
            exit 1
            """);

        var e = await Assert.ThrowsAsync<CniPluginException>(() => _executor.ExecuteAsync(Add(plugin)));

        Assert.True(e.Stderr.Length <= CniPluginException.MaxTextLength + 64, $"stderr length {e.Stderr.Length}");
        Assert.StartsWith("stderr line 0 ", e.Stderr);
        Assert.True(e.Message.Length < 3 * CniPluginException.MaxTextLength);
    }

    [Fact]
    public async Task Hang_IsKilledWithItsChildrenAtTheTimeLimit()
    {
        var pids = _dir.Join("pids");
        var plugin = _dir.WriteScript("hang", $"""
            sleep 30 &
            echo "$$ $!" > {pids}
            wait
            """);

        var stopwatch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<CniPluginException>(() => _executor.ExecuteAsync(Add(plugin, timeLimit: TimeSpan.FromSeconds(1))));
        stopwatch.Stop();

        Assert.Equal(PluginFailureKind.TimedOut, e.Kind);
        Assert.Null(e.ExitCode);
        Assert.Equal(TimeSpan.FromSeconds(1), e.TimeLimit);
        Assert.Contains("hang ADD for container 'c1' eth0 timed out after 1s (killed)", e.Message);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"took {stopwatch.Elapsed}");
        foreach (var pid in File.ReadAllText(pids).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse))
        {
            Assert.True(Command.IsGone(pid), $"process {pid} survived the time limit");
        }
    }

    /// <summary>A plugin that writes its pid, copies its stdin to a file, then runs <paramref name="tail"/>.</summary>
    private (string Plugin, string PidFile, string Received) WriteGatedPlugin(string tail)
    {
        var pidFile = _dir.Join("pid");
        var received = _dir.Join("received");
        var plugin = _dir.WriteScript("gated", $"""
            received='{received}'
            echo $$ > '{pidFile}'
            cat > "$received"
            {tail}
            """);
        return (plugin, pidFile, received);
    }

    private static async Task WaitForFileAsync(string path)
    {
        for (var i = 0; i < 100 && !File.Exists(path); i++)
        {
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task BeforeStdin_RunsOnceThePluginHasStarted_AndThePluginGetsItsStdinOnlyAfterIt()
    {
        var (plugin, pidFile, received) = WriteGatedPlugin("""printf '{"cniVersion":"1.0.0"}'""");
        string? seenDuringGate = null;
        var pluginRunningDuringGate = false;

        var output = await _executor.ExecuteAsync(Add(
            plugin,
            stdin: "{\"config\":1}",
            beforeStdin: async () =>
            {
                // The plugin is running (it wrote its pid) and waiting for its stdin, which it does not have yet.
                await WaitForFileAsync(pidFile);
                pluginRunningDuringGate = File.Exists(pidFile) && !Command.IsGone(int.Parse(File.ReadAllText(pidFile).Trim()));
                await Task.Delay(200);
                seenDuringGate = File.Exists(received) ? File.ReadAllText(received) : "";
            }));

        Assert.True(pluginRunningDuringGate);
        Assert.Equal("", seenDuringGate);
        Assert.Equal("{\"config\":1}", File.ReadAllText(received));
        Assert.Equal("{\"cniVersion\":\"1.0.0\"}", Encoding.UTF8.GetString(output.Stdout));
    }

    [Fact]
    public async Task BeforeStdin_Failing_KillsThePluginBeforeItReadsAByte_AndPropagatesTheSameException()
    {
        var (plugin, pidFile, received) = WriteGatedPlugin("echo done >> \"$received\"");
        var failure = new InvalidOperationException("the checkpoint could not be written");

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => _executor.ExecuteAsync(Add(
            plugin,
            beforeStdin: async () =>
            {
                await WaitForFileAsync(pidFile);
                throw failure;
            })));

        Assert.Same(failure, thrown);
        Assert.True(Command.IsGone(int.Parse(File.ReadAllText(pidFile).Trim())), "the plugin survived its failed gate");
        Assert.Equal("", File.Exists(received) ? File.ReadAllText(received) : "");
    }

    [Fact]
    public async Task Cancellation_KillsThePluginAndThrowsOperationCanceled()
    {
        var pidFile = _dir.Join("pid");
        var plugin = _dir.WriteScript("hang", $"""
            echo $$ > {pidFile}
            exec sleep 30
            """);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        var stopwatch = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _executor.ExecuteAsync(Add(plugin), cancel.Token));

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"took {stopwatch.Elapsed}");
        Assert.True(Command.IsGone(int.Parse(File.ReadAllText(pidFile).Trim())));
    }

    [Fact]
    public async Task LeakedDescendantHoldingThePipes_DoesNotBlockTheRun()
    {
        var pidFile = _dir.Join("pid");
        var plugin = _dir.WriteScript("leaky", $$"""
            sleep 30 &
            echo $! > {{pidFile}}
            printf '{"cniVersion":"1.0.0"}'
            exit 0
            """);

        var stopwatch = Stopwatch.StartNew();
        try
        {
            var output = await _executor.ExecuteAsync(Add(plugin));
            Assert.Equal("{\"cniVersion\":\"1.0.0\"}", Encoding.UTF8.GetString(output.Stdout));
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(8), $"took {stopwatch.Elapsed}");
        }
        finally
        {
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
            {
                try
                {
                    Process.GetProcessById(pid).Kill();
                }
                catch (ArgumentException)
                {
                }
                catch (InvalidOperationException)
                {
                }
            }
        }
    }

    [Fact]
    public async Task Environment_SetsCniVariables_DropsInheritedOnes_KeepsPath_AndStdinIsByteExact()
    {
        var envFile = _dir.Join("env");
        var stdinFile = _dir.Join("stdin");
        var plugin = _dir.WriteScript("envdump", $$"""
            env > {{envFile}}
            cat > {{stdinFile}}
            echo '{}'
            """);
        var inherited = new Dictionary<string, string>
        {
            ["PATH"] = "/opt/agent/bin:/usr/bin:/bin",
            ["HOME"] = "/root",
            ["CNI_COMMAND"] = "DEL",
            ["CNI_NETNS"] = "/proc/1/ns/net",
            ["CNI_ARGS"] = "IgnoreUnknown=1",
            ["CNI_SOMETHING_ELSE"] = "x",
        };
        var executor = new ProcessPluginExecutor(baseEnvironment: inherited);

        // 300 KiB of every byte value, larger than a pipe buffer, including bytes that are not UTF-8.
        var stdin = new byte[300 * 1024];
        for (var i = 0; i < stdin.Length; i++)
        {
            stdin[i] = (byte)(i * 7 + (i >> 8));
        }

        await executor.ExecuteAsync(new PluginInvocation
        {
            PluginPath = plugin,
            Command = PluginCommand.Add,
            ContainerId = "c-42",
            NetNsPath = "/var/run/netns/c-42",
            IfName = "eth1",
            CniPath = "/usr/lib/cni:/opt/cni/bin",
            CniArgs = [new("K8S_POD_NAME", "web"), new("IgnoreUnknown", "1")],
            Stdin = stdin,
        });

        var environment = ReadEnv(envFile);
        Assert.Equal("ADD", environment["CNI_COMMAND"]);
        Assert.Equal("c-42", environment["CNI_CONTAINERID"]);
        Assert.Equal("/var/run/netns/c-42", environment["CNI_NETNS"]);
        Assert.Equal("eth1", environment["CNI_IFNAME"]);
        Assert.Equal("/usr/lib/cni:/opt/cni/bin", environment["CNI_PATH"]);
        Assert.Equal("K8S_POD_NAME=web;IgnoreUnknown=1", environment["CNI_ARGS"]);
        Assert.False(environment.ContainsKey("CNI_SOMETHING_ELSE"));
        Assert.Equal("/opt/agent/bin:/usr/bin:/bin", environment["PATH"]);
        Assert.Equal("/root", environment["HOME"]);
        Assert.Equal(stdin, File.ReadAllBytes(stdinFile));
    }

    [Fact]
    public async Task Environment_FromTheAgentProcess_DropsItsCniVariables()
    {
        var envFile = _dir.Join("env");
        var plugin = _dir.WriteScript("envdump", $"env > {envFile}");
        Environment.SetEnvironmentVariable("CNI_INHERITED_FROM_AGENT_TEST", "leak");

        await _executor.ExecuteAsync(Add(plugin));

        var environment = ReadEnv(envFile);
        Assert.False(environment.ContainsKey("CNI_INHERITED_FROM_AGENT_TEST"));
        Assert.Equal(Environment.GetEnvironmentVariable("PATH"), environment["PATH"]);
        Assert.False(environment.ContainsKey("CNI_ARGS"));
    }

    [Fact]
    public async Task Del_WithoutNetns_LeavesCniNetnsUnset()
    {
        var envFile = _dir.Join("env");
        var plugin = _dir.WriteScript("envdump", $"env > {envFile}");
        var executor = new ProcessPluginExecutor(baseEnvironment: [new("PATH", "/usr/bin:/bin"), new("CNI_NETNS", "/stale")]);

        await executor.ExecuteAsync(new PluginInvocation
        {
            PluginPath = plugin,
            Command = PluginCommand.Del,
            ContainerId = "c1",
            NetNsPath = null,
            IfName = "eth0",
            CniPath = _dir.Path,
        });

        var environment = ReadEnv(envFile);
        Assert.Equal("DEL", environment["CNI_COMMAND"]);
        Assert.False(environment.ContainsKey("CNI_NETNS"));
    }

    [Fact]
    public async Task PluginThatIgnoresALargeStdin_StillSucceeds()
    {
        var plugin = _dir.WriteScript("mock", "echo '{}'");

        var output = await _executor.ExecuteAsync(Add(plugin, stdin: new string('x', 2 << 20)));

        Assert.Equal("{}\n", Encoding.UTF8.GetString(output.Stdout));
    }

    [Fact]
    public async Task LargeStdout_IsReadCompletely()
    {
        var plugin = _dir.WriteScript("mock", "head -c 3000000 /dev/zero | tr '\\0' 'a'");

        var output = await _executor.ExecuteAsync(Add(plugin));

        Assert.Equal(3_000_000, output.Stdout.Length);
    }

    [Fact]
    public async Task MissingPluginPath_CannotBeStarted()
    {
        var e = await Assert.ThrowsAsync<CniPluginException>(() => _executor.ExecuteAsync(Add(_dir.Join("absent"))));

        Assert.Equal(PluginFailureKind.CouldNotStart, e.Kind);
        Assert.Contains(_dir.Join("absent"), e.Message);
    }

    [Fact]
    public async Task NonExecutableFile_CannotBeStarted()
    {
        var path = _dir.Join("plain");
        File.WriteAllText(path, "#!/bin/sh\necho '{}'\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var e = await Assert.ThrowsAsync<CniPluginException>(() => _executor.ExecuteAsync(Add(path)));

        Assert.Equal(PluginFailureKind.CouldNotStart, e.Kind);
        Assert.Contains("could not be started", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public async Task TextFileBusy_IsRetried()
    {
        var path = _dir.Join("busy");
        var writer = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        writer.Write("#!/bin/sh\necho '{\"ok\":true}'\n"u8);
        writer.Flush();
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);

        // The binary is still open for writing (as while being installed): exec fails with ETXTBSY until it closes.
        var release = Task.Run(async () =>
        {
            await Task.Delay(250);
            await writer.DisposeAsync();
        });
        var stopwatch = Stopwatch.StartNew();
        try
        {
            var output = await _executor.ExecuteAsync(Add(path));
            Assert.Equal("{\"ok\":true}\n", Encoding.UTF8.GetString(output.Stdout));

            // It could only run once the writer closed, so the first exec attempt(s) failed and were retried.
            Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(200), $"took {stopwatch.Elapsed}");
        }
        finally
        {
            await release;
        }
    }

    [Fact]
    public async Task InvalidCniArgs_AreRefused()
    {
        var plugin = _dir.WriteScript("mock", "echo '{}'");
        var invocation = new PluginInvocation
        {
            PluginPath = plugin,
            Command = PluginCommand.Add,
            ContainerId = "c1",
            IfName = "eth0",
            CniArgs = [new("A", "1;B=2")],
        };

        await Assert.ThrowsAsync<ArgumentException>(() => _executor.ExecuteAsync(invocation));
    }

    [Fact]
    public async Task RelativePluginPath_IsRefused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _executor.ExecuteAsync(Add("bridge")));
    }

    private static Dictionary<string, string> ReadEnv(string path)
    {
        var environment = new Dictionary<string, string>();
        foreach (var line in File.ReadAllLines(path))
        {
            var equals = line.IndexOf('=');
            if (equals > 0)
            {
                environment[line[..equals]] = line[(equals + 1)..];
            }
        }

        return environment;
    }
}
