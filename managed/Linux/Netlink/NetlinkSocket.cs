using NetIsolator.Linux.Netlink.Protocol;
using static NetIsolator.Linux.Netlink.Protocol.NetlinkConstants;

namespace NetIsolator.Linux.Netlink;

/// <summary>The netlink protocol a socket speaks (the third argument of socket(AF_NETLINK, ...)).</summary>
public enum NetlinkFamily
{
    /// <summary>NETLINK_ROUTE: links, addresses, routes, qdiscs, classes, filters.</summary>
    Route = 0,

    /// <summary>NETLINK_SOCK_DIAG: inet_diag dumps of the namespace's sockets.</summary>
    SockDiag = 4,
}

/// <summary>Decodes one data message of a reply; null skips it (another kind of object than the one asked for).</summary>
public delegate T? NetlinkPayloadParser<T>(in NlMsgHeader header, ReadOnlySpan<byte> payload) where T : class;

/// <summary>
/// A netlink socket: a handle on one network namespace's links, addresses, routes and traffic control
/// (<see cref="NetlinkFamily.Route"/>), or on its sockets (<see cref="NetlinkFamily.SockDiag"/>).
/// </summary>
/// <remarks>
/// <para>
/// A netlink socket talks to the namespace it was created in for its whole life, whichever thread uses it later.
/// <see cref="OpenIn"/> therefore creates it on a thread inside the namespace (<see cref="NetworkNamespace.Run{T}"/>)
/// and hands it back; every later call runs on the caller's thread without setns (vishvananda's
/// <c>NewHandleAt</c>). Requests on one socket are serialized by a lock; each uses a new sequence number, and answers
/// to an earlier request that was abandoned half-way are skipped.
/// </para>
/// <para>
/// The socket asks for extended acks (NETLINK_EXT_ACK, so errors carry the kernel's explanation, which
/// <see cref="NetlinkException"/> quotes) and capped acks (NETLINK_CAP_ACK: an error echoes only the request's header,
/// not, say, 32 mirred actions). Kernels without them (before 4.12 / 4.3) answer without; nothing depends on them.
/// </para>
/// <para>
/// The verbs live in extension classes by object: <c>Route.LinkOperations</c>, <c>AddressOperations</c>,
/// <c>RouteOperations</c>, <c>Tc.QdiscOperations</c>, <c>ClassOperations</c>, <c>FilterOperations</c>,
/// <c>SockDiag.SocketDiagnostics</c>. They all come down to <see cref="Execute"/>, <see cref="TryExecute"/> and
/// <see cref="Dump{T}"/> here.
/// </para>
/// </remarks>
public sealed class NetlinkSocket : IDisposable
{
    /// <summary>How often a dump interrupted by a concurrent change (NLM_F_DUMP_INTR) is retried.</summary>
    public const int DumpRetries = 5;

    // The kernel caps a dump datagram at 32 KiB (netlink_recvmsg's max_recvmsg_len); twice that leaves room.
    private const int ReceiveBufferSize = 64 * 1024;

    private readonly object _lock = new();
    private readonly SafeFileDescriptorHandle _handle;
    private byte[]? _buffer;
    private uint _sequence;

    private NetlinkSocket(SafeFileDescriptorHandle handle, NetlinkFamily family, string description)
    {
        _handle = handle;
        Family = family;
        Description = description;
        _sequence = (uint)Environment.TickCount;
    }

    /// <summary>Where the socket was opened (the namespace path), for messages.</summary>
    public string Description { get; }

    /// <summary>The protocol it speaks.</summary>
    public NetlinkFamily Family { get; }

    /// <summary>The fd; owned by this object.</summary>
    public SafeFileDescriptorHandle Handle => _handle;

    /// <summary>Opens a socket in the calling thread's network namespace.</summary>
    /// <exception cref="LinuxException">socket or bind failed.</exception>
    public static NetlinkSocket Open(NetlinkFamily family = NetlinkFamily.Route) =>
        Open(family, "the current thread's network namespace");

    /// <summary>Opens a socket inside <paramref name="ns"/>; it can then be used from any thread.</summary>
    /// <exception cref="LinuxException">setns, socket or bind failed.</exception>
    public static NetlinkSocket OpenIn(NetworkNamespace ns, NetlinkFamily family = NetlinkFamily.Route)
    {
        ArgumentNullException.ThrowIfNull(ns);
        return ns.Run(() => Open(family, $"network namespace '{ns.Path}'"));
    }

