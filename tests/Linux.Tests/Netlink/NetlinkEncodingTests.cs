using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using NetIsolator.Linux.Netlink;
using NetIsolator.Linux.Netlink.Protocol;
using NetIsolator.Linux.Netlink.Route;
using NetIsolator.Linux.Netlink.SockDiag;
using NetIsolator.Linux.Netlink.Tc;
using Xunit;
using static NetIsolator.Linux.Netlink.Protocol.NetlinkConstants;
using static NetIsolator.Linux.Netlink.Protocol.SockDiagConstants;
using static NetIsolator.Linux.Netlink.Protocol.TcConstants;
using static NetIsolator.Linux.Tests.Netlink.Bytes;

namespace NetIsolator.Linux.Tests.Netlink;

/// <summary>
/// Every request encoder and reply decoder against hand-written bytes (golden fixtures), and the numbers and struct
/// layouts against the C headers. No root, no socket.
/// </summary>
public sealed class NetlinkEncodingTests
{
    private const ushort RequestAck = NLM_F_REQUEST | NLM_F_ACK;
    private const ushort CreateExclusive = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

    [Fact]
    public void Builder_NestsAttributes_PadsWithZeros_AndStampsLengthAndSequence()
    {
        var request = new NetlinkMessageBuilder(RTM_NEWLINK, RequestAck, capacity: 8);
        request.Reserve(3)[0] = 0xaa;
        request.AddU16(1, 0x0102);
        var outer = request.BeginNested(2);
        request.AddString(3, "ab");
        var inner = request.BeginNested(4);
        request.AddU64(5, 0x1122334455667788);
        request.EndNested(inner);
        request.EndNested(outer);

        Assert.Equal(
            Message(RTM_NEWLINK, RequestAck, 7,
                [0xaa, 0, 0, 0],
                Attr(1, U16(0x0102)),
                Nest(2, Attr(3, Str("ab")), Nest(4, Attr(5, U64(0x1122334455667788))))),
            request.ToArray(7));
        Assert.Throws<ArgumentOutOfRangeException>(() => request.EndNested(3));
    }

    [Fact]
    public void CreateVeth_PeerInAnotherNamespace_WithMacsAndMtu()
    {
        var pair = new VethPair("mesos1234", "eth0") { Mac = MacAddress.Parse("02:42:ac:11:00:02"), PeerMac = MacAddress.Parse("02:42:ac:11:00:03"), Mtu = 1500 };

        var bytes = LinkOperations.CreateVethRequest(pair, peerNamespaceFd: 9).ToArray();

        Assert.Equal(
            Message(RTM_NEWLINK, CreateExclusive, 0,
                IfInfo(),
                Attr(IFLA_IFNAME, Str("mesos1234")),
                Attr(IFLA_ADDRESS, [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]),
                Attr(IFLA_MTU, U32(1500)),
                Nest(IFLA_LINKINFO,
                    Attr(IFLA_INFO_KIND, Str("veth")),
                    Nest(IFLA_INFO_DATA,
                        Nest(VETH_INFO_PEER,
                            IfInfo(),
                            Attr(IFLA_IFNAME, Str("eth0")),
                            Attr(IFLA_ADDRESS, [0x02, 0x42, 0xac, 0x11, 0x00, 0x03]),
                            Attr(IFLA_MTU, U32(1500)),
                            Attr(IFLA_NET_NS_FD, U32(9)))))),
            bytes);
    }

    [Fact]
    public void LinkRequests_ByNameOrIndex_UpDown_Move()
    {
        Assert.Equal(Message(RTM_SETLINK, RequestAck, 0, IfInfo(flags: IFF_UP, change: IFF_UP), Attr(IFLA_IFNAME, Str("eth0"))),
            LinkOperations.SetFlagsRequest("eth0", IFF_UP, IFF_UP).ToArray());
        Assert.Equal(Message(RTM_SETLINK, RequestAck, 0, IfInfo(index: 7, flags: 0, change: IFF_UP)),
            LinkOperations.SetFlagsRequest(7, 0, IFF_UP).ToArray());
        Assert.Equal(Message(RTM_GETLINK, RequestAck, 0, IfInfo(index: 3)), LinkOperations.GetRequest(3).ToArray());
        Assert.Equal(Message(RTM_SETLINK, RequestAck, 0, IfInfo(index: 5), Attr(IFLA_NET_NS_FD, U32(11)), Attr(IFLA_IFNAME, Str("eth0"))),
            LinkOperations.MoveRequest(new LinkId(5, "veth0"), 11, "eth0").ToArray());
        Assert.Throws<ArgumentException>(() => LinkOperations.MoveRequest("veth0", 11, "eth0"));
    }

