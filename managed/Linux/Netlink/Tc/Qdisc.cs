using NetIsolator.Linux.Netlink.Protocol;
using static NetIsolator.Linux.Netlink.Protocol.TcConstants;

namespace NetIsolator.Linux.Netlink.Tc;

/// <summary>
/// A queueing discipline (<c>tc qdisc ... parent P handle H KIND [options]</c>): the plan of one to add, or what
/// the kernel reports (with <see cref="LinkIndex"/> and <see cref="Statistics"/>).
/// </summary>
/// <remarks>
/// A link has one root egress qdisc (parent <see cref="TcHandle.Root"/>) and at most one ingress qdisc (parent
/// <see cref="TcHandle.IngressParent"/>, handle <c>ffff:0</c>); classful qdiscs (htb, prio) hold classes whose leaves
/// are qdiscs again (parent = the class). A link without a root qdisc of its own has a default one: the built-in
/// <c>noqueue</c> of veth and lo is never reported; a NIC's <c>pfifo_fast</c>/<c>mq</c> is, with handle 0.
/// </remarks>
public sealed record Qdisc(string Kind, TcHandle Parent, TcHandle Handle, QdiscOptions? Options = null)
{
    /// <summary>Set by the kernel's reports.</summary>
    public int LinkIndex { get; init; }

    /// <summary>Set by the kernel's reports.</summary>
    public TcStatistics? Statistics { get; init; }

    /// <summary>The kernel's own default qdisc (handle 0, e.g. a NIC's pfifo_fast), not one anybody added.</summary>
    public bool IsDefault => Handle == TcHandle.None;

    /// <summary>The ingress qdisc: parent ingress, handle <c>ffff:0</c>, so its filters go on parent <c>ffff:0</c>.</summary>
    public static Qdisc Ingress() => new("ingress", TcHandle.IngressParent, TcHandle.Ingress);

    /// <summary>
    /// <c>htb default DEFAULTCLASS</c> (r2q 10): unclassified packets go to class <c>handle.major:defaultClass</c>
    /// (if that class does not exist they bypass shaping).
    /// </summary>
    public static Qdisc Htb(TcHandle handle, TcHandle parent, ushort defaultClass) => new("htb", parent, handle, new HtbQdiscOptions(defaultClass));

    /// <summary><c>fq_codel</c> with the kernel's defaults (1024 flows, ECN on). Needs sch_fq_codel (see <see cref="KernelFeatures"/>).</summary>
    public static Qdisc FqCodel(TcHandle handle, TcHandle parent) => new("fq_codel", parent, handle);

    /// <summary><c>sfq</c> with the kernel's defaults (per-flow round robin, no AQM).</summary>
    public static Qdisc Sfq(TcHandle handle, TcHandle parent) => new("sfq", parent, handle);

    /// <summary><c>pfifo limit LIMIT</c> (packets). Always built in.</summary>
    public static Qdisc Pfifo(TcHandle handle, TcHandle parent, uint limit = 1000) => new("pfifo", parent, handle, new FifoQdiscOptions(limit));

    /// <summary><c>pfifo_fast</c>: three bands by TOS priority. Always built in.</summary>
    public static Qdisc PfifoFast(TcHandle handle, TcHandle parent) => new("pfifo_fast", parent, handle);

    /// <summary><c>prio bands BANDS</c> with the kernel's usual priomap (1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1).</summary>
    public static Qdisc Prio(TcHandle handle, TcHandle parent, int bands = 3) =>
        new("prio", parent, handle, new PrioQdiscOptions(bands, PrioQdiscOptions.DefaultPriorityMap));

    internal static Qdisc? Parse(in NlMsgHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Type != RTM_NEWQDISC)
        {
            return null;
        }

        var message = TcMessage.Read(payload);
        if (message.Kind is not { } kind)
        {
            throw new NetlinkFormatException($"qdisc {new TcHandle(message.Header.Handle)} on ifindex {message.Header.Index}: no TCA_KIND");
        }

