using System.Diagnostics.CodeAnalysis;

namespace NetIsolator.Cni.Config;

/// <summary>
/// The CNI network name rule (libcni ValidateNetworkName): <c>^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$</c>, plus a length bound,
/// because the name ends up in file names (the result cache's <c>&lt;net&gt;-&lt;cid&gt;-&lt;ifname&gt;</c>, checkpoints).
/// The rule already excludes '/', "../" and any non-ASCII character; the messages say which rule a name broke.
/// </summary>
public static class NetworkName
{
    /// <summary>The longest accepted network name.</summary>
    public const int MaxLength = 128;

    public static bool IsValid([NotNullWhen(true)] string? name) => Problem(name) is null;

    /// <summary>Null when <paramref name="name"/> is valid; otherwise why not.</summary>
    public static string? Problem(string? name) => CniNames.IdentifierProblem(name, MaxLength);
}
