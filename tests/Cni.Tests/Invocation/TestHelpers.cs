using System.Diagnostics;

namespace NetIsolator.Cni.Tests.Invocation;

/// <summary>A private temporary directory, deleted on dispose.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("netiso-cni-test-").FullName;
    }

    public string Path { get; }

    public string Join(string name) => System.IO.Path.Join(Path, name);

    /// <summary>Writes a /bin/sh mock plugin (mode 0755) and returns its path.</summary>
    public string WriteScript(string name, string body)
    {
        var path = Join(name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Runs a command (argv, no shell) and returns its stdout; throws on failure. Bounded by a time limit.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class Command
{
    public static string Run(string file, params string[] args)
    {
        var (exit, stdout, stderr) = TryRun(file, args);
        if (exit != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed (exit {exit}): {stderr}");
        }

        return stdout;
    }

    public static (int Exit, string Stdout, string Stderr) TryRun(string file, params string[] args)
    {
        var startInfo = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            startInfo.ArgumentList.Add(arg);
        }

        using var process = Process.Start(startInfo)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(30_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 30 s");
        }

        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>True when the pid no longer exists or is a zombie waiting to be reaped by someone else.</summary>
    public static bool IsGone(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is 'Z' or 'X';
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return true;
        }
    }
}
