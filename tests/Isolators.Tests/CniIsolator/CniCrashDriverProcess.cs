using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Mesos;
using Xunit;

namespace NetIsolator.Isolators.Tests.CniIsolator;

/// <summary>
/// The stand-in agent of tests/CniCrashDriver run as a separate process (its dll is copied next to this test
/// assembly by the project reference), over a sandbox's directories and fake host: it prepares, isolates and cleans
/// up one container, printing <c>BEGIN step</c> / <c>END step</c> markers, so that a test can kill -9 it at a known
/// point. Dispose kills it if it still runs.
/// </summary>
internal sealed class CniCrashDriverProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly StringBuilder _stderr = new();
    private readonly Task _readers;

    private CniCrashDriverProcess(Process process)
    {
        _process = process;
        _readers = Task.WhenAll(Pump(process.StandardOutput, line => { lock (_lines) { _lines.Add(line); } }),
            Pump(process.StandardError, line => { lock (_stderr) { _stderr.Append(line).Append('\n'); } }));
    }

    /// <summary>Starts the driver for container <paramref name="id"/>, whose process is <paramref name="pid"/>, on
    /// <paramref name="networks"/>; with <paramref name="holdAfter"/> ("prepare" or "isolate") it waits after that
    /// step to be killed.</summary>
    public static CniCrashDriverProcess Start(CniSandbox sandbox, string pluginsDirectory, ContainerID id, int pid, string? holdAfter, params string[] networks)
    {
        var driver = Path.Join(AppContext.BaseDirectory, "CniCrashDriver.dll");
        Assert.True(File.Exists(driver), $"'{driver}' is missing: the test project references tests/CniCrashDriver, which copies it here");
        List<string> args =
        [
            "exec", driver,
            "--config-dir", sandbox.ConfigDir,
            "--plugins-dir", pluginsDirectory,
            "--runtime-dir", sandbox.RuntimeDir,
            "--host-netns", sandbox.HostNetnsPath,
            "--timeout", "30",
            "--container-id", id.Value,
            "--pid", pid.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ];
        foreach (var network in networks)
        {
            args.AddRange(["--network", network]);
        }

        if (holdAfter is not null)
        {
            args.AddRange(["--hold-after", holdAfter]);
        }

        var info = new ProcessStartInfo(DotnetHost(), args) { RedirectStandardOutput = true, RedirectStandardError = true };
        return new CniCrashDriverProcess(Process.Start(info)!);
    }

    public int Pid => _process.Id;

    /// <summary>Everything the driver printed so far (stdout markers, then its log and errors), for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_lines)
            {
                lock (_stderr)
                {
                    return $"stdout:\n{string.Join('\n', _lines)}\nstderr:\n{_stderr}";
                }
            }
        }
    }

    /// <summary>Waits (at most <paramref name="timeout"/>) for the driver to print <paramref name="line"/>; fails the
    /// test if it exits or times out first.</summary>
    public void WaitForLine(string line, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            lock (_lines)
            {
                if (_lines.Contains(line))
                {
                    return;
                }
            }

            if (_process.HasExited)
            {
                _readers.Wait(TimeSpan.FromSeconds(5));
                lock (_lines)
                {
                    if (_lines.Contains(line))
                    {
                        return;
                    }
                }

                Assert.Fail($"the driver exited ({_process.ExitCode}) before printing '{line}'\n{Output}");
            }

            Assert.True(DateTime.UtcNow < deadline, $"the driver did not print '{line}' in time\n{Output}");
            Thread.Sleep(10);
        }
    }

    public bool Printed(string line)
    {
        lock (_lines)
        {
            return _lines.Contains(line);
        }
    }

    /// <summary>SIGKILL (what <see cref="Process.Kill()"/> sends on Linux) and reap; asserts it died of it.</summary>
    public void Kill9()
    {
        Assert.False(_process.HasExited, $"the driver exited ({(_process.HasExited ? _process.ExitCode : 0)}) before it could be killed\n{Output}");
        _process.Kill();
        Assert.True(_process.WaitForExit(10_000), "the killed driver was not reaped within 10 s");
        _readers.Wait(TimeSpan.FromSeconds(5));
        Assert.Equal(128 + 9, _process.ExitCode);
    }

    /// <summary>Waits for a normal exit and returns its status.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        Assert.True(_process.WaitForExit(timeout), $"the driver did not exit within {timeout}\n{Output}");
        _process.WaitForExit();
        _readers.Wait(TimeSpan.FromSeconds(5));
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }

        _process.Dispose();
    }

    /// <summary>The <c>dotnet</c> host of the runtime running the tests (three levels above its shared framework dir).</summary>
    private static string DotnetHost()
    {
        var candidate = Path.GetFullPath(Path.Join(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", "..", "dotnet"));
        return File.Exists(candidate) ? candidate : "dotnet";
    }

    private static async Task Pump(StreamReader reader, Action<string> add)
    {
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            add(line);
        }
    }
}
