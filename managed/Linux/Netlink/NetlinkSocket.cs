using NetIsolator.Linux.Netlink.Protocol;

namespace NetIsolator.Linux.Netlink;

/// <summary>
/// A NETLINK_ROUTE socket: a handle on one network namespace's links, addresses and routes.
/// </summary>
/// <remarks>
/// A netlink socket talks to the namespace it was created in for its whole life, whichever thread uses it later.
/// <see cref="OpenIn"/> therefore creates it on a thread inside the namespace (<see cref="NetworkNamespace.Run{T}"/>)
/// and hands it back; every later call runs on the caller's thread without setns (vishvananda's
/// <c>NewHandleAt</c>). Requests on one socket are serialized by a lock; each uses a new sequence number, and answers
/// to an earlier request that was abandoned half-way are skipped.
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

    private NetlinkSocket(SafeFileDescriptorHandle handle, string description)
    {
        _handle = handle;
        Description = description;
        _sequence = (uint)Environment.TickCount;
    }

    /// <summary>Where the socket was opened (the namespace path), for messages.</summary>
    public string Description { get; }

    /// <summary>The fd; owned by this object.</summary>
    public SafeFileDescriptorHandle Handle => _handle;

    /// <summary>Opens a socket in the calling thread's network namespace.</summary>
    /// <exception cref="LinuxException">socket or bind failed.</exception>
    public static NetlinkSocket Open() => Open("the current thread's network namespace");

    /// <summary>Opens a socket inside <paramref name="ns"/>; it can then be used from any thread.</summary>
    /// <exception cref="LinuxException">setns, socket or bind failed.</exception>
    public static NetlinkSocket OpenIn(NetworkNamespace ns)
    {
        ArgumentNullException.ThrowIfNull(ns);
        return ns.Run(() => Open($"network namespace '{ns.Path}'"));
    }

    private static unsafe NetlinkSocket Open(string description)
    {
        var fd = Interop.Libc.socket(Interop.Libc.AF_NETLINK, Interop.Libc.SOCK_RAW | Interop.Libc.SOCK_CLOEXEC, Interop.Libc.NETLINK_ROUTE);
        var handle = new SafeFileDescriptorHandle(fd);
        if (handle.IsInvalid)
        {
            var errno = Errno.Last;
            handle.Dispose();
            throw new LinuxException(errno, "socket(AF_NETLINK, NETLINK_ROUTE) in", description);
        }

        try
        {
            // Port id 0: the kernel assigns a unique one.
            var address = new Interop.Libc.sockaddr_nl { nl_family = Interop.Libc.AF_NETLINK };
            LinuxException.Check(Interop.Libc.bind(handle, &address, (uint)sizeof(Interop.Libc.sockaddr_nl)), "bind netlink socket in", description);
            return new NetlinkSocket(handle, description);
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
    public IReadOnlyList<LinkStatistics> DumpLinks()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            for (var attempt = 0; ; attempt++)
            {
                var parser = new LinkDumpParser(unchecked(++_sequence));
                Send(LinkDump.BuildRequest(parser.Sequence));
                while (!parser.Feed(Receive()))
                {
                }

                if (!parser.Interrupted)
                {
                    return parser.Links;
                }

                if (attempt == DumpRetries)
                {
                    throw new LinuxException(Errno.EINTR, $"netlink RTM_GETLINK dump (interrupted {attempt + 1} times) in", Description);
                }
            }
        }
    }

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

    public void Dispose() => _handle.Dispose();

    public override string ToString() => $"netlink socket {(_handle.IsClosed ? "(closed)" : _handle.FileDescriptor.ToString(System.Globalization.CultureInfo.InvariantCulture))} in {Description}";
}
