using System.Runtime.ExceptionServices;

namespace NetIsolator.Linux;

/// <summary>
/// Runs a function on a new, dedicated OS thread and waits for it. Whatever namespace the function moves that
/// thread into dies with the thread: it never goes back to the thread pool and nothing has to be restored.
/// </summary>
internal static class NamespaceThread
{
    /// <summary>Enough for plugin start-up and netlink; the default would be the runtime's 1.5 MB anyway.</summary>
    private const int StackSize = 1024 * 1024;

    public static T Run<T>(string name, Func<T> function)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(
            () =>
            {
                try
                {
                    result = function();
                }
                catch (Exception exception)
                {
                    failure = ExceptionDispatchInfo.Capture(exception);
                }
            },
            StackSize)
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }
}
