using System.Runtime.InteropServices;
using System.Text;

namespace NetIsolator.Bridge;

/// <summary>UTF-8 text in native memory: what crosses the C ABI as <c>char*</c>.</summary>
internal static unsafe class NativeText
{
    /// <summary>A NUL-terminated copy the native side releases with netiso_free.</summary>
    public static byte* Allocate(string text, out int length)
    {
        length = Encoding.UTF8.GetByteCount(text);
        var buffer = (byte*)NativeMemory.Alloc((nuint)length + 1);
        Encoding.UTF8.GetBytes(text, new Span<byte>(buffer, length));
        buffer[length] = 0;
        return buffer;
    }

    public static byte* Allocate(string text) => Allocate(text, out _);

    public static string Read(byte* text) => Marshal.PtrToStringUTF8((nint)text) ?? "";
}
