using NetIsolator.Isolators.Cni;
using Xunit;

namespace NetIsolator.Isolators.Tests.Cni;

/// <summary>What Mesos's three cases (§2.3) ask of the network files setup: its flags, as data.</summary>
public sealed class SetupRequestTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("netiso-setup-request-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void OwnNetworks_UsesTheContainersFiles_AndTheHostsResolvConfWhenItHasNone()
    {
        Assert.Equal(
            new SetupRequest(42, "web-1", Rootfs: null, $"{_directory}/hosts", $"{_directory}/hostname", "/etc/resolv.conf",
                BindHostFiles: true, BindReadOnly: false),
            SetupRequest.OwnNetworks(42, "web-1", rootfs: null, _directory));

        File.WriteAllText(Path.Join(_directory, "resolv.conf"), "nameserver 10.0.0.1\n");
        Assert.Equal(
            new SetupRequest(42, "web-1", "/images/r1", $"{_directory}/hosts", $"{_directory}/hostname", $"{_directory}/resolv.conf",
                BindHostFiles: true, BindReadOnly: false),
            SetupRequest.OwnNetworks(42, "web-1", "/images/r1", _directory));
    }

    [Fact]
    public void JoiningTheParent_SetsNoHostName()
    {
        Assert.Equal(
            new SetupRequest(7, Hostname: null, Rootfs: null, $"{_directory}/hosts", $"{_directory}/hostname", "/etc/resolv.conf",
                BindHostFiles: true, BindReadOnly: false),
            SetupRequest.JoinsParent(7, rootfs: null, _directory));
    }

    [Fact]
    public void HostNetworkImage_IsReadOnly_IntoTheImageOnly_WithTheHostFilesThatExist()
    {
        Assert.Equal(
            new SetupRequest(9, Hostname: null, "/r", "/etc/hosts", EtcHostnamePath: null, "/etc/resolv.conf",
                BindHostFiles: false, BindReadOnly: true),
            SetupRequest.HostNetworkImage(9, "/r", path => path == "/etc/hosts"));
    }
}
