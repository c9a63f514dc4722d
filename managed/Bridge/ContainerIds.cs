using Mesos;

namespace NetIsolator.Bridge;

public static class ContainerIds
{
    /// <summary>
    /// The container's identity as one string, written as Mesos writes it: the ancestors' values and its own,
    /// joined with dots (<c>parent.child</c>). Unique per agent, so usable as a key.
    /// </summary>
    public static string ToKey(this ContainerID containerId) =>
        containerId.Parent is null ? containerId.Value : $"{containerId.Parent.ToKey()}.{containerId.Value}";
}
