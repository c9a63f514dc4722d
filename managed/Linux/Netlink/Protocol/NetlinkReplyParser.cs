using static NetIsolator.Linux.Netlink.Protocol.NetlinkConstants;

namespace NetIsolator.Linux.Netlink.Protocol;

/// <summary>Receives one message of a reply: its header and payload (the bytes after the header).</summary>
public delegate void NetlinkMessageHandler(in NlMsgHeader header, ReadOnlySpan<byte> payload);

/// <summary>
/// Follows the answer to one request (one sequence number), fed one datagram at a time, until the kernel has said
/// all it will say.
/// </summary>
/// <remarks>
/// <para>
/// How a reply ends: a dump (NLM_F_DUMP) ends with NLMSG_DONE, whose payload is the dump's own result (an int,
/// negative errno on failure; missing on old kernels); a dump that cannot even start ends with NLMSG_ERROR. Any other
/// request sent with NLM_F_ACK ends with NLMSG_ERROR, whose error 0 is the acknowledgement; the objects a GET or
/// an NLM_F_ECHO request returns come before it. Every message of the reply carries the request's sequence number;
/// others (left over from an abandoned request on the same socket) are skipped.
/// </para>
/// <para>
/// An error does not throw here: <see cref="Error"/> and <see cref="KernelMessage"/> keep it and the caller decides
/// (EEXIST may be an answer, not a failure). NLM_F_DUMP_INTR on any message means the table changed while it was
/// dumped: the dump may be inconsistent and should be repeated.
/// </para>
/// </remarks>
public sealed class NetlinkReplyParser(uint sequence, bool dump)
{
    public uint Sequence { get; } = sequence;

    /// <summary>The request was a dump (ends with NLMSG_DONE).</summary>
    public bool IsDump { get; } = dump;

    /// <summary>The reply is complete.</summary>
    public bool Done { get; private set; }

    /// <summary>0, or the positive errno the kernel answered.</summary>
    public int Error { get; private set; }

    /// <summary>The kernel's explanation (NLMSGERR_ATTR_MSG) of an error, or of a warning on success, if it gave one.</summary>
    public string? KernelMessage { get; private set; }

    /// <summary>A message carried NLM_F_DUMP_INTR.</summary>
    public bool Interrupted { get; private set; }

    /// <summary>Parses one datagram, passing the reply's data messages to <paramref name="onMessage"/>; returns <see cref="Done"/>.</summary>
    /// <exception cref="NetlinkFormatException">A truncated or malformed message.</exception>
    public bool Feed(ReadOnlySpan<byte> datagram, NetlinkMessageHandler? onMessage)
    {
        var reader = new NlMsgReader(datagram);
        while (!Done && reader.TryRead(out var message))
        {
            var header = message.Header;
            if (header.Sequence != Sequence)
            {
                continue;
            }

            if ((header.Flags & NLM_F_DUMP_INTR) != 0)
            {
                Interrupted = true;
            }

            switch (header.Type)
            {
                case NLMSG_ERROR:
                    ReadError(header, message.Payload);
                    // A dump ends with NLMSG_DONE; an NLMSG_ERROR ends it only if it is an error (an ack is not).
                    Done = !IsDump || Error != 0;
                    break;
                case NLMSG_DONE when IsDump:
                    ReadDone(header, message.Payload);
                    Done = true;
                    break;
                case NLMSG_NOOP:
                    break;
                default:
                    onMessage?.Invoke(header, message.Payload);
                    break;
            }
        }

        return Done;
    }

    // struct nlmsgerr: int error, then the request's nlmsghdr and, unless NLM_F_CAPPED, the rest of the request as
    // sent; with NLM_F_ACK_TLVS the extended-ack attributes follow, 4-byte aligned.
    private void ReadError(NlMsgHeader header, ReadOnlySpan<byte> payload)
    {
        if (payload.Length < sizeof(int))
        {
            throw new NetlinkFormatException($"truncated NLMSG_ERROR: {payload.Length} of {sizeof(int)} bytes");
        }

        Error = -NativeEndian.ReadInt32(payload);
        if ((header.Flags & NLM_F_ACK_TLVS) == 0 || payload.Length < sizeof(int) + NlMsgHeader.Size)
        {
            return;
        }

        var echoed = sizeof(int) + NlMsgHeader.Size;
        if ((header.Flags & NLM_F_CAPPED) == 0)
        {
            // The whole request is echoed: skip it by its own length.
            var request = NlMsgHeader.Read(payload[sizeof(int)..]);
            echoed = sizeof(int) + NlMsgHeader.Align((int)Math.Max(request.Length, (uint)NlMsgHeader.Size));
        }

        if (echoed < payload.Length)
        {
            ReadExtendedAck(payload[echoed..]);
        }
    }

    private void ReadDone(NlMsgHeader header, ReadOnlySpan<byte> payload)
    {
        if (payload.Length < sizeof(int))
        {
            return;
        }

        Error = Math.Max(0, -NativeEndian.ReadInt32(payload));
        if ((header.Flags & NLM_F_ACK_TLVS) != 0 && payload.Length > sizeof(int))
        {
            ReadExtendedAck(payload[sizeof(int)..]);
        }
    }

    private void ReadExtendedAck(ReadOnlySpan<byte> attributes)
    {
        var reader = new RtAttrReader(attributes);
        while (reader.TryRead(out var attribute))
        {
            if (attribute.Type == NLMSGERR_ATTR_MSG)
            {
                var text = attribute.AsString().Trim();
                KernelMessage = text.Length == 0 ? null : text;
            }
        }
    }
}
