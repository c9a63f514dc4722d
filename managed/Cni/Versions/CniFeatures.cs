namespace NetIsolator.Cni.Versions;

/// <summary>
/// The spec version gates a runtime must respect. Each gate is keyed on the network list's <c>cniVersion</c>.
/// </summary>
public static class CniFeatures
{
    /// <summary>Config lists with more than one plugin (chaining with <c>prevResult</c>): 0.3.0 and later.</summary>
    public static bool SupportsConfigLists(CniVersion version) => version >= CniVersion.V030;

    /// <summary>The CHECK verb: 0.4.0 and later (and only when the list does not set <c>disableCheck</c>).</summary>
    public static bool SupportsCheck(CniVersion version) => version >= CniVersion.V040;

    /// <summary>DEL receives the cached ADD result as <c>prevResult</c>: 0.4.0 and later.</summary>
    public static bool DelReceivesPrevResult(CniVersion version) => version >= CniVersion.V040;

    /// <summary>The GC verb: 1.1.0 and later (and only when the list does not set <c>disableGC</c>).</summary>
    public static bool SupportsGc(CniVersion version) => version >= CniVersion.V110;

    /// <summary>The STATUS verb: 1.1.0 and later.</summary>
    public static bool SupportsStatus(CniVersion version) => version >= CniVersion.V110;

    /// <summary>A list may name the versions it can be read as (<c>cniVersions</c>): 1.1.0 and later.</summary>
    public static bool SupportsCniVersionsKey(CniVersion version) => version >= CniVersion.V110;

    /// <summary>
    /// Picks the version a list is run at: the highest of <paramref name="candidates"/> the runtime supports.
    /// Unparseable entries are an error (naming the index); parseable but unsupported ones (a newer spec) are skipped,
    /// as libcni skips versions above its own. Returns null when no candidate is supported.
    /// </summary>
    public static CniVersion? SelectHighestSupported(IEnumerable<string> candidates)
    {
        CniVersion? best = null;
        var index = 0;
        foreach (var candidate in candidates)
        {
            if (!CniVersion.TryParse(candidate, out var version, out var problem))
            {
                throw new CniVersionException($"cniVersions[{index}]: invalid version \"{candidate}\": {problem}");
            }

            if (version.IsSupported && (best is null || version > best.Value))
            {
                best = version;
            }

            index++;
        }

        return best;
    }
}
