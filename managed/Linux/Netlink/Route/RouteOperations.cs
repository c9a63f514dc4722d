using System.Net;
using System.Net.Sockets;
using NetIsolator.Linux.Netlink.Protocol;
using static NetIsolator.Linux.Netlink.Protocol.NetlinkConstants;

namespace NetIsolator.Linux.Netlink.Route;

/// <summary>
/// A route (<c>ip route show table all</c>). <see cref="Destination"/> null with prefix 0 is the default route.
/// </summary>
/// <param name="Table">Routing table: 254 = main, 255 = local.</param>
/// <param name="Scope">RT_SCOPE_*: 0 universe (via a gateway), 253 link (directly reachable), 254 host.</param>
/// <param name="Protocol">RTPROT_*: who made it (2 kernel, 3 boot = <c>ip route add</c>'s default, 4 static).</param>
/// <param name="Type">RTN_*: 1 unicast, 2 local, 3 broadcast, ...</param>
public sealed record RouteEntry(
    IPAddress? Destination,
    int PrefixLength,
    IPAddress? Gateway,
    int? OutputIndex,
    byte Table = RT_TABLE_MAIN,
    byte Scope = RT_SCOPE_UNIVERSE,
    byte Protocol = RTPROT_BOOT,
    byte Type = RTN_UNICAST,
    uint? Metric = null,
    IPAddress? PreferredSource = null)
{
    public bool IsDefault => PrefixLength == 0;

    /// <summary><c>ip route add default via GATEWAY [dev LINK]</c>.</summary>
    public static RouteEntry Default(IPAddress gateway, int? outputIndex = null) => new(null, 0, gateway, outputIndex);

    public override string ToString() =>
        $"{(IsDefault ? "default" : $"{Destination}/{PrefixLength}")}{(Gateway is null ? "" : $" via {Gateway}")}{(OutputIndex is null ? "" : $" dev ifindex {OutputIndex}")} table {Table}";
}

/// <summary><c>ip route</c> over a <see cref="NetlinkSocket"/>: add, delete, dump, default gateway, in the socket's namespace.</summary>
public static class RouteOperations
{
    /// <summary><c>ip route add ...</c>; false if the same route exists (EEXIST).</summary>
    public static bool AddRoute(this NetlinkSocket socket, RouteEntry route) =>
        socket.TryExecute(RouteRequest(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, route), $"adding route {route}", Errno.EEXIST) == 0;

    /// <summary><c>ip route del ...</c>; false if there is no such route (ESRCH).</summary>
    public static bool DeleteRoute(this NetlinkSocket socket, RouteEntry route) =>
        socket.TryExecute(RouteRequest(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, route), $"deleting route {route}", Errno.ESRCH) == 0;

    /// <summary><c>ip -4 route show table all</c> (then filtered to <paramref name="table"/> unless null), in kernel order.</summary>
    public static IReadOnlyList<RouteEntry> GetRoutes(this NetlinkSocket socket, AddressFamily family = AddressFamily.InterNetwork, byte? table = RT_TABLE_MAIN)
    {
        var request = new NetlinkMessageBuilder(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP);
        new RtMsg(AddressOperations.ToNetlink(family), 0, 0, 0, 0, 0, 0, 0, 0).Write(request.Reserve(RtMsg.Size));
        var all = socket.Dump(request, "dumping routes", static (in NlMsgHeader header, ReadOnlySpan<byte> payload) =>
            header.Type == RTM_NEWROUTE ? Parse(payload) : null);
        return table is { } only ? all.Where(r => r.Table == only).ToList() : all;
    }

    /// <summary>The first IPv4 main-table route without destination (Mesos's <c>eth0</c> discovery: its output link), or null.</summary>
    public static RouteEntry? GetDefaultRoute(this NetlinkSocket socket) =>
        socket.GetRoutes().FirstOrDefault(r => r.IsDefault);

    /// <summary>The first IPv4 main-table route without destination that has a gateway (Mesos's default gateway), or null.</summary>
    public static RouteEntry? GetDefaultGateway(this NetlinkSocket socket) =>
        socket.GetRoutes().FirstOrDefault(r => r.IsDefault && r.Gateway is not null);

    /// <summary>rtmsg + RTA_DST (unless default) + RTA_GATEWAY + RTA_OIF + RTA_PRIORITY + RTA_PREFSRC; the table in rtm_table (below 256).</summary>
    internal static NetlinkMessageBuilder RouteRequest(ushort type, ushort flags, RouteEntry route)
    {
        ArgumentNullException.ThrowIfNull(route);
        var family = route.Destination?.AddressFamily ?? route.Gateway?.AddressFamily ?? AddressFamily.InterNetwork;
        var request = new NetlinkMessageBuilder(type, flags);
        new RtMsg(AddressOperations.ToNetlink(family), (byte)route.PrefixLength, 0, 0, route.Table, route.Protocol, route.Scope, route.Type, 0)
            .Write(request.Reserve(RtMsg.Size));
        if (route.Destination is { } destination && route.PrefixLength > 0)
        {
            request.Add(RTA_DST, destination.GetAddressBytes());
        }

        if (route.Gateway is { } gateway)
        {
            request.Add(RTA_GATEWAY, gateway.GetAddressBytes());
        }

        if (route.OutputIndex is { } index)
        {
            request.AddU32(RTA_OIF, (uint)index);
        }

        if (route.Metric is { } metric)
        {
            request.AddU32(RTA_PRIORITY, metric);
        }

        if (route.PreferredSource is { } source)
        {
            request.Add(RTA_PREFSRC, source.GetAddressBytes());
        }

        return request;
    }

    internal static RouteEntry Parse(ReadOnlySpan<byte> payload)
    {
        var message = RtMsg.Read(payload);
        IPAddress? destination = null;
        IPAddress? gateway = null;
        IPAddress? source = null;
        int? output = null;
        uint? metric = null;
        uint table = message.Table;
        var attributes = new RtAttrReader(payload[RtMsg.Size..]);
        while (attributes.TryRead(out var attribute))
        {
            switch (attribute.Type)
            {
                case RTA_DST:
                    destination = new IPAddress(attribute.Payload);
                    break;
                case RTA_GATEWAY:
                    gateway = new IPAddress(attribute.Payload);
                    break;
                case RTA_PREFSRC:
                    source = new IPAddress(attribute.Payload);
                    break;
                case RTA_OIF:
                    output = attribute.AsInt32();
                    break;
                case RTA_PRIORITY:
                    metric = attribute.AsUInt32();
                    break;
                case RTA_TABLE:
                    table = attribute.AsUInt32();
                    break;
            }
        }

        // Tables above 255 exist only in RTA_TABLE (rtm_table then says RT_TABLE_COMPAT); this type keeps a byte.
        return new RouteEntry(destination, message.DestinationLength, gateway, output, (byte)Math.Min(table, 255u), message.Scope, message.Protocol, message.Type, metric, source);
    }
}
