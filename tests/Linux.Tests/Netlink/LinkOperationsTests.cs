using System.Net;
using NetIsolator.Linux.Netlink;
using NetIsolator.Linux.Netlink.Route;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Linux.Tests.Netlink;

/// <summary>Links, addresses and routes against the kernel, in namespaces of each test's own; <c>ip</c> is the oracle.</summary>
public sealed class LinkOperationsTests : IDisposable
{
    private static readonly MacAddress HostMac = MacAddress.Parse("02:42:ac:11:00:02");
    private static readonly MacAddress PeerMac = MacAddress.Parse("02:42:ac:11:00:03");

    private readonly Scratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [RootFact]
    public void CreateVeth_WithPeerInAnotherNamespace_MacsAndMtuSetAtCreation_PeerNeverInTheFirst()
    {
        var host = _scratch.NewNamespace();
        var container = _scratch.NewNamespace();

        Assert.True(host.Socket.CreateVeth(new VethPair("nltveth0", "eth0") { Mac = HostMac, PeerMac = PeerMac, Mtu = 1400, PeerNamespace = container.Namespace }));

        var veth = host.Socket.GetLink("nltveth0");
        Assert.NotNull(veth);
        Assert.Equal((HostMac, 1400, "veth", false), (veth.Mac, veth.Mtu, veth.Kind, veth.IsUp));
        Assert.Null(host.Socket.GetLink("eth0"));
        var peer = container.Socket.GetLink("eth0");
        Assert.NotNull(peer);
        Assert.Equal((PeerMac, 1400, "veth"), (peer.Mac, peer.Mtu, peer.Kind));
        Assert.Equal(peer.Index, veth.PeerIndex ?? veth.Index); // left out by the kernel when the numbers are equal
        Assert.NotNull(veth.PeerNamespaceId);
        // The oracle agrees.
        Assert.Contains("link/ether 02:42:ac:11:00:03", container.Run("ip", "-d", "link", "show", "eth0"), StringComparison.Ordinal);
        Assert.Contains("mtu 1400", host.Run("ip", "link", "show", "nltveth0"), StringComparison.Ordinal);
    }

    [RootFact]
    public void CreateVeth_Twice_ReturnsFalse_AndDelete_ReturnsFalseWhenGone()
    {
        var ns = _scratch.NewNamespace();
        var pair = new VethPair("nlta", "nltb");

        Assert.True(ns.Socket.CreateVeth(pair));
        Assert.False(ns.Socket.CreateVeth(pair));
        Assert.False(ns.Socket.CreateVeth(pair with { Name = "nltc" })); // the peer's name is taken

        Assert.True(ns.Socket.DeleteLink("nltb"));
        Assert.Null(ns.Socket.GetLink("nlta")); // deleting one end deletes both
        Assert.False(ns.Socket.DeleteLink("nlta"));
        Assert.Equal(["lo"], ns.Socket.GetLinks().Select(l => l.Name));
    }

    [RootFact]
    public void SetUpDown_Mtu_Mac_ByNameAndByIndex()
    {
        var ns = _scratch.NewNamespace();
        Assert.True(ns.Socket.CreateVeth(new VethPair("nlta", "nltb")));
        var a = ns.Socket.RequireLink("nlta");

        ns.Socket.SetLinkUp("nlta");
        ns.Socket.SetMtu(a.Index, 9000);
        ns.Socket.SetMacAddress(a.Id, HostMac);

        var after = ns.Socket.RequireLink(a.Index);
        Assert.True(after.IsUp);
        Assert.Equal((9000, HostMac), (after.Mtu, after.Mac));
        Assert.Contains("state", ns.Run("ip", "link", "show", "nlta"), StringComparison.Ordinal);
        Assert.Contains(",UP", ns.Run("ip", "link", "show", "nlta"), StringComparison.Ordinal);

        ns.Socket.SetLinkDown(a.Id);
        Assert.False(ns.Socket.RequireLink("nlta").IsUp);
        Assert.DoesNotContain(",UP", ns.Run("ip", "link", "show", "nlta"), StringComparison.Ordinal);
    }

