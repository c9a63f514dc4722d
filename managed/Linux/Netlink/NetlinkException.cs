namespace NetIsolator.Linux.Netlink;

/// <summary>
/// The kernel refused a netlink request. Carries the errno, the step (which names the object and the link, e.g.
/// <c>adding u32 filter prio 770 handle ::800 on 'eth0' parent ffff:0</c>), where the socket lives, and the
/// kernel's own explanation when it gave one (extended ack), and says all of them:
/// <c>adding ... on 'eth0' parent ffff:0 in network namespace '/run/netns/x' failed: EEXIST (File exists);
/// kernel: "Exclusivity flag on, cannot modify"</c>.
/// </summary>
public sealed class NetlinkException : LinuxException
{
    public NetlinkException(int errno, string step, string? kernelMessage = null, string? where = null)
        : base(errno, step, where, Format(errno, step, kernelMessage, where))
    {
        KernelMessage = kernelMessage;
    }

    /// <summary>The failing step with its identifiers (same as <see cref="LinuxException.Operation"/>).</summary>
    public string Step => Operation;

    /// <summary>The kernel's explanation (NLMSGERR_ATTR_MSG), if any.</summary>
    public string? KernelMessage { get; }

    private static string Format(int errno, string step, string? kernelMessage, string? where)
    {
        var place = where is null ? "" : $" in {where}";
        var kernel = kernelMessage is null ? "" : $"; kernel: \"{kernelMessage}\"";
        return $"{step}{place} failed: {Linux.Errno.Name(errno)} ({Linux.Errno.Describe(errno)}){kernel}";
    }
}
