using System.Text;

namespace NetIsolator.Linux;

/// <summary>
/// Joins namespaces with the calling thread, for single-purpose helper processes only.
/// </summary>
/// <remarks>
/// setns(2) moves the calling thread alone for network and UTS namespaces; a long-lived process must use
/// <see cref="NetworkNamespace.Run{T}(Func{T})"/>, whose dedicated thread leaves the namespace afterwards. A helper that runs a few steps on its
/// main thread and exits may join in place: nothing else runs on that thread. Mount namespaces are joined through
/// <see cref="MountNamespace"/>, which first gives its thread a filesystem context of its own.
/// </remarks>
public static class ThreadNamespaces
{
    /// <summary>The UTS namespace, for <see cref="SetHostname"/>.</summary>
    public const int Uts = Interop.Libc.CLONE_NEWUTS;

    /// <summary>The network namespace.</summary>
    public const int Network = Interop.Libc.CLONE_NEWNET;

    /// <summary>Joins the <paramref name="type"/> namespace of process <paramref name="pid"/> with the calling thread.</summary>
    public static void JoinOnCurrentThread(int pid, int type)
    {
        var path = $"/proc/{pid}/ns/{(type == Uts ? "uts" : type == Network ? "net" : throw new ArgumentOutOfRangeException(nameof(type)))}";
        using var handle = FileDescriptors.OpenNamespaceFile(path);
        LinuxException.Check(Interop.Libc.setns(handle, type), "setns into", path);
    }

    /// <summary>Sets the host name of the calling thread's UTS namespace.</summary>
    public static unsafe void SetHostname(string hostname)
    {
        var bytes = Encoding.UTF8.GetBytes(hostname);
        fixed (byte* name = bytes)
        {
            LinuxException.Check(Interop.Libc.sethostname(name, (nuint)bytes.Length), $"sethostname('{hostname}')");
        }
    }

    /// <summary>
    /// Sets IFF_UP on the loopback interface of the calling thread's network namespace, through the SIOCGIFFLAGS /
    /// SIOCSIFFLAGS ioctls on a datagram socket (a socket belongs to the namespace of the thread that creates it).
    /// A new namespace starts with <c>lo</c> down, and then even 127.0.0.1 is unreachable.
    /// </summary>
    public static unsafe void BringLoopbackUp()
    {
        const int AF_INET = 2, SOCK_DGRAM = 2;
        const nuint SIOCGIFFLAGS = 0x8913, SIOCSIFFLAGS = 0x8914;
        const short IFF_UP = 0x1;
        var fd = Interop.Libc.socket(AF_INET, SOCK_DGRAM | Interop.Libc.SOCK_CLOEXEC, 0);
        LinuxException.Check(fd, "socket(AF_INET) for the loopback ioctls");
        using var socket = new SafeFileDescriptorHandle(fd);
        // struct ifreq: a 16-byte interface name, then a union whose first member here is short ifr_flags.
        var request = stackalloc byte[40];
        new Span<byte>(request, 40).Clear();
        "lo"u8.CopyTo(new Span<byte>(request, 16));
        LinuxException.Check(Interop.Libc.ioctl(socket, SIOCGIFFLAGS, request), "SIOCGIFFLAGS", "lo");
        *(short*)(request + 16) |= IFF_UP;
        LinuxException.Check(Interop.Libc.ioctl(socket, SIOCSIFFLAGS, request), "SIOCSIFFLAGS (up)", "lo");
    }
}
