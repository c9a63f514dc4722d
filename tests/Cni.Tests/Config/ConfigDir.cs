namespace NetIsolator.Cni.Tests.Config;

/// <summary>A throwaway config directory, deleted on dispose.</summary>
internal sealed class ConfigDir : IDisposable
{
    public ConfigDir() => Path = Directory.CreateTempSubdirectory("netiso-cni-config-").FullName;

    public string Path { get; }

    public string Write(string name, string content)
    {
        var path = System.IO.Path.Join(Path, name);
        File.WriteAllText(path, content);
        return path;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
