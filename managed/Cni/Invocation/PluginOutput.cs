namespace NetIsolator.Cni.Invocation;

/// <summary>What a plugin that exited 0 produced.</summary>
/// <param name="Stdout">Its stdout, byte-exact (the result or VERSION answer as JSON).</param>
/// <param name="Stderr">Its stderr (free-form logs), trimmed and bounded.</param>
/// <param name="Elapsed">Wall time from start to exit.</param>
public sealed record PluginOutput(byte[] Stdout, string Stderr, TimeSpan Elapsed);
