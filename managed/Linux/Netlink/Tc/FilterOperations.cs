using NetIsolator.Linux.Netlink.Protocol;
using NetIsolator.Linux.Netlink.Route;
using static NetIsolator.Linux.Netlink.Protocol.NetlinkConstants;
using static NetIsolator.Linux.Netlink.Protocol.TcConstants;

namespace NetIsolator.Linux.Netlink.Tc;

/// <summary><c>tc filter</c> over a <see cref="NetlinkSocket"/>: add, change, delete by handle, dump and decode.</summary>
/// <remarks>
/// <para>
/// "Already exists" is the kernel's answer only for a filter given a handle that is taken: EEXIST for a full handle,
/// ENOSPC for a u32 node id alone (the kernel then fails to reserve the id); both make <see cref="AddFilter(NetlinkSocket, LinkId, TcFilter)"/>
/// return false. A filter added with handle 0 always gets a new handle: whether one with the same keys is there is
/// the caller's question (dump and compare, as Mesos does, or keep handles in the plan).
/// </para>
/// <para>
/// The first filter of a new priority creates that priority (NLM_F_CREATE, sent always); a priority holds one
/// protocol and kind, so adding a filter of another protocol at a used priority fails with EINVAL. When its last
/// filter is deleted the kernel removes the priority, and u32 gives it a new hash table id when it comes back.
/// </para>
/// </remarks>
public static class FilterOperations
{
    /// <summary><c>tc filter add dev LINK parent P protocol X prio N [handle H] KIND ...</c>; false if the handle is taken.</summary>
    public static bool AddFilter(this NetlinkSocket socket, LinkId link, TcFilter filter) => socket.AddFilter(link, filter, out _);

    /// <summary>
    /// <see cref="AddFilter(NetlinkSocket, LinkId, TcFilter)"/>, returning the kernel's full handle of the new
    /// filter (the request asks for it with NLM_F_ECHO), which is what <see cref="DeleteFilter"/> and
    /// <see cref="ChangeFilter"/> need. 0 when it returns false.
    /// </summary>
    public static bool AddFilter(this NetlinkSocket socket, LinkId link, TcFilter filter, out uint handle)
    {
        var index = AddressOperations.ResolveIndex(socket, link);
        uint echoed = 0;
        var tolerated = filter is U32Filter && U32Handle.HashTableOf(filter.Handle) == 0 && filter.Handle != 0 ? Errno.ENOSPC : 0;
        var error = socket.TryExecute(
            Request(RTM_NEWTFILTER, NLM_F_REQUEST | NLM_F_ACK | NLM_F_ECHO | NLM_F_CREATE | NLM_F_EXCL, index, filter),
            $"adding {filter.Describe()} of link {link}",
            Errno.EEXIST,
            tolerated,
            (in NlMsgHeader header, ReadOnlySpan<byte> payload) =>
            {
                if (header.Type == RTM_NEWTFILTER)
                {
                    echoed = TcMsg.Read(payload).Handle;
                }
            });
        handle = error == 0 ? echoed : 0;
        return error == 0;
    }

    /// <summary>
    /// <c>tc filter change ... handle H ...</c>: replaces the actions and classid of the filter with the given full
    /// handle (u32 keeps its keys: delete and add to change those); false if there is no such filter (ENOENT).
    /// </summary>
    public static bool ChangeFilter(this NetlinkSocket socket, LinkId link, TcFilter filter)
    {
        if (filter.Handle == 0)
        {
            throw new ArgumentException($"changing {filter.Describe()}: the filter's handle is needed", nameof(filter));
        }

        var index = AddressOperations.ResolveIndex(socket, link);
        return socket.TryExecute(Request(RTM_NEWTFILTER, NLM_F_REQUEST | NLM_F_ACK, index, filter), $"changing {filter.Describe()} of link {link}", Errno.ENOENT) == 0;
    }

