using System.Diagnostics;

namespace NetIsolator.Testing;

/// <summary>
/// A stand-in for a container's first process: <c>sleep</c> in the namespaces a launcher would clone for it, made
/// with util-linux's <c>unshare</c> (and <c>nsenter</c> for namespaces joined from another process). Disposing kills it.
/// </summary>
public sealed class ContainerProcess : IDisposable
{
    private readonly Process _process;

    private ContainerProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    /// <summary>
    /// Starts the process in new NET and UTS namespaces (unless <paramref name="network"/> is false: a host-network
    /// container) and a new MNT namespace with private propagation (unless <paramref name="mount"/> is false). With
    /// <paramref name="enterNamespacesOf"/>, it joins that process's NET and UTS namespaces instead, as a nested
    /// container sharing its parent's network does. It sleeps for <paramref name="lifetime"/> (default 120 s) unless
    /// killed first. Returns once the namespaces are in place.
    /// </summary>
    public static ContainerProcess Start(bool network = true, bool mount = true, int? enterNamespacesOf = null, TimeSpan? lifetime = null)
    {
        List<string> command = [];
        if (enterNamespacesOf is { } parent)
        {
            command.AddRange(["nsenter", $"--net=/proc/{parent}/ns/net", $"--uts=/proc/{parent}/ns/uts"]);
            network = false;
        }

        command.Add("unshare");
        if (network)
        {
            command.AddRange(["--net", "--uts"]);
        }

        if (mount)
        {
            command.AddRange(["--mount", "--propagation", "private"]);
        }

        command.AddRange(["sleep", ((int)(lifetime ?? TimeSpan.FromSeconds(120)).TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        var container = new ContainerProcess(Process.Start(new ProcessStartInfo(command[0], command.Skip(1)))!);
        // nsenter and unshare exec what follows them in the same process: once it is sleep, the namespaces are set.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (container.Command() != "sleep")
        {
            if (DateTime.UtcNow > deadline)
            {
                container.Dispose();
                throw new TimeoutException($"'{string.Join(' ', command)}' did not get to sleep within 10 s");
            }

            Thread.Sleep(5);
        }

        return container;
    }

    public void Kill()
    {
        try
        {
            _process.Kill();
            _process.WaitForExit();
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private string Command()
    {
        try
        {
            return File.ReadAllText($"/proc/{Pid}/comm").Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }
}
