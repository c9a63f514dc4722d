using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NetIsolator.Linux;

namespace NetIsolator.Isolators.Tests.PortMapping;

/// <summary>
/// <c>ping -c1</c> without ping: an ICMP echo request (type 8) from a raw IPv4 socket opened inside a namespace,
/// and a wait for the echo reply (type 0) carrying the same identifier and sequence. A raw ICMP socket receives
/// every ICMP packet the namespace's stack gets, IP header included, so others' packets (and, when pinging
/// oneself, one's own request) are skipped by type and identifier.
/// </summary>
internal static class IcmpEcho
{
    private const byte EchoReply = 0;
    private const byte EchoRequest = 8;

    /// <summary>True if <paramref name="target"/> answered an echo request sent from the namespace within the timeout.</summary>
    public static bool Ping(string netnsPath, IPAddress target, int timeoutMs = 2000)
    {
        using var ns = NetworkNamespace.Open(netnsPath);
        using var socket = ns.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp));
        var identifier = (ushort)Random.Shared.Next(1, ushort.MaxValue);
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        var buffer = new byte[1500];
        // The first request can be lost while ARP resolves the gateway; send one per 250 ms, as ping would each second.
        for (ushort sequence = 1; DateTime.UtcNow < deadline; sequence++)
        {
            socket.SendTo(Request(identifier, sequence), new IPEndPoint(target, 0));
            var resend = DateTime.UtcNow.AddMilliseconds(250);
            while (DateTime.UtcNow < resend && DateTime.UtcNow < deadline)
            {
                if (!socket.Poll(TimeSpan.FromMilliseconds(50), SelectMode.SelectRead))
                {
                    continue;
                }

                var length = socket.Receive(buffer);
                var ipHeader = (buffer[0] & 0x0f) * 4;
                if (length >= ipHeader + 8
                    && buffer[ipHeader] == EchoReply
                    && BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(ipHeader + 4)) == identifier
                    && new IPAddress(buffer.AsSpan(12, 4)).Equals(target))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static byte[] Request(ushort identifier, ushort sequence)
    {
        var packet = new byte[8 + 16];
        packet[0] = EchoRequest;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), identifier);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(6), sequence);
        "netiso-pm-ping!!"u8.CopyTo(packet.AsSpan(8));
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), Checksum(packet));
        return packet;
    }

    /// <summary>The Internet checksum (RFC 1071): one's complement of the one's-complement sum of 16-bit words.</summary>
    private static ushort Checksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (var i = 0; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if ((data.Length & 1) != 0)
        {
            sum += (uint)data[^1] << 8;
        }

        while (sum >> 16 != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