    [Fact]
    public void AddressAndRouteRequests()
    {
        Assert.Equal(
            Message(RTM_NEWADDR, CreateExclusive, 0, [AF_INET, 24, 0, RT_SCOPE_UNIVERSE], I32(4), Attr(IFA_LOCAL, [10, 0, 0, 2]), Attr(IFA_ADDRESS, [10, 0, 0, 2])),
            AddressOperations.AddressRequest(RTM_NEWADDR, CreateExclusive, 4, IPAddress.Parse("10.0.0.2"), 24).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => AddressOperations.AddressRequest(RTM_NEWADDR, CreateExclusive, 4, IPAddress.Parse("10.0.0.2"), 33));
        Assert.Equal(
            Message(RTM_NEWROUTE, CreateExclusive, 0, [AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST], U32(0), Attr(RTA_GATEWAY, [10, 0, 0, 1]), Attr(RTA_OIF, U32(4))),
            RouteOperations.RouteRequest(RTM_NEWROUTE, CreateExclusive, RouteEntry.Default(IPAddress.Parse("10.0.0.1"), 4)).ToArray());
    }

    [Fact]
    public void QdiscRequests_IngressHtbPfifoPrio()
    {
        Assert.Equal(
            Message(RTM_NEWQDISC, CreateExclusive, 0, TcMsg(3, 0xffff0000, 0xfffffff1, 0), Attr(TCA_KIND, Str("ingress"))),
            QdiscOperations.Request(RTM_NEWQDISC, CreateExclusive, 3, Qdisc.Ingress()).ToArray());
        Assert.Equal(
            Message(RTM_NEWQDISC, CreateExclusive, 0, TcMsg(3, 0x00010000, 0xffffffff, 0), Attr(TCA_KIND, Str("htb")),
                Nest(TCA_OPTIONS, Attr(TCA_HTB_INIT, U32(3), U32(10), U32(1), U32(0), U32(0)))),
            QdiscOperations.Request(RTM_NEWQDISC, CreateExclusive, 3, Qdisc.Htb(TcHandle.Make(1, 0), TcHandle.Root, 1)).ToArray());
        Assert.Equal(
            Message(RTM_NEWQDISC, CreateExclusive, 0, TcMsg(3, 0, 0x00010001, 0), Attr(TCA_KIND, Str("pfifo")), Attr(TCA_OPTIONS, U32(1000))),
            QdiscOperations.Request(RTM_NEWQDISC, CreateExclusive, 3, Qdisc.Pfifo(TcHandle.None, TcHandle.Make(1, 1))).ToArray());
        Assert.Equal(
            Message(RTM_NEWQDISC, CreateExclusive, 0, TcMsg(3, 0x00020000, 0xffffffff, 0), Attr(TCA_KIND, Str("prio")),
                Attr(TCA_OPTIONS, I32(3), [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1])),
            QdiscOperations.Request(RTM_NEWQDISC, CreateExclusive, 3, Qdisc.Prio(TcHandle.Make(2, 0), TcHandle.Root)).ToArray());
    }

    [Fact]
    public void HtbClass_RatesCeilBurstsAsTicks_And64BitRates()
    {
        // 2000 B/s, burst 1600 B: 0.8 s = 800,000,000 ns = 12,500,000 ticks of 64 ns.
        var small = new HtbClass(TcHandle.Make(1, 1), TcHandle.Make(1, 0), 2000) { Ceil = 4000, Burst = 1600, CeilBurst = 3200 };
        byte[] RateSpec(uint rate) => Concat([0, TC_LINKLAYER_ETHERNET], U16(0), U16(0), U16(0), U32(rate));

        Assert.Equal(
            Message(RTM_NEWTCLASS, CreateExclusive, 0, TcMsg(3, 0x00010001, 0x00010000, 0), Attr(TCA_KIND, Str("htb")),
                Nest(TCA_OPTIONS, Attr(TCA_HTB_PARMS, RateSpec(2000), RateSpec(4000), U32(12_500_000), U32(12_500_000), U32(0), U32(0), U32(0)))),
            ClassOperations.Request(RTM_NEWTCLASS, CreateExclusive, 3, small).ToArray());

        var large = new HtbClass(TcHandle.Make(1, 1), TcHandle.Make(1, 0), 5_859_375_000);
        Assert.Equal(
            Message(RTM_NEWTCLASS, CreateExclusive, 0, TcMsg(3, 0x00010001, 0x00010000, 0), Attr(TCA_KIND, Str("htb")),
                Nest(TCA_OPTIONS,
                    Attr(TCA_HTB_PARMS, RateSpec(uint.MaxValue), RateSpec(uint.MaxValue), U32(4), U32(4), U32(0), U32(0), U32(0)),
                    Attr(TCA_HTB_RATE64, U64(5_859_375_000)),
                    Attr(TCA_HTB_CEIL64, U64(5_859_375_000)))),
            ClassOperations.Request(RTM_NEWTCLASS, CreateExclusive, 3, large).ToArray());
        Assert.Equal(1605u, large.EffectiveBurst); // rate/1e9 + 1600
        Assert.Equal(1600u, HtbClass.TicksToBurst(HtbClass.BurstToTicks(1600, 2000), 2000));
        Assert.Throws<ArgumentException>(() => ClassOperations.Request(RTM_NEWTCLASS, CreateExclusive, 3, new HtbClass(TcHandle.Make(1, 1), TcHandle.Root, 0)));
    }

