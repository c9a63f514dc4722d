internal static partial class Interop
{
    internal static class Libraries
    {
        /// <summary>The C library. Resolved by the runtime's probing to glibc's libc.so.6.</summary>
        internal const string Libc = "libc";
    }
}
