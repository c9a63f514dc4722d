namespace NetIsolator.Isolators.PortMappingIsolation;

/// <summary>
/// Hands out the per-container blocks of ephemeral ports (Mesos's <c>EphemeralPortsAllocator</c>). Every block has
/// the configured power-of-two size and is aligned to it in absolute port numbers, so it is exactly one
/// <see cref="PortRange"/>: one u32 filter per direction per container. First fit, lowest port; a freed block is
/// the first one reused. Thread-safe.
/// </summary>
public sealed class EphemeralPortsAllocator
{
    private readonly object _lock = new();
    private PortSet _free;
    private PortSet _used = PortSet.Empty;

    public EphemeralPortsAllocator(PortSet pool, int portsPerContainer)
    {
        ArgumentNullException.ThrowIfNull(pool);
        Pool = pool;
        PortsPerContainer = portsPerContainer;
        _free = pool;
    }

    public PortSet Pool { get; }

    public int PortsPerContainer { get; }

    public PortSet Free
    {
        get
        {
            lock (_lock)
            {
                return _free;
            }
        }
    }

    public PortSet Used
    {
        get
        {
            lock (_lock)
            {
                return _used;
            }
        }
    }

    /// <summary>The lowest free aligned block.</summary>
    /// <exception cref="InvalidOperationException">Mesos's texts: the size is 0, or no aligned block is free.</exception>
    public PortRange Allocate()
    {
        if (PortsPerContainer == 0)
        {
            throw new InvalidOperationException("Number of ephemeral ports per container is zero");
        }

        lock (_lock)
        {
            foreach (var interval in _free.Intervals)
            {
                if (interval.Count < PortsPerContainer)
                {
                    continue;
                }

                var start = (interval.Begin + PortsPerContainer - 1) / PortsPerContainer * PortsPerContainer;
                if (start + PortsPerContainer - 1 > interval.End)
                {
                    continue;
                }

                var range = PortRange.FromBeginEnd(start, start + PortsPerContainer - 1);
                Take(range.ToSet());
                return range;
            }
        }

        throw new InvalidOperationException("Failed to allocate ephemeral ports");
    }

    /// <summary>Marks a recovered container's block as used again.</summary>
    /// <exception cref="InvalidOperationException">Some of it is not free (Mesos aborts the agent here).</exception>
    public void Allocate(PortSet ports)
    {
        ArgumentNullException.ThrowIfNull(ports);
        lock (_lock)
        {
            if (!_free.Contains(ports))
            {
                throw new InvalidOperationException(
                    $"ephemeral ports {ports} are not free (free: {_free}, in use: {_used})");
            }

            Take(ports);
        }
    }

    /// <exception cref="InvalidOperationException">Some of it was not allocated (Mesos aborts the agent here).</exception>
    public void Deallocate(PortSet ports)
    {
        ArgumentNullException.ThrowIfNull(ports);
        lock (_lock)
        {
            if (!_used.Contains(ports))
            {
                throw new InvalidOperationException($"ephemeral ports {ports} were not allocated (in use: {_used})");
            }

            _used = _used.Subtract(ports);
            _free = _free.Union(ports);
        }
    }

    /// <summary>Whether <paramref name="ports"/> lies inside the pool (free or used).</summary>
    public bool IsManaged(PortSet ports) => Pool.Contains(ports);

    private void Take(PortSet ports)
    {
        _free = _free.Subtract(ports);
        _used = _used.Union(ports);
    }
}
