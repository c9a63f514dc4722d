using System.Globalization;
using NetIsolator.Linux.Netlink.Protocol;
using static NetIsolator.Linux.Netlink.Protocol.TcConstants;

namespace NetIsolator.Linux.Netlink.Tc;

/// <summary>
/// A classifier instance on a parent (qdisc or class) of a link: <c>tc filter ... parent P protocol X prio N
/// handle H KIND ...</c>. Used both as the plan of a filter to add and as what a dump found; equality compares
/// every field, the key and action lists element by element.
/// </summary>
/// <remarks>
/// The kernel evaluates a parent's filters by ascending priority (a number, lower first) and within a u32 priority
/// by node order; one priority holds filters of one protocol and one kind only. See <see cref="TcVerdict"/> for
/// when evaluation stops.
/// </remarks>
public abstract record TcFilter(TcHandle Parent, ushort Priority, ushort Protocol)
{
    /// <summary>TCA_KIND.</summary>
    public abstract string Kind { get; }

    /// <summary>The filter's handle: 0 in a plan lets the kernel choose; dumps report the kernel's.</summary>
    public uint Handle { get; init; }

    /// <summary>Set by dumps: the link the filter is on.</summary>
    public int LinkIndex { get; init; }

    /// <summary>Actions, run in order on a match.</summary>
    public IReadOnlyList<TcAction> Actions { get; init; } = [];

    /// <summary>The class a match selects (<c>classid</c>/<c>flowid</c>), for a classful parent qdisc.</summary>
    public TcHandle? ClassId { get; init; }

    /// <summary>Writes TCA_OPTIONS' content.</summary>
    internal abstract void EncodeOptions(NetlinkMessageBuilder request);

    /// <summary>How messages name this filter: <c>u32 filter prio 770 protocol ip handle 800::801 on parent ffff:0</c>.</summary>
    public string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"{Kind} filter prio {Priority} protocol {ProtocolName(Protocol)}{(Handle == 0 ? "" : $" handle {FormatHandle()}")} on parent {Parent}");

    protected virtual string FormatHandle() => Handle.ToString("x", CultureInfo.InvariantCulture);

    public virtual bool Equals(TcFilter? other) =>
        other is not null
        && other.GetType() == GetType()
        && Parent == other.Parent
        && Priority == other.Priority
        && Protocol == other.Protocol
        && Handle == other.Handle
        && LinkIndex == other.LinkIndex
        && ClassId == other.ClassId
        && Actions.SequenceEqual(other.Actions);

    public override int GetHashCode() => HashCode.Combine(Kind, Parent, Priority, Protocol, Handle, LinkIndex, ClassId, Actions.Count);

    /// <summary><c>ip</c>, <c>arp</c>, <c>all</c>, <c>ipv6</c> or the number in hex.</summary>
    public static string ProtocolName(ushort protocol) => protocol switch
    {
        ETH_P_IP => "ip",
        ETH_P_ARP => "arp",
        ETH_P_ALL => "all",
        ETH_P_IPV6 => "ipv6",
        _ => string.Create(CultureInfo.InvariantCulture, $"0x{protocol:x4}"),
    };
}

/// <summary>
/// A u32 entry (<c>tc filter ... u32 match ... [classid C] [action ...]</c>): one selector of <see cref="Keys"/>,
/// all of which must match.
/// </summary>
/// <remarks>
/// <see cref="Terminal"/> (TC_U32_TERMINAL, which tc sets for every entry with an action or a classid) makes a match
/// final: the actions run and their verdict is returned. A terminal entry without actions or classid just accepts
/// the packet (verdict ok), which ends classification: Mesos uses that to keep a container's own-port traffic on
/// its lo. Without the flag a match does nothing (such entries exist to link hash tables). The kernel keeps the
/// selector of an entry for its life: <see cref="FilterOperations.ChangeFilter"/> replaces actions and classid only.
/// </remarks>
public sealed record U32Filter(TcHandle Parent, ushort Priority, ushort Protocol, IReadOnlyList<U32Key> Keys) : TcFilter(Parent, Priority, Protocol)
{
    public override string Kind => "u32";

    public bool Terminal { get; init; } = true;

    protected override string FormatHandle() => U32Handle.Format(Handle);

    /// <summary>TCA_U32_CLASSID, TCA_U32_SEL (tc_u32_sel + keys), TCA_U32_ACT.</summary>
    internal override void EncodeOptions(NetlinkMessageBuilder request)
    {
        if (Keys.Count > byte.MaxValue)
        {
            throw new ArgumentException($"{Keys.Count} keys: a u32 selector holds at most 255", nameof(Keys));
        }

        if (ClassId is { } classId)
        {
            request.AddU32(TCA_U32_CLASSID, classId.Value);
        }

        // struct tc_u32_sel: u8 flags, offshift, nkeys, pad; be16 offmask; u16 off; s16 offoff, hoff; be32 hmask;
        // then nkeys × struct tc_u32_key: be32 mask, be32 val, s32 off, s32 offmask.
        var selector = new byte[TcU32SelSize + (Keys.Count * TcU32KeySize)];
        selector[0] = Terminal ? TC_U32_TERMINAL : (byte)0;
        selector[2] = (byte)Keys.Count;
        for (var i = 0; i < Keys.Count; i++)
        {
            var key = selector.AsSpan(TcU32SelSize + (i * TcU32KeySize));
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(key, Keys[i].Mask);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(key[4..], Keys[i].Value & Keys[i].Mask);
            NativeEndian.WriteInt32(key[8..], Keys[i].Offset);
            NativeEndian.WriteInt32(key[12..], Keys[i].OffsetMask);
        }

        request.Add(TCA_U32_SEL, selector);
        if (Actions.Count > 0)
        {
            TcAction.EncodeList(request, TCA_U32_ACT, Actions);
        }
    }