    [Fact]
    public void U32Filter_SelectorKeysBigEndian_ActionsNumberedFromOne()
    {
        var filter = new U32Filter(TcHandle.Ingress, 770, ETH_P_IP,
            [U32Match.HeaderLengthIsFive(), U32Match.Destination(IPAddress.Parse("10.1.2.3")), U32Match.SourcePorts(31000, 0xfff8)])
        {
            Handle = U32Handle.Node(0x801),
            Actions = [MirredAction.Redirect(7), MirredAction.Mirror(8, TcVerdict.Continue)],
        };
        byte[] Key(uint mask, uint value, int offset) => Concat(Be32(mask), Be32(value), I32(offset), I32(0));
        byte[] Mirred(int verdict, int eaction, int ifindex) => Nest(TCA_ACT_OPTIONS, Attr(TCA_MIRRED_PARMS, U32(0), U32(0), I32(verdict), I32(0), I32(0), I32(eaction), I32(ifindex)));

        Assert.Equal(
            Message(RTM_NEWTFILTER, CreateExclusive | NLM_F_ECHO, 0,
                TcMsg(2, 0x801, 0xffff0000, (770u << 16) | 0x0008),
                Attr(TCA_KIND, Str("u32")),
                Nest(TCA_OPTIONS,
                    Attr(TCA_U32_SEL,
                        [TC_U32_TERMINAL, 0, 3, 0], U16(0), U16(0), U16(0), U16(0), U32(0),
                        Key(0x0f000000, 0x05000000, 0),
                        Key(0xffffffff, 0x0a010203, 16),
                        Key(0xfff80000, 0x79180000, 20)),
                    Nest(TCA_U32_ACT,
                        Nest(1, Attr(TCA_ACT_KIND, Str("mirred")), Mirred(TC_ACT_STOLEN, TCA_EGRESS_REDIR, 7)),
                        Nest(2, Attr(TCA_ACT_KIND, Str("mirred")), Mirred(TC_ACT_UNSPEC, TCA_EGRESS_MIRROR, 8))))),
            FilterOperations.Request(RTM_NEWTFILTER, CreateExclusive | NLM_F_ECHO, 2, filter).ToArray());
    }

    [Fact]
    public void U32Filter_ClassIdGactAndNonTerminal_AndBasicFilter()
    {
        var classified = new U32Filter(TcHandle.Make(1, 0), 258, ETH_P_ARP, [U32Match.Everything()]) { ClassId = TcHandle.Make(1, 2), Terminal = false, Actions = [GactAction.Drop] };
        Assert.Equal(
            Message(RTM_NEWTFILTER, CreateExclusive, 0, TcMsg(2, 0, 0x00010000, (258u << 16) | 0x0608), Attr(TCA_KIND, Str("u32")),
                Nest(TCA_OPTIONS,
                    Attr(TCA_U32_CLASSID, U32(0x00010002)),
                    Attr(TCA_U32_SEL, [0, 0, 1, 0], Zeros(12), Zeros(16)),
                    Nest(TCA_U32_ACT, Nest(1, Attr(TCA_ACT_KIND, Str("gact")), Nest(TCA_ACT_OPTIONS, Attr(TCA_GACT_PARMS, U32(0), U32(0), I32(TC_ACT_SHOT), I32(0), I32(0))))))),
            FilterOperations.Request(RTM_NEWTFILTER, CreateExclusive, 2, classified).ToArray());
        Assert.Equal(
            Message(RTM_NEWTFILTER, CreateExclusive, 0, TcMsg(2, 0, 0x00010000, (1026u << 16) | 0x0300), Attr(TCA_KIND, Str("basic")),
                Nest(TCA_OPTIONS, Attr(TCA_BASIC_CLASSID, U32(0x00010001)))),
            FilterOperations.Request(RTM_NEWTFILTER, CreateExclusive, 2, new BasicFilter(TcHandle.Make(1, 0), 1026, ETH_P_ALL) { ClassId = TcHandle.Make(1, 1) }).ToArray());
        Assert.Throws<ArgumentException>(() => FilterOperations.Request(RTM_NEWTFILTER, CreateExclusive, 2, classified with { Priority = 0 }));
        Assert.Throws<ArgumentException>(() => U32Match.DestinationPorts(31001, 0xfff8));
    }

