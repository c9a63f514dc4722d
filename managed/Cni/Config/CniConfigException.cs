namespace NetIsolator.Cni.Config;

/// <summary>
/// A network config that cannot be used. The message names the file, the key and the problem:
/// <c>'/etc/cni/net.d/10-x.conflist': plugins[1]: missing "type"</c>.
/// </summary>
public class CniConfigException : Exception
{
    public CniConfigException(string message)
        : base(message)
    {
    }

    public CniConfigException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>A plugin binary that is not in any directory of the search path (CNI_PATH).</summary>
public sealed class PluginNotFoundException(
    string type, string searchPath, IReadOnlyList<string> searched, IReadOnlyList<string> rejected)
    : CniConfigException(
        $"failed to find CNI plugin \"{type}\" in "
        + (searched.Count == 0 ? "an empty CNI_PATH" : $"CNI_PATH \"{searchPath}\"")
        + (rejected.Count == 0 ? "" : $" ({string.Join("; ", rejected)})"))
{
    public string PluginType { get; } = type;

    public IReadOnlyList<string> SearchedDirectories { get; } = searched;
}
