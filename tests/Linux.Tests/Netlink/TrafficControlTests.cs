using System.Net;
using System.Net.Sockets;
using NetIsolator.Linux.Netlink;
using NetIsolator.Linux.Netlink.Route;
using NetIsolator.Linux.Netlink.Tc;
using NetIsolator.Testing;
using Xunit;
using static NetIsolator.Linux.Netlink.Protocol.TcConstants;

namespace NetIsolator.Linux.Tests.Netlink;

/// <summary>Qdiscs, HTB classes and u32 filters against the kernel, in namespaces of each test's own; <c>tc</c> is the oracle.</summary>
public sealed class TrafficControlTests : IDisposable
{
    private static readonly TcHandle Htb = TcHandle.Make(1, 0);
    private static readonly TcHandle HtbClass11 = TcHandle.Make(1, 1);

    private readonly Scratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [RootFact]
    public void Ingress_AddTwice_GetByParent_Delete()
    {
        var ns = _scratch.NewNamespace();
        var a = VethPairIn(ns);

        Assert.Null(ns.Socket.GetQdisc(a, TcHandle.IngressParent));
        Assert.True(ns.Socket.AddQdisc(a, Qdisc.Ingress()));
        Assert.False(ns.Socket.AddQdisc(a, Qdisc.Ingress()));

        var ingress = ns.Socket.GetQdisc(a, TcHandle.IngressParent);
        Assert.NotNull(ingress);
        Assert.Equal(("ingress", TcHandle.Ingress, a.Index), (ingress.Kind, ingress.Handle, ingress.LinkIndex));
        Assert.NotNull(ingress.Statistics);
        Assert.Contains(ns.Socket.GetQdiscs(a.Index), q => q.Kind == "ingress");
        Assert.Contains("qdisc ingress ffff: parent ffff:fff1", ns.Run("tc", "qdisc", "show", "dev", "nlta"), StringComparison.Ordinal);

        Assert.True(ns.Socket.DeleteQdisc(a, TcHandle.IngressParent));
        Assert.False(ns.Socket.DeleteQdisc(a, TcHandle.IngressParent));
        Assert.DoesNotContain("ingress", ns.Run("tc", "qdisc", "show", "dev", "nlta"), StringComparison.Ordinal);
    }

    [RootFact]
    public void RootQdiscs_BuiltInDefaultIsNotReported_HtbReplacesIt_AnotherAddIsEexist_ReplaceSwaps()
    {
        var ns = _scratch.NewNamespace();
        var a = VethPairIn(ns);

        // A veth's default root qdisc (noqueue) is built in: the kernel does not report it.
        Assert.Null(ns.Socket.GetQdisc(a, TcHandle.Root));
        Assert.False(ns.Socket.DeleteQdisc(a, TcHandle.Root));

        Assert.True(ns.Socket.AddQdisc(a, Qdisc.Htb(Htb, TcHandle.Root, defaultClass: 1)));
        Assert.False(ns.Socket.AddQdisc(a, Qdisc.Pfifo(TcHandle.Make(2, 0), TcHandle.Root)));
        var htb = ns.Socket.GetQdisc(a, TcHandle.Root);
        Assert.NotNull(htb);
        Assert.Equal(("htb", Htb, new HtbQdiscOptions(1)), (htb.Kind, htb.Handle, htb.Options));
        Assert.Contains("qdisc htb 1: root", ns.Run("tc", "qdisc", "show", "dev", "nlta"), StringComparison.Ordinal);
        Assert.Contains("default 0x1", ns.Run("tc", "qdisc", "show", "dev", "nlta"), StringComparison.Ordinal);

        ns.Socket.ReplaceQdisc(a, Qdisc.PfifoFast(TcHandle.Make(2, 0), TcHandle.Root));
        Assert.Equal(("pfifo_fast", TcHandle.Make(2, 0)), (ns.Socket.GetQdisc(a, TcHandle.Root)?.Kind, ns.Socket.GetQdisc(a, TcHandle.Root)?.Handle));
        Assert.Contains("qdisc pfifo_fast 2: root", ns.Run("tc", "qdisc", "show", "dev", "nlta"), StringComparison.Ordinal);

        ns.Socket.ReplaceQdisc(a, Qdisc.Pfifo(TcHandle.Make(3, 0), TcHandle.Root, limit: 77));
        Assert.Equal(new FifoQdiscOptions(77), ns.Socket.GetQdisc(a, TcHandle.Root)?.Options);
        Assert.Contains("limit 77p", ns.Run("tc", "qdisc", "show", "dev", "nlta"), StringComparison.Ordinal);
        Assert.Equal(["pfifo"], ns.Socket.GetQdiscs(a.Index).Select(q => q.Kind));
        Assert.True(ns.Socket.DeleteQdisc(a, TcHandle.Root));
        Assert.Null(ns.Socket.GetQdisc(a, TcHandle.Root));
    }

