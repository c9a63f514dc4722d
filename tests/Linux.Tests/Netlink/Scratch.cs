using System.Diagnostics;
using NetIsolator.Linux.Netlink;
using Xunit;

namespace NetIsolator.Linux.Tests.Netlink;

/// <summary>
/// Throwaway network namespaces for one test: each pinned in the test's <see cref="Sandbox"/>, opened, with a
/// netlink socket in it. Dispose closes and unpins them (the kernel then destroys their links, qdiscs and filters),
/// checks the sandbox is empty, and checks that no link named with <see cref="Prefix"/> ever showed up in this
/// process's own (the machine's) namespace.
/// </summary>
internal sealed class Scratch : IDisposable
{
    /// <summary>Every link a netlink test creates starts with this, so leaks into the host namespace are visible.</summary>
    public const string Prefix = "nlt";

    private readonly Sandbox _sandbox = new();
    private readonly List<Space> _spaces = [];

    public Space NewNamespace()
    {
        var path = _sandbox.PathOf("ns-" + _spaces.Count);
        PersistentNetworkNamespace.Create(path);
        var ns = NetworkNamespace.Open(path);
        var space = new Space(path, ns, NetlinkSocket.OpenIn(ns));
        _spaces.Add(space);
        return space;
    }

    public void Dispose()
    {
        foreach (var space in _spaces)
        {
            space.Socket.Dispose();
            space.Namespace.Dispose();
            PersistentNetworkNamespace.Remove(space.Path);
        }

        _sandbox.Dispose();
        var leaked = Netns.CurrentThreadInterfaces().Where(name => name.StartsWith(Prefix, StringComparison.Ordinal)).ToList();
        Assert.Empty(leaked);
    }

    /// <summary>One namespace: its pin path, open handle and NETLINK_ROUTE socket.</summary>
    internal sealed record Space(string Path, NetworkNamespace Namespace, NetlinkSocket Socket)
    {
        /// <summary>Runs a command inside the namespace (nsenter) and returns its stdout; fails the test on a non-zero exit.</summary>
        public string Run(string program, params string[] args)
        {
            var (code, stdout, stderr) = TryRun(program, args);
            Assert.True(code == 0, $"{program} {string.Join(' ', args)} exited {code}: {stderr}");
            return stdout;
        }

        public (int Code, string Stdout, string Stderr) TryRun(string program, params string[] args)
        {
            using var process = Process.Start(new ProcessStartInfo("nsenter", [$"--net={Path}", program, .. args])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(30_000))
            {
                process.Kill();
                Assert.Fail($"{program} {string.Join(' ', args)} did not finish in 30 s");
            }

            return (process.ExitCode, stdout, stderr.Result);
        }
    }
}
