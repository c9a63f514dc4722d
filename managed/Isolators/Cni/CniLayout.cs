using Mesos;

namespace NetIsolator.Isolators.Cni;

/// <summary>
/// Where a container's state lives under ROOT (pure path arithmetic, no I/O):
/// <code>
/// ROOT/&lt;CID&gt;/                 one per container with CNI networks of its own (created in isolate)
/// ROOT/&lt;CID&gt;/plan.json       the checkpointed plan: networks in NetworkInfo order, interface names, NetworkInfos
/// ROOT/&lt;CID&gt;/ns              bind mount of the container's netns (/proc/&lt;pid&gt;/ns/net is never stored)
/// ROOT/&lt;CID&gt;/cni/results/…    the CNI runtime's libcni-format cache: exact config, netns, result per attachment
/// ROOT/&lt;CID&gt;/hostname, hosts, resolv.conf   the container's network files
/// </code>
/// CID is the container ID in Mesos's string form: the parent chain joined by '.' (<c>parent.child</c>).
/// </summary>
/// <remarks>
/// This is not Mesos's <c>&lt;network&gt;/network.conf</c> + <c>&lt;ifname&gt;/network.info</c> layout: the CNI
/// runtime keeps config and result in one libcni cache file per attachment. A Mesos agent's ROOT is therefore not
/// recovered by this isolator (its container directories have no <c>plan.json</c> and are cleaned as corrupt).
/// </remarks>
public static class CniLayout
{
    public const string PlanFileName = "plan.json";
    public const string NamespacePinName = "ns";
    public const string CacheDirectoryName = "cni";

    public static string ContainerDirectory(string root, string containerKey)
    {
        if (ContainerKeyProblem(containerKey) is { } problem)
        {
            throw new ArgumentException(problem, nameof(containerKey));
        }

        return Path.Join(root, containerKey);
    }

    public static string PlanPath(string root, string containerKey) =>
        Path.Join(ContainerDirectory(root, containerKey), PlanFileName);

    public static string NamespacePin(string root, string containerKey) =>
        Path.Join(ContainerDirectory(root, containerKey), NamespacePinName);

    public static string CacheDirectory(string root, string containerKey) =>
        Path.Join(ContainerDirectory(root, containerKey), CacheDirectoryName);

    /// <summary>The container's key (<c>parent.child</c>), as used for ROOT/&lt;CID&gt; and CNI_CONTAINERID.</summary>
    public static string Key(ContainerID containerId)
    {
        ArgumentNullException.ThrowIfNull(containerId);
        return containerId.Parent is null ? containerId.Value : $"{Key(containerId.Parent)}.{containerId.Value}";
    }

    /// <summary>The top-level ancestor (the container itself when it has no parent).</summary>
    public static ContainerID Root(ContainerID containerId)
    {
        while (containerId.Parent is not null)
        {
            containerId = containerId.Parent;
        }

        return containerId;
    }

    /// <summary>Parses <c>a.b.c</c> back into c with parent b with parent a (Mesos §1.4).</summary>
    /// <exception cref="FormatException">Empty, or an empty component (<c>a..b</c>, <c>.a</c>).</exception>
    public static ContainerID ParseKey(string key)
    {
        if (ContainerKeyProblem(key) is { } problem)
        {
            throw new FormatException(problem);
        }

        ContainerID? id = null;
        foreach (var part in key.Split('.'))
        {
            id = id is null ? new ContainerID { Value = part } : new ContainerID { Value = part, Parent = id };
        }

        return id!;
    }

    /// <summary>Why <paramref name="key"/> cannot name a container directory, or null.</summary>
    public static string? ContainerKeyProblem(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return "container ID must not be empty";
        }

        if (key.Split('.').Any(p => p.Length == 0))
        {
            return $"container ID '{key}' has an empty component";
        }

        if (key.Any(c => c is '/' or '\0' || char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            return $"container ID '{key}' holds '/', whitespace or a control character";
        }

        return null;
    }
}