    [RootFact]
    public void HtbClass_RateCeilBurst_RoundTrip_Change_64BitRates_LeafQdisc_Delete()
    {
        var ns = _scratch.NewNamespace();
        var a = VethPairIn(ns);
        Assert.True(ns.Socket.AddQdisc(a, Qdisc.Htb(Htb, TcHandle.Root, 1)));

        var plan = new HtbClass(HtbClass11, Htb, Rate: 2000) { Ceil = 4000, Burst = 1600, CeilBurst = 3200 };
        Assert.True(ns.Socket.AddHtbClass(a, plan));
        Assert.False(ns.Socket.AddHtbClass(a, plan));

        var found = ns.Socket.GetHtbClass(a, HtbClass11);
        Assert.NotNull(found);
        // The kernel reports a class right under the qdisc with parent "root", as tc prints it.
        Assert.Equal((2000UL, 4000UL, 1600U, 3200U, TcHandle.Root), (found.Rate, found.Ceil, found.Burst, found.CeilBurst, found.Parent));
        var shown = ns.Run("tc", "class", "show", "dev", "nlta");
        Assert.Contains("class htb 1:1 root prio 0 rate 16Kbit ceil 32Kbit burst 1600b cburst 3200b", shown, StringComparison.Ordinal);

        // 64-bit rates (Mesos test ScaleEgressWithCPULarge: 5859375000 B/s does not fit tc_ratespec's u32).
        Assert.True(ns.Socket.ChangeHtbClass(a, new HtbClass(HtbClass11, Htb, Rate: 5_859_375_000) { Ceil = 11_250_000_000 }));
        var large = ns.Socket.GetHtbClass(a, HtbClass11);
        Assert.Equal((5_859_375_000UL, 11_250_000_000UL), (large?.Rate, large?.Ceil));
        Assert.Contains("rate 46875Mbit ceil 90Gbit", ns.Run("tc", "class", "show", "dev", "nlta"), StringComparison.Ordinal);

        // A leaf under the class, found by its parent, whatever its kind.
        Assert.True(ns.Socket.AddQdisc(a, Qdisc.Pfifo(TcHandle.Make(10, 0), HtbClass11)));
        Assert.Equal("pfifo", ns.Socket.GetQdisc(a, HtbClass11)?.Kind);
        Assert.Single(ns.Socket.GetHtbClasses(a));

        Assert.False(ns.Socket.ChangeHtbClass(a, new HtbClass(TcHandle.Make(1, 7), Htb, 1000)));
        Assert.True(ns.Socket.DeleteQdisc(a, HtbClass11));
        Assert.True(ns.Socket.DeleteClass(a, HtbClass11));
        Assert.False(ns.Socket.DeleteClass(a, HtbClass11));
        Assert.Null(ns.Socket.GetHtbClass(a, HtbClass11));
    }

