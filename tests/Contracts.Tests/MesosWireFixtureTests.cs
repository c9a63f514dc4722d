using System.Text.RegularExpressions;
using Google.Protobuf;
using Xunit;

namespace NetIsolator.Contracts.Tests;

/// <summary>
/// The project's declarations read and write exactly what Mesos's schema reads and writes, shown on messages
/// Mesos encoded itself.
/// </summary>
public sealed class MesosWireFixtureTests
{
    private static readonly JsonFormatter s_formatter =
        new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true));

    [Theory]
    [MemberData(nameof(MesosWireFixtures.Names), MemberType = typeof(MesosWireFixtures))]
    public void MesosBytesParseToTheFieldsOfTheJson(string fixture)
    {
        var expected = MesosWireFixtures.ParseJson(fixture);

        var actual = MesosWireFixtures.ParseBinary(fixture);

        // The JSON comparison names the differing field on failure; Equals also compares unknown fields, so it
        // fails if the bytes held a field our declarations lack.
        Assert.Equal(s_formatter.Format(expected), s_formatter.Format(actual));
        Assert.Equal(expected, actual);
    }

    [Theory]
    [MemberData(nameof(MesosWireFixtures.Names), MemberType = typeof(MesosWireFixtures))]
    public void ParsedMessageSerializesBackToTheSameBytes(string fixture)
    {
        var message = MesosWireFixtures.ParseBinary(fixture);

        Assert.Equal(MesosWireFixtures.ReadBinary(fixture), message.ToByteArray());
    }

    /// <summary>
    /// A message built field by field (here from JSON) encodes as Mesos encodes it. This also proves that
    /// optional fields explicitly set to their default (<c>role: "*"</c>, <c>protocol: IPv4</c>,
    /// <c>shell: false</c>) keep their presence.
    /// </summary>
    [Theory]
    [MemberData(nameof(MesosWireFixtures.Names), MemberType = typeof(MesosWireFixtures))]
    public void MessageBuiltFromTheJsonEncodesToTheMesosBytes(string fixture)
    {
        var message = MesosWireFixtures.ParseJson(fixture);

        Assert.Equal(MesosWireFixtures.ReadBinary(fixture), message.ToByteArray());
    }

    [Theory]
    [MemberData(nameof(MesosWireFixtures.Names), MemberType = typeof(MesosWireFixtures))]
    public void ParsedMessageHasEveryRequiredField(string fixture)
    {
        Assert.True(MesosWireFixtures.ParseBinary(fixture).IsInitialized());
    }

    [Fact]
    public void FixtureTableCoversEveryVectorWithTheTypeTheReadmeNames()
    {
        var readme = File.ReadAllText(Path.Combine(MesosWireFixtures.Directory, "README.md"));
        var namedInReadme = Regex
            .Matches(readme, @"^\| `(?<fixture>\w+)` \| `(?<type>[\w.]+)` \|", RegexOptions.Multiline)
            .ToDictionary(m => m.Groups["fixture"].Value, m => m.Groups["type"].Value);
        var vectors = System.IO.Directory.GetFiles(MesosWireFixtures.Directory, "*.bin")
            .Select(path => Path.GetFileNameWithoutExtension(path))
            .Order();

        Assert.Equal(vectors, namedInReadme.Keys.Order());
        var inTable = MesosWireFixtures.MessageTypes.ToDictionary(p => p.Key, p => p.Value.FullName);
        Assert.Equal(namedInReadme.OrderBy(p => p.Key), inTable.OrderBy(p => p.Key));
    }
}