    [Fact]
    public void FilterDump_DecodesEntries_SkipsThePriorityAndItsHashTable()
    {
        var info = (770u << 16) | 0x0008;
        var sel = Attr(TCA_U32_SEL, [TC_U32_TERMINAL, 0, 2, 0], Zeros(12), Be32(0x0f000000), Be32(0x05000000), I32(0), I32(0), Be32(0x0000ffff), Be32(0x00000050), I32(20), I32(0));
        var act = Nest(TCA_U32_ACT, Nest(1, Attr(TCA_ACT_KIND, Str("mirred")), Nest(TCA_ACT_OPTIONS, Attr(1, Zeros(32)), Attr(TCA_MIRRED_PARMS, U32(1), U32(0), I32(TC_ACT_STOLEN), I32(1), I32(1), I32(TCA_EGRESS_REDIR), I32(9)))));
        var datagram = Concat(
            Message(RTM_NEWTFILTER, NLM_F_MULTI, 5, TcMsg(2, 0, 0xffff0000, info), Attr(TCA_KIND, Str("u32")), Attr(TCA_CHAIN, U32(0))),
            Message(RTM_NEWTFILTER, NLM_F_MULTI, 5, TcMsg(2, 0x80000000, 0xffff0000, info), Attr(TCA_KIND, Str("u32")), Nest(TCA_OPTIONS, Attr(TCA_U32_DIVISOR, U32(1)))),
            Message(RTM_NEWTFILTER, NLM_F_MULTI, 5, TcMsg(2, 0x80000800, 0xffff0000, info), Attr(TCA_KIND, Str("u32")), Nest(TCA_OPTIONS, sel, Attr(TCA_U32_HASH, U32(0x80000000)), act)),
            Message(RTM_NEWTFILTER, NLM_F_MULTI, 5, TcMsg(2, 0x1, 0xffff0000, (5u << 16) | 0x0300), Attr(TCA_KIND, Str("bpf")), Nest(TCA_OPTIONS)),
            Message(NLMSG_DONE, NLM_F_MULTI, 5, I32(0)));

        var filters = Collect(datagram, 5, FilterOperations.Parse);

        Assert.Equal(2, filters.Count);
        var u32 = Assert.IsType<U32Filter>(filters[0]);
        Assert.Equal(
            new U32Filter(TcHandle.Ingress, 770, ETH_P_IP, [new U32Key(0x05000000, 0x0f000000, 0), U32Match.DestinationPorts(80, 0xffff)])
            {
                Handle = 0x80000800,
                LinkIndex = 2,
                Actions = [MirredAction.Redirect(9)],
            },
            u32);
        Assert.Equal("800::800", U32Handle.Format(u32.Handle));
        Assert.Equal(new OtherFilter("bpf", TcHandle.Ingress, 5, ETH_P_ALL) { Handle = 1, LinkIndex = 2 }, filters[1]);
    }

    [Fact]
    public void QdiscAndClassReplies_WithStats2()
    {
        var stats = Nest(TCA_STATS2,
            Attr(TCA_STATS_BASIC, U64(123456), U32(789), U32(0)),
            Attr(TCA_STATS_RATE_EST, U32(1000), U32(10)),
            Attr(TCA_STATS_QUEUE, U32(1), U32(2), U32(3), U32(4), U32(5)),
            Attr(TCA_STATS_PKT64, U64(0x1_0000_0315)));
        var message = Message(RTM_NEWQDISC, 0, 1, TcMsg(4, 0x00010000, 0xffffffff, 1), Attr(TCA_KIND, Str("htb")),
            Nest(TCA_OPTIONS, Attr(TCA_HTB_INIT, U32(3), U32(10), U32(1), U32(0), U32(0))), stats);

        var qdisc = Assert.Single(Collect(message, 1, Qdisc.Parse));

        Assert.Equal(Qdisc.Htb(TcHandle.Make(1, 0), TcHandle.Root, 1) with { LinkIndex = 4, Statistics = qdisc.Statistics }, qdisc);
        Assert.Equal(new TcStatistics(123456, 0x1_0000_0315, 3, 5, 4, 1, 2, 1000, 10), qdisc.Statistics);
    }