    [RootFact]
    public void U32Filter_AddDumpDecodeChangeDelete_MatchesTheOracle()
    {
        var ns = _scratch.NewNamespace();
        var a = VethPairIn(ns);
        var b = ns.Socket.RequireLink("nltb");
        Assert.True(ns.Socket.AddQdisc(a, Qdisc.Ingress()));
        var hostMac = MacAddress.Parse("02:42:ac:11:00:02");
        var plan = new U32Filter(TcHandle.Ingress, 770, ETH_P_IP,
            [U32Match.HeaderLengthIsFive(), .. U32Match.DestinationMac(hostMac), U32Match.Destination(IPAddress.Parse("10.1.2.3")), U32Match.DestinationPorts(31000, 0xfff8)])
        {
            Actions = [MirredAction.Redirect(b.Index)],
        };

        Assert.True(ns.Socket.AddFilter(a, plan, out var handle));
        Assert.NotEqual(0u, U32Handle.HashTableOf(handle));
        Assert.Equal(0x800u, U32Handle.NodeOf(handle));

        var found = Assert.IsType<U32Filter>(Assert.Single(ns.Socket.GetFilters(a, TcHandle.Ingress)));
        Assert.Equal(plan with { Handle = handle, LinkIndex = a.Index }, found);
        var shown = ns.Run("tc", "filter", "show", "dev", "nlta", "ingress");
        Assert.Contains($"protocol ip pref 770 u32 chain 0 fh {U32Handle.Format(handle)} order 2048", shown, StringComparison.Ordinal);
        Assert.Contains("match 05000000/0f000000 at 0", shown, StringComparison.Ordinal);
        Assert.Contains("match 00000242/0000ffff at -16", shown, StringComparison.Ordinal);
        Assert.Contains("match ac110002/ffffffff at -12", shown, StringComparison.Ordinal);
        Assert.Contains("match 0a010203/ffffffff at 16", shown, StringComparison.Ordinal);
        Assert.Contains("match 00007918/0000fff8 at 20", shown, StringComparison.Ordinal);
        Assert.Contains("mirred (Egress Redirect to device nltb) stolen", shown, StringComparison.Ordinal);

        // Same full handle again: EEXIST -> false; same node id alone: the kernel's ENOSPC -> false too.
        Assert.False(ns.Socket.AddFilter(a, plan with { Handle = handle }));
        Assert.False(ns.Socket.AddFilter(a, plan with { Handle = U32Handle.Node(0x800) }));
        // A chosen node id lands in the priority's table.
        Assert.True(ns.Socket.AddFilter(a, plan with { Handle = U32Handle.Node(0x123), Actions = [], Terminal = true }, out var chosen));
        Assert.Equal(U32Handle.Make(U32Handle.HashTableOf(handle), 0, 0x123), chosen);

        // Change replaces the actions (a mirror list here), not the keys.
        Assert.True(ns.Socket.ChangeFilter(a, plan with { Handle = handle, Actions = [MirredAction.Mirror(b.Index), MirredAction.Mirror(a.Index)] }));
        var changed = ns.Socket.GetFilters(a, TcHandle.Ingress).OfType<U32Filter>().Single(f => f.Handle == handle);
        Assert.Equal([MirredAction.Mirror(b.Index), MirredAction.Mirror(a.Index)], changed.Actions);
        Assert.Equal(plan.Keys, changed.Keys);
        Assert.False(ns.Socket.ChangeFilter(a, plan with { Handle = U32Handle.Make(U32Handle.HashTableOf(handle), 0, 0xabc) }));

        Assert.True(ns.Socket.DeleteFilter(a, TcHandle.Ingress, 770, ETH_P_IP, handle));
        Assert.False(ns.Socket.DeleteFilter(a, TcHandle.Ingress, 770, ETH_P_IP, handle));
        Assert.Throws<ArgumentException>(() => ns.Socket.DeleteFilter(a, TcHandle.Ingress, 770, ETH_P_IP, 0));
        Assert.Single(ns.Socket.GetFilters(a, TcHandle.Ingress));
        Assert.True(ns.Socket.DeleteFilterPriority(a, TcHandle.Ingress, 770));
        Assert.False(ns.Socket.DeleteFilterPriority(a, TcHandle.Ingress, 770));
        Assert.Empty(ns.Socket.GetFilters(a, TcHandle.Ingress));
        Assert.Equal("", ns.Run("tc", "filter", "show", "dev", "nlta", "ingress"));
    }