    /// <summary>
    /// <c>tc filter del dev LINK parent P protocol X prio N handle H KIND</c>: one filter, by its full handle; false if
    /// there is no such filter or priority (ENOENT). <paramref name="protocol"/> 0 matches any.
    /// </summary>
    /// <exception cref="ArgumentException">Handle 0: to the kernel that means the whole priority; use <see cref="DeleteFilterPriority"/>.</exception>
    public static bool DeleteFilter(this NetlinkSocket socket, LinkId link, TcHandle parent, ushort priority, ushort protocol, uint handle, string kind = "u32")
    {
        if (handle == 0)
        {
            throw new ArgumentException($"deleting a {kind} filter prio {priority} on link {link} parent {parent}: handle 0 would delete the whole priority", nameof(handle));
        }

        var index = AddressOperations.ResolveIndex(socket, link);
        var request = new NetlinkMessageBuilder(RTM_DELTFILTER, NLM_F_REQUEST | NLM_F_ACK);
        new TcMsg(index, handle, parent.Value, TcMsg.FilterInfo(priority, protocol)).Write(request.Reserve(TcMsg.Size));
        request.AddString(TCA_KIND, kind);
        var name = kind == "u32" ? U32Handle.Format(handle) : handle.ToString("x", System.Globalization.CultureInfo.InvariantCulture);
        return socket.TryExecute(request, $"deleting {kind} filter prio {priority} handle {name} of link {link} parent {parent}", Errno.ENOENT) == 0;
    }

    /// <summary><c>tc filter del dev LINK parent P prio N</c>: every filter of one priority; false if there is none (ENOENT).</summary>
    public static bool DeleteFilterPriority(this NetlinkSocket socket, LinkId link, TcHandle parent, ushort priority)
    {
        var index = AddressOperations.ResolveIndex(socket, link);
        var request = new NetlinkMessageBuilder(RTM_DELTFILTER, NLM_F_REQUEST | NLM_F_ACK);
        new TcMsg(index, 0, parent.Value, TcMsg.FilterInfo(priority, 0)).Write(request.Reserve(TcMsg.Size));
        return socket.TryExecute(request, $"deleting filter prio {priority} of link {link} parent {parent}", Errno.ENOENT) == 0;
    }

    /// <summary>
    /// <c>tc filter show dev LINK parent P [prio N]</c>: the filters on the parent, in evaluation order, decoded:
    /// <see cref="U32Filter"/> entries (not the hash tables that hold them), <see cref="BasicFilter"/>s, and
    /// <see cref="OtherFilter"/> for other kinds. <paramref name="priority"/> 0 = all priorities (the kernel filters).
    /// </summary>
    public static IReadOnlyList<TcFilter> GetFilters(this NetlinkSocket socket, LinkId link, TcHandle parent, ushort priority = 0)
    {
        var index = AddressOperations.ResolveIndex(socket, link);
        var request = new NetlinkMessageBuilder(RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_DUMP);
        new TcMsg(index, 0, parent.Value, TcMsg.FilterInfo(priority, 0)).Write(request.Reserve(TcMsg.Size));
        return socket.Dump(request, $"dumping filters of link {link} parent {parent}", Parse);
    }

    internal static NetlinkMessageBuilder Request(ushort type, ushort flags, int index, TcFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if (filter.Priority == 0)
        {
            throw new ArgumentException($"{filter.Describe()}: give an explicit priority (0 lets the kernel pick one, which a plan cannot name)", nameof(filter));
        }

        var request = new NetlinkMessageBuilder(type, flags, 128 + (filter.Actions.Count * 64));
        new TcMsg(index, filter.Handle, filter.Parent.Value, TcMsg.FilterInfo(filter.Priority, filter.Protocol)).Write(request.Reserve(TcMsg.Size));
        request.AddString(TCA_KIND, filter.Kind);
        var options = request.BeginNested(TCA_OPTIONS);
        filter.EncodeOptions(request);
        request.EndNested(options);
        return request;
    }

    internal static TcFilter? Parse(in NlMsgHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Type != RTM_NEWTFILTER)
        {
            return null;
        }

        var message = TcMessage.Read(payload);
        var tc = message.Header;

        // The first message of each priority describes the priority itself: handle 0, no options.
        if (message.Kind is not { } kind || !message.HasOptions || tc.Handle == 0)
        {
            return null;
        }

        return kind switch
        {
            "u32" => U32Filter.Parse(tc, message.Options),
            "basic" => BasicFilter.Parse(tc, message.Options),
            _ => new OtherFilter(kind, new TcHandle(tc.Parent), TcMsg.FilterPriority(tc.Info), TcMsg.FilterProtocol(tc.Info))
            {
                Handle = tc.Handle,
                LinkIndex = tc.Index,
            },
        };
    }
}