    [RootFact]
    public void SetMac_Multicast_IsRefusedBeforeSending_AndAMissingLinkNamesItself()
    {
        var ns = _scratch.NewNamespace();
        Assert.True(ns.Socket.CreateVeth(new VethPair("nlta", "nltb")));

        Assert.Throws<ArgumentException>(() => ns.Socket.CreateVeth(new VethPair("nltc", "nltd") { Mac = MacAddress.Parse("01:00:5e:00:00:01") }));
        // The kernel too refuses a group address as an interface's own.
        var refused = Assert.Throws<NetlinkException>(() => ns.Socket.SetMacAddress("nlta", MacAddress.Parse("01:00:5e:00:00:01")));
        Assert.Equal(Errno.EADDRNOTAVAIL, refused.Errno);

        var missing = Assert.Throws<NetlinkException>(() => ns.Socket.SetLinkUp("nltnothere"));
        Assert.Equal(Errno.ENODEV, missing.Errno);
        Assert.Contains("setting link 'nltnothere' up", missing.Message, StringComparison.Ordinal);
        Assert.Contains("ENODEV", missing.Message, StringComparison.Ordinal);
        Assert.Null(ns.Socket.GetLink("nltnothere"));
        Assert.Null(ns.Socket.GetLink(4242));
    }

    [RootFact]
    public void MoveToNamespace_WithRename_LinkLeavesAndArrives()
    {
        var a = _scratch.NewNamespace();
        var b = _scratch.NewNamespace();
        Assert.True(a.Socket.CreateVeth(new VethPair("nlta", "nltb")));

        a.Socket.MoveToNamespace(a.Socket.RequireLink("nltb").Id, b.Namespace, "nltmoved");

        Assert.Null(a.Socket.GetLink("nltb"));
        Assert.NotNull(b.Socket.GetLink("nltmoved"));
        Assert.Contains("nltmoved", b.Run("ip", "-o", "link"), StringComparison.Ordinal);
    }

    [RootFact]
    public void Addresses_AddDumpDelete_AndRoutes_DefaultGatewayDiscovery()
    {
        var ns = _scratch.NewNamespace();
        Assert.True(ns.Socket.CreateVeth(new VethPair("nlta", "nltb")));
        var a = ns.Socket.RequireLink("nlta");
        ns.Socket.SetLinkUp(a.Id);
        ns.Socket.SetLinkUp("nltb");
        Assert.Null(ns.Socket.GetDefaultGateway());

        Assert.True(ns.Socket.AddAddress(a.Id, IPAddress.Parse("10.20.30.2"), 24));
        Assert.False(ns.Socket.AddAddress("nlta", IPAddress.Parse("10.20.30.2"), 24));
        Assert.True(ns.Socket.AddRoute(RouteEntry.Default(IPAddress.Parse("10.20.30.1"))));
        Assert.False(ns.Socket.AddRoute(RouteEntry.Default(IPAddress.Parse("10.20.30.1"))));

        var address = Assert.Single(ns.Socket.GetAddresses(linkIndex: a.Index));
        Assert.Equal((IPAddress.Parse("10.20.30.2"), 24, "nlta"), (address.Address, address.PrefixLength, address.Label));
        Assert.Contains("inet 10.20.30.2/24", ns.Run("ip", "addr", "show", "nlta"), StringComparison.Ordinal);
        var gateway = ns.Socket.GetDefaultGateway();
        Assert.NotNull(gateway);
        Assert.Equal((IPAddress.Parse("10.20.30.1"), a.Index), (gateway.Gateway, gateway.OutputIndex));
        Assert.Contains("default via 10.20.30.1 dev nlta", ns.Run("ip", "route"), StringComparison.Ordinal);
        // The kernel's own prefix route is in the dump too.
        Assert.Contains(ns.Socket.GetRoutes(), r => r.Destination?.Equals(IPAddress.Parse("10.20.30.0")) == true && r.PrefixLength == 24);

        Assert.True(ns.Socket.DeleteRoute(RouteEntry.Default(IPAddress.Parse("10.20.30.1"))));
        Assert.False(ns.Socket.DeleteRoute(RouteEntry.Default(IPAddress.Parse("10.20.30.1"))));
        Assert.True(ns.Socket.DeleteAddress(a.Id, IPAddress.Parse("10.20.30.2"), 24));
        Assert.False(ns.Socket.DeleteAddress(a.Id, IPAddress.Parse("10.20.30.2"), 24));
        Assert.Empty(ns.Socket.GetAddresses(linkIndex: a.Index));
    }
}
