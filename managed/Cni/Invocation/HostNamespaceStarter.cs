using System.Diagnostics;
using NetIsolator.Linux;

namespace NetIsolator.Cni.Invocation;

/// <summary>
/// Starts a process inside another network namespace (<see cref="NetworkNamespace.StartProcess"/>); the child
/// inherits that namespace. Only the start happens inside: the pipes are read, and the process waited for, by the
/// caller outside.
/// </summary>
internal static class HostNamespaceStarter
{
    /// <exception cref="IOException">The namespace cannot be opened or joined (a <see cref="LinuxException"/> or <see cref="NotANamespaceException"/>).</exception>
    public static Process Start(string networkNamespacePath, ProcessStartInfo startInfo)
    {
        using var networkNamespace = NetworkNamespace.Open(networkNamespacePath);
        return networkNamespace.StartProcess(startInfo);
    }
}
