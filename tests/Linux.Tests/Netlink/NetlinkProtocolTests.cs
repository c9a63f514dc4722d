using System.Diagnostics;
using System.Globalization;
using NetIsolator.Linux.Netlink;
using NetIsolator.Linux.Netlink.Protocol;
using Xunit;
using static NetIsolator.Linux.Netlink.Protocol.NetlinkConstants;

namespace NetIsolator.Linux.Tests.Netlink;

/// <summary>
/// The wire layer against hand-written byte fixtures (x86-64/arm64: little-endian host order). No root, no socket.
/// </summary>
public sealed class NetlinkProtocolTests
{
    private const uint Seq = 0x01020304;

    [Fact]
    public void DumpRequest_IsAnNlmsghdrAndAZeroIfinfomsg()
    {
        Assert.True(BitConverter.IsLittleEndian);
        byte[] expected =
        [
            32, 0, 0, 0,     // nlmsg_len
            18, 0,           // RTM_GETLINK
            0x01, 0x03,      // NLM_F_REQUEST | NLM_F_DUMP (0x301)
            4, 3, 2, 1,      // seq
            0, 0, 0, 0,      // pid
            0, 0, 0, 0,      // ifi_family AF_UNSPEC, pad, ifi_type
            0, 0, 0, 0,      // ifi_index
            0, 0, 0, 0,      // ifi_flags
            0, 0, 0, 0,      // ifi_change
        ];

        Assert.Equal(expected, LinkDump.BuildRequest(Seq));
    }

    [Fact]
    public void Parse_TwoLinks_OneWithStats64_ThenDone()
    {
        var stats = new byte[24 * 8]; // a current kernel's rtnl_link_stats64 is longer than the 8 counters read
        for (var i = 0; i < 24; i++)
        {
            BitConverter.TryWriteBytes(stats.AsSpan(i * 8), (ulong)(i + 1) * 1000 + (i == 2 ? 0x1_0000_0000UL : 0));
        }

        var datagram = Concat(
            Link(1, Attr(IFLA_IFNAME, "lo\0"u8), Attr(IFLA_STATS64, stats), Attr(99, [1, 2, 3])),
            Link(7, Attr(IFLA_IFNAME, "eth0\0"u8)),
            Done());
        var parser = new LinkDumpParser(Seq);

        Assert.True(parser.Feed(datagram));

        Assert.False(parser.Interrupted);
        Assert.Equal(2, parser.Links.Count);
        var lo = parser.Links[0];
        Assert.Equal((1, "lo"), (lo.Index, lo.Name));
        Assert.Equal(new LinkCounters(1000, 2000, 0x1_0000_0000UL + 3000, 4000, 5000, 6000, 7000, 8000), lo.Counters);
        Assert.Equal(new LinkStatistics(7, "eth0", null), parser.Links[1]);
    }

    [Fact]
    public void Parse_AcrossDatagrams_SkipsOtherSequences_AndStopsAtDone()
    {
        var parser = new LinkDumpParser(Seq);

        Assert.False(parser.Feed(Concat(WithSeq(Link(3, Attr(IFLA_IFNAME, "stale"u8)), Seq - 1), Link(1, Attr(IFLA_IFNAME, "lo"u8)))));
        Assert.True(parser.Feed(Concat(Link(2, Attr(IFLA_IFNAME, "eth0\0\0\0"u8)), Done(), Link(9, Attr(IFLA_IFNAME, "after"u8)))));

        Assert.Equal(["lo", "eth0"], parser.Links.Select(l => l.Name));
    }

    [Fact]
    public void Parse_DumpIntrOnAnyMessage_MarksTheDumpInterrupted()
    {
        var parser = new LinkDumpParser(Seq);
        var done = Done();
        done[6] |= (byte)NLM_F_DUMP_INTR;

        Assert.True(parser.Feed(Concat(Link(1, Attr(IFLA_IFNAME, "lo"u8)), done)));

        Assert.True(parser.Interrupted);
    }