    [RootFact]
    public void U32Filters_ByPriorityAndProtocol_ArpMatchAll_ClassIds_TerminalWithoutAction()
    {
        var ns = _scratch.NewNamespace();
        var a = VethPairIn(ns);
        Assert.True(ns.Socket.AddQdisc(a, Qdisc.Htb(Htb, TcHandle.Root, 1)));
        var arp = new U32Filter(Htb, 258, ETH_P_ARP, [U32Match.Everything()]) { ClassId = TcHandle.Make(1, 2) };
        var icmp = new U32Filter(Htb, 514, ETH_P_IP, [U32Match.Protocol(1)]) { ClassId = TcHandle.Make(1, 2) };
        var all = new U32Filter(Htb, 1026, ETH_P_ALL, [U32Match.Everything()]) { ClassId = TcHandle.Make(1, 1) };
        var local = new U32Filter(Htb, 769, ETH_P_IP, [U32Match.DestinationPorts(5, 0xffff)]);

        foreach (var filter in new TcFilter[] { all, local, icmp, arp })
        {
            Assert.True(ns.Socket.AddFilter(a, filter));
        }

        var dumped = ns.Socket.GetFilters(a, Htb).Cast<U32Filter>().ToList();
        Assert.Equal([258, 514, 769, 1026], dumped.Select(f => (int)f.Priority));
        Assert.Equal([arp, icmp, local, all], dumped.Select(f => f with { Handle = 0, LinkIndex = 0 }));
        Assert.Equal([local with { Handle = dumped[2].Handle, LinkIndex = a.Index }], ns.Socket.GetFilters(a, Htb, priority: 769));
        var shown = ns.Run("tc", "filter", "show", "dev", "nlta");
        Assert.Contains("protocol arp pref 258 u32", shown, StringComparison.Ordinal);
        Assert.Contains("protocol all pref 1026 u32", shown, StringComparison.Ordinal);
        Assert.Contains("flowid 1:2", shown, StringComparison.Ordinal);

        // A priority holds one protocol.
        var mixed = Assert.Throws<NetlinkException>(() => ns.Socket.AddFilter(a, arp with { Priority = 514 }));
        Assert.Equal(Errno.EINVAL, mixed.Errno);
        Assert.Contains("adding u32 filter prio 514 protocol arp on parent 1:0 of link", mixed.Message, StringComparison.Ordinal);
    }

