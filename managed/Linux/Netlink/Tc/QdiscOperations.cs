using NetIsolator.Linux.Netlink.Protocol;
using NetIsolator.Linux.Netlink.Route;
using static NetIsolator.Linux.Netlink.Protocol.NetlinkConstants;
using static NetIsolator.Linux.Netlink.Protocol.TcConstants;

namespace NetIsolator.Linux.Netlink.Tc;

/// <summary>
/// <c>tc qdisc</c> over a <see cref="NetlinkSocket"/>: add, replace, delete, get by parent, dump.
/// </summary>
/// <remarks>
/// Idempotence as in Mesos: <see cref="AddQdisc"/> sends CREATE|EXCL and returns false on EEXIST, which the kernel
/// answers when the parent already holds a qdisc that is not the default one, whatever its kind (check with
/// <see cref="GetQdisc"/>); <see cref="DeleteQdisc"/> returns false when the parent holds none (ENOENT, also for
/// the default root qdisc, which cannot be deleted). Deleting a classful qdisc takes its classes, their leaves and
/// all their filters with it. Lookups by parent are one RTM_GETQDISC, not a dump of every qdisc.
/// </remarks>
public static class QdiscOperations
{
    /// <summary><c>tc qdisc add dev LINK parent P handle H KIND ...</c>; false if the parent already holds one (EEXIST).</summary>
    public static bool AddQdisc(this NetlinkSocket socket, LinkId link, Qdisc qdisc)
    {
        var index = AddressOperations.ResolveIndex(socket, link);
        return socket.TryExecute(
            Request(RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, index, qdisc),
            $"adding {qdisc.Kind} qdisc {qdisc.Handle} on link {link} parent {qdisc.Parent}",
            Errno.EEXIST) == 0;
    }

    /// <summary><c>tc qdisc replace dev LINK parent P handle H KIND ...</c>: create, or swap what the parent holds.</summary>
    public static void ReplaceQdisc(this NetlinkSocket socket, LinkId link, Qdisc qdisc)
    {
        var index = AddressOperations.ResolveIndex(socket, link);
        socket.Execute(
            Request(RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, index, qdisc),
            $"replacing qdisc on link {link} parent {qdisc.Parent} with {qdisc.Kind} {qdisc.Handle}");
    }

    /// <summary><c>tc qdisc del dev LINK parent P</c>; false if there is none to delete (ENOENT).</summary>
    public static bool DeleteQdisc(this NetlinkSocket socket, LinkId link, TcHandle parent)
    {
        var index = AddressOperations.ResolveIndex(socket, link);
        var request = new NetlinkMessageBuilder(RTM_DELQDISC, NLM_F_REQUEST | NLM_F_ACK);
        new TcMsg(index, 0, parent.Value, 0).Write(request.Reserve(TcMsg.Size));
        return socket.TryExecute(request, $"deleting qdisc on link {link} parent {parent}", Errno.ENOENT, Errno.EINVAL) == 0;
    }

    /// <summary>
    /// The qdisc at <paramref name="parent"/> (<see cref="TcHandle.Root"/>, <see cref="TcHandle.IngressParent"/>, or
    /// a class for its leaf), with its statistics; null if there is none (ENOENT), or only a built-in one (noqueue).
    /// For a NIC's root this may be the kernel's default (<see cref="Qdisc.IsDefault"/>).
    /// </summary>
    public static Qdisc? GetQdisc(this NetlinkSocket socket, LinkId link, TcHandle parent)
    {
        var index = AddressOperations.ResolveIndex(socket, link);
        // NLM_F_ECHO: a tc GET answers through the notification path, which unicasts to the asker only when echo is asked for.
        var request = new NetlinkMessageBuilder(RTM_GETQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_ECHO);
        new TcMsg(index, 0, parent.Value, 0).Write(request.Reserve(TcMsg.Size));
        Qdisc? found = null;
        var error = socket.TryExecute(request, $"getting qdisc of link {link} parent {parent}", Errno.ENOENT, Errno.EINVAL, (in NlMsgHeader header, ReadOnlySpan<byte> payload) =>
        {
            found ??= Qdisc.Parse(header, payload);
        });
        return error == 0 ? found : null;
    }

    /// <summary><c>tc -s qdisc show [dev LINK]</c>: the namespace's qdiscs (the kernel dumps every link's; filtered here).</summary>
    public static IReadOnlyList<Qdisc> GetQdiscs(this NetlinkSocket socket, int? linkIndex = null)
    {
        var request = new NetlinkMessageBuilder(RTM_GETQDISC, NLM_F_REQUEST | NLM_F_DUMP);
        new TcMsg(linkIndex ?? 0, 0, 0, 0).Write(request.Reserve(TcMsg.Size));
        var all = socket.Dump(request, "dumping qdiscs", Qdisc.Parse);
        return linkIndex is { } index ? all.Where(q => q.LinkIndex == index).ToList() : all;
    }

