using NetIsolator.Cni.Results;
using NetIsolator.Cni.Versions;
using Xunit;

namespace NetIsolator.Cni.Tests.Results;

/// <summary>Every (from, to) pair of supported versions, as containernetworking/plugins runs AllSpecVersions.</summary>
public sealed class ResultConversionTests
{
    private const string Dns =
        """{"nameservers":["10.22.0.1"],"domain":"example.org","search":["example.org"],"options":["ndots:2"]}""";

    // A 1.1.0 result using every field: two interfaces, two IPv4 and one IPv6 address, 1.1.0-only route and
    // interface fields.
    private const string Full110 = $$"""
        {"cniVersion":"1.1.0",
         "interfaces":[{"name":"cni0","mac":"aa:bb:cc:dd:ee:01"},
                       {"name":"eth0","mac":"aa:bb:cc:dd:ee:02","mtu":1450,"sandbox":"/var/run/netns/c1",
                        "socketPath":"/run/vhost.sock","pciID":"0000:00:1f.6"}],
         "ips":[{"interface":1,"address":"10.22.0.5/16","gateway":"10.22.0.1"},
                {"interface":1,"address":"fd00::5/64","gateway":"fd00::1"},
                {"interface":1,"address":"10.23.0.5/16"}],
         "routes":[{"dst":"0.0.0.0/0","gw":"10.22.0.1","mtu":1400,"advmss":1360,"priority":10,"table":100,"scope":0},
                   {"dst":"::/0"}],
         "dns":{{Dns}}}
        """;

    public static TheoryData<string, string> AllVersionPairs()
    {
        var data = new TheoryData<string, string>();
        foreach (var from in CniVersion.Supported)
        {
            foreach (var to in CniVersion.Supported)
            {
                data.Add(from.ToString(), to.ToString());
            }
        }

        return data;
    }

    private static bool IsLegacy(string v) => v is "0.1.0" or "0.2.0";

    private static bool HasIpVersion(string v) => v is "0.3.0" or "0.3.1" or "0.4.0";

    /// <summary>The golden JSON for Full110 converted to <paramref name="from"/>, then to <paramref name="to"/>.</summary>
    private static string Expected(string from, string to)
    {
        if (IsLegacy(to))
        {
            return $$"""
                {"cniVersion":"{{to}}",
                 "ip4":{"ip":"10.22.0.5/16","gateway":"10.22.0.1","routes":[{"dst":"0.0.0.0/0","gw":"10.22.0.1"}]},
                 "ip6":{"ip":"fd00::5/64","gateway":"fd00::1","routes":[{"dst":"::/0"}]},
                 "dns":{{Dns}}}
                """;
        }

        string V(string family) => HasIpVersion(to) ? $"\"version\":\"{family}\"," : "";
        if (IsLegacy(from))
        {
            // Up from 0.2.0: ips without interfaces, routes lifted to the top level.
            return $$"""
                {"cniVersion":"{{to}}",
                 "ips":[{{{V("4")}}"address":"10.22.0.5/16","gateway":"10.22.0.1"},
                        {{{V("6")}}"address":"fd00::5/64","gateway":"fd00::1"}],
                 "routes":[{"dst":"0.0.0.0/0","gw":"10.22.0.1"},{"dst":"::/0"}],
                 "dns":{{Dns}}}
                """;
        }

        if (from == "1.1.0" && to == "1.1.0")
        {
            return Full110;
        }

        return $$"""
            {"cniVersion":"{{to}}",
             "interfaces":[{"name":"cni0","mac":"aa:bb:cc:dd:ee:01"},
                           {"name":"eth0","mac":"aa:bb:cc:dd:ee:02","sandbox":"/var/run/netns/c1"}],
             "ips":[{{{V("4")}}"interface":1,"address":"10.22.0.5/16","gateway":"10.22.0.1"},
                    {{{V("6")}}"interface":1,"address":"fd00::5/64","gateway":"fd00::1"},
                    {{{V("4")}}"interface":1,"address":"10.23.0.5/16"}],
             "routes":[{"dst":"0.0.0.0/0","gw":"10.22.0.1"},{"dst":"::/0"}],
             "dns":{{Dns}}}
            """;
    }

