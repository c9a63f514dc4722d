namespace NetIsolator.Cni.Runtime;

/// <summary>
/// One async mutex per key (the container ID): holders of different keys run in parallel, holders of the same key one
/// after the other, in arrival order. Entries are removed when nobody holds or waits for them.
/// </summary>
internal sealed class KeyedAsyncLock
{
    private readonly object _sync = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>The number of keys currently held or waited for (for tests).</summary>
    public int ActiveKeys
    {
        get
        {
            lock (_sync)
            {
                return _entries.Count;
            }
        }
    }

    public async Task<IDisposable> AcquireAsync(string key, CancellationToken cancellationToken)
    {
        Entry entry;
        lock (_sync)
        {
            if (!_entries.TryGetValue(key, out entry!))
            {
                entry = new Entry();
                _entries[key] = entry;
            }

            entry.References++;
        }

        try
        {
            await entry.Semaphore.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Release(key, entry, held: false);
            throw;
        }

        return new Releaser(() => Release(key, entry, held: true));
    }

    private void Release(string key, Entry entry, bool held)
    {
        lock (_sync)
        {
            if (held)
            {
                entry.Semaphore.Release();
            }

            if (--entry.References == 0)
            {
                _entries.Remove(key);
                entry.Semaphore.Dispose();
            }
        }
    }

    private sealed class Entry
    {
        public SemaphoreSlim Semaphore { get; } = new(1, 1);

        public int References { get; set; }
    }
}

/// <summary>
/// A writer-preferring async reader/writer gate: ADD, DEL and CHECK enter shared, GC enters exclusive (the spec makes
/// GC exclusive with ADD and DEL). Once a writer waits, new readers queue behind it so GC cannot starve.
/// </summary>
internal sealed class OperationGate
{
    private readonly object _sync = new();
    private readonly LinkedList<Waiter> _queue = new();
    private int _readers;
    private bool _writer;

    public Task<IDisposable> EnterSharedAsync(CancellationToken cancellationToken) => EnterAsync(exclusive: false, cancellationToken);

    public Task<IDisposable> EnterExclusiveAsync(CancellationToken cancellationToken) => EnterAsync(exclusive: true, cancellationToken);

    private async Task<IDisposable> EnterAsync(bool exclusive, CancellationToken cancellationToken)
    {
        Waiter waiter;
        LinkedListNode<Waiter> node;
        lock (_sync)
        {
            if (_queue.Count == 0 && CanEnter(exclusive))
            {
                Admit(exclusive);
                return new Releaser(() => Leave(exclusive));
            }

            waiter = new Waiter(exclusive);
            node = _queue.AddLast(waiter);
        }

        using (cancellationToken.Register(() =>
        {
            lock (_sync)
            {
                if (node.List is not null)
                {
                    _queue.Remove(node);
                    waiter.Completion.TrySetCanceled(cancellationToken);
                    Pump();
                }
            }
        }))
        {
            await waiter.Completion.Task.ConfigureAwait(false);
        }

        return new Releaser(() => Leave(exclusive));
    }

    private bool CanEnter(bool exclusive) => exclusive ? !_writer && _readers == 0 : !_writer;

    private void Admit(bool exclusive)
    {
        if (exclusive)
        {
            _writer = true;
        }
        else
        {
            _readers++;
        }
    }

    private void Leave(bool exclusive)
    {
        lock (_sync)
        {
            if (exclusive)
            {
                _writer = false;
            }
            else
            {
                _readers--;
            }

            Pump();
        }
    }

    /// <summary>Admits queued waiters in order while they fit. Called under the lock.</summary>
    private void Pump()
    {
        while (_queue.First is { } first && CanEnter(first.Value.Exclusive))
        {
            _queue.RemoveFirst();
            Admit(first.Value.Exclusive);
            first.Value.Completion.TrySetResult();
        }
    }

    private sealed class Waiter(bool exclusive)
    {
        public bool Exclusive { get; } = exclusive;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

internal sealed class Releaser(Action release) : IDisposable
{
    private Action? _release = release;

    public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
}