    [RootFact]
    public void Actions_UpTo32PerFilter_AndTheKernelExplainsWhatItRefuses()
    {
        var ns = _scratch.NewNamespace();
        var a = VethPairIn(ns);
        Assert.True(ns.Socket.AddQdisc(a, Qdisc.Ingress()));
        var mirrors = Enumerable.Repeat(MirredAction.Mirror(a.Index), 32).ToList<TcAction>();

        Assert.True(ns.Socket.AddFilter(a, new U32Filter(TcHandle.Ingress, 258, ETH_P_ARP, [U32Match.Everything()]) { Actions = mirrors }));
        Assert.Equal(32, Assert.Single(ns.Socket.GetFilters(a, TcHandle.Ingress)).Actions.Count);
        Assert.Throws<ArgumentException>(() => ns.Socket.AddFilter(a, new U32Filter(TcHandle.Ingress, 259, ETH_P_ARP, []) { Actions = [.. mirrors, GactAction.Pass] }));

        // Extended ack: the kernel's own words reach the exception.
        var unknown = Assert.Throws<NetlinkException>(() => ns.Socket.AddQdisc(a, new Qdisc("nltnosuch", TcHandle.Root, TcHandle.Make(5, 0))));
        Assert.Equal(Errno.ENOENT, unknown.Errno);
        Assert.NotNull(unknown.KernelMessage);
        Assert.Contains("unknown", unknown.KernelMessage, StringComparison.OrdinalIgnoreCase);
        Assert.Contains($"kernel: \"{unknown.KernelMessage}\"", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("adding nltnosuch qdisc 5:0 on link", unknown.Message, StringComparison.Ordinal);
    }

    [RootFact]
    public void FiveHundredU32FiltersWithMirred_OnOneParent_AllThere_DecodedAndDeletable()
    {
        const int Count = 500;
        var ns = _scratch.NewNamespace();
        var a = VethPairIn(ns);
        var b = ns.Socket.RequireLink("nltb");
        Assert.True(ns.Socket.AddQdisc(a, Qdisc.Ingress()));

        var handles = new List<uint>(Count);
        for (var i = 0; i < Count; i++)
        {
            var filter = new U32Filter(TcHandle.Ingress, 770, ETH_P_IP, [U32Match.HeaderLengthIsFive(), U32Match.DestinationPorts((ushort)(10000 + i), 0xffff)])
            {
                Actions = [MirredAction.Redirect(b.Index)],
            };
            Assert.True(ns.Socket.AddFilter(a, filter, out var handle));
            handles.Add(handle);
        }

        var dumped = ns.Socket.GetFilters(a, TcHandle.Ingress).Cast<U32Filter>().ToList();
        Assert.Equal(Count, dumped.Count);
        Assert.Equal(Count, handles.Distinct().Count());
        Assert.Equal(Enumerable.Range(10000, Count).Select(p => (uint)p), dumped.Select(f => f.Keys[1].Value).Order());
        Assert.All(dumped, f => Assert.Equal(MirredAction.Redirect(b.Index), Assert.Single(f.Actions)));
        var oracle = ns.Run("tc", "filter", "show", "dev", "nlta", "ingress");
        Assert.Equal(Count, oracle.Split('\n').Count(line => line.Contains("order ", StringComparison.Ordinal) && line.Contains("key ht", StringComparison.Ordinal)));

        foreach (var handle in handles.Where((_, i) => i % 2 == 0))
        {
            Assert.True(ns.Socket.DeleteFilter(a, TcHandle.Ingress, 770, ETH_P_IP, handle));
        }

        Assert.Equal(Count / 2, ns.Socket.GetFilters(a, TcHandle.Ingress).Count);
    }

    [RootFact]
    public void OneSocket_UsedFromManyThreadsAtOnce_EveryRequestGetsItsOwnAnswer()
    {
        var ns = _scratch.NewNamespace();
        var a = VethPairIn(ns);
        Assert.True(ns.Socket.AddQdisc(a, Qdisc.Ingress()));

        var handles = Enumerable.Range(0, 200).AsParallel().WithDegreeOfParallelism(4).Select(i =>
        {
            var filter = new U32Filter(TcHandle.Ingress, 100, ETH_P_IP, [U32Match.DestinationPorts((ushort)(20000 + i), 0xffff)]) { Handle = U32Handle.Node((uint)(i + 1)) };
            Assert.True(ns.Socket.AddFilter(a, filter, out var handle));
            Assert.Equal((uint)(i + 1), U32Handle.NodeOf(handle));
            Assert.NotNull(ns.Socket.GetQdisc(a, TcHandle.IngressParent));
            return handle;
        }).ToList();

        Assert.Equal(200, handles.Distinct().Count());
        Assert.Equal(200, ns.Socket.GetFilters(a, TcHandle.Ingress).Count);
    }

    [RootFact]
    public void Failures_NameTheObjectTheLinkAndTheParent()
    {
        var ns = _scratch.NewNamespace();
        var a = VethPairIn(ns);

        // No ingress qdisc yet: its parent does not exist.
        var noParent = Assert.Throws<NetlinkException>(() => ns.Socket.AddFilter(a, new U32Filter(TcHandle.Ingress, 770, ETH_P_IP, [U32Match.Everything()])));
        Assert.Contains("adding u32 filter prio 770 protocol ip on parent ffff:0 of link 'nlta' (ifindex", noParent.Message, StringComparison.Ordinal);
        Assert.NotNull(noParent.KernelMessage);

        // A mirred target that does not exist.
        Assert.True(ns.Socket.AddQdisc(a, Qdisc.Ingress()));
        var noTarget = Assert.Throws<NetlinkException>(() => ns.Socket.AddFilter(a, new U32Filter(TcHandle.Ingress, 770, ETH_P_IP, [U32Match.Everything()]) { Actions = [MirredAction.Redirect(4242)] }));
        Assert.Equal(Errno.ENODEV, noTarget.Errno);

        // tc verbs given a bare name look the link up first, and say so when it is missing.
        var noLink = Assert.Throws<NetlinkException>(() => ns.Socket.AddQdisc("nltmissing", Qdisc.Ingress()));
        Assert.Equal(Errno.ENODEV, noLink.Errno);
        Assert.Contains("looking up link 'nltmissing'", noLink.Message, StringComparison.Ordinal);
        Assert.Empty(ns.Socket.GetFilters(a, TcHandle.Ingress));
    }

    [RootFact]
    public void MirredRedirect_ByDestinationPort_SendsMatchingTrafficToTheContainer_TheRestToTheHost()
    {
        var world = new World(_scratch);
        using var atHost = world.Host.Namespace.Run(() => Udp(World.Port));
        using var inContainer = world.Container.Namespace.Run(() => Udp(World.Port));
        using var client = world.Client.Namespace.Run(() => Udp(0));
        Assert.True(world.Host.Socket.AddQdisc(world.HostEth0.Id, Qdisc.Ingress()));
        var redirect = new U32Filter(TcHandle.Ingress, 770, ETH_P_IP,
            [U32Match.HeaderLengthIsFive(), U32Match.Destination(World.HostIp), U32Match.DestinationPorts(World.Port, 0xffff)])
        {
            Actions = [MirredAction.Redirect(world.Veth.Index)],
        };

        // Without the filter the host gets it.
        client.SendTo("one"u8.ToArray(), new IPEndPoint(World.HostIp, World.Port));
        Assert.Equal("one", Receive(atHost));

        Assert.True(world.Host.Socket.AddFilter(world.HostEth0.Id, redirect, out var handle));
        client.SendTo("two"u8.ToArray(), new IPEndPoint(World.HostIp, World.Port));
        Assert.Equal("two", Receive(inContainer));
        Assert.False(atHost.Poll(200_000, SelectMode.SelectRead));
        Assert.Matches(@"mirred \(Egress Redirect to device nltveth\) stolen\s.*\s+Action statistics:\s+Sent \d+ bytes 1 pkt", world.Host.Run("tc", "-s", "filter", "show", "dev", "nlteth0", "ingress").Replace('\n', ' '));

        Assert.True(world.Host.Socket.DeleteFilter(world.HostEth0.Id, TcHandle.Ingress, 770, ETH_P_IP, handle));
        client.SendTo("three"u8.ToArray(), new IPEndPoint(World.HostIp, World.Port));
        Assert.Equal("three", Receive(atHost));
        Assert.False(inContainer.Poll(200_000, SelectMode.SelectRead));
    }

    [RootFact]
    public void MirrorFiltersWithVerdictContinue_Chain_EveryContainerAndTheHostGetACopy()
    {
        // One mirror filter per container (priorities 258, 259): with verdict "continue" classification goes on to
        // the next one, so no filter needs a list that grows with the containers (32 actions at most per filter).
        var world = new World(_scratch);
        var second = _scratch.NewNamespace();
        Assert.True(world.Host.Socket.CreateVeth(new VethPair("nltveth2", "eth0") { PeerNamespace = second.Namespace, PeerMac = world.HostEth0.Mac }));
        World.Configure(second.Socket, "eth0", World.HostIp);
        world.Host.Socket.SetLinkUp("nltveth2");
        var veth2 = world.Host.Socket.RequireLink("nltveth2");
        using var atHost = world.Host.Namespace.Run(() => Udp(World.Port));
        using var first = world.Container.Namespace.Run(() => Udp(World.Port));
        using var other = second.Namespace.Run(() => Udp(World.Port));
        using var client = world.Client.Namespace.Run(() => Udp(0));
        Assert.True(world.Host.Socket.AddQdisc(world.HostEth0.Id, Qdisc.Ingress()));
        ushort priority = 258;
        foreach (var veth in new[] { world.Veth, veth2 })
        {
            Assert.True(world.Host.Socket.AddFilter(world.HostEth0.Id, new U32Filter(TcHandle.Ingress, priority++, ETH_P_IP, [U32Match.Destination(World.HostIp)])
            {
                Actions = [MirredAction.Mirror(veth.Index, TcVerdict.Continue)],
            }));
        }

        client.SendTo("copy"u8.ToArray(), new IPEndPoint(World.HostIp, World.Port));

        Assert.Equal("copy", Receive(first));
        Assert.Equal("copy", Receive(other));
        Assert.Equal("copy", Receive(atHost));
    }

    [RootFact]
    public void Statistics_OfHtbQdiscClassAndLeaf_CountRealTraffic_AsTcDoes()
    {
        const int Datagrams = 20;
        var a = _scratch.NewNamespace();
        var b = _scratch.NewNamespace();
        Assert.True(a.Socket.CreateVeth(new VethPair("nlta", "nltb") { PeerNamespace = b.Namespace }));
        World.Configure(a.Socket, "nlta", IPAddress.Parse("10.88.0.1"));
        World.Configure(b.Socket, "nltb", IPAddress.Parse("10.88.0.2"));
        var link = a.Socket.RequireLink("nlta");
        Assert.True(a.Socket.AddQdisc(link, Qdisc.Htb(Htb, TcHandle.Root, 1)));
        Assert.True(a.Socket.AddHtbClass(link, new HtbClass(HtbClass11, Htb, Rate: 10_000_000)));
        Assert.True(a.Socket.AddQdisc(link, Qdisc.Pfifo(TcHandle.Make(10, 0), HtbClass11)));
        using var receiver = b.Namespace.Run(() => Udp(World.Port));
        using var sender = a.Namespace.Run(() => Udp(0));

        for (var i = 0; i < Datagrams; i++)
        {
            sender.SendTo(new byte[100], new IPEndPoint(IPAddress.Parse("10.88.0.2"), World.Port));
            Assert.Equal(100, receiver.Receive(new byte[200]));
        }

        var root = a.Socket.GetQdisc(link, TcHandle.Root)?.Statistics;
        var leaf = a.Socket.GetQdisc(link, HtbClass11)?.Statistics;
        var htbClass = a.Socket.GetHtbClass(link, HtbClass11)?.Statistics;
        var counters = a.Socket.RequireLink(link).Counters;
        Assert.NotNull(root);
        Assert.NotNull(leaf);
        Assert.NotNull(htbClass);
        Assert.NotNull(counters);
        foreach (var stats in new[] { root, leaf, htbClass })
        {
            Assert.InRange(stats.Packets, (ulong)Datagrams, (ulong)Datagrams + 20);
            Assert.True(stats.Bytes >= Datagrams * 128UL, $"{stats.Bytes} bytes");
            Assert.Equal(0u, stats.Drops);
        }

        Assert.True(counters.Value.TxPackets >= Datagrams);
        // tc, asked afterwards, has seen at least as much (the kernel may send IPv6 neighbour discovery meanwhile).
        var shown = a.Run("tc", "-s", "class", "show", "dev", "nlta");
        var match = System.Text.RegularExpressions.Regex.Match(shown, @"Sent (\d+) bytes (\d+) pkt");
        Assert.True(match.Success, shown);
        Assert.InRange(ulong.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), htbClass.Packets, htbClass.Packets + 20);
    }

