using NetIsolator.Helpers.Cni;
using NetIsolator.Helpers.PortMapping;

namespace NetIsolator.Helpers;

/// <summary>
/// <c>netisolator-helper &lt;subcommand&gt; [--flag=value]...</c>: the processes the isolators start per container.
/// Each subcommand takes the flags of its Mesos counterpart, so command lines written for Mesos work unchanged.
/// </summary>
public static class Program
{
    private static readonly Dictionary<string, Func<string[], int>> Subcommands = new(StringComparer.Ordinal)
    {
        [NetworkCniSetup.Name] = arguments =>
            NetworkCniSetup.Run(arguments, Environment.GetEnvironmentVariables(), Console.Out, Console.Error),
    };

    static Program()
    {
        // Mesos's mesos-network-helper subcommands for network/port_mapping: update, statistics, htb_config.
        foreach (var (name, run) in PortMappingSubcommands.All(Environment.GetEnvironmentVariables(), Console.Out, Console.Error))
        {
            Subcommands.Add(name, run);
        }
    }

    public static int Main(string[] args)
    {
        // `help <subcommand>` is `<subcommand> --help`, as in Mesos's helpers.
        if (args is ["help", var named] && Subcommands.TryGetValue(named, out var helpOf))
        {
            return helpOf(["--help"]);
        }

        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            var output = args.Length == 0 ? Console.Error : Console.Out;
            output.WriteLine("Usage: netisolator-helper <subcommand> [--flag=value]...");
            output.WriteLine("Subcommands: " + string.Join(", ", Subcommands.Keys.Order(StringComparer.Ordinal)));
            return args.Length == 0 ? 1 : 0;
        }

        if (!Subcommands.TryGetValue(args[0], out var run))
        {
            Console.Error.WriteLine($"netisolator-helper: unknown subcommand '{args[0]}' (known: {string.Join(", ", Subcommands.Keys)})");
            return 1;
        }

        return run(args[1..]);
    }
}
