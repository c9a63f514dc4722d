using NetIsolator.Isolators.PortMappingIsolation.Plan;
using NetIsolator.Linux;
using NetIsolator.Linux.Netlink;
using NetIsolator.Linux.Netlink.Route;
using NetIsolator.Linux.Netlink.Tc;

namespace NetIsolator.Isolators.PortMappingIsolation.Kernel;

/// <summary>
/// Applies plan steps to one network namespace: links, addresses, routes and tc over a netlink socket opened inside
/// it, /proc/sys writes on a thread that joined it. Every step is idempotent: what is already there counts as done.
/// Thread-safe (one request at a time per namespace).
/// </summary>
/// <remarks>
/// u32 filters with the same keys can coexist, so "already there" cannot be left to the kernel: the executor keeps
/// an index (plan filter → kernel handle) per link and parent, filled by one dump the first time the pair is
/// touched and kept up to date by its own adds and deletes. A container's isolate, update and cleanup therefore
/// send one request per filter, whatever the number of containers, where Mesos dumps every filter of the parent
/// for each one. Nothing else may change these filters behind the isolator's back (as in Mesos).
/// </remarks>
public sealed class PlanExecutor : IDisposable
{
    private readonly object _lock = new();
    private readonly NetworkNamespace _namespace;
    private readonly NetlinkSocket _socket;
    private readonly Dictionary<string, int> _indexes = new(StringComparer.Ordinal);
    private readonly Dictionary<(int Link, uint Parent), Dictionary<TcFilter, uint>> _filters = [];

    private PlanExecutor(NetworkNamespace ns, NetlinkSocket socket)
    {
        _namespace = ns;
        _socket = socket;
    }

    /// <summary>The namespace the steps apply to (owned).</summary>
    public NetworkNamespace Namespace => _namespace;