    /// <summary>
    /// Decodes a u32 TCA_OPTIONS nest; null for what is not a match entry: the priority's own message (no options)
    /// and hash tables (TCA_U32_DIVISOR, node 0).
    /// </summary>
    internal static U32Filter? Parse(TcMsg message, ReadOnlySpan<byte> options)
    {
        if (U32Handle.NodeOf(message.Handle) == 0)
        {
            return null;
        }

        List<U32Key>? keys = null;
        var terminal = false;
        TcHandle? classId = null;
        List<TcAction> actions = [];
        var reader = new RtAttrReader(options);
        while (reader.TryRead(out var attribute))
        {
            switch (attribute.Type)
            {
                case TCA_U32_DIVISOR:
                    return null;
                case TCA_U32_CLASSID:
                    classId = new TcHandle(attribute.AsUInt32());
                    break;
                case TCA_U32_ACT:
                    actions = TcAction.ParseList(attribute.Payload);
                    break;
                case TCA_U32_SEL:
                    var selector = attribute.AtLeast(TcU32SelSize, "tc_u32_sel");
                    terminal = (selector[0] & TC_U32_TERMINAL) != 0;
                    int count = selector[2];
                    if (selector.Length < TcU32SelSize + (count * TcU32KeySize))
                    {
                        throw new NetlinkFormatException($"u32 selector declares {count} keys but has {selector.Length} bytes");
                    }

                    keys = new List<U32Key>(count);
                    for (var i = 0; i < count; i++)
                    {
                        var key = selector[(TcU32SelSize + (i * TcU32KeySize))..];
                        keys.Add(new U32Key(
                            System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(key[4..]),
                            System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(key),
                            NativeEndian.ReadInt32(key[8..]),
                            NativeEndian.ReadInt32(key[12..])));
                    }
                    break;
            }
        }

        if (keys is null)
        {
            return null;
        }

        return new U32Filter(new TcHandle(message.Parent), TcMsg.FilterPriority(message.Info), TcMsg.FilterProtocol(message.Info), keys)
        {
            Handle = message.Handle,
            LinkIndex = message.Index,
            Terminal = terminal,
            ClassId = classId,
            Actions = actions,
        };
    }

    public bool Equals(U32Filter? other) =>
        base.Equals(other) && Terminal == other.Terminal && Keys.SequenceEqual(other.Keys);

    public override int GetHashCode() => HashCode.Combine(base.GetHashCode(), Terminal, Keys.Count);
}

/// <summary>
/// The <c>basic</c> classifier with no ematch: every packet of the filter's protocol matches (Mesos's ARP and
/// ETH_P_ALL filters). Not built into every kernel (not into this project's CI kernel): see <see cref="KernelFeatures"/>;
/// a <see cref="U32Filter"/> with <see cref="U32Match.Everything"/> does the same everywhere.
/// </summary>
public sealed record BasicFilter(TcHandle Parent, ushort Priority, ushort Protocol) : TcFilter(Parent, Priority, Protocol)
{
    public override string Kind => "basic";

    internal override void EncodeOptions(NetlinkMessageBuilder request)
    {
        if (ClassId is { } classId)
        {
            request.AddU32(TCA_BASIC_CLASSID, classId.Value);
        }

        if (Actions.Count > 0)
        {
            TcAction.EncodeList(request, TCA_BASIC_ACT, Actions);
        }
    }

    internal static BasicFilter? Parse(TcMsg message, ReadOnlySpan<byte> options)
    {
        if (message.Handle == 0)
        {
            return null;
        }

        TcHandle? classId = null;
        List<TcAction> actions = [];
        var reader = new RtAttrReader(options);
        while (reader.TryRead(out var attribute))
        {
            switch (attribute.Type)
            {
                case TCA_BASIC_CLASSID:
                    classId = new TcHandle(attribute.AsUInt32());
                    break;
                case TCA_BASIC_ACT:
                    actions = TcAction.ParseList(attribute.Payload);
                    break;
            }
        }

        return new BasicFilter(new TcHandle(message.Parent), TcMsg.FilterPriority(message.Info), TcMsg.FilterProtocol(message.Info))
        {
            Handle = message.Handle,
            LinkIndex = message.Index,
            ClassId = classId,
            Actions = actions,
        };
    }
}

/// <summary>
/// A filter of any kind by its kind name and raw options (a dump's view of kinds not decoded here, e.g. matchall,
/// bpf); also lets <see cref="KernelFeatures"/> try a kind with empty options.
/// </summary>
public sealed record OtherFilter(string FilterKind, TcHandle Parent, ushort Priority, ushort Protocol) : TcFilter(Parent, Priority, Protocol)
{
    public override string Kind => FilterKind;

    internal override void EncodeOptions(NetlinkMessageBuilder request)
    {
        if (ClassId is { } classId)
        {
            // TCA_*_CLASSID is attribute 1 for basic, matchall, fw, route and bpf alike.
            request.AddU32(1, classId.Value);
        }
    }

    public bool Equals(OtherFilter? other) => base.Equals(other) && FilterKind == other.FilterKind;

    public override int GetHashCode() => HashCode.Combine(base.GetHashCode(), FilterKind);
}
