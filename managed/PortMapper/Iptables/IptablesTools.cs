using NetIsolator.Cni.Config;
using NetIsolator.PortMapper.Config;
using NetIsolator.PortMapper.Rules;

namespace NetIsolator.PortMapper.Iptables;

public enum IptablesBackend
{
    Nft,
    Legacy,
}

/// <summary>
/// The executor of the rule plans: reads a family's tables with <c>iptables-save</c> and applies a batch with one
/// <c>iptables-restore --noflush -w</c> (stdin, argv, no shell), of the backend the host uses.
/// </summary>
/// <remarks>
/// Backend: since iptables 1.8 <c>iptables</c> is either the nf_tables or the legacy (x_tables) variant; rules
/// written by one are invisible to the other's listing and evaluated in a different order, so the plugin must use
/// the one the host's other software uses. Unless the config says, that is the variant the host's
/// <c>iptables-restore</c> on PATH resolves to (Debian's alternatives link it to <c>xtables-nft-multi</c> or
/// <c>xtables-legacy-multi</c>); when the name does not tell, its <c>--version</c> does ("(nf_tables)" or "(legacy)").
/// The variant's own binaries (<c>iptables-nft-restore</c>, ...) are then run, falling back to the plain names.
/// Costs (nf_tables, iptables 1.8.9): every process fetches from the kernel what its commands need, and turns each
/// fetched rule back into iptables terms: a save fetches every rule; <c>-S chain</c> and a restore's <c>-D</c> only
/// that chain's; a restore that only creates chains and appends fetches no rules at all. The plugin's ADD and DEL
/// therefore avoid full saves in the common case (see <see cref="RulePlanner"/>).
/// <c>-w</c> waits for the legacy xtables lock (the nft variant accepts and ignores it).
/// </remarks>
public sealed class IptablesTools
{
    /// <summary>How long iptables-restore waits for the xtables lock (legacy backend).</summary>
    public const int LockWaitSeconds = 30;

    private readonly Dictionary<IpFamily, (string Save, string Restore, string? List)> _binaries;

    private IptablesTools(IptablesBackend backend, Dictionary<IpFamily, (string Save, string Restore, string? List)> binaries, string reason)
    {
        Backend = backend;
        _binaries = binaries;
        Reason = reason;
    }

    public IptablesBackend Backend { get; }

    /// <summary>How the backend was chosen, for messages.</summary>
    public string Reason { get; }

    /// <exception cref="ToolException">No iptables binaries on PATH.</exception>
    public static IptablesTools Detect(BackendChoice choice, string? searchPath)
    {
        IptablesBackend backend;
        string reason;
        switch (choice)
        {
            case BackendChoice.Nft:
                (backend, reason) = (IptablesBackend.Nft, "config iptablesBackend \"nft\"");
                break;
            case BackendChoice.Legacy:
                (backend, reason) = (IptablesBackend.Legacy, "config iptablesBackend \"legacy\"");
                break;
            default:
                var restore = Find("iptables-restore", searchPath)
                    ?? throw new ToolException($"iptables-restore not found in PATH \"{searchPath}\" (install the iptables package)");
                (backend, reason) = FromBinary(restore);
                break;
        }

        var suffix = backend == IptablesBackend.Nft ? "nft" : "legacy";
        var binaries = new Dictionary<IpFamily, (string, string, string?)>();
        foreach (var (family, stem) in new[] { (IpFamily.V4, "iptables"), (IpFamily.V6, "ip6tables") })
        {
            var save = Find($"{stem}-{suffix}-save", searchPath) ?? Find($"{stem}-save", searchPath);
            var apply = Find($"{stem}-{suffix}-restore", searchPath) ?? Find($"{stem}-restore", searchPath);
            var list = Find($"{stem}-{suffix}", searchPath) ?? Find(stem, searchPath);
            if (save is not null && apply is not null)
            {
                binaries[family] = (save, apply, list);
            }
        }

        return new IptablesTools(backend, binaries, reason);
    }

