using System.Diagnostics;
using System.Net;

namespace NetIsolator.Testing;

/// <summary>
/// A throwaway "host" for the port-mapping tests and benchmark: a network namespace whose <c>eth0</c> is a veth to a
/// "peer" namespace that plays the gateway (host <c>&lt;net&gt;.N.2/24</c>, peer <c>.1</c>, the host's default
/// route via the peer, so it never leads out of the machine). The host's automatic port range is moved to
/// 50000-60999, out of any ephemeral pool the tests give containers, as on a real agent. The machine's own namespace
/// is never touched; <see cref="Delete"/> removes both namespaces (with every link in them).
/// </summary>
public sealed class FakeHostNetwork
{
    private static int s_subnet = Random.Shared.Next(0, 200);

    /// <param name="prefix">Namespace name prefix: the host is <c>&lt;prefix&gt;h&lt;id&gt;</c>, the peer <c>&lt;prefix&gt;p&lt;id&gt;</c>.</param>
    /// <param name="network">The first two octets of the private /16 the /24 is taken from, e.g. <c>10.78</c>.</param>
    public FakeHostNetwork(string prefix, string network)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        HostNetns = $"{prefix}h{id}";
        PeerNetns = $"{prefix}p{id}";
        var third = Interlocked.Increment(ref s_subnet) % 250;
        HostIp = IPAddress.Parse($"{network}.{third}.2");
        PeerIp = IPAddress.Parse($"{network}.{third}.1");
        Run("ip", "netns", "add", HostNetns);
        Run("ip", "netns", "add", PeerNetns);
        Run("ip", "-n", HostNetns, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0", "netns", PeerNetns);
        Run("ip", "-n", HostNetns, "addr", "add", $"{HostIp}/24", "dev", "eth0");
        Run("ip", "-n", HostNetns, "link", "set", "eth0", "up");
        Run("ip", "-n", HostNetns, "link", "set", "lo", "up");
        Run("ip", "-n", HostNetns, "route", "add", "default", "via", PeerIp.ToString());
        Run("ip", "-n", PeerNetns, "addr", "add", $"{PeerIp}/24", "dev", "peer0");
        Run("ip", "-n", PeerNetns, "link", "set", "peer0", "up");
        Run("ip", "-n", PeerNetns, "link", "set", "lo", "up");
        Run("ip", "netns", "exec", HostNetns, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=50000 60999");
    }

    public string HostNetns { get; }

    public string PeerNetns { get; }

    public string HostNetnsPath => $"/run/netns/{HostNetns}";

    public string PeerNetnsPath => $"/run/netns/{PeerNetns}";

    public IPAddress HostIp { get; }

    public IPAddress PeerIp { get; }

    public void Delete()
    {
        Run("ip", "netns", "del", HostNetns);
        Run("ip", "netns", "del", PeerNetns);
    }

    /// <summary>Runs a program (argv, no shell) and returns its stdout; a non-zero exit throws with its stderr.</summary>
    public static string Run(string program, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0
            ? stdout.Result
            : throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {process.ExitCode}: {stderr.Trim()}");
    }
}