    /// <summary>Opens the namespace at <paramref name="path"/> and a netlink socket inside it.</summary>
    /// <exception cref="IOException">The namespace cannot be opened or the socket not made.</exception>
    public static PlanExecutor Open(string path)
    {
        var ns = NetworkNamespace.Open(path);
        try
        {
            // On this thread (setns in and back), not on a thread of its own: isolate opens one per container.
            return new PlanExecutor(ns, ns.Visit(() => NetlinkSocket.Open()));
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    /// <summary>Runs <paramref name="query"/> on the namespace's socket under the executor's lock (link statistics, dumps).</summary>
    public T Query<T>(Func<NetlinkSocket, T> query)
    {
        ArgumentNullException.ThrowIfNull(query);
        lock (_lock)
        {
            return query(_socket);
        }
    }

    /// <summary>Applies <paramref name="steps"/> in order; consecutive sysctl writes share one namespace thread.</summary>
    /// <exception cref="IOException">A step failed; the message quotes the step's command and the kernel's error.</exception>
    public void Apply(IEnumerable<PlanStep> steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        var sysctls = new List<SysctlStep>();
        lock (_lock)
        {
            foreach (var step in steps)
            {
                if (step is SysctlStep sysctl)
                {
                    sysctls.Add(sysctl);
                    continue;
                }

                WriteSysctls(sysctls);
                Run(step, () => ApplyOne(step));
            }

            WriteSysctls(sysctls);
        }
    }

    /// <summary>Adds a filter unless the same one is there; false if it was.</summary>
    public bool Add(FilterSpec filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        lock (_lock)
        {
            return Run(new FilterStep(filter), () => AddFilter(filter));
        }
    }

    /// <summary>Deletes a filter; false if it was not there (or its link is gone).</summary>
    public bool Remove(FilterSpec filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        lock (_lock)
        {
            return Run(new FilterStep(filter), () => RemoveFilter(filter));
        }
    }

    /// <summary>Whether the filter is there (per the index, loaded by one dump on first use).</summary>
    public bool Exists(FilterSpec filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        lock (_lock)
        {
            return TryIndex(filter.Device) is { } link && Index(link, filter.Parent).ContainsKey(ToKernel(filter));
        }
    }

    /// <summary>
    /// Deletes a link; false if it was not there. Its filters leave the index, and its name may now be another link's.
    /// </summary>
    public bool DeleteLink(string name)
    {
        lock (_lock)
        {
            Forget(name);
            return Run($"ip link del {name}", () => _socket.DeleteLink(name));
        }
    }

    /// <summary>Drops what the executor knows of link <paramref name="name"/> (its ifindex and filter index).</summary>
    public void Forget(string name)
    {
        lock (_lock)
        {
            if (_indexes.Remove(name, out var index))
            {
                foreach (var key in _filters.Keys.Where(k => k.Link == index).ToList())
                {
                    _filters.Remove(key);
                }
            }
        }
    }

    /// <summary>The ifindex of <paramref name="name"/> in this namespace, or null when there is no such link.</summary>
    public int? TryIndex(string name)
    {
        lock (_lock)
        {
            if (_indexes.TryGetValue(name, out var index))
            {
                return index;
            }

            var link = _socket.GetLink(name);
            if (link is not null)
            {
                _indexes[name] = link.Index;
            }

            return link?.Index;
        }
    }

    /// <summary>
    /// Mesos's HTB update of one device (reference §3.5 step 5, §4.1): no config and no class 1:1 → nothing; no config
    /// and a class → the root HTB goes (its class and leaf with it); a config → root, class and leaf are made, or
    /// the class is changed in place.
    /// </summary>
    /// <exception cref="IOException">A step failed; the message quotes it.</exception>
    public void ApplyShaping(string device, HtbConfig? config, TcVariants features)
    {
        if (config is null)
        {
            if (ReadShaping(device) is not null)
            {
                Run($"tc qdisc del dev {device} root", () => Query(socket => socket.DeleteQdisc(device, TcHandle.Root)));
            }

            return;
        }

        Apply(PortMappingPlans.Shaping(device, config, features));
    }

    /// <summary>
    /// The shaping of class 1:1 on <paramref name="device"/> as the kernel holds it (what Mesos's <c>htb_config</c>
    /// subcommand prints, and recovery reads), or null when there is none. Ceil and burst are as the kernel reports
    /// them, so a recovered config usually differs from a computed one and the next update re-applies it.
    /// </summary>
    public HtbConfig? ReadShaping(string device) =>
        Query(socket => socket.GetHtbClass(device, PortMappingPlans.HtbClass)) is { } htb
            ? new HtbConfig(htb.Rate, htb.Ceil is { } ceil and not 0 ? ceil : null, htb.Burst is { } burst and not 0 ? burst : null)
            : null;

    public void Dispose()
    {
        _socket.Dispose();
        _namespace.Dispose();
    }

    private int RequireIndex(string name) =>
        TryIndex(name) ?? throw new IOException($"link '{name}' does not exist in network namespace '{_namespace.Path}'");

    private void ApplyOne(PlanStep step)
    {
        switch (step)
        {
            case FilterStep filter:
                AddFilter(filter.Filter);
                break;
            case QdiscStep qdisc:
                AddQdisc(qdisc);
                break;
            case HtbClassStep htb:
                var htbClass = ToKernel(htb);
                if (!_socket.AddHtbClass(RequireIndex(htb.Device), htbClass))
                {
                    _socket.ChangeHtbClass(RequireIndex(htb.Device), htbClass);
                }

                break;
            case LinkStep link:
                // One RTM_SETLINK for all of it (address, then MTU, then up, as the kernel applies them).
                _socket.SetLink(new LinkId(RequireIndex(link.Device), link.Device), link.Mac, link.Mtu, link.Up);
                break;
            case AddressStep address:
                _socket.AddAddress(RequireIndex(address.Device), address.Address, address.PrefixLength);
                break;
            case DefaultRouteStep route:
                _socket.AddRoute(RouteEntry.Default(route.Gateway, RequireIndex(route.Device)));
                break;
            case RxChecksumOffStep rx:
                // The ioctl names the link; it acts on the namespace of the thread that makes its socket.
                RequireIndex(rx.Device);
                _namespace.Visit(() => EthTool.SetReceiveChecksumming(rx.Device, enabled: false));
                break;
            default:
                throw new ArgumentException($"no executor for plan step '{step}'", nameof(step));
        }
    }

    private void AddQdisc(QdiscStep step)
    {
        var link = RequireIndex(step.Device);
        var qdisc = ToKernel(step);
        if (_socket.AddQdisc(link, qdisc))
        {
            // A qdisc just made holds no filters: its index starts empty, without a dump.
            if (step.Handle is { } handle)
            {
                _filters[(link, handle.Value)] = new(FilterIdentity.Instance);
            }

            return;
        }

        // EEXIST: fine if it is the same kind (an earlier start made it); anything else there is not ours to replace.
        var present = _socket.GetQdisc(link, step.Parent);
        if (present is not null && present.Kind != qdisc.Kind)
        {
            throw new IOException($"link '{step.Device}' already has a {present.Kind} qdisc {present.Handle} at {step.Parent}, not the {qdisc.Kind} this isolator needs");
        }
    }

    private bool AddFilter(FilterSpec filter)
    {
        var link = RequireIndex(filter.Device);
        var kernel = ToKernel(filter);
        var index = Index(link, filter.Parent);
        if (index.ContainsKey(kernel))
        {
            return false;
        }

        if (!_socket.AddFilter(link, kernel, out var handle))
        {
            throw new IOException($"the kernel refused a new handle for {kernel.Describe()}");
        }

        index[kernel] = handle;
        return true;
    }

    private bool RemoveFilter(FilterSpec filter)
    {
        if (TryIndex(filter.Device) is not { } link)
        {
            return false;
        }

        var kernel = ToKernel(filter, missingTargetIndex: 0);
        var index = Index(link, filter.Parent);
        if (!index.Remove(kernel, out var handle))
        {
            return false;
        }

        return _socket.DeleteFilter(link, filter.Parent, filter.Priority, (ushort)filter.Protocol, handle, kernel.Kind);
    }

    private Dictionary<TcFilter, uint> Index(int link, TcHandle parent)
    {
        if (!_filters.TryGetValue((link, parent.Value), out var index))
        {
            index = new(FilterIdentity.Instance);
            foreach (var found in _socket.GetFilters(link, parent))
            {
                index.TryAdd(found with { Handle = 0, LinkIndex = 0 }, found.Handle);
            }

            _filters[(link, parent.Value)] = index;
        }

        return index;
    }

    /// <summary>The kernel object for a plan filter; action targets are ifindexes of this namespace.</summary>
    private TcFilter ToKernel(FilterSpec filter, int? missingTargetIndex = null)
    {
        int Target(string device) => TryIndex(device) ?? missingTargetIndex
            ?? throw new IOException($"link '{device}' (the target of {filter.ToCommand()}) does not exist");

        IReadOnlyList<TcAction> actions = filter.Action switch
        {
            Redirect r => [MirredAction.Redirect(Target(r.Device))],
            Mirror m => [MirredAction.Mirror(Target(m.Device), TcVerdict.Continue)],
            _ => [],
        };
        var classId = filter.Action is Classify c ? c.ClassId : (TcHandle?)null;
        return filter.Classifier == ClassifierKind.Basic
            ? new BasicFilter(filter.Parent, filter.Priority, (ushort)filter.Protocol) { Actions = actions, ClassId = classId }
            : new U32Filter(filter.Parent, filter.Priority, (ushort)filter.Protocol, filter.Match.Keys) { Actions = actions, ClassId = classId };
    }

    private static Qdisc ToKernel(QdiscStep step) => step.Kind switch
    {
        QdiscKind.Ingress => Qdisc.Ingress(),
        QdiscKind.Htb => Qdisc.Htb(step.Handle ?? TcHandle.None, step.Parent, 1),
        QdiscKind.FqCodel => Qdisc.FqCodel(step.Handle ?? TcHandle.None, step.Parent),
        QdiscKind.Sfq => Qdisc.Sfq(step.Handle ?? TcHandle.None, step.Parent),
        _ => Qdisc.Pfifo(step.Handle ?? TcHandle.None, step.Parent, QdiscStep.PfifoLimit),
    };

    private static HtbClass ToKernel(HtbClassStep step) => new(step.ClassId, step.Parent, step.Config.Rate)
    {
        Ceil = step.Config.Ceil,
        Burst = step.Config.Burst is { } burst ? (uint)Math.Min(uint.MaxValue, burst) : null,
    };

    /// <summary>
    /// Filter identity for the index: the filters' own equality, with a hash over what tells the isolator's filters
    /// apart. TcFilter's hash leaves out the u32 keys and the action targets, so every IP filter of one prio (one
    /// per range per container on the host's eth0 and lo) and every mirror filter would share a bucket, and each
    /// lookup would grow with the number of containers.
    /// </summary>
    private sealed class FilterIdentity : IEqualityComparer<TcFilter>
    {
        public static readonly FilterIdentity Instance = new();

        public bool Equals(TcFilter? x, TcFilter? y) => ReferenceEquals(x, y) || (x is not null && x.Equals(y));

        public int GetHashCode(TcFilter filter)
        {
            var hash = new HashCode();
            hash.Add(filter.GetHashCode());
            if (filter is U32Filter u32)
            {
                foreach (var key in u32.Keys)
                {
                    hash.Add(key);
                }
            }

            foreach (var action in filter.Actions)
            {
                hash.Add(action);
            }

            return hash.ToHashCode();
        }
    }

    private void WriteSysctls(List<SysctlStep> sysctls)
    {
        if (sysctls.Count == 0)
        {
            return;
        }

        var batch = sysctls.ToList();
        sysctls.Clear();
        // /proc/sys/net files belong to the network namespace of the thread that opens them; one ProcSys serves the
        // batch (a private procfs instance: see there for what the machine's /proc/sys costs with many namespaces).
        _namespace.Visit(() =>
        {
            using var procSys = Run("open /proc/sys", () => ProcSys.Open());
            foreach (var sysctl in batch)
            {
                Run(sysctl, () =>
                {
                    if (sysctl.IfExists)
                    {
                        // Missing, or read-only here: a knob this kernel lacks, or one that is not per network
                        // namespace (net.core.rmem_max, …) and so is the host's value already.
                        _ = procSys.TryWrite(sysctl.Key, sysctl.Value);
                    }
                    else
                    {
                        procSys.Write(sysctl.Key, sysctl.Value);
                    }
                });
            }
        });
    }

    private void Run(PlanStep step, Action action) => Run(step.ToCommand(), () =>
    {
        action();
        return true;
    });

    private bool Run(PlanStep step, Func<bool> action) => Run(step.ToCommand(), action);

    private T Run<T>(string command, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new IOException($"'{command}' in network namespace '{_namespace.Path}': {e.Message}", e);
        }
    }
}
