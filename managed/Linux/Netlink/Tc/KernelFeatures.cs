using NetIsolator.Linux.Netlink.Route;
using NetIsolator.Linux.Netlink.SockDiag;
using static NetIsolator.Linux.Netlink.Protocol.TcConstants;

namespace NetIsolator.Linux.Netlink.Tc;

/// <summary>
/// Which traffic-control pieces and socket diagnostics this kernel has, found by trying them (reference §7): a
/// qdisc, classifier or action the kernel neither has built in nor can load as a module is refused with ENOENT
/// ("Specified qdisc kind is unknown", "... filter kind not found", "Failed to load TC action module").
/// </summary>
/// <remarks>
/// <see cref="Probe"/> works in a new, empty network namespace of its own, on its loopback, from a thread that
/// exists only for that: nothing outside is touched, and the namespace with everything made in it is gone when the
/// thread and its sockets are. Module auto-loading may happen as a side effect, as it would for <c>tc</c>.
/// </remarks>
public sealed record KernelFeatures(
    bool Ingress,
    bool Htb,
    bool FqCodel,
    bool Sfq,
    bool Prio,
    bool Pfifo,
    bool U32,
    bool Basic,
    bool Matchall,
    bool Mirred,
    bool Gact,
    bool InetDiag)
{
    /// <summary>Kernel config names of what is missing, e.g. <c>sch_fq_codel</c>, <c>cls_basic</c>, <c>act_gact</c>, <c>inet_diag</c>.</summary>
    public IReadOnlyList<string> Missing =>
        new (bool Present, string Name)[]
        {
            (Ingress, "sch_ingress"), (Htb, "sch_htb"), (FqCodel, "sch_fq_codel"), (Sfq, "sch_sfq"), (Prio, "sch_prio"),
            (Pfifo, "sch_fifo"), (U32, "cls_u32"), (Basic, "cls_basic"), (Matchall, "cls_matchall"), (Mirred, "act_mirred"),
            (Gact, "act_gact"), (InetDiag, "inet_diag"),
        }.Where(f => !f.Present).Select(f => f.Name).ToList();

    public override string ToString() => Missing.Count == 0 ? "all probed features present" : $"missing: {string.Join(", ", Missing)}";

    /// <summary>Tries every feature once in a throwaway namespace; takes a few milliseconds.</summary>
    /// <exception cref="LinuxException">The namespace could not be made, or a probe failed in an unexpected way.</exception>
    public static KernelFeatures Probe()
    {
        RuntimeThreads.EnsureStarted();
        return NamespaceThread.Run(() =>
        {
            LinuxException.Check(Interop.Libc.unshare(Interop.Libc.CLONE_NEWNET), "unshare(CLONE_NEWNET) for the kernel feature probe");
            using var socket = NetlinkSocket.Open();
            var lo = socket.RequireLink("lo").Id;

            var ingress = Try(() => socket.AddQdisc(lo, Qdisc.Ingress()));
            bool RootQdisc(Qdisc qdisc) => Try(() => socket.ReplaceQdisc(lo, qdisc));
            var htb = RootQdisc(Qdisc.Htb(TcHandle.Make(1, 0), TcHandle.Root, 1));
            var fqCodel = RootQdisc(Qdisc.FqCodel(TcHandle.Make(2, 0), TcHandle.Root));
            var sfq = RootQdisc(Qdisc.Sfq(TcHandle.Make(3, 0), TcHandle.Root));
            var prio = RootQdisc(Qdisc.Prio(TcHandle.Make(4, 0), TcHandle.Root));
            var pfifo = RootQdisc(Qdisc.Pfifo(TcHandle.Make(5, 0), TcHandle.Root));

            ushort priority = 1;
            bool Filter(TcFilter filter) => ingress && Try(() => socket.AddFilter(lo, filter));
            var u32 = Filter(new U32Filter(TcHandle.Ingress, priority++, ETH_P_ALL, [U32Match.Everything()]));
            var basic = Filter(new BasicFilter(TcHandle.Ingress, priority++, ETH_P_ARP));
            var matchall = Filter(new OtherFilter("matchall", TcHandle.Ingress, priority++, ETH_P_ALL));
            var mirred = u32 && Filter(new U32Filter(TcHandle.Ingress, priority++, ETH_P_ALL, [U32Match.Everything()]) { Actions = [MirredAction.Mirror(lo.Index)] });
            var gact = u32 && Filter(new U32Filter(TcHandle.Ingress, priority++, ETH_P_ALL, [U32Match.Everything()]) { Actions = [GactAction.Pass] });

            var inetDiag = Try(() =>
            {
                using var diag = NetlinkSocket.Open(NetlinkFamily.SockDiag);
                diag.GetTcpSockets(withInfo: true);
            });
            return new KernelFeatures(ingress, htb, fqCodel, sfq, prio, pfifo, u32, basic, matchall, mirred, gact, inetDiag);
        });
    }

    // Missing: the kernel does not know the kind (ENOENT), or the protocol/operation (EPROTONOSUPPORT, EOPNOTSUPP).
    private static bool Try(Action probe)
    {
        try
        {
            probe();
            return true;
        }
        catch (LinuxException e) when (e.Errno is Errno.ENOENT or Errno.EOPNOTSUPP or Errno.EPROTONOSUPPORT)
        {
            return false;
        }
    }
}