    private static unsafe NetlinkSocket Open(NetlinkFamily family, string description)
    {
        var protocol = family == NetlinkFamily.SockDiag ? Interop.Libc.NETLINK_SOCK_DIAG : Interop.Libc.NETLINK_ROUTE;
        var fd = Interop.Libc.socket(Interop.Libc.AF_NETLINK, Interop.Libc.SOCK_RAW | Interop.Libc.SOCK_CLOEXEC, protocol);
        var handle = new SafeFileDescriptorHandle(fd);
        if (handle.IsInvalid)
        {
            var errno = Errno.Last;
            handle.Dispose();
            throw new LinuxException(errno, $"socket(AF_NETLINK, {Name(family)}) in", description);
        }

        try
        {
            // Best effort: older kernels answer ENOPROTOOPT and simply send plain acks.
            var on = 1;
            _ = Interop.Libc.setsockopt(handle, Interop.Libc.SOL_NETLINK, Interop.Libc.NETLINK_EXT_ACK, &on, sizeof(int));
            _ = Interop.Libc.setsockopt(handle, Interop.Libc.SOL_NETLINK, Interop.Libc.NETLINK_CAP_ACK, &on, sizeof(int));

            // Port id 0: the kernel assigns a unique one.
            var address = new Interop.Libc.sockaddr_nl { nl_family = Interop.Libc.AF_NETLINK };
            LinuxException.Check(Interop.Libc.bind(handle, &address, (uint)sizeof(Interop.Libc.sockaddr_nl)), "bind netlink socket in", description);
            return new NetlinkSocket(handle, family, description);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// <c>ip -s link show</c>: every link of the namespace with its ifindex, name and 64-bit counters. A dump the
    /// kernel marks interrupted is repeated, up to <see cref="DumpRetries"/> times.
    /// </summary>
    /// <exception cref="LinuxException">A system call failed, the kernel answered with an error, or every attempt was interrupted (EINTR).</exception>
    /// <exception cref="NetlinkFormatException">The kernel's answer could not be parsed.</exception>
    public IReadOnlyList<LinkStatistics> DumpLinks() =>
        Dump(
            LinkDump.Request(),
            "netlink RTM_GETLINK dump",
            static (in NlMsgHeader header, ReadOnlySpan<byte> payload) => header.Type == RTM_NEWLINK ? LinkDump.ParseLink(payload) : null);

    /// <summary>
    /// Sends a request that carries NLM_F_ACK and waits for the kernel's answer. Objects the kernel sends back before
    /// the acknowledgement (the answer to a GET, or the object an NLM_F_ECHO request made) go to
    /// <paramref name="onReply"/>.
    /// </summary>
    /// <param name="step">What is being done, naming the object and link, for the exception's message.</param>
    /// <exception cref="NetlinkException">The kernel refused it.</exception>
    public void Execute(NetlinkMessageBuilder request, string step, NetlinkMessageHandler? onReply = null) =>
        TryExecute(request, step, 0, 0, onReply);

    /// <summary>
    /// <see cref="Execute"/>, except that the errnos <paramref name="tolerated"/> and <paramref name="alsoTolerated"/>
    /// (0 = none) are returned instead of thrown: the idempotent verbs' "already exists" and "not there". Returns 0
    /// on success.
    /// </summary>
    /// <exception cref="NetlinkException">The kernel refused it with another errno.</exception>
    public int TryExecute(NetlinkMessageBuilder request, string step, int tolerated, int alsoTolerated = 0, NetlinkMessageHandler? onReply = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        if ((request.Flags & (NLM_F_REQUEST | NLM_F_ACK)) != (NLM_F_REQUEST | NLM_F_ACK) || (request.Flags & NLM_F_DUMP) == NLM_F_DUMP && IsGet(request.Type))
        {
            throw new ArgumentException($"{step}: a request needs NLM_F_REQUEST|NLM_F_ACK (flags 0x{request.Flags:x}); dumps go through Dump", nameof(request));
        }

        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            var reply = Exchange(request, dump: false, onReply);
            if (reply.Error == 0 || reply.Error == tolerated || reply.Error == alsoTolerated)
            {
                return reply.Error;
            }

            throw new NetlinkException(reply.Error, step, reply.KernelMessage, Description);
        }
    }

    /// <summary>
    /// Sends a dump request (NLM_F_DUMP) and returns what <paramref name="parse"/> makes of every data message, in
    /// dump order. A dump the kernel marks interrupted (NLM_F_DUMP_INTR) is repeated, up to
    /// <see cref="DumpRetries"/> times, and the parsed objects of the interrupted attempt are dropped.
    /// </summary>
    /// <exception cref="NetlinkException">The kernel refused the dump, or every attempt was interrupted (EINTR).</exception>
    /// <exception cref="NetlinkFormatException">The kernel's answer could not be parsed.</exception>
    public List<T> Dump<T>(NetlinkMessageBuilder request, string step, NetlinkPayloadParser<T> parse) where T : class
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(parse);
        if ((request.Flags & (NLM_F_REQUEST | NLM_F_DUMP)) != (NLM_F_REQUEST | NLM_F_DUMP))
        {
            throw new ArgumentException($"{step}: a dump needs NLM_F_REQUEST|NLM_F_DUMP (flags 0x{request.Flags:x})", nameof(request));
        }

        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            for (var attempt = 0; ; attempt++)
            {
                var results = new List<T>();
                var reply = Exchange(request, dump: true, (in NlMsgHeader header, ReadOnlySpan<byte> payload) =>
                {
                    if (parse(header, payload) is { } value)
                    {
                        results.Add(value);
                    }
                });
                if (reply.Error != 0)
                {
                    throw new NetlinkException(reply.Error, step, reply.KernelMessage, Description);
                }

                if (!reply.Interrupted)
                {
                    return results;
                }

                if (attempt == DumpRetries)
                {
                    throw new NetlinkException(Errno.EINTR, $"{step} (interrupted {attempt + 1} times)", null, Description);
                }
            }
        }
    }

    private NetlinkReplyParser Exchange(NetlinkMessageBuilder request, bool dump, NetlinkMessageHandler? onMessage)
    {
        var reply = new NetlinkReplyParser(unchecked(++_sequence), dump);
        Send(request.Finish(reply.Sequence));
        while (!reply.Feed(Receive(), onMessage))
        {
        }

        return reply;
    }

    // RTM_GET* types are 2 mod 4 in rtnetlink's NEW/DEL/GET/SET groups; their NLM_F_DUMP bits mean "dump".
    private static bool IsGet(ushort type) => type >= 16 && (type & 3) == 2;

    private unsafe void Send(ReadOnlySpan<byte> request)
    {
        var kernel = new Interop.Libc.sockaddr_nl { nl_family = Interop.Libc.AF_NETLINK };
        fixed (byte* data = request)
        {
            while (true)
            {
                var sent = Interop.Libc.sendto(_handle, data, (nuint)request.Length, 0, &kernel, (uint)sizeof(Interop.Libc.sockaddr_nl));
                if (sent >= 0)
                {
                    if (sent != request.Length)
                    {
                        throw new IOException($"netlink send in {Description}: sent {sent} of {request.Length} bytes");
                    }
                    return;
                }

                if (Errno.Last is var errno && errno != Errno.EINTR)
                {
                    throw new LinuxException(errno, "netlink send in", Description);
                }
            }
        }
    }

    private unsafe ReadOnlySpan<byte> Receive()
    {
        _buffer ??= new byte[ReceiveBufferSize];
        fixed (byte* data = _buffer)
        {
            while (true)
            {
                var received = Interop.Libc.recv(_handle, data, (nuint)_buffer.Length, Interop.Libc.MSG_TRUNC);
                if (received >= 0)
                {
                    if (received > _buffer.Length)
                    {
                        throw new NetlinkFormatException($"netlink datagram of {received} bytes in {Description} exceeds the {_buffer.Length}-byte buffer");
                    }
                    return _buffer.AsSpan(0, (int)received);
                }

                if (Errno.Last is var errno && errno != Errno.EINTR)
                {
                    throw new LinuxException(errno, "netlink recv in", Description);
                }
            }
        }
    }

    private static string Name(NetlinkFamily family) => family switch
    {
        NetlinkFamily.Route => "NETLINK_ROUTE",
        NetlinkFamily.SockDiag => "NETLINK_SOCK_DIAG",
        _ => $"netlink protocol {(int)family}",
    };

    public void Dispose() => _handle.Dispose();

    public override string ToString() => $"netlink socket {(_handle.IsClosed ? "(closed)" : _handle.FileDescriptor.ToString(System.Globalization.CultureInfo.InvariantCulture))} in {Description}";
}
