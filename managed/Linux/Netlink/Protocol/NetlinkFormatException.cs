namespace NetIsolator.Linux.Netlink.Protocol;

/// <summary>A netlink message or attribute is truncated or malformed; the message says where and how.</summary>
public sealed class NetlinkFormatException : FormatException
{
    public NetlinkFormatException(string message) : base(message) { }
}
