namespace NetIsolator.Linux;

/// <summary>
/// The two ethtool operations the port-mapping isolator needs, through the SIOCETHTOOL ioctl on a socket of the
/// calling thread's network namespace (what <c>ethtool</c> does, without the process or the binary): turning receive
/// checksum offload off, and reading a link's speed.
/// </summary>
/// <remarks>
/// SIOCETHTOOL takes a <c>struct ifreq</c> (16-byte interface name, then <c>ifr_data</c>, a pointer) whose data
/// points at a command structure starting with its <c>u32 cmd</c>. The legacy commands used here are kept by the
/// kernel as wrappers over its feature and link-settings calls, so they work on every kernel this project runs on.
/// </remarks>
public static class EthTool
{
    private const int AF_INET = 2;
    private const int SOCK_DGRAM = 2;
    private const nuint SIOCETHTOOL = 0x8946;

    // <linux/ethtool.h>
    private const uint ETHTOOL_GSET = 0x00000001;
    private const uint ETHTOOL_GRXCSUM = 0x00000014;
    private const uint ETHTOOL_SRXCSUM = 0x00000015;

    /// <summary>sizeof(struct ethtool_cmd).</summary>
    private const int EthtoolCmdSize = 44;

    /// <summary>
    /// <c>ethtool -K <paramref name="device"/> rx on|off</c>. With it off the stack verifies receive checksums
    /// itself: a veth marks every packet it delivers as already verified (CHECKSUM_UNNECESSARY), so a packet
    /// corrupted before it reached the host would otherwise reach the container's sockets.
    /// </summary>
    /// <exception cref="LinuxException">The socket or the ioctl failed (ENODEV: no such link; EOPNOTSUPP: the driver cannot).</exception>
    public static unsafe void SetReceiveChecksumming(string device, bool enabled)
    {
        // struct ethtool_value { u32 cmd; u32 data; }
        var value = stackalloc uint[2];
        value[0] = ETHTOOL_SRXCSUM;
        value[1] = enabled ? 1u : 0u;
        Request(device, value, $"ETHTOOL_SRXCSUM ({(enabled ? "rx on" : "rx off")}) on");
    }

    /// <summary>Whether receive checksum offload is on (<c>ethtool -k</c>'s rx-checksumming).</summary>
    /// <exception cref="LinuxException">The socket or the ioctl failed.</exception>
    public static unsafe bool GetReceiveChecksumming(string device)
    {
        var value = stackalloc uint[2];
        value[0] = ETHTOOL_GRXCSUM;
        value[1] = 0;
        Request(device, value, "ETHTOOL_GRXCSUM on");
        return value[1] != 0;
    }

    /// <summary>
    /// The link's speed in Mbit/s (ETHTOOL_GSET), or null when the driver does not know it (SPEED_UNKNOWN, 0, or
    /// EOPNOTSUPP). A veth reports 10000.
    /// </summary>
    /// <exception cref="LinuxException">The socket or the ioctl failed for another reason (ENODEV: no such link).</exception>
    public static unsafe uint? GetSpeed(string device)
    {
        var command = stackalloc byte[EthtoolCmdSize];
        new Span<byte>(command, EthtoolCmdSize).Clear();
        *(uint*)command = ETHTOOL_GSET;
        try
        {
            Request(device, command, "ETHTOOL_GSET on");
        }
        catch (LinuxException e) when (e.Errno == Errno.EOPNOTSUPP)
        {
            return null;
        }

        // struct ethtool_cmd: u16 speed at offset 12, u16 speed_hi at offset 28; SPEED_UNKNOWN is (u32)-1.
        var speed = ((uint)*(ushort*)(command + 28) << 16) | *(ushort*)(command + 12);
        return speed is 0 or uint.MaxValue ? null : speed;
    }

    private static unsafe void Request(string device, void* data, string what)
    {
        ArgumentException.ThrowIfNullOrEmpty(device);
        var name = System.Text.Encoding.ASCII.GetBytes(device);
        if (name.Length > 15)
        {
            throw new ArgumentException($"interface name '{device}' is longer than 15 bytes", nameof(device));
        }

        var fd = Interop.Libc.socket(AF_INET, SOCK_DGRAM | Interop.Libc.SOCK_CLOEXEC, 0);
        LinuxException.Check(fd, "socket(AF_INET) for SIOCETHTOOL on", device);
        using var socket = new SafeFileDescriptorHandle(fd);
        // struct ifreq: char ifr_name[16], then the union whose member here is void *ifr_data (40 bytes in all).
        var request = stackalloc byte[40];
        new Span<byte>(request, 40).Clear();
        name.CopyTo(new Span<byte>(request, 16));
        *(void**)(request + 16) = data;
        LinuxException.Check(Interop.Libc.ioctl(socket, SIOCETHTOOL, request), what, device);
    }
}
