using static NetIsolator.Linux.Netlink.Protocol.TcConstants;

namespace NetIsolator.Linux.Netlink.Protocol;

/// <summary>
/// The parts every qdisc, class and filter message shares: tcmsg, TCA_KIND, TCA_OPTIONS (whose content depends on
/// the kind) and TCA_STATS2. Read once here; the kind-specific decoders take it from there.
/// </summary>
public readonly ref struct TcMessage
{
    private TcMessage(TcMsg header, string? kind, ReadOnlySpan<byte> options, bool hasOptions, ReadOnlySpan<byte> statistics)
    {
        Header = header;
        Kind = kind;
        Options = options;
        HasOptions = hasOptions;
        Statistics = statistics;
    }

    public TcMsg Header { get; }

    /// <summary>TCA_KIND, or null if absent.</summary>
    public string? Kind { get; }

    /// <summary>TCA_OPTIONS' payload (a nest for most kinds, a bare struct for prio and the fifos).</summary>
    public ReadOnlySpan<byte> Options { get; }

    /// <summary>TCA_OPTIONS was present (a filter priority's own message has none).</summary>
    public bool HasOptions { get; }

    /// <summary>TCA_STATS2's payload, empty if absent.</summary>
    public ReadOnlySpan<byte> Statistics { get; }

    /// <exception cref="NetlinkFormatException">Truncated tcmsg or attributes.</exception>
    public static TcMessage Read(ReadOnlySpan<byte> payload)
    {
        var header = TcMsg.Read(payload);
        string? kind = null;
        ReadOnlySpan<byte> options = default;
        ReadOnlySpan<byte> statistics = default;
        var hasOptions = false;
        var reader = new RtAttrReader(payload[TcMsg.Size..]);
        while (reader.TryRead(out var attribute))
        {
            switch (attribute.Type)
            {
                case TCA_KIND:
                    kind = attribute.AsString();
                    break;
                case TCA_OPTIONS:
                    options = attribute.Payload;
                    hasOptions = true;
                    break;
                case TCA_STATS2:
                    statistics = attribute.Payload;
                    break;
            }
        }

        return new TcMessage(header, kind, options, hasOptions, statistics);
    }
}
