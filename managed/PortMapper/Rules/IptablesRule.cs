using System.Text;

namespace NetIsolator.PortMapper.Rules;

/// <summary>
/// One rule as iptables-save prints it and iptables-restore reads it: <c>-A &lt;chain&gt; &lt;spec...&gt;</c>, the spec
/// being the matches and the target as tokens (a quoted comment is one token). Two rules are the same rule when
/// their table, chain and tokens are equal; that is how a rule read back is recognised and how it is deleted
/// (<c>-D</c> with the exact spec).
/// </summary>
public sealed record IptablesRule(string Table, string Chain, IReadOnlyList<string> Spec)
{
    public bool Equals(IptablesRule? other) =>
        other is not null && Table == other.Table && Chain == other.Chain && Spec.SequenceEqual(other.Spec, StringComparer.Ordinal);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Table);
        hash.Add(Chain);
        foreach (var token in Spec)
        {
            hash.Add(token);
        }

        return hash.ToHashCode();
    }

    /// <summary>The value after <c>-j</c>, or null.</summary>
    public string? Target => ValueOf("-j");

    /// <summary>The value after <c>--comment</c>, or null.</summary>
    public string? Comment => ValueOf("--comment");

    /// <summary>The value after the first occurrence of <paramref name="option"/>, or null.</summary>
    public string? ValueOf(string option)
    {
        for (var i = 0; i + 1 < Spec.Count; i++)
        {
            if (Spec[i] == option)
            {
                return Spec[i + 1];
            }
        }

        return null;
    }

    /// <summary><c>&lt;op&gt; &lt;chain&gt; &lt;spec&gt;</c>, quoting tokens as iptables-save does.</summary>
    public string Format(string op) => $"{op} {Chain} {RuleTokens.Join(Spec)}";

    public override string ToString() => $"{Table}: {Format("-A")}";
}

/// <summary>Splitting and joining rule lines the way iptables-save quotes them (double quotes, backslash escapes).</summary>
public static class RuleTokens
{
    public static List<string> Split(string line)
    {
        var tokens = new List<string>();
        var current = new StringBuilder();
        var inToken = false;
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '\\' && i + 1 < line.Length && line[i + 1] is '"' or '\\')
                {
                    current.Append(line[++i]);
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
                inToken = true;
            }
            else if (c is ' ' or '\t')
            {
                if (inToken)
                {
                    tokens.Add(current.ToString());
                    current.Clear();
                    inToken = false;
                }
            }
            else
            {
                current.Append(c);
                inToken = true;
            }
        }

        if (quoted)
        {
            throw new FormatException($"unterminated quote in rule line: {line}");
        }

        if (inToken)
        {
            tokens.Add(current.ToString());
        }

        return tokens;
    }

    public static string Join(IEnumerable<string> tokens) => string.Join(' ', tokens.Select(Quote));

    private static string Quote(string token) =>
        token.Length > 0 && !token.Any(c => c is ' ' or '\t' or '"' or '\\')
            ? token
            : "\"" + token.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
