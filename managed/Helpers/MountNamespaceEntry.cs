using System.Runtime.InteropServices;
using NetIsolator.Linux;

namespace NetIsolator.Helpers;

/// <summary>What the native constructor did about the container's mount namespace (native/mount_namespace_entry.c).</summary>
public enum MountNamespaceState
{
    /// <summary>Not attempted: another subcommand, <c>--help</c>, no usable pid, or not a NativeAOT build.</summary>
    NotAttempted = 0,

    /// <summary>The process runs in the container's mount namespace.</summary>
    Entered = 1,

    /// <summary>The pid is in this process's own (the host's) mount namespace; it was not "entered".</summary>
    SameNamespace = 2,

    /// <summary>Opening, comparing or entering the namespace failed.</summary>
    Failed = 3,
}

/// <summary>Reads the outcome of the mount-namespace entry that ran before the runtime started.</summary>
internal static partial class MountNamespaceEntry
{
    private static readonly string[] Steps = ["", "open", "stat", "setns into"];

    /// <summary>The state, and for <see cref="MountNamespaceState.Failed"/> the error as a sentence.</summary>
    public static (MountNamespaceState State, string? Error) Outcome(int pid)
    {
        int state, errno, step;
        try
        {
            state = netisolator_helper_mount_namespace(out errno, out step);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Running under the JIT (e.g. from a test host): there is no constructor, so nothing was entered.
            return (MountNamespaceState.NotAttempted, null);
        }

        var error = state == (int)MountNamespaceState.Failed
            ? $"{Steps[Math.Clamp(step, 0, Steps.Length - 1)]} '/proc/{pid}/ns/mnt' failed: {Errno.Name(errno)} ({Errno.Describe(errno)})"
            : null;
        return ((MountNamespaceState)state, error);
    }

    [LibraryImport("netisolator_helper_native")]
    private static partial int netisolator_helper_mount_namespace(out int error, out int step);
}
