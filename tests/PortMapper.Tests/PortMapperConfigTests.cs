using System.Text;
using NetIsolator.Cni.Versions;
using NetIsolator.PortMapper.Config;
using NetIsolator.PortMapper.Plugin;
using Xunit;

namespace NetIsolator.PortMapper.Tests;

public sealed class PortMapperConfigTests
{
    private const string Delegate = """
        "delegate":{"type":"bridge","bridge":"mesos-cni0","ipam":{"type":"host-local","subnet":"192.168.0.0/16"}}
        """;

    [Fact]
    public void MesosConfig_ReadsItsPortMappings_AndEveryExcludedDevice()
    {
        var config = Parse("""
            {"name":"port-mapper-net","type":"mesos-cni-port-mapper","chain":"MESOS-PORT-MAPPER","excludeDevices":["mesos-cni0","docker0","mesos-cni0"],DELEGATE,
             "args":{"org.apache.mesos":{"network_info":{"name":"port-mapper-net","port_mappings":[{"host_port":8080,"container_port":80,"protocol":"TCP"},{"host_port":53,"container_port":5353,"protocol":"udp"}]}}}}
            """);

        Assert.Equal(CniVersion.V010, config.CniVersion);
        Assert.Null(config.DeclaredCniVersion);
        Assert.Equal(["mesos-cni0", "docker0"], config.ExcludeDevices);
        Assert.Equal([(8080, 80, "tcp"), (53, 5353, "udp")], config.Mappings.Select(m => (m.HostPort, m.ContainerPort, m.Protocol)));
        Assert.True(config.Snat);
        Assert.Equal("bridge", config.DelegateType);
        Assert.Equal(CniVersion.V010, config.DelegateVersion);
    }

    [Fact]
    public void CapabilityMappings_WinOverMesosArgs_AndKeepTheirHostIp()
    {
        var config = Parse("""
            {"cniVersion":"1.0.0","name":"n","chain":"PM",DELEGATE,"snat":false,"iptablesBackend":"legacy",
             "args":{"org.apache.mesos":{"network_info":{"port_mappings":[{"host_port":1,"container_port":1}]}}},
             "runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp","hostIP":"::ffff:10.0.0.1"},{"hostPort":9090,"containerPort":90,"hostIP":"0.0.0.0"}]}}
            """);

        Assert.Equal(CniVersion.V100, config.CniVersion);
        Assert.Equal(CniVersion.V100, config.DelegateVersion);
        Assert.Equal([(8080, "10.0.0.1"), (9090, (string?)null)], config.Mappings.Select(m => (m.HostPort, m.HostIp)));
        Assert.False(config.Snat);
        Assert.Equal(BackendChoice.Legacy, config.Backend);
    }

    [Theory]
    [InlineData("""{"chain":"PM",DELEGATE}""", "missing \"name\"")]
    [InlineData("""{"name":"n",DELEGATE}""", "missing \"chain\"")]
    [InlineData("""{"name":"n","chain":"PREROUTING",DELEGATE}""", "built-in")]
    [InlineData("""{"name":"n","chain":"A-CHAIN-NAME-LONGER-THAN-28-CHARS",DELEGATE}""", "1 to 28")]
    [InlineData("""{"name":"n","chain":"P M",DELEGATE}""", "ASCII letters")]
    [InlineData("""{"name":"n","chain":"PM"}""", "missing \"delegate\"")]
    [InlineData("""{"name":"n","chain":"PM","delegate":{"type":"../bin/sh"}}""", "delegate: \"type\"")]
    [InlineData("""{"name":"n","chain":"PM","excludeDevices":["br0",7],DELEGATE}""", "excludeDevices[1]")]
    [InlineData("""{"name":"n","chain":"PM","excludeDevices":["br 0"],DELEGATE}""", "excludeDevices[0]")]
    [InlineData("""{"name":"n","chain":"PM",DELEGATE,"args":{"org.apache.mesos":{}}}""", "missing \"network_info\"")]
    [InlineData("""{"name":"n","chain":"PM",DELEGATE,"args":{"org.apache.mesos":{"network_info":{"port_mappings":[{"host_port":80}]}}}}""", "missing \"container_port\"")]
    [InlineData("""{"name":"n","chain":"PM",DELEGATE,"args":{"org.apache.mesos":{"network_info":{"port_mappings":[{"host_port":0,"container_port":1}]}}}}""", "0 is not a port")]
    [InlineData("""{"name":"n","chain":"PM",DELEGATE,"runtimeConfig":{"portMappings":[{"hostPort":70000,"containerPort":1}]}}""", "70000 is not a port")]
    [InlineData("""{"name":"n","chain":"PM",DELEGATE,"runtimeConfig":{"portMappings":[{"hostPort":1,"containerPort":1,"protocol":"icmp"}]}}""", "not tcp, udp or sctp")]
    [InlineData("""{"name":"n","chain":"PM",DELEGATE,"runtimeConfig":{"portMappings":[{"hostPort":1,"containerPort":1,"hostIP":"10.0.0"}]}}""", "not an IP address")]
    [InlineData("""{"name":"n","chain":"PM",DELEGATE,"runtimeConfig":{"portMappings":[{"hostPort":1,"containerPort":1},{"hostPort":1,"containerPort":2,"hostIP":"10.0.0.1"}]}}""", "both map host port tcp/1")]
    [InlineData("""{"name":"n","chain":"PM",DELEGATE,"iptablesBackend":"ipfw"}""", "\"iptablesBackend\"")]
    [InlineData("""{"name":"n","chain":"PM",DELEGATE,"snat":"yes"}""", "\"snat\"")]
    [InlineData("""[1]""", "expected a JSON object")]
    [InlineData("""{"name":""", "not valid JSON")]
    public void BadConfig_IsCode101_NamingTheKey(string json, string expected)
    {
        var error = Assert.Throws<PortMapperException>(() => Parse(json.Replace("DELEGATE", Delegate.Trim(), StringComparison.Ordinal)));
        Assert.Equal(MesosErrorCodes.BadArgs, error.Code);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutMappings_AsForDel_BadMappingsDoNotStopIt()
    {
        var json = """{"name":"n","chain":"PM",DELEGATE,"runtimeConfig":{"portMappings":[{"hostPort":1,"containerPort":1},{"hostPort":1,"containerPort":2}]}}""";
        Assert.Throws<PortMapperException>(() => Parse(json));
        var config = PortMapperConfig.Parse(Encoding.UTF8.GetBytes(json.Replace("DELEGATE", Delegate.Trim(), StringComparison.Ordinal)), withMappings: false);
        Assert.Empty(config.Mappings);
    }

    [Fact]
    public void UnsupportedCniVersion_IsTheSpecsCode1()
    {
        var error = Assert.Throws<PortMapperException>(() => Parse("""{"cniVersion":"9.9.9","name":"n","chain":"PM",DELEGATE}"""));
        Assert.Equal(1u, error.Code);
    }

    private static PortMapperConfig Parse(string json) =>
        PortMapperConfig.Parse(Encoding.UTF8.GetBytes(json.Replace("DELEGATE", Delegate.Trim(), StringComparison.Ordinal)));
}
