using System.Globalization;
using System.Text.Json.Nodes;

namespace NetIsolator.Isolators.PortMappingIsolation;

/// <summary>
/// One direction's HTB shaping: class <c>1:1</c> under root qdisc <c>1:0</c> (<c>htb default 1</c>) gets
/// <see cref="Rate"/> bytes/s, may borrow up to <see cref="Ceil"/>, and send <see cref="Burst"/> bytes at ceil speed.
/// Egress shaping sits on the container's eth0, ingress shaping on the host end of the veth (a packet towards the
/// container leaves the host through it). 64-bit throughout: 5859375000 B/s does not fit a 32-bit bits/s.
/// </summary>
public sealed record HtbConfig(ulong Rate, ulong? Ceil = null, ulong? Burst = null)
{
    /// <summary>Mesos's <c>htb_config</c> JSON: <c>{"rate":N[,"ceil":N][,"burst":N]}</c>.</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["rate"] = Rate };
        if (Ceil is { } ceil)
        {
            json["ceil"] = ceil;
        }

        if (Burst is { } burst)
        {
            json["burst"] = burst;
        }

        return json;
    }

    /// <summary>The JSON of <paramref name="config"/>, <c>{}</c> for none (= remove shaping).</summary>
    public static string ToJsonText(HtbConfig? config) => config?.ToJson().ToJsonString() ?? "{}";

    /// <summary>Parses <see cref="ToJsonText"/>; <c>{}</c> is null.</summary>
    /// <exception cref="FormatException">Not an object, <c>rate</c> missing from a non-empty one, or a value not a non-negative integer.</exception>
    public static HtbConfig? Parse(string text)
    {
        try
        {
            var json = JsonNode.Parse(text) as JsonObject ?? throw new FormatException("HTB config is not a JSON object");
            if (json.Count == 0)
            {
                return null;
            }

            return new HtbConfig(
                Field(json, "rate") ?? throw new FormatException("Mandatory HTB rate not specified"),
                Field(json, "ceil"),
                Field(json, "burst"));
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
        {
            throw new FormatException($"HTB config '{text}': {e.Message}", e);
        }
    }

    private static ulong? Field(JsonObject json, string name) => json[name]?.GetValue<ulong>();

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"rate {Rate}B/s")
        + (Ceil is { } c ? string.Create(CultureInfo.InvariantCulture, $" ceil {c}B/s") : "")
        + (Burst is { } b ? string.Create(CultureInfo.InvariantCulture, $" burst {b}B") : "");
}

/// <summary>One direction's rate flags (<c>egress_*</c> or <c>ingress_*</c>).</summary>
/// <param name="Fixed"><c>--{dir}_rate_limit_per_container</c>.</param>
/// <param name="PerCpu"><c>--{dir}_rate_per_cpu</c> as given: <c>auto</c> or a byte size.</param>
/// <param name="Minimum"><c>--minimum_{dir}_rate_limit</c>.</param>
/// <param name="Maximum"><c>--maximum_{dir}_rate_limit</c>.</param>
/// <param name="Ceil"><c>--{dir}_ceil_limit</c>.</param>
/// <param name="Burst"><c>--{dir}_burst</c>.</param>
public sealed record RateLimitFlags(
    ByteSize? Fixed = null,
    string? PerCpu = null,
    ByteSize? Minimum = null,
    ByteSize? Maximum = null,
    ByteSize? Ceil = null,
    ByteSize? Burst = null)
{
    public const string Auto = "auto";

    /// <summary>The floor when no minimum is given, for both directions: 125000 B/s = 1 Mbit/s.</summary>
    public const ulong DefaultMinimum = 125000;

    public static RateLimitFlags None { get; } = new();

    /// <summary>Whether any flag that needs the link speed to be checked is set (fixed, minimum, maximum).</summary>
    public bool HasLimitFlags => Fixed is not null || Minimum is not null || Maximum is not null;

    /// <summary>
    /// Mesos's HTB computation: rate = the fixed flag, else per-CPU rate × whole CPUs (0 when the container has
    /// none), else no shaping; then raised to the minimum (125000 B/s when unset) and cut to the maximum. A ceil is
    /// used only when above the rate, and a burst only with a ceil. <c>--{dir}_rate_limit_per_container=0B</c> is a
    /// limit of 0 raised to the minimum, not "no limit" (as in Mesos's code, against its docs).
    /// </summary>
    /// <param name="perCpuRate">The per-CPU rate resolved at start (see <see cref="PortMappingOptions.ResolvePerCpuRate"/>), or null.</param>
    /// <param name="cpus">The container's <c>cpus</c>, or null.</param>
    public HtbConfig? Compute(ulong? perCpuRate, double? cpus)
    {
        ulong rate;
        if (Fixed is { } fixedRate)
        {
            rate = fixedRate.Bytes;
        }
        else if (perCpuRate is { } perCpu)
        {
            var wholeCpus = (ulong)Math.Floor(Math.Max(0, cpus ?? 0));
            rate = wholeCpus != 0 && perCpu > ulong.MaxValue / wholeCpus ? ulong.MaxValue : perCpu * wholeCpus;
        }
        else
        {
            return null;
        }

        rate = Math.Max(Minimum?.Bytes ?? DefaultMinimum, rate);
        if (Maximum is { } maximum)
        {
            rate = Math.Min(maximum.Bytes, rate);
        }

        if (Ceil is { } ceil && ceil.Bytes > rate)
        {
            return new HtbConfig(rate, ceil.Bytes, Burst?.Bytes);
        }

        return new HtbConfig(rate);
    }
}
