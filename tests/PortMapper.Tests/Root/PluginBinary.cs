using NetIsolator.Testing;

namespace NetIsolator.PortMapper.Tests.Root;

/// <summary>The AOT plugin CI builds with CMake before the tests: <c>build/bin/mesos-cni-port-mapper</c>.</summary>
internal static class PluginBinary
{
    public const string Name = "mesos-cni-port-mapper";

    public static string Path => BuildTree.PortMapper;
}
