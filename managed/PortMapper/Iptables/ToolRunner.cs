using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace NetIsolator.PortMapper.Iptables;

/// <summary>What a tool printed and how it ended.</summary>
public sealed record ToolResult(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// Runs a host tool (iptables-save, iptables-restore, conntrack) by argv, never through a shell, with the plugin's
/// own environment, optional stdin, both outputs captured, and a time limit after which it is killed.
/// </summary>
public static class ToolRunner
{
    public static readonly TimeSpan DefaultTimeLimit = TimeSpan.FromSeconds(30);

    /// <exception cref="ToolException">The tool could not be started or ran past its time limit.</exception>
    public static ToolResult Run(string path, IReadOnlyList<string> arguments, string? stdin = null, TimeSpan? timeLimit = null)
    {
        var startInfo = new ProcessStartInfo(path)
        {
            UseShellExecute = false,
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var command = Describe(path, arguments);
        Process process;
        try
        {
            process = Process.Start(startInfo) ?? throw new ToolException($"{command}: could not be started");
        }
        catch (Win32Exception e)
        {
            throw new ToolException($"{command}: could not be started: {e.Message}", e);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (stdin is not null)
            {
                try
                {
                    process.StandardInput.Write(stdin);
                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // It exited without reading everything; its status says why.
                }
            }

            if (!process.WaitForExit(timeLimit ?? DefaultTimeLimit))
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }

                process.WaitForExit();
                throw new ToolException($"{command}: still running after {(timeLimit ?? DefaultTimeLimit).TotalSeconds:0}s; killed");
            }

            process.WaitForExit();
            return new ToolResult(process.ExitCode, stdout.Result, stderr.Result.Trim());
        }
    }

    public static string Describe(string path, IEnumerable<string> arguments) =>
        new StringBuilder(path).Append(' ').AppendJoin(' ', arguments).ToString().TrimEnd();
}

/// <summary>A tool could not be run at all, or did not finish in time.</summary>
public sealed class ToolException(string message, Exception? inner = null) : Exception(message, inner);
