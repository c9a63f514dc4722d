namespace NetIsolator.PortMapper.Host;

/// <summary>
/// An exclusive lock, across every instance of the plugin on the host, around reading and changing the tables.
/// iptables-restore only adds or deletes what it is told, but two instances planning from the same listing could
/// both create a missing chain, or one could remove a chain the other is about to fill (Mesos documents that race
/// and leaves it open); serialising the read-plan-apply step closes it. It is held for two short tool runs. A DEL
/// starts its delegate's DEL while holding it (the delegate goes on after the release), and every ADD passes through
/// it after its delegate's ADD: an address released by a DEL cannot reach a running container before that DEL's
/// rules are gone.
/// </summary>
/// <remarks>
/// The lock is the runtime's advisory file lock (flock, taken by opening with <see cref="FileShare.None"/>); it is
/// released when the process exits, however it exits. Waiting is bounded: polling with a growing pause up to a
/// deadline, after which the caller reports "try again later".
/// </remarks>
public sealed class HostLock : IDisposable
{
    public const string DefaultPath = "/run/netisolator/mesos-cni-port-mapper.lock";

    private readonly FileStream _file;

    private HostLock(FileStream file) => _file = file;

    /// <exception cref="TimeoutException">Another holder kept it past <paramref name="timeout"/>.</exception>
    /// <exception cref="IOException">The lock file cannot be created.</exception>
    public static HostLock Acquire(string path, TimeSpan timeout)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var deadline = DateTime.UtcNow + timeout;
        var pause = TimeSpan.FromMilliseconds(1);
        while (true)
        {
            try
            {
                return new HostLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None));
            }
            catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException))
            {
                if (DateTime.UtcNow >= deadline)
                {
                    throw new TimeoutException($"lock '{path}' still held by another instance after {timeout.TotalSeconds:0}s: {e.Message}", e);
                }

                Thread.Sleep(pause + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 2)));
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromMilliseconds(20).Ticks));
            }
        }
    }

    public void Dispose() => _file.Dispose();
}
