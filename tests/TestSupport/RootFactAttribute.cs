using Xunit;

namespace NetIsolator.Testing;

/// <summary>
/// A test that needs root (namespaces, mounts, netlink, iptables). It runs as root, as it does in CI, and is
/// skipped with a message otherwise. Such tests only touch namespaces they create themselves.
/// </summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!System.Environment.IsPrivilegedProcess)
        {
            Skip = RootOnly.SkipReason;
        }
    }
}

/// <summary>The <see cref="TheoryAttribute"/> counterpart of <see cref="RootFactAttribute"/>.</summary>
public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute()
    {
        if (!System.Environment.IsPrivilegedProcess)
        {
            Skip = RootOnly.SkipReason;
        }
    }
}

internal static class RootOnly
{
    public const string SkipReason = "needs root (network namespaces, mounts); run the suite as root, as CI does";
}
