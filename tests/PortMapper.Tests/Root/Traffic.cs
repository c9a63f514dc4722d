using System.Net;
using System.Net.Sockets;
using System.Text;
using NetIsolator.Linux;

namespace NetIsolator.PortMapper.Tests.Root;

/// <summary>
/// Real TCP and UDP traffic between namespaces. A socket belongs to the network namespace it was created in, for
/// good: each is created on a thread inside its namespace (<see cref="NetworkNamespace.Run{T}"/>) and then used
/// from the test's threads. Every wait has a time limit.
/// </summary>
internal static class Traffic
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static Socket CreateIn(string netnsPath, SocketType type, ProtocolType protocol, AddressFamily family = AddressFamily.InterNetwork)
    {
        using var ns = NetworkNamespace.Open(netnsPath);
        return ns.Run(() => new Socket(family, type, protocol));
    }

    /// <summary>An echo server on <paramref name="port"/> (TCP and UDP) in a namespace; answers "&lt;message&gt; from &lt;peer&gt;".</summary>
    public static EchoServer StartEcho(string netnsPath, int port, bool ipv6 = false) => new(netnsPath, port, ipv6);

    /// <summary>Connects from a namespace and returns the echo, or throws (refused, timed out).</summary>
    public static string Tcp(string fromNetnsPath, IPAddress address, int port, string message)
    {
        using var socket = CreateIn(fromNetnsPath, SocketType.Stream, ProtocolType.Tcp, address.AddressFamily);
        using (var connect = new CancellationTokenSource(Timeout))
        {
            socket.ConnectAsync(new IPEndPoint(address, port), connect.Token).AsTask().GetAwaiter().GetResult();
        }

        socket.ReceiveTimeout = (int)Timeout.TotalMilliseconds;
        socket.Send(Encoding.ASCII.GetBytes(message));
        var buffer = new byte[512];
        var read = socket.Receive(buffer);
        return Encoding.ASCII.GetString(buffer, 0, read);
    }

    /// <summary>True when a TCP connection gets through within a short time.</summary>
    public static bool TcpWorks(string fromNetnsPath, IPAddress address, int port)
    {
        try
        {
            return Tcp(fromNetnsPath, address, port, "probe").StartsWith("probe", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
        {
            return false;
        }
    }

    /// <summary>A UDP socket in a namespace, bound to <paramref name="localPort"/> (0: any), for request/answer.</summary>
    public static Socket UdpClient(string netnsPath, int localPort = 0, AddressFamily family = AddressFamily.InterNetwork)
    {
        using var ns = NetworkNamespace.Open(netnsPath);
        var socket = ns.Run(() =>
        {
            var s = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, localPort));
            return s;
        });
        socket.ReceiveTimeout = (int)Timeout.TotalMilliseconds;
        return socket;
    }

    /// <summary>Sends one datagram and waits for the echo; null when none came within <paramref name="wait"/>.</summary>
    public static string? Udp(Socket client, IPAddress address, int port, string message, TimeSpan? wait = null)
    {
        client.ReceiveTimeout = (int)(wait ?? Timeout).TotalMilliseconds;
        client.SendTo(Encoding.ASCII.GetBytes(message), new IPEndPoint(address, port));
        var buffer = new byte[512];
        try
        {
            var read = client.Receive(buffer);
            return Encoding.ASCII.GetString(buffer, 0, read);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.ConnectionRefused or SocketError.WouldBlock)
        {
            return null;
        }
    }

    internal sealed class EchoServer : IDisposable
    {
        private readonly Socket _tcp;
        private readonly Socket _udp;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _tcpLoop;
        private readonly Task _udpLoop;

        public EchoServer(string netnsPath, int port, bool ipv6)
        {
            var family = ipv6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
            var any = ipv6 ? IPAddress.IPv6Any : IPAddress.Any;
            using var ns = NetworkNamespace.Open(netnsPath);
            (_tcp, _udp) = ns.Run(() =>
            {
                var tcp = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
                tcp.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                tcp.Bind(new IPEndPoint(any, port));
                tcp.Listen(64);
                var udp = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
                udp.Bind(new IPEndPoint(any, port));
                return (tcp, udp);
            });
            _tcpLoop = Task.Run(ServeTcpAsync);
            _udpLoop = Task.Run(ServeUdpAsync);
        }

        /// <summary>Messages the UDP side received, in order.</summary>
        public List<string> UdpReceived { get; } = [];

        private async Task ServeTcpAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket connection;
                try
                {
                    connection = await _tcp.AcceptAsync(_stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                _ = Task.Run(async () =>
                {
                    using (connection)
                    {
                        var buffer = new byte[512];
                        try
                        {
                            var read = await connection.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                            await connection.SendAsync(Encoding.ASCII.GetBytes($"{Encoding.ASCII.GetString(buffer, 0, read)} from {connection.RemoteEndPoint}"), SocketFlags.None, _stop.Token);
                        }
                        catch (Exception e) when (e is OperationCanceledException or SocketException)
                        {
                        }
                    }
                });
            }
        }

        private async Task ServeUdpAsync()
        {
            var buffer = new byte[512];
            EndPoint any = _udp.AddressFamily == AddressFamily.InterNetwork ? new IPEndPoint(IPAddress.Any, 0) : new IPEndPoint(IPAddress.IPv6Any, 0);
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    var received = await _udp.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token);
                    var text = Encoding.ASCII.GetString(buffer, 0, received.ReceivedBytes);
                    lock (UdpReceived)
                    {
                        UdpReceived.Add(text);
                    }

                    await _udp.SendToAsync(Encoding.ASCII.GetBytes($"{text} from {received.RemoteEndPoint}"), SocketFlags.None, received.RemoteEndPoint, _stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _tcp.Dispose();
            _udp.Dispose();
            Task.WaitAll([_tcpLoop, _udpLoop], Timeout);
            _stop.Dispose();
        }
    }
}