    /// <summary>The backend a binary belongs to, by the name it resolves to, else by its <c>--version</c>.</summary>
    public static (IptablesBackend Backend, string Reason) FromBinary(string path)
    {
        var resolved = Path.GetFileName(new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path);
        if (NameTells(resolved) is { } byName)
        {
            return (byName, $"{path} is {resolved}");
        }

        var version = ToolRunner.Run(path, ["--version"]);
        var text = version.Stdout + version.Stderr;
        return text.Contains("(legacy)", StringComparison.Ordinal)
            ? (IptablesBackend.Legacy, $"{path} --version says legacy")
            : (IptablesBackend.Nft, text.Contains("(nf_tables)", StringComparison.Ordinal)
                ? $"{path} --version says nf_tables"
                : $"{path} --version names no backend; assuming nf_tables");
    }

    internal static IptablesBackend? NameTells(string fileName) =>
        fileName.Contains("legacy", StringComparison.Ordinal) ? IptablesBackend.Legacy
        : fileName.Contains("nft", StringComparison.Ordinal) ? IptablesBackend.Nft
        : null;

    public bool Supports(IpFamily family) => _binaries.ContainsKey(family);

    /// <summary>Every table of the family (one process; nft fetches the whole ruleset for any listing anyway).</summary>
    /// <exception cref="ToolException">The save failed; the message quotes the command and its stderr.</exception>
    public RulesetSnapshot Save(IpFamily family)
    {
        var save = Binaries(family).Save;
        var result = ToolRunner.Run(save, []);
        if (result.ExitCode != 0)
        {
            throw new ToolException($"{save} exited {result.ExitCode}: {result.Stderr}");
        }

        try
        {
            return RulesetSnapshot.Parse(result.Stdout);
        }
        catch (FormatException e)
        {
            throw new ToolException($"{save}: cannot read its output: {e.Message}", e);
        }
    }

    /// <summary>
    /// The rules of one chain (<c>iptables -w -t table -S chain</c>, one process that fetches only that chain's rules
    /// with nf_tables), or null when it cannot be listed (no such chain, no such binary, any failure): the caller
    /// then reads everything with <see cref="Save"/>.
    /// </summary>
    /// <exception cref="ToolException">The tool could not be run at all.</exception>
    public IReadOnlyList<IptablesRule>? ListChain(IpFamily family, string table, string chain)
    {
        if (Binaries(family).List is not { } list)
        {
            return null;
        }

        var result = ToolRunner.Run(list, ["-w", LockWait, "-t", table, "-S", chain]);
        if (result.ExitCode != 0)
        {
            return null;
        }

        try
        {
            return RulesetSnapshot.ParseListing(table, result.Stdout);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Applies a batch in one process.</summary>
    /// <exception cref="ToolException">iptables-restore failed; the message quotes it, its stderr and the batch.</exception>
    public void Restore(IpFamily family, RestoreBatch batch)
    {
        if (TryRestore(family, batch) is { } failure)
        {
            throw new ToolException(failure);
        }
    }

    /// <summary>
    /// Applies a batch in one process; null when it was applied, else why not (iptables-restore then changed
    /// nothing of a table whose lines failed).
    /// </summary>
    /// <exception cref="ToolException">iptables-restore could not be run at all.</exception>
    public string? TryRestore(IpFamily family, RestoreBatch batch)
    {
        if (batch.IsEmpty)
        {
            return null;
        }

        var restore = Binaries(family).Restore;
        string[] arguments = ["--noflush", "-w", LockWait];
        var input = batch.Render();
        var result = ToolRunner.Run(restore, arguments, input);
        return result.ExitCode == 0
            ? null
            : $"{ToolRunner.Describe(restore, arguments)} exited {result.ExitCode}: {result.Stderr}; input was:\n{input}";
    }

    private static string LockWait => LockWaitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private (string Save, string Restore, string? List) Binaries(IpFamily family) =>
        _binaries.TryGetValue(family, out var binaries)
            ? binaries
            : throw new ToolException(
                $"{(family == IpFamily.V4 ? "iptables" : "ip6tables")}-save/-restore ({Backend}) not found in PATH");

    // The same executable lookup as for plugins in CNI_PATH, over PATH.
    private static string? Find(string name, string? searchPath) => PluginPath.TryFind(name, searchPath);
}