        return new Qdisc(kind, new TcHandle(message.Header.Parent), new TcHandle(message.Header.Handle), message.HasOptions ? QdiscOptions.Parse(kind, message.Options) : null)
        {
            LinkIndex = message.Header.Index,
            Statistics = message.Statistics.IsEmpty ? null : TcStatistics.Parse(message.Statistics),
        };
    }
}

/// <summary>A qdisc kind's options (TCA_OPTIONS).</summary>
public abstract record QdiscOptions
{
    internal abstract void Encode(NetlinkMessageBuilder request);

    internal static QdiscOptions? Parse(string kind, ReadOnlySpan<byte> options) => kind switch
    {
        "htb" => HtbQdiscOptions.Parse(options),
        "prio" when options.Length >= TcPrioQoptSize => new PrioQdiscOptions(NativeEndian.ReadInt32(options), options.Slice(4, 16).ToArray()),
        "pfifo" or "bfifo" when options.Length >= TcFifoQoptSize => new FifoQdiscOptions(NativeEndian.ReadUInt32(options)),
        _ => null,
    };
}

/// <summary>HTB's TCA_HTB_INIT (struct tc_htb_glob: version 3, rate2quantum, defcls, debug, direct_pkts), in a nest.</summary>
public sealed record HtbQdiscOptions(ushort DefaultClass, uint RateToQuantum = 10) : QdiscOptions
{
    internal override void Encode(NetlinkMessageBuilder request)
    {
        var options = request.BeginNested(TCA_OPTIONS);
        Span<byte> glob = stackalloc byte[TcHtbGlobSize];
        glob.Clear();
        NativeEndian.WriteUInt32(glob, HTB_PROTOCOL_VERSION);
        NativeEndian.WriteUInt32(glob[4..], RateToQuantum);
        NativeEndian.WriteUInt32(glob[8..], DefaultClass);
        request.Add(TCA_HTB_INIT, glob);
        request.EndNested(options);
    }

    internal static HtbQdiscOptions? Parse(ReadOnlySpan<byte> options)
    {
        var reader = new RtAttrReader(options);
        while (reader.TryRead(out var attribute))
        {
            if (attribute.Type == TCA_HTB_INIT)
            {
                var glob = attribute.AtLeast(TcHtbGlobSize, "tc_htb_glob");
                return new HtbQdiscOptions((ushort)NativeEndian.ReadUInt32(glob[8..]), NativeEndian.ReadUInt32(glob[4..]));
            }
        }

        return null;
    }
}

/// <summary>prio's struct tc_prio_qopt (bands, priomap[16]), sent as TCA_OPTIONS itself, not nested.</summary>
public sealed record PrioQdiscOptions(int Bands, IReadOnlyList<byte> PriorityMap) : QdiscOptions
{
    public static readonly IReadOnlyList<byte> DefaultPriorityMap = [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];

    internal override void Encode(NetlinkMessageBuilder request)
    {
        if (PriorityMap.Count != 16 || PriorityMap.Any(band => band >= Bands))
        {
            throw new ArgumentException($"prio: the priority map needs 16 entries below {Bands} bands");
        }

        Span<byte> qopt = stackalloc byte[TcPrioQoptSize];
        NativeEndian.WriteInt32(qopt, Bands);
        for (var i = 0; i < 16; i++)
        {
            qopt[4 + i] = PriorityMap[i];
        }

        request.Add(TCA_OPTIONS, qopt);
    }

    public bool Equals(PrioQdiscOptions? other) => other is not null && Bands == other.Bands && PriorityMap.SequenceEqual(other.PriorityMap);

    public override int GetHashCode() => Bands;
}

/// <summary>pfifo's struct tc_fifo_qopt (limit, in packets), sent as TCA_OPTIONS itself.</summary>
public sealed record FifoQdiscOptions(uint Limit) : QdiscOptions
{
    internal override void Encode(NetlinkMessageBuilder request)
    {
        Span<byte> qopt = stackalloc byte[TcFifoQoptSize];
        NativeEndian.WriteUInt32(qopt, Limit);
        request.Add(TCA_OPTIONS, qopt);
    }
}
