using System.Runtime.InteropServices;
using Google.Protobuf;

namespace NetIsolator.Bridge;

/// <summary>
/// The native completion callback of one lifecycle call. The C ABI promises the callback runs exactly once;
/// this type keeps that promise whatever path (answer, error, exception, abandonment) gets there first.
/// </summary>
internal sealed unsafe class Completion
{
    private const int Ok = 0, Failed = 1, Abandoned = 2;

    private readonly delegate* unmanaged<void*, int, byte*, int, void> _callback;
    private readonly void* _context;
    private int _completed;

    public Completion(delegate* unmanaged<void*, int, byte*, int, void> callback, void* context)
    {
        _callback = callback;
        _context = context;
    }

    /// <summary>Answers with the serialized message; ownership of the buffer passes to the native side.</summary>
    /// <remarks>Serializes before claiming the call, so a failure to serialize still leaves the call to be
    /// answered with <see cref="Fail"/>.</remarks>
    public void Succeed(IMessage response)
    {
        var size = response.CalculateSize();
        byte* buffer = null;
        if (size > 0)
        {
            buffer = (byte*)NativeMemory.Alloc((nuint)size);
            try
            {
                response.WriteTo(new Span<byte>(buffer, size));
            }
            catch
            {
                NativeMemory.Free(buffer);
                throw;
            }
        }
        if (!Claim())
        {
            NativeMemory.Free(buffer);
            return;
        }
        _callback(_context, Ok, buffer, size);
    }

    public void Fail(string error)
    {
        if (!Claim())
        {
            return;
        }
        var buffer = NativeText.Allocate(error, out var length);
        _callback(_context, Failed, buffer, length);
    }

    /// <summary>The call will never be answered; the host drops its future instead of failing it.</summary>
    public void Abandon()
    {
        if (Claim())
        {
            _callback(_context, Abandoned, null, 0);
        }
    }

    private bool Claim() => Interlocked.Exchange(ref _completed, 1) == 0;
}
