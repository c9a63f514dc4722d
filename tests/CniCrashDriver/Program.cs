// The CNI isolator in a process of its own, for tests that kill -9 it at a chosen step (see CniIsolatorKillTests).
//
//   CniCrashDriver --config-dir D --plugins-dir D --runtime-dir D --host-netns P --timeout S
//                  --container-id ID --pid PID --network NAME [--network NAME]... [--hold-after prepare|isolate]
//
// It creates the isolator with these options (those of CniSandbox.CreateIsolator), then runs prepare, isolate (of the
// given, already running, container process) and cleanup, printing "BEGIN <step>" before and "END <step>" after each
// one on stdout (flushed at once). With --hold-after STEP it prints "HOLDING" after that step and waits (at most
// 60 s, then exits 3) for the test to kill it. Isolator log lines go to stderr. Exit 0 when every step succeeded,
// 1 when one failed (its error on stderr), 2 for bad arguments.
using Mesos;
using Mesos.Slave;
using NetIsolator.Isolators.Cni;

var options = new Dictionary<string, List<string>>(StringComparer.Ordinal);
for (var i = 0; i < args.Length; i++)
{
    if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
    {
        Console.Error.WriteLine($"CniCrashDriver: bad argument '{args[i]}'");
        return 2;
    }

    if (!options.TryGetValue(args[i], out var values))
    {
        options[args[i]] = values = [];
    }

    values.Add(args[++i]);
}

string One(string name) =>
    options.TryGetValue(name, out var values) && values.Count == 1
        ? values[0]
        : throw new ArgumentException($"exactly one {name} is needed");

string? Optional(string name) => options.TryGetValue(name, out var values) ? values[^1] : null;

CniIsolator isolator;
ContainerID id;
int pid;
List<string> networks;
string? holdAfter;
try
{
    isolator = new CniIsolator(
        new CniIsolatorOptions
        {
            ConfigDirectory = One("--config-dir"),
            PluginsDirectory = One("--plugins-dir"),
            RuntimeDirectory = One("--runtime-dir"),
            HostNetworkNamespace = One("--host-netns"),
            PluginTimeout = TimeSpan.FromSeconds(int.Parse(One("--timeout"), System.Globalization.CultureInfo.InvariantCulture)),
        },
        (level, message) => Console.Error.WriteLine($"{level}: {message}"));
    id = new ContainerID { Value = One("--container-id") };
    pid = int.Parse(One("--pid"), System.Globalization.CultureInfo.InvariantCulture);
    networks = options.TryGetValue("--network", out var names) ? names : [];
    holdAfter = Optional("--hold-after");
}
catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
{
    Console.Error.WriteLine($"CniCrashDriver: {e.Message}");
    return 2;
}

var config = new ContainerConfig
{
    CommandInfo = new CommandInfo(),
    Directory = "/tmp",
    ContainerInfo = new ContainerInfo
    {
        Type = ContainerInfo.Types.Type.Mesos,
        NetworkInfos = { networks.Select(n => new NetworkInfo { Name = n }) },
    },
};

var steps = new (string Name, Func<Task> Run)[]
{
    ("prepare", () => isolator.PrepareAsync(id, config)),
    ("isolate", () => isolator.IsolateAsync(id, pid)),
    ("cleanup", () => isolator.CleanupAsync(id)),
};
foreach (var (name, run) in steps)
{
    Console.Out.WriteLine($"BEGIN {name}");
    Console.Out.Flush();
    try
    {
        await run();
    }
    catch (Exception e)
    {
        Console.Error.WriteLine($"CniCrashDriver: {name} failed: {e}");
        return 1;
    }

    Console.Out.WriteLine($"END {name}");
    Console.Out.Flush();
    if (name == holdAfter)
    {
        Console.Out.WriteLine("HOLDING");
        Console.Out.Flush();
        await Task.Delay(TimeSpan.FromSeconds(60));
        return 3;
    }
}

return 0;
