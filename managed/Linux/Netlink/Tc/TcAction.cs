using NetIsolator.Linux.Netlink.Protocol;
using static NetIsolator.Linux.Netlink.Protocol.TcConstants;

namespace NetIsolator.Linux.Netlink.Tc;

/// <summary>
/// What an action tells the classifier once it has run (TC_ACT_*), which decides whether classification goes on.
/// </summary>
/// <remarks>
/// On a matching u32 entry with the terminal flag, the actions run in order while each says <see cref="Pipe"/>; the
/// last verdict is the filter's. A negative verdict (<see cref="Continue"/>) makes u32 try its next entry and then
/// the next filter priority, so several filters can act on one packet; any other verdict ends classification:
/// <see cref="Ok"/> and <see cref="Pipe"/> let the packet go on into the stack, <see cref="Shot"/> drops it,
/// <see cref="Stolen"/> means an action consumed it (a mirred redirect).
/// </remarks>
public enum TcVerdict
{
    Continue = TC_ACT_UNSPEC,
    Ok = TC_ACT_OK,
    Reclassify = TC_ACT_RECLASSIFY,
    Shot = TC_ACT_SHOT,
    Pipe = TC_ACT_PIPE,
    Stolen = TC_ACT_STOLEN,
}

/// <summary>Where mirred sends a packet (its eaction).</summary>
public enum MirredDirection
{
    /// <summary>Move the packet out of the target link (it leaves this path).</summary>
    EgressRedirect = TCA_EGRESS_REDIR,

    /// <summary>Send a copy out of the target link; the original goes on.</summary>
    EgressMirror = TCA_EGRESS_MIRROR,

    IngressRedirect = TCA_INGRESS_REDIR,

    IngressMirror = TCA_INGRESS_MIRROR,
}

/// <summary>An action attached to a filter (<c>action KIND ...</c>).</summary>
public abstract record TcAction(TcVerdict Verdict)
{
    /// <summary>TCA_ACT_KIND.</summary>
    public abstract string Kind { get; }

    /// <summary>Writes TCA_ACT_OPTIONS.</summary>
    internal abstract void EncodeOptions(NetlinkMessageBuilder request);

    /// <summary>
    /// Writes a filter's action list: one nest per action, numbered from 1 in order, each holding TCA_ACT_KIND and
    /// TCA_ACT_OPTIONS. The kernel takes at most <see cref="TCA_ACT_MAX_PRIO"/> (32) actions per filter.
    /// </summary>
    internal static void EncodeList(NetlinkMessageBuilder request, ushort type, IReadOnlyList<TcAction> actions)
    {
        if (actions.Count > TCA_ACT_MAX_PRIO)
        {
            throw new ArgumentException($"{actions.Count} actions: the kernel takes at most {TCA_ACT_MAX_PRIO} per filter", nameof(actions));
        }

        var list = request.BeginNested(type);
        for (var i = 0; i < actions.Count; i++)
        {
            var action = request.BeginNested((ushort)(i + 1));
            request.AddString(TCA_ACT_KIND, actions[i].Kind);
            var options = request.BeginNested(TCA_ACT_OPTIONS);
            actions[i].EncodeOptions(request);
            request.EndNested(options);
            request.EndNested(action);
        }

        request.EndNested(list);
    }

    /// <summary>Decodes an action list nest, in order.</summary>
    internal static List<TcAction> ParseList(ReadOnlySpan<byte> nest)
    {
        var actions = new List<(ushort Order, TcAction Action)>();
        var reader = new RtAttrReader(nest);
        while (reader.TryRead(out var entry))
        {
            string? kind = null;
            TcAction? decoded = null;
            var fields = new RtAttrReader(entry.Payload);
            var options = ReadOnlySpan<byte>.Empty;
            while (fields.TryRead(out var field))
            {
                switch (field.Type)
                {
                    case TCA_ACT_KIND:
                        kind = field.AsString();
                        break;
                    case TCA_ACT_OPTIONS:
                        options = field.Payload;
                        break;
                }
            }

            if (kind is null)
            {
                continue;
            }

            decoded = kind switch
            {
                "mirred" => MirredAction.Parse(options),
                "gact" => GactAction.Parse(options),
                _ => new OtherAction(kind, ParseGenericVerdict(options)),
            };
            actions.Add((entry.Type, decoded));
        }

        return actions.OrderBy(a => a.Order).Select(a => a.Action).ToList();
    }

