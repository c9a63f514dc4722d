using Microsoft.Win32.SafeHandles;

namespace NetIsolator.Linux;

/// <summary>One open file descriptor (a namespace handle, a /proc file); closing it closes the fd.</summary>
public sealed class SafeFileDescriptorHandle : SafeHandleMinusOneIsInvalid
{
    public SafeFileDescriptorHandle() : base(ownsHandle: true) { }

    /// <summary>Takes ownership of <paramref name="fd"/> (-1 makes an invalid handle).</summary>
    public SafeFileDescriptorHandle(int fd) : base(ownsHandle: true) => SetHandle(fd);

    /// <summary>The fd number, for logging and for /proc/self/fd paths; the handle keeps ownership.</summary>
    public int FileDescriptor => (int)DangerousGetHandle();

    protected override bool ReleaseHandle() =>
        // On Linux close() releases the descriptor even when it reports EINTR, so it is never retried.
        Interop.Libc.close((int)handle) == 0;
}
