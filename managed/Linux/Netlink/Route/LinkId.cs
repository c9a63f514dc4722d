using System.Globalization;
using System.Text;

namespace NetIsolator.Linux.Netlink.Route;

/// <summary>
/// Names a link in requests: by ifindex, by name, or both (<see cref="Link.Id"/>). Converts implicitly from an
/// <see cref="int"/> ifindex and from a <see cref="string"/> name, so <c>socket.SetLinkUp("mesos123")</c> works.
/// </summary>
/// <remarks>
/// rtnetlink finds a link by IFLA_IFNAME when ifi_index is 0, so link verbs need no lookup; tc messages carry only
/// an ifindex, so tc verbs given a bare name look it up first (one RTM_GETLINK). Keep the <see cref="Link.Id"/> of a
/// link used repeatedly. Messages show the name when known: <c>'eth0'</c>, <c>'eth0' (ifindex 2)</c>, <c>ifindex 2</c>.
/// </remarks>
public readonly record struct LinkId
{
    /// <summary>IFNAMSIZ (16) less the terminating NUL.</summary>
    public const int MaxNameLength = 15;

    public LinkId(int index, string? name)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        if (name is not null)
        {
            Validate(name);
        }

        if (index == 0 && name is null)
        {
            throw new ArgumentException("a link needs an ifindex or a name");
        }

        Index = index;
        Name = name;
    }

    /// <summary>The ifindex, 0 if only the name is known.</summary>
    public int Index { get; }

    public string? Name { get; }

    public bool HasIndex => Index > 0;

    public static implicit operator LinkId(int index) => new(index, null);

    public static implicit operator LinkId(string name) => new(0, name);

    /// <summary>A link found earlier: its index and name.</summary>
    public static implicit operator LinkId(Link link) => link.Id;

    /// <summary>
    /// A name the kernel accepts for a new link: 1 to 15 bytes, none of them '/', ':' or whitespace, and not "." or
    /// ".." (dev_valid_name).
    /// </summary>
    /// <exception cref="ArgumentException">It is not.</exception>
    public static void Validate(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes is 0 or > MaxNameLength || name is "." or ".." || name.Any(c => c == '/' || c == ':' || char.IsWhiteSpace(c)))
        {
            throw new ArgumentException($"'{name}' is not a valid interface name (1-{MaxNameLength} bytes, no '/', ':' or whitespace)", nameof(name));
        }
    }

    public override string ToString() => (Name, Index) switch
    {
        ({ } name, > 0) => $"'{name}' (ifindex {Index.ToString(CultureInfo.InvariantCulture)})",
        ({ } name, _) => $"'{name}'",
        _ => $"ifindex {Index.ToString(CultureInfo.InvariantCulture)}",
    };
}