    private static Link VethPairIn(Scratch.Space ns)
    {
        Assert.True(ns.Socket.CreateVeth(new VethPair("nlta", "nltb")));
        return ns.Socket.RequireLink("nlta");
    }

    private static Socket Udp(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        socket.Bind(new IPEndPoint(IPAddress.Any, port));
        return socket;
    }

    private static string Receive(Socket socket)
    {
        var buffer = new byte[64];
        var count = socket.Receive(buffer);
        return System.Text.Encoding.ASCII.GetString(buffer, 0, count);
    }

    /// <summary>
    /// The port-mapping topology in miniature: a client namespace wired to a "host" namespace's nlteth0, and a
    /// container namespace whose eth0 has the host's IP and MAC, reached through the host's nltveth.
    /// </summary>
    private sealed class World
    {
        public const ushort Port = 31001;
        public static readonly IPAddress HostIp = IPAddress.Parse("10.77.0.2");
        private static readonly IPAddress ClientIp = IPAddress.Parse("10.77.0.1");

        public World(Scratch scratch)
        {
            Client = scratch.NewNamespace();
            Host = scratch.NewNamespace();
            Container = scratch.NewNamespace();
            Assert.True(Host.Socket.CreateVeth(new VethPair("nlteth0", "nltclient") { PeerNamespace = Client.Namespace }));
            HostEth0 = Host.Socket.RequireLink("nlteth0");
            Assert.True(Host.Socket.CreateVeth(new VethPair("nltveth", "eth0") { PeerNamespace = Container.Namespace, PeerMac = HostEth0.Mac }));
            Configure(Client.Socket, "nltclient", ClientIp);
            Configure(Host.Socket, "nlteth0", HostIp);
            Configure(Container.Socket, "eth0", HostIp);
            Host.Socket.SetLinkUp("nltveth");
            Veth = Host.Socket.RequireLink("nltveth");
        }

        public Scratch.Space Client { get; }

        public Scratch.Space Host { get; }

        public Scratch.Space Container { get; }

        public Link HostEth0 { get; }

        public Link Veth { get; }

        public static void Configure(NetlinkSocket socket, string link, IPAddress address)
        {
            socket.SetLinkUp("lo");
            socket.SetLinkUp(link);
            Assert.True(socket.AddAddress(link, address, 24));
        }
    }
}