    /// <summary>tcmsg (ifindex, handle, parent) + TCA_KIND + the kind's TCA_OPTIONS.</summary>
    internal static NetlinkMessageBuilder Request(ushort type, ushort flags, int index, Qdisc qdisc)
    {
        ArgumentNullException.ThrowIfNull(qdisc);
        var request = new NetlinkMessageBuilder(type, flags);
        new TcMsg(index, qdisc.Handle.Value, qdisc.Parent.Value, 0).Write(request.Reserve(TcMsg.Size));
        request.AddString(TCA_KIND, qdisc.Kind);
        qdisc.Options?.Encode(request);
        return request;
    }
}

/// <summary><c>tc class</c> (HTB) over a <see cref="NetlinkSocket"/>: add, change, delete, get, dump.</summary>
public static class ClassOperations
{
    /// <summary><c>tc class add dev LINK parent P classid C htb ...</c>; false if the class exists (EEXIST).</summary>
    public static bool AddHtbClass(this NetlinkSocket socket, LinkId link, HtbClass htbClass)
    {
        var index = AddressOperations.ResolveIndex(socket, link);
        return socket.TryExecute(
            Request(RTM_NEWTCLASS, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, index, htbClass),
            $"adding htb class {htbClass.ClassId} on link {link} parent {htbClass.Parent}",
            Errno.EEXIST) == 0;
    }

    /// <summary><c>tc class change dev LINK ... classid C htb ...</c>: new rate, ceil, bursts for an existing class; false if it does not exist (ENOENT).</summary>
    public static bool ChangeHtbClass(this NetlinkSocket socket, LinkId link, HtbClass htbClass)
    {
        var index = AddressOperations.ResolveIndex(socket, link);
        return socket.TryExecute(
            Request(RTM_NEWTCLASS, NLM_F_REQUEST | NLM_F_ACK, index, htbClass),
            $"changing htb class {htbClass.ClassId} on link {link}",
            Errno.ENOENT) == 0;
    }

    /// <summary><c>tc class del dev LINK classid C</c>; false if there is no such class (ENOENT).</summary>
    public static bool DeleteClass(this NetlinkSocket socket, LinkId link, TcHandle classId)
    {
        var index = AddressOperations.ResolveIndex(socket, link);
        var request = new NetlinkMessageBuilder(RTM_DELTCLASS, NLM_F_REQUEST | NLM_F_ACK);
        new TcMsg(index, classId.Value, 0, 0).Write(request.Reserve(TcMsg.Size));
        return socket.TryExecute(request, $"deleting class {classId} on link {link}", Errno.ENOENT) == 0;
    }

    /// <summary>The HTB class <paramref name="classId"/> with its statistics; null if there is no such class (or it is not HTB).</summary>
    public static HtbClass? GetHtbClass(this NetlinkSocket socket, LinkId link, TcHandle classId)
    {
        var index = AddressOperations.ResolveIndex(socket, link);
        // NLM_F_ECHO: see GetQdisc.
        var request = new NetlinkMessageBuilder(RTM_GETTCLASS, NLM_F_REQUEST | NLM_F_ACK | NLM_F_ECHO);
        new TcMsg(index, classId.Value, 0, 0).Write(request.Reserve(TcMsg.Size));
        HtbClass? found = null;
        var error = socket.TryExecute(request, $"getting class {classId} of link {link}", Errno.ENOENT, 0, (in NlMsgHeader header, ReadOnlySpan<byte> payload) =>
        {
            found ??= ParseHtb(header, payload);
        });
        return error == 0 ? found : null;
    }

    /// <summary><c>tc -s class show dev LINK</c>, HTB classes only.</summary>
    public static IReadOnlyList<HtbClass> GetHtbClasses(this NetlinkSocket socket, LinkId link)
    {
        var index = AddressOperations.ResolveIndex(socket, link);
        var request = new NetlinkMessageBuilder(RTM_GETTCLASS, NLM_F_REQUEST | NLM_F_DUMP);
        new TcMsg(index, 0, 0, 0).Write(request.Reserve(TcMsg.Size));
        return socket.Dump(request, $"dumping classes of link {link}", ParseHtb);
    }

    internal static NetlinkMessageBuilder Request(ushort type, ushort flags, int index, HtbClass htbClass)
    {
        ArgumentNullException.ThrowIfNull(htbClass);
        var request = new NetlinkMessageBuilder(type, flags);
        new TcMsg(index, htbClass.ClassId.Value, htbClass.Parent.Value, 0).Write(request.Reserve(TcMsg.Size));
        request.AddString(TCA_KIND, "htb");
        htbClass.EncodeOptions(request);
        return request;
    }

    private static HtbClass? ParseHtb(in NlMsgHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Type != RTM_NEWTCLASS)
        {
            return null;
        }

        var message = TcMessage.Read(payload);
        return message.Kind == "htb"
            ? HtbClass.Parse(message.Header, message.Options, message.Statistics.IsEmpty ? null : TcStatistics.Parse(message.Statistics))
            : null;
    }
}
