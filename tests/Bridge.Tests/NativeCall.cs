using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;

namespace NetIsolator.Bridge.Tests;

/// <summary>What the bridge handed to the native completion callback.</summary>
/// <param name="Status">NETISO_STATUS_*.</param>
/// <param name="Data">A copy of the buffer (empty when the bridge passed none).</param>
/// <param name="DataWasNull">Whether the bridge passed a null buffer.</param>
/// <param name="NulTerminated">Whether the byte after the buffer was NUL (error texts are C strings).</param>
internal sealed record Answer(int Status, byte[] Data, bool DataWasNull, bool NulTerminated)
{
    public string Text => Encoding.UTF8.GetString(Data);

    public override string ToString() =>
        Status == NativeCall.Failed ? $"FAILED: {Text}" : $"status {Status}, {Data.Length} byte(s)";
}

/// <summary>
/// One lifecycle call as the native side sees it: a <see cref="Completion"/> whose callback is a real
/// [UnmanagedCallersOnly] function pointer, with this object reached through a GCHandle in the context pointer.
/// The callback copies and frees the buffer it is given (as the native side frees it with netiso_free).
/// </summary>
internal sealed class NativeCall : IDisposable
{
    public const int Ok = 0, Failed = 1, Abandoned = 2;

    /// <summary>Long enough for a loaded machine; a bug that leaves a call unanswered fails instead of hanging.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly TaskCompletionSource<Answer> _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private GCHandle _handle;
    private int _callbacks;

    public unsafe NativeCall()
    {
        _handle = GCHandle.Alloc(this);
        Completion = new Completion(
            (delegate* unmanaged<void*, int, byte*, int, void>)(delegate* unmanaged[Cdecl]<void*, int, byte*, int, void>)&OnDone,
            (void*)GCHandle.ToIntPtr(_handle));
    }

    public Completion Completion { get; }

    /// <summary>How many times the callback ran; the C ABI promises exactly once.</summary>
    public int Callbacks => Volatile.Read(ref _callbacks);

    public bool IsAnswered => _answer.Task.IsCompleted;

    /// <summary>The answer, or a <see cref="TimeoutException"/> after <see cref="Timeout"/>.</summary>
    public Task<Answer> AnswerAsync() => _answer.Task.WaitAsync(Timeout);

    public async Task<Answer> SucceededAsync()
    {
        var answer = await AnswerAsync();
        Assert.True(answer.Status == Ok, $"expected OK, got {answer}");
        return answer;
    }

    public async Task<T> SucceededAsync<T>(MessageParser<T> parser) where T : IMessage<T> =>
        parser.ParseFrom((await SucceededAsync()).Data);

    public async Task<string> FailedAsync()
    {
        var answer = await AnswerAsync();
        Assert.True(answer.Status == Failed, $"expected FAILED, got {answer}");
        Assert.False(answer.DataWasNull);
        Assert.True(answer.NulTerminated, "error text is not NUL-terminated");
        return answer.Text;
    }

    public async Task AbandonedAsync()
    {
        var answer = await AnswerAsync();
        Assert.True(answer.Status == Abandoned, $"expected ABANDONED, got {answer}");
        Assert.True(answer.DataWasNull);
        Assert.Empty(answer.Data);
    }

    /// <summary>Asserts the call is still unanswered after giving the bridge <paramref name="grace"/> to answer.</summary>
    public async Task StillPendingAfterAsync(TimeSpan grace)
    {
        await Task.WhenAny(_answer.Task, Task.Delay(grace));
        Assert.False(IsAnswered, $"expected the call to be pending, but it was answered: {(IsAnswered ? _answer.Task.Result : null)}");
    }

    /// <summary>
    /// Frees the GCHandle once the call was answered. An unanswered call keeps its handle on purpose: a late
    /// callback (after the test ended) must still find a live object rather than crash the test process.
    /// </summary>
    public void Dispose()
    {
        if (IsAnswered && _handle.IsAllocated)
        {
            _handle.Free();
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnDone(void* context, int status, byte* data, int length)
    {
        // An exception escaping here would end the test process: record what arrived and nothing else.
        if (GCHandle.FromIntPtr((nint)context).Target is not NativeCall call)
        {
            return;
        }
        Interlocked.Increment(ref call._callbacks);
        var copy = data == null || length <= 0 ? [] : new ReadOnlySpan<byte>(data, length).ToArray();
        // Only error texts carry a terminator; reading past an answer's buffer would be out of bounds.
        var nulTerminated = status == Failed && data != null && length >= 0 && data[length] == 0;
        NativeMemory.Free(data);
        call._answer.TrySetResult(new Answer(status, copy, data == null, nulTerminated));
    }
}
