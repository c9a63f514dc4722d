namespace NetIsolator.PortMapper.Rules;

/// <summary>
/// The comment every per-container rule carries (<c>-m comment --comment "container_id: &lt;id&gt; ifname: &lt;if&gt;"</c>),
/// so DEL, CHECK and GC find a container's rules by reading them back, with no state of their own. Mesos's plugin
/// tags with <c>container_id: &lt;id&gt;</c> alone; such rules (left by it before an upgrade) are owned too. Matching is
/// by exact comment: Mesos's unanchored regular expression also matched nested containers (<c>P</c> matched
/// <c>P.C</c>) and took '.' as a wildcard.
/// </summary>
public sealed record RuleTag(string ContainerId, string IfName)
{
    private const string IdPrefix = "container_id: ";
    private const string IfNameInfix = " ifname: ";

    public string Comment => $"{IdPrefix}{ContainerId}{IfNameInfix}{IfName}";

    /// <summary>The tag Mesos's own plugin writes.</summary>
    public string MesosComment => $"{IdPrefix}{ContainerId}";

    public bool Owns(IptablesRule rule) => rule.Comment is { } comment && (comment == Comment || comment == MesosComment);

    /// <summary>Reads a tag back: our form gives both parts, Mesos's form an id and a null ifname.</summary>
    public static bool TryParse(string? comment, out string containerId, out string? ifName)
    {
        containerId = "";
        ifName = null;
        if (comment is null || !comment.StartsWith(IdPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = comment[IdPrefix.Length..];
        var infix = rest.IndexOf(IfNameInfix, StringComparison.Ordinal);
        containerId = infix < 0 ? rest : rest[..infix];
        ifName = infix < 0 ? null : rest[(infix + IfNameInfix.Length)..];
        return containerId.Length > 0 && !containerId.Contains(' ');
    }
}
