using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Linux.Tests;

/// <summary>EnsureSharedMountPoint on sandbox directories; each test undoes its own mounts.</summary>
public sealed class MountPropagationTests : IDisposable
{
    private readonly Sandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [RootFact]
    public void EnsureSharedMountPoint_MakesASharedMountPointInItsOwnGroup_AndIsIdempotent()
    {
        var root = _sandbox.PathOf("root");
        Directory.CreateDirectory(root);
        Assert.Null(MountPropagation.FindMountPoint(root));
        try
        {
            Assert.True(MountPropagation.EnsureSharedMountPoint(root));

            var mount = MountPropagation.FindMountPoint(root);
            Assert.NotNull(mount);
            var group = Assert.IsType<int>(mount.SharedPeerGroup);
            Assert.Single(MountInfo.ReadSelf(), m => m.SharedPeerGroup == group);

            Assert.False(MountPropagation.EnsureSharedMountPoint(root));
            Assert.False(MountPropagation.EnsureSharedMountPoint(root + "/"));
            Assert.Single(MountInfo.ReadSelf(), m => m.MountPoint == root);
            Assert.Equal(group, MountPropagation.FindMountPoint(root)!.SharedPeerGroup);
        }
        finally
        {
            Assert.Equal(0, Interop.Libc.umount2(root, 0));
            Directory.Delete(root);
        }
    }

    [RootFact]
    public void EnsureSharedMountPoint_OfAPrivateMountPoint_OnlyMakesItShared()
    {
        var root = _sandbox.PathOf("root");
        Directory.CreateDirectory(root);
        Assert.Equal(0, Interop.Libc.mount(root, root, null, Interop.Libc.MS_BIND, 0));
        Assert.Equal(0, Interop.Libc.mount(null, root, null, Interop.Libc.MS_PRIVATE, 0));
        try
        {
            Assert.True(MountPropagation.EnsureSharedMountPoint(root));
            Assert.Single(MountInfo.ReadSelf(), m => m.MountPoint == root);
            Assert.True(MountPropagation.FindMountPoint(root)!.IsShared);
        }
        finally
        {
            Assert.Equal(0, Interop.Libc.umount2(root, 0));
            Directory.Delete(root);
        }
    }

    [RootFact]
    public void EnsureSharedMountPoint_LeavesAGroupSharedWithAnotherMount_ForAGroupOfItsOwn()
    {
        // root is shared, and a bind copy of it elsewhere is in the same peer group: not "its own" group yet.
        var root = _sandbox.PathOf("root");
        var copy = _sandbox.PathOf("copy");
        Directory.CreateDirectory(root);
        Directory.CreateDirectory(copy);
        Assert.True(MountPropagation.EnsureSharedMountPoint(root));
        Assert.Equal(0, Interop.Libc.mount(root, copy, null, Interop.Libc.MS_BIND, 0));
        try
        {
            var shared = MountPropagation.FindMountPoint(root)!.SharedPeerGroup;
            Assert.Equal(shared, MountPropagation.FindMountPoint(copy)!.SharedPeerGroup);

            Assert.True(MountPropagation.EnsureSharedMountPoint(root));

            var own = MountPropagation.FindMountPoint(root)!.SharedPeerGroup;
            Assert.NotNull(own);
            Assert.NotEqual(shared, own);
            Assert.False(MountPropagation.EnsureSharedMountPoint(root));
        }
        finally
        {
            Assert.Equal(0, Interop.Libc.umount2(copy, 0));
            Assert.Equal(0, Interop.Libc.umount2(root, 0));
            Directory.Delete(copy);
            Directory.Delete(root);
        }
    }

    [RootFact]
    public void RemovingAPin_UnderASharedRoot_AlsoUnmountsItsCopyInAPeer()
    {
        // What the shared root is for: a peer (here a bind copy; in production a container's mount namespace)
        // sees the pin appear, and sees it go when the host removes it.
        var root = _sandbox.PathOf("root");
        var peer = _sandbox.PathOf("peer");
        Directory.CreateDirectory(root);
        Directory.CreateDirectory(peer);
        MountPropagation.EnsureSharedMountPoint(root);
        Assert.Equal(0, Interop.Libc.mount(root, peer, null, Interop.Libc.MS_BIND, 0));
        try
        {
            PersistentNetworkNamespace.Create(Path.Combine(root, "ns"));
            Assert.True(PersistentNetworkNamespace.IsPinned(Path.Combine(peer, "ns")));

            Assert.True(PersistentNetworkNamespace.Remove(Path.Combine(root, "ns")));

            Assert.False(File.Exists(Path.Combine(peer, "ns")));
            Assert.Equal(0, _sandbox.NsfsMounts());
        }
        finally
        {
            Assert.Equal(0, Interop.Libc.umount2(peer, 0));
            Assert.Equal(0, Interop.Libc.umount2(root, 0));
            Directory.Delete(peer);
            Directory.Delete(root);
        }
    }

    [RootFact]
    public void EnsureSharedMountPoint_RefusesADirectoryWithPinsButNoMountOfItsOwn()
    {
        // Binding it onto itself would bury the existing pin where no path reaches it, leaking the namespace.
        var root = _sandbox.PathOf("root");
        var pin = Path.Combine(root, "ns");
        PersistentNetworkNamespace.Create(pin);
        try
        {
            var error = Assert.Throws<InvalidOperationException>(() => MountPropagation.EnsureSharedMountPoint(root));
            Assert.Contains(pin, error.Message);
            Assert.Null(MountPropagation.FindMountPoint(root));
            Assert.True(PersistentNetworkNamespace.IsPinned(pin));
        }
        finally
        {
            Assert.True(PersistentNetworkNamespace.Remove(pin));
            Directory.Delete(root);
        }
    }

    [Fact]
    public void EnsureSharedMountPoint_OfAMissingDirectory_Throws()
    {
        var error = Assert.Throws<LinuxException>(() => MountPropagation.EnsureSharedMountPoint(_sandbox.PathOf("missing")));
        Assert.Equal(Errno.ENOENT, error.Errno);
    }
}
