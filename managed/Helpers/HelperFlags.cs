using System.Collections;

namespace NetIsolator.Helpers;

/// <summary>The type of a helper flag's value.</summary>
public enum FlagKind
{
    String,
    Boolean,
}

/// <summary>A flag a helper subcommand accepts.</summary>
public sealed record FlagDefinition(string Name, FlagKind Kind, string Help);

/// <summary>A command line or environment that does not fit the flag definitions.</summary>
public sealed class FlagException(string message) : Exception(message);

/// <summary>
/// Flags as Mesos's helper subcommands take them, so the agent's command lines work unchanged:
/// <c>--name=value</c>; for booleans also <c>--name</c> (true) and <c>--no-name</c> (false); and, for a flag not on
/// the command line, the environment variable <c>&lt;prefix&gt;&lt;NAME&gt;</c> (e.g. <c>MESOS_CONTAINERIZER_PID</c>).
/// Unknown flags, positional arguments, duplicates and malformed booleans are errors.
/// </summary>
public sealed class HelperFlags
{
    private readonly Dictionary<string, string> _values;

    private HelperFlags(Dictionary<string, string> values) => _values = values;

    /// <summary>Parses <paramref name="arguments"/> (without the subcommand) against <paramref name="definitions"/>.</summary>
    /// <exception cref="FlagException">An argument or variable does not fit; the message names it.</exception>
    public static HelperFlags Parse(
        IReadOnlyList<FlagDefinition> definitions, IReadOnlyList<string> arguments, string environmentPrefix, IDictionary environment)
    {
        var byName = definitions.ToDictionary(d => d.Name, StringComparer.Ordinal);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var argument in arguments)
        {
            if (!argument.StartsWith("--", StringComparison.Ordinal) || argument.Length == 2)
            {
                throw new FlagException($"unexpected argument '{argument}' (flags are given as --name=value)");
            }

            var body = argument[2..];
            var equals = body.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? body : body[..equals];
            string value;
            if (equals >= 0)
            {
                value = body[(equals + 1)..];
            }
            else if (byName.TryGetValue(name, out var bare) && bare.Kind == FlagKind.Boolean)
            {
                value = "true";
            }
            else if (name.StartsWith("no-", StringComparison.Ordinal)
                && byName.TryGetValue(name[3..], out var negated) && negated.Kind == FlagKind.Boolean)
            {
                name = name[3..];
                value = "false";
            }
            else if (byName.ContainsKey(name))
            {
                throw new FlagException($"flag '--{name}' needs a value (--{name}=VALUE)");
            }
            else
            {
                throw new FlagException($"unknown flag '--{name}'");
            }

            if (!byName.TryGetValue(name, out var definition))
            {
                throw new FlagException($"unknown flag '--{name}'");
            }

            if (!values.TryAdd(name, Check(definition, value, $"--{name}")))
            {
                throw new FlagException($"flag '--{name}' is given more than once");
            }
        }

        foreach (var definition in definitions)
        {
            var variable = environmentPrefix + definition.Name.ToUpperInvariant();
            if (!values.ContainsKey(definition.Name) && environment[variable] is string fromEnvironment)
            {
                values[definition.Name] = Check(definition, fromEnvironment, variable);
            }
        }

        return new HelperFlags(values);
    }

    /// <summary>The value of a string flag, or null if it was not given.</summary>
    public string? String(string name) => _values.GetValueOrDefault(name);

    /// <summary>The value of a boolean flag, or <paramref name="fallback"/> if it was not given.</summary>
    public bool Boolean(string name, bool fallback = false) =>
        _values.TryGetValue(name, out var value) ? value == "true" : fallback;

    /// <summary>The usage text: one line per flag.</summary>
    public static string Usage(string command, IReadOnlyList<FlagDefinition> definitions) =>
        $"Usage: {command} [options]\n\n"
        + string.Concat(definitions.Select(d => $"  --{d.Name}{(d.Kind == FlagKind.Boolean ? "" : "=VALUE"),-7} {d.Help}\n"));

    private static string Check(FlagDefinition definition, string value, string source)
    {
        if (definition.Kind == FlagKind.Boolean && value is not ("true" or "false"))
        {
            throw new FlagException($"'{source}' must be 'true' or 'false', not '{value}'");
        }

        return value;
    }
}