    [Fact]
    public void Parse_NlmsgError_ThrowsLinuxExceptionWithTheErrno()
    {
        var error = Message(NLMSG_ERROR, 0, Concat(Int(-Errno.EPERM), LinkDump.BuildRequest(Seq).AsSpan(0, 16).ToArray()));

        var e = Assert.Throws<NetlinkException>(() => new LinkDumpParser(Seq).Feed(error));

        Assert.Equal(Errno.EPERM, e.Errno);
        Assert.Contains("EPERM", e.Message);
        Assert.Contains("RTM_GETLINK", e.Message);
        // errno 0 is an acknowledgement, not an error.
        Assert.False(new LinkDumpParser(Seq).Feed(Message(NLMSG_ERROR, 0, Int(0))));
    }

    [Fact]
    public void Parse_DoneWithANegativeResult_Throws()
    {
        var e = Assert.Throws<NetlinkException>(() => new LinkDumpParser(Seq).Feed(Message(NLMSG_DONE, NLM_F_MULTI, Int(-Errno.ENOMEM))));
        Assert.Equal(Errno.ENOMEM, e.Errno);
        // A DONE without payload (old kernels) just ends the dump.
        Assert.True(new LinkDumpParser(Seq).Feed(Message(NLMSG_DONE, NLM_F_MULTI, [])));
    }