    [Fact]
    public void ReplyParser_ExtendedAck_CappedOrNot_AcksEchoesAndDone()
    {
        var text = Attr(NLMSGERR_ATTR_MSG, Str("Exclusivity flag on, cannot modify"));
        var request = Message(RTM_NEWQDISC, CreateExclusive, 9, TcMsg(1, 0, 0, 0));
        var capped = Message(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 9, I32(-Errno.EEXIST), request[..16], text);
        var full = Message(NLMSG_ERROR, NLM_F_ACK_TLVS, 9, I32(-Errno.EEXIST), request, Attr(NLMSGERR_ATTR_OFFS, U32(20)), text);

        foreach (var error in new[] { capped, full })
        {
            var reply = new NetlinkReplyParser(9, dump: false);
            Assert.True(reply.Feed(error, null));
            Assert.Equal((Errno.EEXIST, "Exclusivity flag on, cannot modify"), (reply.Error, reply.KernelMessage));
        }

        // An echoed object, then the ack; another sequence's messages are skipped.
        var seen = new List<ushort>();
        var ack = new NetlinkReplyParser(9, dump: false);
        Assert.True(ack.Feed(Concat(
            Message(RTM_NEWTFILTER, 0, 8, TcMsg(1, 1, 0, 0)),
            Message(RTM_NEWTFILTER, 0, 9, TcMsg(1, 2, 0, 0)),
            Message(NLMSG_ERROR, NLM_F_CAPPED, 9, I32(0), request[..16])), (in NlMsgHeader h, ReadOnlySpan<byte> p) => seen.Add((ushort)NetlinkIsolatorTcHandle(p))));
        Assert.Equal([(ushort)2], seen);
        Assert.Equal(0, ack.Error);

        // A dump: an ack does not end it, DONE does, and carries the dump's error and text.
        var dump = new NetlinkReplyParser(9, dump: true);
        Assert.False(dump.Feed(Message(NLMSG_ERROR, 0, 9, I32(0), request[..16]), null));
        Assert.True(dump.Feed(Message(NLMSG_DONE, NLM_F_MULTI | NLM_F_ACK_TLVS | NLM_F_DUMP_INTR, 9, I32(-Errno.EINVAL), Attr(NLMSGERR_ATTR_MSG, Str("bad dump"))), null));
        Assert.Equal((Errno.EINVAL, "bad dump", true), (dump.Error, dump.KernelMessage, dump.Interrupted));
    }

    [Fact]
    public void NetlinkException_QuotesStepWhereErrnoAndKernelText()
    {
        var e = new NetlinkException(Errno.EEXIST, "adding u32 filter prio 770 on 'eth0' parent ffff:0", "Exclusivity flag on", "network namespace '/x'");

        Assert.Equal("adding u32 filter prio 770 on 'eth0' parent ffff:0 in network namespace '/x' failed: EEXIST (File exists); kernel: \"Exclusivity flag on\"", e.Message);
        Assert.Equal((Errno.EEXIST, "EEXIST"), (e.Errno, e.ErrorName));
        Assert.IsAssignableFrom<LinuxException>(e);
    }

    [Fact]
    public void InetDiag_RequestAndReply()
    {
        Assert.Equal(
            Message(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 0, [AF_INET, IPPROTO_TCP, 2, 0], U32((1u << 1) | (1u << 10)), Zeros(48)),
            SocketDiagnostics.Request(AddressFamily.InterNetwork, withInfo: true, [TcpState.Established, TcpState.Listen]).ToArray());

        var tcpInfo = new byte[232];
        tcpInfo[2] = 1;
        BitConverter.TryWriteBytes(tcpInfo.AsSpan(68), 1234u);
        BitConverter.TryWriteBytes(tcpInfo.AsSpan(72), 56u);
        BitConverter.TryWriteBytes(tcpInfo.AsSpan(80), 10u);
        BitConverter.TryWriteBytes(tcpInfo.AsSpan(100), 3u);
        var message = Message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 3,
            [AF_INET, 1, 0, 0], Be16(31001), Be16(40000), [10, 0, 0, 2], Zeros(12), [10, 0, 0, 1], Zeros(12), U32(0), Zeros(8),
            U32(0), U32(5), U32(6), U32(1000), U32(4242),
            Attr(INET_DIAG_INFO, tcpInfo));

