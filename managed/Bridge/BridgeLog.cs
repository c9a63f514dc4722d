using System.Buffers;
using System.Text;

namespace NetIsolator.Bridge;

/// <summary>
/// Log lines for the host's log (the agent's glog, through the provider's log sink). Before the provider has
/// handed over its sink (unit tests), lines go to standard error.
/// </summary>
public static unsafe class BridgeLog
{
    private const int Debug = 0, Info = 1, Warning = 2, Error = 3;

    private static delegate* unmanaged<int, byte*, int, void> s_sink;

    internal static void Attach(delegate* unmanaged<int, byte*, int, void> sink) => s_sink = sink;

    public static void LogDebug(string message) => Write(Debug, message);

    public static void LogInfo(string message) => Write(Info, message);

    public static void LogWarning(string message) => Write(Warning, message);

    public static void LogError(string message) => Write(Error, message);

    private static void Write(int level, string message)
    {
        var sink = s_sink;
        if (sink == null)
        {
            Console.Error.WriteLine($"netisolator[{level}]: {message}");
            return;
        }
        var rented = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(message.Length));
        try
        {
            var length = Encoding.UTF8.GetBytes(message, rented);
            fixed (byte* text = rented)
            {
                sink(level, text, length);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
