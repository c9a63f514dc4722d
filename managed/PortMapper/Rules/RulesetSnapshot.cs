namespace NetIsolator.PortMapper.Rules;

/// <summary>
/// What one address family's tables hold, read from <c>iptables-save</c> (or <c>ip6tables-save</c>) output: per
/// table its chains (built-in and user-defined) and its rules in order.
/// </summary>
public sealed class RulesetSnapshot
{
    private readonly Dictionary<string, Table> _tables = new(StringComparer.Ordinal);

    public static RulesetSnapshot Empty { get; } = new();

    public bool HasChain(string table, string chain) => _tables.TryGetValue(table, out var t) && t.Chains.Contains(chain);

    /// <summary>Every rule of <paramref name="table"/>, in save order.</summary>
    public IReadOnlyList<IptablesRule> Rules(string table) => _tables.TryGetValue(table, out var t) ? t.Rules : [];

    /// <summary>The rules of one chain, in order.</summary>
    public IEnumerable<IptablesRule> Rules(string table, string chain) => Rules(table).Where(r => r.Chain == chain);

    /// <summary>Parses save output; a line that is not a table header, chain, rule, COMMIT or comment is an error.</summary>
    public static RulesetSnapshot Parse(string saveOutput)
    {
        var snapshot = new RulesetSnapshot();
        Table? current = null;
        var currentName = "";
        var number = 0;
        foreach (var raw in saveOutput.Split('\n'))
        {
            number++;
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            if (line[0] == '*')
            {
                currentName = line[1..].Trim();
                if (!snapshot._tables.TryGetValue(currentName, out current))
                {
                    current = new Table();
                    snapshot._tables.Add(currentName, current);
                }

                continue;
            }

            if (line == "COMMIT")
            {
                current = null;
                continue;
            }

            if (current is null)
            {
                throw new FormatException($"save output line {number}: \"{line}\" is outside a table");
            }

            if (line[0] == ':')
            {
                var end = line.IndexOf(' ');
                current.Chains.Add(end < 0 ? line[1..] : line[1..end]);
                continue;
            }

            var tokens = RuleTokens.Split(line);
            if (tokens.Count < 2 || tokens[0] != "-A")
            {
                throw new FormatException($"save output line {number}: \"{line}\" is not a rule");
            }

            current.Rules.Add(new IptablesRule(currentName, tokens[1], tokens.Skip(2).ToList()));
        }

        return snapshot;
    }

    /// <summary>
    /// Parses <c>iptables -t table -S chain</c> output: its <c>-N</c>/<c>-P</c> line, then <c>-A</c> rules.
    /// </summary>
    public static IReadOnlyList<IptablesRule> ParseListing(string table, string listing)
    {
        var rules = new List<IptablesRule>();
        foreach (var raw in listing.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith("-N ", StringComparison.Ordinal) || line.StartsWith("-P ", StringComparison.Ordinal))
            {
                continue;
            }

            var tokens = RuleTokens.Split(line);
            if (tokens.Count < 2 || tokens[0] != "-A")
            {
                throw new FormatException($"listing line \"{line}\" is not a rule");
            }

            rules.Add(new IptablesRule(table, tokens[1], tokens.Skip(2).ToList()));
        }

        return rules;
    }

    private sealed class Table
    {
        public HashSet<string> Chains { get; } = new(StringComparer.Ordinal);

        public List<IptablesRule> Rules { get; } = [];
    }
}
