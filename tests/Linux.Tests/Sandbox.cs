using Xunit;

namespace NetIsolator.Linux.Tests;

/// <summary>
/// A temporary directory of a test's own (/tmp/netiso-linux-tests-&lt;random&gt;) for its pins and mounts. Dispose
/// checks the test left nothing behind (no mount below the directory, no file in it), then removes whatever is
/// there anyway and fails the test if there was something.
/// </summary>
internal sealed class Sandbox : IDisposable
{
    public Sandbox()
    {
        Root = Path.Combine(Path.GetTempPath(), "netiso-linux-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
        Assert.Empty(Mounts());
    }

    public string Root { get; }

    public string PathOf(string name) => Path.Combine(Root, name);

    /// <summary>Mount points at or below <see cref="Root"/>, innermost last, as "path (fstype)".</summary>
    public List<string> Mounts() =>
        MountInfo.ReadSelf()
            .Where(m => m.MountPoint == Root || m.MountPoint.StartsWith(Root + "/", StringComparison.Ordinal))
            .Select(m => $"{m.MountPoint} ({m.FilesystemType})")
            .ToList();

    public int NsfsMounts() => Mounts().Count(m => m.EndsWith("(nsfs)", StringComparison.Ordinal));

    public List<string> Entries() =>
        Directory.EnumerateFileSystemEntries(Root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();

    public void Dispose()
    {
        var leakedMounts = Mounts();
        var leakedEntries = Entries();
        // Clean up regardless (bounded), so that one failing test does not leak into the machine.
        for (var i = 0; i < 1000 && Mounts() is { Count: > 0 } mounts; i++)
        {
            var mountPoint = mounts[^1][..mounts[^1].LastIndexOf(" (", StringComparison.Ordinal)];
            Interop.Libc.umount2(mountPoint, Interop.Libc.MNT_DETACH);
        }
        Directory.Delete(Root, recursive: true);
        Assert.Empty(leakedMounts);
        Assert.Empty(leakedEntries);
    }
}