    /// <summary>Writes struct tc_gen (index 0 = a new action of this filter's own, capab, action, refcnt, bindcnt).</summary>
    private protected static void WriteGen(Span<byte> destination, TcVerdict verdict)
    {
        destination[..TcGenSize].Clear();
        NativeEndian.WriteInt32(destination[8..], (int)verdict);
    }

    private protected static TcVerdict ReadGenVerdict(ReadOnlySpan<byte> parameters) => (TcVerdict)NativeEndian.ReadInt32(parameters[8..]);

    // Every action's PARMS starts with struct tc_gen; for mirred and gact it is attribute 2.
    private static TcVerdict ParseGenericVerdict(ReadOnlySpan<byte> options)
    {
        var reader = new RtAttrReader(options);
        while (reader.TryRead(out var attribute))
        {
            if (attribute.Type == TCA_GACT_PARMS && attribute.Payload.Length >= TcGenSize)
            {
                return ReadGenVerdict(attribute.Payload);
            }
        }

        return TcVerdict.Continue;
    }
}

/// <summary>
/// <c>action mirred egress redirect|mirror dev TARGET</c>: the packet (or a copy) leaves through
/// <see cref="TargetIndex"/>, an ifindex of the filter's own namespace.
/// </summary>
public sealed record MirredAction(MirredDirection Direction, int TargetIndex, TcVerdict Verdict) : TcAction(Verdict)
{
    public override string Kind => "mirred";

    /// <summary>Redirect, verdict stolen (Mesos's Redirect): the packet is moved to the target's egress.</summary>
    public static MirredAction Redirect(int targetIndex) => new(MirredDirection.EgressRedirect, targetIndex, TcVerdict.Stolen);

    /// <summary>
    /// Mirror: a copy goes out of the target. <see cref="TcVerdict.Pipe"/> (Mesos's Mirror) lets the next action of
    /// the same filter run and then the original into the stack; <see cref="TcVerdict.Continue"/> also lets the
    /// next filter (another priority) see it.
    /// </summary>
    public static MirredAction Mirror(int targetIndex, TcVerdict verdict = TcVerdict.Pipe) => new(MirredDirection.EgressMirror, targetIndex, verdict);

    internal override void EncodeOptions(NetlinkMessageBuilder request)
    {
        Span<byte> parameters = stackalloc byte[TcMirredSize];
        WriteGen(parameters, Verdict);
        NativeEndian.WriteInt32(parameters[20..], (int)Direction);
        NativeEndian.WriteInt32(parameters[24..], TargetIndex);
        request.Add(TCA_MIRRED_PARMS, parameters);
    }

    internal static TcAction Parse(ReadOnlySpan<byte> options)
    {
        var reader = new RtAttrReader(options);
        while (reader.TryRead(out var attribute))
        {
            if (attribute.Type == TCA_MIRRED_PARMS)
            {
                var parameters = attribute.AtLeast(TcMirredSize, "tc_mirred");
                return new MirredAction(
                    (MirredDirection)NativeEndian.ReadInt32(parameters[20..]),
                    NativeEndian.ReadInt32(parameters[24..]),
                    ReadGenVerdict(parameters));
            }
        }

        throw new NetlinkFormatException("mirred action without TCA_MIRRED_PARMS");
    }
}

/// <summary><c>action gact pass|drop|continue|pipe</c>: only a verdict.</summary>
public sealed record GactAction(TcVerdict Verdict) : TcAction(Verdict)
{
    public override string Kind => "gact";

    public static GactAction Pass => new(TcVerdict.Ok);

    public static GactAction Drop => new(TcVerdict.Shot);

    internal override void EncodeOptions(NetlinkMessageBuilder request)
    {
        Span<byte> parameters = stackalloc byte[TcGenSize];
        WriteGen(parameters, Verdict);
        request.Add(TCA_GACT_PARMS, parameters);
    }

    internal static TcAction Parse(ReadOnlySpan<byte> options)
    {
        var reader = new RtAttrReader(options);
        while (reader.TryRead(out var attribute))
        {
            if (attribute.Type == TCA_GACT_PARMS)
            {
                return new GactAction(ReadGenVerdict(attribute.AtLeast(TcGenSize, "tc_gact")));
            }
        }

        throw new NetlinkFormatException("gact action without TCA_GACT_PARMS");
    }
}

/// <summary>An action of another kind found in a dump (decoded no further than its verdict).</summary>
public sealed record OtherAction(string ActionKind, TcVerdict Verdict) : TcAction(Verdict)
{
    public override string Kind => ActionKind;

    internal override void EncodeOptions(NetlinkMessageBuilder request) =>
        throw new NotSupportedException($"action kind '{ActionKind}' is decoded only; it cannot be sent");
}
