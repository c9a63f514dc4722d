using System.Globalization;
using System.Text.Json;
using Mesos;

namespace NetIsolator.Isolators.PortMappingIsolation;

/// <summary>
/// What the isolator needs from the agent's <c>--resources</c> flag: the <c>ports</c> it manages for tasks, the
/// <c>ephemeral_ports</c> pool it cuts into per-container blocks, and <c>cpus</c> (for <c>*_rate_per_cpu=auto</c>).
/// Only the flag's text counts, as in Mesos: without <c>ports</c> the managed set is empty even though the agent
/// then offers its default <c>[31000-32000]</c>. Entries of the same name under different roles are added up.
/// </summary>
/// <param name="Ports">The managed non-ephemeral ports (empty when absent).</param>
/// <param name="EphemeralPorts">The ephemeral pool (empty when absent).</param>
/// <param name="Cpus">The <c>cpus</c> scalar, or null when absent.</param>
public sealed record AgentResources(PortSet Ports, PortSet EphemeralPorts, double? Cpus)
{
    public const string PortsName = "ports";
    public const string EphemeralPortsName = "ephemeral_ports";
    public const string CpusName = "cpus";

    public static AgentResources Empty { get; } = new(PortSet.Empty, PortSet.Empty, null);

    /// <summary>
    /// Parses the text form <c>name(role):value;…</c> (value a scalar <c>2</c>, ranges <c>[1-2, 5-6]</c> or a set
    /// <c>{a,b}</c>; role optional) or the JSON form (an array of Mesos <c>Resource</c> objects).
    /// </summary>
    /// <exception cref="FormatException">Says which entry and why.</exception>
    public static AgentResources Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Empty;
        }

        var trimmed = text.Trim();
        // The text form starts with a resource name; only the JSON form can start with '['.
        return trimmed.StartsWith('[') ? ParseJson(trimmed) : ParseText(trimmed);
    }

    private static AgentResources ParseText(string text)
    {
        var ports = PortSet.Empty;
        var ephemeral = PortSet.Empty;
        double? cpus = null;
        foreach (var raw in text.Split(';'))
        {
            var entry = raw.Trim();
            if (entry.Length == 0)
            {
                continue;
            }

            var colon = entry.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw new FormatException($"resource '{entry}' is not 'name:value'");
            }

            var name = entry[..colon].Trim();
            var paren = name.IndexOf('(', StringComparison.Ordinal);
            if (paren >= 0)
            {
                if (!name.EndsWith(')'))
                {
                    throw new FormatException($"resource '{entry}': role is not closed with ')'");
                }

                name = name[..paren].Trim();
            }

            var value = entry[(colon + 1)..].Trim();
            try
            {
                switch (name)
                {
                    case PortsName:
                        ports = ports.Union(PortSet.Parse(RangesText(value)));
                        break;
                    case EphemeralPortsName:
                        ephemeral = ephemeral.Union(PortSet.Parse(RangesText(value)));
                        break;
                    case CpusName:
                        cpus = (cpus ?? 0) + ParseScalar(value);
                        break;
                }
            }
            catch (FormatException e)
            {
                throw new FormatException($"resource '{entry}': {e.Message}", e);
            }
        }

        return new AgentResources(ports, ephemeral, cpus);
    }

    private static string RangesText(string value) =>
        value.StartsWith('[') && value.EndsWith(']')
            ? value
            : throw new FormatException($"'{value}' is not a list of ranges like [31000-32000]");

    private static double ParseScalar(string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var scalar) && scalar >= 0 && double.IsFinite(scalar)
            ? scalar
            : throw new FormatException($"'{value}' is not a non-negative number");

    private static AgentResources ParseJson(string text)
    {
        var resources = new List<Resource>();
        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException("JSON resources must be an array of Resource objects");
            }

            foreach (var element in document.RootElement.EnumerateArray())
            {
                resources.Add(Resource.Parser.ParseJson(element.GetRawText()));
            }
        }
        catch (Exception e) when (e is JsonException or Google.Protobuf.InvalidJsonException or Google.Protobuf.InvalidProtocolBufferException)
        {
            throw new FormatException($"JSON resources: {e.Message}", e);
        }

        return FromResources(resources);
    }

    /// <summary>The managed port sets and cpus of a container's or the agent's resources.</summary>
    public static AgentResources FromResources(IEnumerable<Resource> resources)
    {
        ArgumentNullException.ThrowIfNull(resources);
        var ports = PortSet.Empty;
        var ephemeral = PortSet.Empty;
        double? cpus = null;
        foreach (var resource in resources)
        {
            switch (resource.Name)
            {
                case PortsName:
                    ports = ports.Union(RangesOf(resource));
                    break;
                case EphemeralPortsName:
                    ephemeral = ephemeral.Union(RangesOf(resource));
                    break;
                case CpusName when resource.Scalar is not null:
                    cpus = (cpus ?? 0) + resource.Scalar.Value;
                    break;
            }
        }

        return new AgentResources(ports, ephemeral, cpus);
    }

    /// <exception cref="FormatException">A range leaves 0–65535 or ends before it begins.</exception>
    public static PortSet RangesOf(Resource resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        if (resource.Ranges is null)
        {
            return PortSet.Empty;
        }

        var intervals = new List<PortInterval>();
        foreach (var range in resource.Ranges.Range)
        {
            if (range.Begin > range.End || range.End > PortSet.MaxPort)
            {
                throw new FormatException($"resource '{resource.Name}': invalid range [{range.Begin}-{range.End}]");
            }

            intervals.Add(new PortInterval((int)range.Begin, (int)range.End));
        }

        return PortSet.Of(intervals);
    }
}