    public static TheoryData<string, byte[], string> Malformed() => new()
    {
        { "short header", [16, 0, 0, 0, 16, 0], "truncated netlink header" },
        { "length below header", Patch(Done(), 0, 8), "declares length 8" },
        { "length past the end", Patch(Done(), 0, 200), "declares length 200" },
        { "short ifinfomsg", Message(RTM_NEWLINK, NLM_F_MULTI, new byte[10]), "truncated ifinfomsg" },
        { "short attribute header", Link(1, [8, 0]), "truncated attribute header" },
        { "attribute length past the end", Link(1, Patch(Attr(IFLA_IFNAME, "lo"u8), 0, 64)), "declares length 64" },
        { "attribute length below header", Link(1, Patch(Attr(IFLA_IFNAME, "lo"u8), 0, 2)), "declares length 2" },
        { "short stats64", Link(1, Attr(IFLA_IFNAME, "lo"u8), Attr(IFLA_STATS64, new byte[40])), "IFLA_STATS64 has 40 bytes" },
        { "no name", Link(4, Attr(IFLA_STATS64, new byte[64])), "link 4: no IFLA_IFNAME" },
        { "short error", Message(NLMSG_ERROR, 0, [1, 0]), "truncated NLMSG_ERROR" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Parse_TruncatedOrMalformed_ThrowsNetlinkFormatException(string what, byte[] datagram, string expected)
    {
        var e = Assert.Throws<NetlinkFormatException>(() => new LinkDumpParser(Seq).Feed(datagram));
        Assert.True(e.Message.Contains(expected, StringComparison.Ordinal), $"{what}: {e.Message}");
    }

    [Fact]
    public void Parse_EveryTruncationOfAValidDatagram_FailsCleanly()
    {
        var datagram = Concat(Link(1, Attr(IFLA_IFNAME, "lo"u8), Attr(IFLA_STATS64, new byte[64])), Done());
        for (var length = 0; length < datagram.Length; length++)
        {
            var parser = new LinkDumpParser(Seq);
            try
            {
                Assert.False(parser.Feed(datagram.AsSpan(0, length)));
            }
            catch (NetlinkFormatException)
            {
            }
        }
    }

    [Fact]
    public void RtAttr_RoundTrips_WithZeroedPadding_AndFlagBitsMasked()
    {
        var buffer = new byte[16];
        buffer.AsSpan().Fill(0xff);
        Assert.Equal(12, RtAttr.Write(buffer, IFLA_IFNAME | 0x8000, "eth0\0"u8));
        Assert.Equal(new byte[] { 9, 0, 3, 0x80, (byte)'e', (byte)'t', (byte)'h', (byte)'0', 0, 0, 0, 0 }, buffer[..12]);

        var reader = new RtAttrReader(buffer.AsSpan(0, 12));
        Assert.True(reader.TryRead(out var attribute));
        Assert.Equal(IFLA_IFNAME, attribute.Type);
        Assert.Equal("eth0", attribute.AsString());
        Assert.False(reader.TryRead(out _));
    }

    [Fact]
    public void Constants_MatchTheCHeaders()
    {
        var checks = new (string C, long Value)[]
        {
            ("AF_NETLINK", Interop.Libc.AF_NETLINK),
            ("SOCK_RAW", Interop.Libc.SOCK_RAW),
            ("SOCK_CLOEXEC", Interop.Libc.SOCK_CLOEXEC),
            ("NETLINK_ROUTE", Interop.Libc.NETLINK_ROUTE),
            ("MSG_TRUNC", Interop.Libc.MSG_TRUNC),
            ("sizeof(struct sockaddr_nl)", System.Runtime.InteropServices.Marshal.SizeOf<Interop.Libc.sockaddr_nl>()),
            ("sizeof(struct nlmsghdr)", NlMsgHeader.Size),
            ("sizeof(struct ifinfomsg)", IfInfoMsg.Size),
            ("sizeof(struct rtattr)", RtAttr.HeaderSize),
            ("offsetof(struct rtnl_link_stats64, tx_dropped)", LinkCounters.Size - 8),
            ("NLMSG_NOOP", NLMSG_NOOP),
            ("NLMSG_ERROR", NLMSG_ERROR),
            ("NLMSG_DONE", NLMSG_DONE),
            ("NLM_F_REQUEST", NLM_F_REQUEST),
            ("NLM_F_MULTI", NLM_F_MULTI),
            ("NLM_F_ACK", NLM_F_ACK),
            ("NLM_F_DUMP_INTR", NLM_F_DUMP_INTR),
            ("NLM_F_DUMP", NLM_F_DUMP),
            ("RTM_NEWLINK", RTM_NEWLINK),
            ("RTM_GETLINK", RTM_GETLINK),
            ("IFLA_IFNAME", IFLA_IFNAME),
            ("IFLA_STATS64", IFLA_STATS64),
            ("NLA_TYPE_MASK & 0xffff", NLA_TYPE_MASK),
            ("AF_UNSPEC", AF_UNSPEC),
        };
        CHeaders.AssertMatch(
        [
            "#include <stddef.h>",
            "#include <sys/socket.h>",
            "#include <linux/netlink.h>",
            "#include <linux/rtnetlink.h>",
            "#include <linux/if_link.h>",
        ], checks);
    }

    // ------------------------------------------------------------------------------------------------------------
    // fixture builders: plain little-endian bytes, written without the code under test

    private static byte[] Int(int value) => BitConverter.GetBytes(value);

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    private static byte[] Pad(byte[] bytes) => [.. bytes, .. new byte[(4 - bytes.Length % 4) % 4]];

    private static byte[] Attr(ushort type, ReadOnlySpan<byte> payload) =>
        Pad([.. BitConverter.GetBytes((ushort)(4 + payload.Length)), .. BitConverter.GetBytes(type), .. payload]);

    private static byte[] Message(ushort type, ushort flags, byte[] payload) =>
        Pad([.. BitConverter.GetBytes(16 + payload.Length), .. BitConverter.GetBytes(type), .. BitConverter.GetBytes(flags),
             .. BitConverter.GetBytes(Seq), .. BitConverter.GetBytes(4242u), .. payload]);

    private static byte[] Link(int index, params byte[][] attributes) =>
        Message(RTM_NEWLINK, NLM_F_MULTI, [0, 0, 1, 0, .. BitConverter.GetBytes(index), .. BitConverter.GetBytes(0x49u), 0, 0, 0, 0, .. Concat(attributes)]);

    private static byte[] Done() => Message(NLMSG_DONE, NLM_F_MULTI, Int(0));

    private static byte[] WithSeq(byte[] message, uint seq) => [.. message[..8], .. BitConverter.GetBytes(seq), .. message[12..]];

    private static byte[] Patch(byte[] bytes, int offset, ushort value)
    {
        var copy = (byte[])bytes.Clone();
        BitConverter.TryWriteBytes(copy.AsSpan(offset), value);
        return copy;
    }
}
