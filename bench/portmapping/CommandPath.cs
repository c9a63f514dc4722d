using System.Diagnostics;
using System.Globalization;
using System.Text;
using NetIsolator.Isolators.PortMappingIsolation;
using NetIsolator.Isolators.PortMappingIsolation.Plan;

namespace NetIsolator.Bench.PortMapping;

/// <summary>
/// The command-driven side (Mesos's approach): the isolator's own plan for a container, rendered as the
/// <c>ip</c>/<c>tc</c>/<c>sysctl</c> commands each step stands for (<see cref="PlanStep.ToCommand"/>) and run as
/// processes: the pin by <c>mount --bind</c>, the veth by <c>ip link add</c>, each host-side step as one process in the
/// host namespace, and the in-container steps as one <c>sh</c> script in the container's namespace (Mesos's pre-exec
/// script). Cleanup finds the container's host filters the way a command-driven tool must: by listing the host's
/// filters and picking those whose action names its veth, then deletes each by handle.
/// </summary>
internal sealed class CommandPath(World world, PortMappingIsolator isolator)
{
    private readonly bool _hasEthtool = File.Exists("/usr/sbin/ethtool") || File.Exists("/sbin/ethtool") || File.Exists("/usr/bin/ethtool");

    /// <summary>Whether the in-container script can run <c>ethtool -K eth0 rx off</c> (it is left out when ethtool is missing).</summary>
    public bool HasEthtool => _hasEthtool;

    public void Isolate(int pid, IReadOnlyList<PortRange> ranges, PortRange ephemeral)
    {
        var host = isolator.Host;
        var network = new ContainerNetwork(pid, ranges, ephemeral);
        var pin = PinPath(pid);
        File.WriteAllBytes(pin, []);
        Exec("mount", "--bind", $"/proc/{pid}/ns/net", pin);
        Exec("ip", "-n", world.HostNetns, "link", "add", network.Veth, "address", host.Mac.ToString(), "mtu", Text(host.Mtu),
            "type", "veth", "peer", "name", host.Eth0, "address", host.Mac.ToString(), "netns", Text(pid));
        foreach (var step in PortMappingPlans.ContainerHostSide(host, isolator.Variants, network))
        {
            var words = Words(step.ToCommand());
            ExecWords(words[0] switch
            {
                "ip" or "tc" => [words[0], "-n", world.HostNetns, .. words[1..]],
                _ => ["ip", "netns", "exec", world.HostNetns, .. words],
            });
        }

        var script = new StringBuilder("set -e\n");
        foreach (var step in PortMappingPlans.ContainerInside(host, isolator.Variants, network, hostHasRouteLocalnet: true, isolator.HostSysctls))
        {
            if (step is RxChecksumOffStep && !_hasEthtool)
            {
                continue;
            }

            // Mesos guards the copied host sysctls with `[ -f ]`; knobs that are not per namespace are read-only here.
            script.AppendLine(step is SysctlStep { IfExists: true } ? step.ToCommand() + " >/dev/null 2>&1 || true" : step.ToCommand());
        }

        Exec("nsenter", $"--net=/proc/{pid}/ns/net", "sh", "-c", script.ToString());
    }

    public void Cleanup(int pid)
    {
        var veth = ContainerNetwork.VethName(pid);
        foreach (var device in new[] { isolator.Host.Eth0, isolator.Host.Lo })
        {
            foreach (var (protocol, priority, handle) in FiltersTargeting(device, veth))
            {
                Exec("tc", "-n", world.HostNetns, "filter", "del", "dev", device, "parent", "ffff:", "protocol", protocol, "prio", priority, "handle", handle, "u32");
            }
        }

        Exec("ip", "-n", world.HostNetns, "link", "del", veth);
        Exec("umount", PinPath(pid));
        File.Delete(PinPath(pid));
    }

    /// <summary>The (protocol, prio, handle) of the ingress filters on <paramref name="device"/> whose action names <paramref name="veth"/>.</summary>
    private List<(string Protocol, string Priority, string Handle)> FiltersTargeting(string device, string veth)
    {
        var found = new List<(string, string, string)>();
        (string, string, string)? current = null;
        foreach (var line in Exec("tc", "-n", world.HostNetns, "filter", "show", "dev", device, "ingress").Split('\n'))
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words is ["filter", ..] && Array.IndexOf(words, "fh") is var fh and > 0 && !line.Contains("ht divisor", StringComparison.Ordinal))
            {
                current = (words[Array.IndexOf(words, "protocol") + 1], words[Array.IndexOf(words, "pref") + 1], words[fh + 1]);
            }
            else if (current is { } filter && line.Contains($"device {veth})", StringComparison.Ordinal))
            {
                found.Add(filter);
                current = null;
            }
        }

        return found;
    }

    private string PinPath(int pid) => Path.Join(isolator.BindMountRoot, Text(pid));

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Splits a rendered command into words as <c>sh</c> would (single quotes only; the plans use no others).</summary>
    private static List<string> Words(string command)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var quoted = false;
        var any = false;
        foreach (var c in command)
        {
            if (c == '\'')
            {
                quoted = !quoted;
                any = true;
            }
            else if (c == ' ' && !quoted)
            {
                if (any)
                {
                    words.Add(word.ToString());
                }

                word.Clear();
                any = false;
            }
            else
            {
                word.Append(c);
                any = true;
            }
        }

        if (any)
        {
            words.Add(word.ToString());
        }

        return words;
    }

    private static string Exec(params string[] command)
    {
        using var process = Process.Start(new ProcessStartInfo(command[0], command[1..]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0
            ? stdout.Result
            : throw new InvalidOperationException($"'{string.Join(' ', command)}' exited {process.ExitCode}: {stderr.Trim()}");
    }

    private static string ExecWords(List<string> command) => Exec([.. command]);
}
