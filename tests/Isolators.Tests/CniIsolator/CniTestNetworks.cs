using System.Diagnostics;
using System.Text.Json.Nodes;
using Xunit;

namespace NetIsolator.Isolators.Tests.CniIsolator;

/// <summary>
/// Network config files for the real-plugin, spec-version and kill tests, written into a sandbox's config dir: each
/// network gets a private 10.215.x.0/24 and a bridge name of its own. The third octet comes from a counter separate
/// from <see cref="CniSandbox.AddNetwork"/>'s, so a test uses one or the other; every sandbox has its own fake host
/// and host-local data dir, so only the networks of one sandbox must differ.
/// </summary>
internal static class CniTestNetworks
{
    private static int s_next = Random.Shared.Next(0, 150);

    /// <summary>A fresh subnet prefix ("10.215.x.") and a bridge name for it, in the sandbox's fake host.</summary>
    public static (string Prefix, string Bridge) Allocate(CniSandbox sandbox)
    {
        var third = 100 + (Interlocked.Increment(ref s_next) % 150);
        return ($"10.215.{third}.", $"{sandbox.BridgePrefix}{third}");
    }

    /// <summary>host-local on <paramref name="prefix"/>0/24 with the sandbox's data dir (Debian's host-local 1.1.1
    /// reads the old single "subnet" form as well as "ranges"; <paramref name="oldStyle"/> picks the former).</summary>
    public static JsonObject HostLocal(CniSandbox sandbox, string prefix, bool oldStyle = false) =>
        oldStyle
            ? new JsonObject { ["type"] = "host-local", ["dataDir"] = sandbox.IpamDir, ["subnet"] = $"{prefix}0/24" }
            : new JsonObject
            {
                ["type"] = "host-local",
                ["dataDir"] = sandbox.IpamDir,
                ["ranges"] = new JsonArray(new JsonArray(new JsonObject { ["subnet"] = $"{prefix}0/24" })),
            };

    /// <summary>The bridge plugin on <paramref name="bridge"/>, gateway on the host side, no masquerading (which would
    /// add iptables rules), hairpin off.</summary>
    public static JsonObject Bridge(CniSandbox sandbox, string bridge, string prefix, bool oldStyleIpam = false) => new()
    {
        ["type"] = "bridge",
        ["bridge"] = bridge,
        ["isGateway"] = true,
        ["isDefaultGateway"] = false,
        ["ipMasq"] = false,
        ["ipam"] = HostLocal(sandbox, prefix, oldStyleIpam),
    };

    /// <summary>Writes <c>&lt;name&gt;.conflist</c> of <paramref name="plugins"/> at <paramref name="version"/>.</summary>
    public static void WriteConflist(CniSandbox sandbox, string name, string version, params JsonObject[] plugins)
    {
        var list = new JsonObject
        {
            ["cniVersion"] = version,
            ["name"] = name,
            ["plugins"] = new JsonArray([.. plugins]),
        };
        File.WriteAllText(Path.Join(sandbox.ConfigDir, name + ".conflist"), list.ToJsonString());
    }

    /// <summary>Writes <c>&lt;name&gt;.conf</c>: the single plugin <paramref name="plugin"/> with name and version.</summary>
    public static void WriteConf(CniSandbox sandbox, string name, string version, JsonObject plugin)
    {
        var conf = new JsonObject { ["cniVersion"] = version, ["name"] = name };
        foreach (var (key, value) in plugin)
        {
            conf[key] = value?.DeepClone();
        }

        File.WriteAllText(Path.Join(sandbox.ConfigDir, name + ".conf"), conf.ToJsonString());
    }

    /// <summary>A bridge + host-local conflist (1.0.0) named <paramref name="name"/>; returns its prefix.</summary>
    public static string WriteBridgeNetwork(CniSandbox sandbox, string name, params JsonObject[] morePlugins)
    {
        var (prefix, bridge) = Allocate(sandbox);
        WriteConflist(sandbox, name, "1.0.0", [Bridge(sandbox, bridge, prefix), .. morePlugins]);
        return prefix;
    }

    /// <summary>Runs <paramref name="command"/> inside the container's mount, UTS and network namespaces.</summary>
    public static string InContainer(int pid, params string[] command) =>
        CniSandbox.Run("nsenter", [$"--mount=/proc/{pid}/ns/mnt", $"--uts=/proc/{pid}/ns/uts", $"--net=/proc/{pid}/ns/net", .. command]);

    /// <summary>The Python interpreter for the traffic one-liners (the system's, else the first on PATH).</summary>
    public static string Python => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    /// <summary>
    /// Starts a one-shot TCP echo server in the network namespace <paramref name="netns"/> (a path), listening on
    /// <paramref name="port"/> of all addresses: it answers one connection with "pong:" + what it read, then exits;
    /// it gives up after <paramref name="seconds"/>. Returns once it listens.
    /// </summary>
    public static Process StartTcpServer(string netns, int port, int seconds = 10)
    {
        var script = $$"""
            import socket, sys
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", {{port}})); s.listen(1); s.settimeout({{seconds}})
            print("listening", flush=True)
            c, peer = s.accept(); c.settimeout({{seconds}})
            data = c.recv(100)
            c.sendall(b"pong:" + data); c.close()
            print("served " + peer[0], flush=True)
            """;
        var server = Process.Start(new ProcessStartInfo("nsenter", [$"--net={netns}", Python, "-c", script])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var first = server.StandardOutput.ReadLineAsync();
        if (!first.Wait(TimeSpan.FromSeconds(10)) || first.Result != "listening")
        {
            server.Kill();
            server.WaitForExit();
            Assert.Fail($"the TCP server in '{netns}' did not start: {server.StandardError.ReadToEnd()}");
        }

        return server;
    }

    /// <summary>Connects from the network namespace <paramref name="netns"/> to <paramref name="address"/>:<paramref
    /// name="port"/> (bounded by a 5 s timeout), sends <paramref name="message"/> and returns the reply.</summary>
    public static string TcpExchange(string netns, string address, int port, string message)
    {
        var script = $$"""
            import socket
            c = socket.create_connection(("{{address}}", {{port}}), timeout=5)
            c.sendall(b"{{message}}")
            print(c.recv(100).decode(), end="")
            """;
        return CniSandbox.Run("timeout", "10", "nsenter", $"--net={netns}", Python, "-c", script);
    }

    /// <summary>Waits (at most 10 s) for a server started by <see cref="StartTcpServer"/> to exit; returns what it printed.</summary>
    public static string FinishServer(Process server)
    {
        using (server)
        {
            if (!server.WaitForExit(10_000))
            {
                server.Kill();
                server.WaitForExit();
                Assert.Fail("the TCP server did not finish within 10 s");
            }

            return server.StandardOutput.ReadToEnd();
        }
    }
}
