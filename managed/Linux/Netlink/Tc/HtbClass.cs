using NetIsolator.Linux.Netlink.Protocol;
using static NetIsolator.Linux.Netlink.Protocol.TcConstants;

namespace NetIsolator.Linux.Netlink.Tc;

/// <summary>
/// An HTB class (<c>tc class ... parent P classid C htb rate R [ceil C] [burst B] [cburst CB]</c>), rates in bytes
/// per second (64-bit), bursts in bytes. Null ceil = the rate; null bursts = the default below. The kernel reports
/// a class directly under the qdisc with parent <see cref="TcHandle.Root"/>, whichever parent it was added with.
/// </summary>
/// <remarks>
/// <para>
/// On the wire (struct tc_htb_opt): rate and ceil are tc_ratespecs in bytes/s, capped at 2^32-1 with the full value
/// in TCA_HTB_RATE64 / TCA_HTB_CEIL64 beyond; their link layer is set to Ethernet, which makes the kernel compute
/// transmit times itself, so no rate tables (TCA_HTB_RTAB/CTAB, which older tc versions sent) are needed. Bursts
/// travel as buffer/cbuffer: the time in 64 ns ticks that the burst takes at the rate (bytes × 10^9 / rate / 64).
/// The kernel keeps ticks, so a burst read back is what the ticks give at the rate: exact for small rates, within
/// a few bytes of it at multi-gigabyte rates.
/// </para>
/// <para>
/// Default burst: rate / 10^9 + 1600 bytes, which is what tc and libnl (Mesos) compute on kernels with high-resolution
/// timers (psched hz 10^9; 1600 is tc's default MTU). Quantum 0 lets the kernel take rate / r2q, bounded to
/// 1000..200000 bytes.
/// </para>
/// </remarks>
public sealed record HtbClass(TcHandle ClassId, TcHandle Parent, ulong Rate)
{
    private const ulong NanosecondsPerSecond = 1_000_000_000;
    private const uint DefaultMtu = 1600;

    public ulong? Ceil { get; init; }

    public uint? Burst { get; init; }

    public uint? CeilBurst { get; init; }

    public uint Quantum { get; init; }

    public uint Priority { get; init; }

    /// <summary>Set by the kernel's reports.</summary>
    public int LinkIndex { get; init; }

    /// <summary>Set by the kernel's reports: the class's depth (0 = leaf).</summary>
    public uint Level { get; init; }

    /// <summary>Set by the kernel's reports: the leaf qdisc's handle (tcm_info).</summary>
    public TcHandle Leaf { get; init; }

    /// <summary>Set by the kernel's reports.</summary>
    public TcStatistics? Statistics { get; init; }

    public ulong EffectiveCeil => Ceil ?? Rate;

    public uint EffectiveBurst => Burst ?? DefaultBurst(Rate);

    public uint EffectiveCeilBurst => CeilBurst ?? DefaultBurst(EffectiveCeil);

    public static uint DefaultBurst(ulong rate) => (uint)Math.Min(uint.MaxValue, (rate / NanosecondsPerSecond) + DefaultMtu);

    /// <summary>The buffer (in 64 ns ticks) that sending <paramref name="burst"/> bytes at <paramref name="rate"/> takes.</summary>
    public static uint BurstToTicks(uint burst, ulong rate) =>
        (uint)UInt128.Min(uint.MaxValue, ((UInt128)burst * NanosecondsPerSecond / rate) >> PSCHED_SHIFT);

    /// <summary>The bytes <paramref name="ticks"/> of 64 ns carry at <paramref name="rate"/>.</summary>
    public static uint TicksToBurst(uint ticks, ulong rate) =>
        (uint)UInt128.Min(uint.MaxValue, ((UInt128)ticks << PSCHED_SHIFT) * rate / NanosecondsPerSecond);

    /// <summary>TCA_OPTIONS { TCA_HTB_PARMS, [TCA_HTB_RATE64], [TCA_HTB_CEIL64] }.</summary>
    internal void EncodeOptions(NetlinkMessageBuilder request)
    {
        if (Rate == 0 || EffectiveCeil == 0)
        {
            throw new ArgumentException($"HTB class {ClassId}: rate and ceil must be positive (rate {Rate}, ceil {EffectiveCeil})");
        }

        var options = request.BeginNested(TCA_OPTIONS);
        Span<byte> opt = stackalloc byte[TcHtbOptSize];
        opt.Clear();
        WriteRateSpec(opt, Rate);
        WriteRateSpec(opt[TcRateSpecSize..], EffectiveCeil);
        NativeEndian.WriteUInt32(opt[24..], BurstToTicks(EffectiveBurst, Rate));
        NativeEndian.WriteUInt32(opt[28..], BurstToTicks(EffectiveCeilBurst, EffectiveCeil));
        NativeEndian.WriteUInt32(opt[32..], Quantum);
        NativeEndian.WriteUInt32(opt[40..], Priority);
        request.Add(TCA_HTB_PARMS, opt);
        if (Rate > uint.MaxValue)
        {
            request.AddU64(TCA_HTB_RATE64, Rate);
        }

        if (EffectiveCeil > uint.MaxValue)
        {
            request.AddU64(TCA_HTB_CEIL64, EffectiveCeil);
        }

        request.EndNested(options);
    }

    // struct tc_ratespec: u8 cell_log, u8 linklayer, u16 overhead, s16 cell_align, u16 mpu, u32 rate.
    private static void WriteRateSpec(Span<byte> destination, ulong rate)
    {
        destination[1] = TC_LINKLAYER_ETHERNET;
        NativeEndian.WriteUInt32(destination[8..], (uint)Math.Min(rate, uint.MaxValue));
    }

    internal static HtbClass? Parse(TcMsg message, ReadOnlySpan<byte> options, TcStatistics? statistics)
    {
        ReadOnlySpan<byte> parameters = default;
        ulong? rate64 = null;
        ulong? ceil64 = null;
        var reader = new RtAttrReader(options);
        while (reader.TryRead(out var attribute))
        {
            switch (attribute.Type)
            {
                case TCA_HTB_PARMS:
                    parameters = attribute.AtLeast(TcHtbOptSize, "tc_htb_opt");
                    break;
                case TCA_HTB_RATE64:
                    rate64 = attribute.AsUInt64();
                    break;
                case TCA_HTB_CEIL64:
                    ceil64 = attribute.AsUInt64();
                    break;
            }
        }

        if (parameters.IsEmpty)
        {
            return null;
        }

        var rate = rate64 ?? NativeEndian.ReadUInt32(parameters[8..]);
        var ceil = ceil64 ?? NativeEndian.ReadUInt32(parameters[20..]);
        return new HtbClass(new TcHandle(message.Handle), new TcHandle(message.Parent), rate)
        {
            Ceil = ceil,
            Burst = rate == 0 ? 0 : TicksToBurst(NativeEndian.ReadUInt32(parameters[24..]), rate),
            CeilBurst = ceil == 0 ? 0 : TicksToBurst(NativeEndian.ReadUInt32(parameters[28..]), ceil),
            Quantum = NativeEndian.ReadUInt32(parameters[32..]),
            Level = NativeEndian.ReadUInt32(parameters[36..]),
            Priority = NativeEndian.ReadUInt32(parameters[40..]),
            LinkIndex = message.Index,
            Leaf = new TcHandle(message.Info),
            Statistics = statistics,
        };
    }
}
