using NetIsolator.Isolators.Cni;
using Xunit;

namespace NetIsolator.Isolators.Tests.Cni;

/// <summary>The helper command lines of Mesos's three cases (§2.3), as Mesos writes them: sorted, booleans always.</summary>
public sealed class SetupRequestTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("netiso-setup-request-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void OwnNetworks_UsesTheContainersFiles_AndTheHostsResolvConfWhenItHasNone()
    {
        Assert.Equal(
            [
                "network-cni-setup", "--bind_host_files=true", "--bind_readonly=false",
                $"--etc_hostname_path={_directory}/hostname", $"--etc_hosts_path={_directory}/hosts",
                "--etc_resolv_conf=/etc/resolv.conf", "--help=false", "--hostname=web-1", "--pid=42",
            ],
            SetupRequest.OwnNetworks(42, "web-1", rootfs: null, _directory).Arguments());

        File.WriteAllText(Path.Join(_directory, "resolv.conf"), "nameserver 10.0.0.1\n");
        Assert.Equal(
            [
                "network-cni-setup", "--bind_host_files=true", "--bind_readonly=false",
                $"--etc_hostname_path={_directory}/hostname", $"--etc_hosts_path={_directory}/hosts",
                $"--etc_resolv_conf={_directory}/resolv.conf", "--help=false", "--hostname=web-1", "--pid=42", "--rootfs=/images/r1",
            ],
            SetupRequest.OwnNetworks(42, "web-1", "/images/r1", _directory).Arguments());
    }

    [Fact]
    public void JoiningTheParent_SetsNoHostName()
    {
        Assert.Equal(
            [
                "network-cni-setup", "--bind_host_files=true", "--bind_readonly=false",
                $"--etc_hostname_path={_directory}/hostname", $"--etc_hosts_path={_directory}/hosts",
                "--etc_resolv_conf=/etc/resolv.conf", "--help=false", "--pid=7",
            ],
            SetupRequest.JoinsParent(7, rootfs: null, _directory).Arguments());
    }

    [Fact]
    public void HostNetworkImage_IsReadOnly_IntoTheImageOnly_WithTheHostFilesThatExist()
    {
        Assert.Equal(
            [
                "network-cni-setup", "--bind_host_files=false", "--bind_readonly=true",
                "--etc_hosts_path=/etc/hosts", "--etc_resolv_conf=/etc/resolv.conf", "--help=false", "--pid=9", "--rootfs=/r",
            ],
            SetupRequest.HostNetworkImage(9, "/r", path => path == "/etc/hosts").Arguments());
    }
}