    [Theory]
    [MemberData(nameof(AllVersionPairs))]
    public void Converts_between_every_pair_of_versions(string from, string to)
    {
        // The source document is the golden JSON a plugin at `from` prints, parsed from text.
        var sourceJson = Expected("1.1.0", from);
        var source = CniResults.Parse(Json.Utf8(sourceJson));
        Assert.Equal(from, source.CniVersion.ToString());
        Json.Equal(sourceJson, source.ToJson());

        var converted = source.ConvertTo(CniVersion.Parse(to));

        Assert.Equal(to, converted.CniVersion.ToString());
        Json.Equal(Expected(from, to), converted.ToJson());
        if (converted.CniVersion < CniVersion.V110)
        {
            // Dropped from the model too, not only hidden by the writer.
            Assert.DoesNotContain(converted.Routes, r => r.HasV11Fields);
            Assert.DoesNotContain(converted.Interfaces, i => i.Mtu is not null || i.SocketPath is not null || i.PciId is not null);
        }

        // What is written can be read back at the target version unchanged.
        Json.Equal(Expected(from, to), CniResults.Parse(converted.ToUtf8Bytes()).ToJson());
    }

    [Fact]
    public void Golden_020_plugin_output_up_to_031()
    {
        var result = CniResults.Parse(Json.Utf8("""
            {"cniVersion":"0.2.0",
             "ip4":{"ip":"192.168.1.7/24","gateway":"192.168.1.1",
                    "routes":[{"dst":"0.0.0.0/0"},{"dst":"10.0.0.0/8","gw":"192.168.1.254"}]},
             "dns":{"nameservers":["8.8.8.8"]}}
            """));

        Json.Equal("""
            {"cniVersion":"0.3.1",
             "ips":[{"version":"4","address":"192.168.1.7/24","gateway":"192.168.1.1"}],
             "routes":[{"dst":"0.0.0.0/0"},{"dst":"10.0.0.0/8","gw":"192.168.1.254"}],
             "dns":{"nameservers":["8.8.8.8"]}}
            """, result.ConvertTo(CniVersion.V031).ToJson());
        Assert.Null(result.Ips[0].Interface);
        Assert.Empty(result.Interfaces);
    }

    [Fact]
    public void Down_to_020_keeps_routes_only_for_a_family_that_has_an_address()
    {
        var result = CniResults.Parse(Json.Utf8("""
            {"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}],
             "ips":[{"interface":0,"address":"10.1.0.2/24"}],
             "routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"},{"dst":"::/0","gw":"fe80::1"}]}
            """));

        Json.Equal("""
            {"cniVersion":"0.2.0","ip4":{"ip":"10.1.0.2/24","routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"}]}}
            """, result.ConvertTo(CniVersion.V020).ToJson());
    }

    [Theory]
    [InlineData("0.1.0")]
    [InlineData("0.2.0")]
    public void Down_to_legacy_without_any_address_fails_naming_versions_and_field(string to)
    {
        var result = CniResults.Parse(Json.Utf8("""{"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}]}"""));
        var e = Assert.Throws<CniResultException>(() => result.ConvertTo(CniVersion.Parse(to)));
        Assert.Contains("1.0.0", e.Message);
        Assert.Contains(to, e.Message);
        Assert.Contains("ips", e.Message);
    }

    [Fact]
    public void Writing_a_hand_built_result_that_does_not_fit_020_is_refused()
    {
        var result = CniResults.Parse(Json.Utf8(Expected("1.1.0", "1.0.0")));
        var wrong = new CniResult { CniVersion = CniVersion.V020, Ips = result.Ips };
        var e = Assert.Throws<CniResultException>(() => wrong.ToJson());
        Assert.Contains("ConvertTo", e.Message);
    }

    [Fact]
    public void Every_pair_has_a_registered_converter()
    {
        foreach (var from in CniVersion.Supported)
        {
            foreach (var to in CniVersion.Supported)
            {
                Assert.True(ResultConverters.CanConvert(from, to), $"{from} -> {to}");
            }
        }

        Assert.False(ResultConverters.CanConvert(CniVersion.V040, CniVersion.Parse("0.5.0")));
    }
}