        var socket = Assert.Single(Collect(message, 3, SocketDiagnostics.Parse));

        Assert.Equal(
            new TcpSocket(TcpState.Established, IPEndPoint.Parse("10.0.0.2:31001"), IPEndPoint.Parse("10.0.0.1:40000"), 4242, 1000, 5, 6, new TcpInfo(1234, 56, 10, 1, 3)),
            socket);
    }

    [Fact]
    public void Handles_Macs_LinkIds_FormatAndParse()
    {
        Assert.Equal("ffff:0", TcHandle.Ingress.ToString());
        Assert.Equal("root", TcHandle.Root.ToString());
        Assert.Equal(TcHandle.Make(1, 0x10), TcHandle.Parse("1:10"));
        Assert.Equal(TcHandle.Make(0xffff, 0), TcHandle.Parse("ffff:"));
        Assert.Equal(TcHandle.Root, TcHandle.Parse("root"));
        Assert.False(TcHandle.TryParse("1", out _));
        Assert.False(TcHandle.TryParse("x:1", out _));
        Assert.Equal("801:2:fff", U32Handle.Format(U32Handle.Make(0x801, 2, 0xfff)));
        Assert.Throws<ArgumentOutOfRangeException>(() => U32Handle.Node(0x1000));

        Assert.Equal("02:42:ac:11:00:02", MacAddress.Parse("02:42:AC:11:00:02").ToString());
        Assert.True(MacAddress.Parse("33:33:00:00:00:01").IsMulticast);
        Assert.False(MacAddress.TryParse("02-42-ac-11-00-02", out _));

        Assert.Equal("'eth0' (ifindex 2)", new LinkId(2, "eth0").ToString());
        Assert.Equal("ifindex 2", ((LinkId)2).ToString());
        Assert.Throws<ArgumentException>(() => (LinkId)"a-name-that-is-too-long");
        Assert.Throws<ArgumentException>(() => (LinkId)"a/b");
    }

    [Fact]
    public void Constants_AndStructLayouts_MatchTheCHeaders()
    {
        var checks = new (string C, long Value)[]
        {
            ("NLM_F_ECHO", NLM_F_ECHO), ("NLM_F_REPLACE", NLM_F_REPLACE), ("NLM_F_EXCL", NLM_F_EXCL), ("NLM_F_CREATE", NLM_F_CREATE),
            ("NLM_F_CAPPED", NLM_F_CAPPED), ("NLM_F_ACK_TLVS", NLM_F_ACK_TLVS), ("NLMSGERR_ATTR_MSG", NLMSGERR_ATTR_MSG), ("NLMSGERR_ATTR_OFFS", NLMSGERR_ATTR_OFFS),
            ("NETLINK_EXT_ACK", 11), ("NETLINK_CAP_ACK", 10), ("SOL_NETLINK", 270), ("NETLINK_SOCK_DIAG", 4),
            ("RTM_DELLINK", RTM_DELLINK), ("RTM_SETLINK", RTM_SETLINK), ("RTM_NEWADDR", RTM_NEWADDR), ("RTM_DELADDR", RTM_DELADDR), ("RTM_GETADDR", RTM_GETADDR),
            ("RTM_NEWROUTE", RTM_NEWROUTE), ("RTM_DELROUTE", RTM_DELROUTE), ("RTM_GETROUTE", RTM_GETROUTE),
            ("RTM_NEWQDISC", RTM_NEWQDISC), ("RTM_DELQDISC", RTM_DELQDISC), ("RTM_GETQDISC", RTM_GETQDISC),
            ("RTM_NEWTCLASS", RTM_NEWTCLASS), ("RTM_DELTCLASS", RTM_DELTCLASS), ("RTM_GETTCLASS", RTM_GETTCLASS),
            ("RTM_NEWTFILTER", RTM_NEWTFILTER), ("RTM_DELTFILTER", RTM_DELTFILTER), ("RTM_GETTFILTER", RTM_GETTFILTER),
            ("IFLA_ADDRESS", IFLA_ADDRESS), ("IFLA_MTU", IFLA_MTU), ("IFLA_LINK", IFLA_LINK), ("IFLA_MASTER", IFLA_MASTER), ("IFLA_OPERSTATE", IFLA_OPERSTATE),
            ("IFLA_LINKINFO", IFLA_LINKINFO), ("IFLA_NET_NS_FD", IFLA_NET_NS_FD), ("IFLA_LINK_NETNSID", IFLA_LINK_NETNSID),
            ("IFLA_INFO_KIND", IFLA_INFO_KIND), ("IFLA_INFO_DATA", IFLA_INFO_DATA), ("VETH_INFO_PEER", VETH_INFO_PEER),
            ("IFF_UP", IFF_UP), ("IFF_LOOPBACK", IFF_LOOPBACK), ("IFF_LOWER_UP", IFF_LOWER_UP),
            ("IFA_ADDRESS", IFA_ADDRESS), ("IFA_LOCAL", IFA_LOCAL), ("IFA_LABEL", IFA_LABEL),
            ("RTA_DST", RTA_DST), ("RTA_OIF", RTA_OIF), ("RTA_GATEWAY", RTA_GATEWAY), ("RTA_PRIORITY", RTA_PRIORITY), ("RTA_PREFSRC", RTA_PREFSRC), ("RTA_TABLE", RTA_TABLE),
            ("RT_TABLE_MAIN", RT_TABLE_MAIN), ("RTPROT_BOOT", RTPROT_BOOT), ("RT_SCOPE_LINK", RT_SCOPE_LINK), ("RTN_UNICAST", RTN_UNICAST), ("AF_INET6", AF_INET6),
            ("TCA_KIND", TCA_KIND), ("TCA_OPTIONS", TCA_OPTIONS), ("TCA_STATS", TCA_STATS), ("TCA_STATS2", TCA_STATS2), ("TCA_CHAIN", TCA_CHAIN),
            ("TC_H_ROOT", TC_H_ROOT), ("TC_H_INGRESS", TC_H_INGRESS),
            ("ETH_P_ALL", ETH_P_ALL), ("ETH_P_IP", ETH_P_IP), ("ETH_P_ARP", ETH_P_ARP), ("ETH_P_IPV6", ETH_P_IPV6),
            ("TCA_STATS_BASIC", TCA_STATS_BASIC), ("TCA_STATS_RATE_EST", TCA_STATS_RATE_EST), ("TCA_STATS_QUEUE", TCA_STATS_QUEUE), ("TCA_STATS_RATE_EST64", TCA_STATS_RATE_EST64), ("TCA_STATS_PKT64", TCA_STATS_PKT64),
            ("TCA_U32_CLASSID", TCA_U32_CLASSID), ("TCA_U32_HASH", TCA_U32_HASH), ("TCA_U32_LINK", TCA_U32_LINK), ("TCA_U32_DIVISOR", TCA_U32_DIVISOR), ("TCA_U32_SEL", TCA_U32_SEL), ("TCA_U32_ACT", TCA_U32_ACT), ("TC_U32_TERMINAL", TC_U32_TERMINAL),
            ("TCA_BASIC_CLASSID", TCA_BASIC_CLASSID), ("TCA_BASIC_ACT", TCA_BASIC_ACT), ("TCA_MATCHALL_CLASSID", TCA_MATCHALL_CLASSID), ("TCA_MATCHALL_ACT", TCA_MATCHALL_ACT),
            ("TCA_ACT_KIND", TCA_ACT_KIND), ("TCA_ACT_OPTIONS", TCA_ACT_OPTIONS), ("TCA_ACT_MAX_PRIO", TCA_ACT_MAX_PRIO), ("TCA_MIRRED_PARMS", TCA_MIRRED_PARMS), ("TCA_GACT_PARMS", TCA_GACT_PARMS),
            ("TC_ACT_UNSPEC", TC_ACT_UNSPEC), ("TC_ACT_OK", TC_ACT_OK), ("TC_ACT_RECLASSIFY", TC_ACT_RECLASSIFY), ("TC_ACT_SHOT", TC_ACT_SHOT), ("TC_ACT_PIPE", TC_ACT_PIPE), ("TC_ACT_STOLEN", TC_ACT_STOLEN),
            ("TCA_EGRESS_REDIR", TCA_EGRESS_REDIR), ("TCA_EGRESS_MIRROR", TCA_EGRESS_MIRROR), ("TCA_INGRESS_REDIR", TCA_INGRESS_REDIR), ("TCA_INGRESS_MIRROR", TCA_INGRESS_MIRROR),
            ("TCA_HTB_PARMS", TCA_HTB_PARMS), ("TCA_HTB_INIT", TCA_HTB_INIT), ("TCA_HTB_RATE64", TCA_HTB_RATE64), ("TCA_HTB_CEIL64", TCA_HTB_CEIL64),
            ("TC_HTB_PROTOVER", HTB_PROTOCOL_VERSION), ("TC_LINKLAYER_ETHERNET", TC_LINKLAYER_ETHERNET), ("PSCHED_SHIFT_CHECK", PSCHED_SHIFT),
            ("sizeof(struct tcmsg)", NetIsolator.Linux.Netlink.Protocol.TcMsg.Size), ("sizeof(struct ifaddrmsg)", IfAddrMsg.Size), ("sizeof(struct rtmsg)", RtMsg.Size),
            ("sizeof(struct tc_gen_check)", TcGenSize), ("sizeof(struct tc_mirred)", TcMirredSize), ("sizeof(struct tc_u32_sel)", TcU32SelSize), ("sizeof(struct tc_u32_key)", TcU32KeySize),
            ("sizeof(struct tc_ratespec)", TcRateSpecSize), ("sizeof(struct tc_htb_opt)", TcHtbOptSize), ("sizeof(struct tc_htb_glob)", TcHtbGlobSize),
            ("sizeof(struct tc_prio_qopt)", TcPrioQoptSize), ("sizeof(struct tc_fifo_qopt)", TcFifoQoptSize), ("sizeof(struct gnet_stats_queue)", 20), ("offsetof(struct gnet_stats_basic, packets)", 8),
            ("offsetof(struct tc_htb_opt, buffer)", 24), ("offsetof(struct tc_htb_opt, quantum)", 32), ("offsetof(struct tc_htb_opt, prio)", 40), ("offsetof(struct tc_ratespec, rate)", 8),
            ("offsetof(struct tc_mirred, eaction)", 20), ("offsetof(struct tc_mirred, ifindex)", 24), ("offsetof(struct tc_gact, action)", 8),
            ("SOCK_DIAG_BY_FAMILY", SOCK_DIAG_BY_FAMILY), ("IPPROTO_TCP", IPPROTO_TCP), ("INET_DIAG_INFO", INET_DIAG_INFO),
            ("sizeof(struct inet_diag_sockid)", InetDiagSockIdSize), ("sizeof(struct inet_diag_req_v2)", InetDiagReqV2Size), ("sizeof(struct inet_diag_msg)", InetDiagMsgSize),
            ("offsetof(struct inet_diag_msg, idiag_uid)", 64), ("offsetof(struct inet_diag_msg, idiag_inode)", 68), ("offsetof(struct inet_diag_msg, idiag_rqueue)", 56),
            ("offsetof(struct tcp_info, tcpi_retransmits)", TcpInfoRetransmitsOffset), ("offsetof(struct tcp_info, tcpi_rtt)", TcpInfoRttOffset), ("offsetof(struct tcp_info, tcpi_rttvar)", TcpInfoRttVarOffset),
            ("offsetof(struct tcp_info, tcpi_snd_cwnd)", TcpInfoSndCwndOffset), ("offsetof(struct tcp_info, tcpi_total_retrans)", TcpInfoTotalRetransOffset),
        };
        CHeaders.AssertMatch(
        [
            "#include <stddef.h>",
            "#include <sys/socket.h>",
            "#include <linux/netlink.h>",
            "#include <linux/rtnetlink.h>",
            "#include <linux/if_link.h>",
            "#include <linux/if_addr.h>",
            "#include <linux/if.h>",
            "#include <linux/veth.h>",
            "#include <linux/if_ether.h>",
            "#include <linux/pkt_sched.h>",
            "#include <linux/pkt_cls.h>",
            "#include <linux/gen_stats.h>",
            "#include <linux/tc_act/tc_mirred.h>",
            "#include <linux/tc_act/tc_gact.h>",
            "#include <linux/sock_diag.h>",
            "#include <linux/inet_diag.h>",
            "#include <linux/tcp.h>",
            "#include <netinet/in.h>",
            "#ifndef SOL_NETLINK",
            "#define SOL_NETLINK 270",
            "#endif",
            // tc_gen is a macro of fields; PSCHED_SHIFT lives in the kernel's own headers only (net/pkt_sched.h).
            "struct tc_gen_check { tc_gen; };",
            "#define PSCHED_SHIFT_CHECK 6",
        ], checks);
    }

    private static int NetlinkIsolatorTcHandle(ReadOnlySpan<byte> tcmsg) => (int)NetIsolator.Linux.Netlink.Protocol.TcMsg.Read(tcmsg).Handle;

    private static List<T> Collect<T>(byte[] datagram, uint seq, NetlinkPayloadParser<T> parse) where T : class
    {
        var results = new List<T>();
        var reply = new NetlinkReplyParser(seq, dump: true);
        reply.Feed(datagram, (in NlMsgHeader header, ReadOnlySpan<byte> payload) =>
        {
            if (parse(header, payload) is { } value)
            {
                results.Add(value);
            }
        });
        return results;
    }
}
