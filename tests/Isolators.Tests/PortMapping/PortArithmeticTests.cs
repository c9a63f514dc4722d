using NetIsolator.Isolators.PortMappingIsolation;
using Xunit;

namespace NetIsolator.Isolators.Tests.PortMapping;

/// <summary>Port sets, the power-of-two range decomposition and the ephemeral allocator (reference §2); no root.</summary>
public sealed class PortArithmeticTests
{
    [Theory]
    [InlineData(4, 7, 0xfffc)]
    [InlineData(10, 10, 0xffff)]
    [InlineData(1024, 1031, 0xfff8)]
    [InlineData(32768, 57343 - 8192, 0xc000)]
    [InlineData(0, 65535, 0x0000)]
    public void PortRange_MaskIsTheComplementOfItsSpan(int begin, int end, int mask)
    {
        var range = PortRange.FromBeginEnd(begin, end);
        Assert.Equal((ushort)mask, range.Mask);
        Assert.Equal(range, PortRange.FromBeginMask(begin, (ushort)mask));
        Assert.Equal($"[{begin},{end}]", range.ToString());
    }

    [Theory]
    [InlineData(4, 11, "begin is not a multiple of its size 8")]
    [InlineData(1, 0, "not inside")]
    [InlineData(6, 8, "size 3 is not a power of 2")]
    [InlineData(2, 5, "begin is not a multiple of its size 4")]
    [InlineData(65535, 65536, "not inside")]
    public void PortRange_RefusesBlocksOneKeyCannotMatch(int begin, int end, string problem)
    {
        var error = Assert.Throws<ArgumentException>(() => PortRange.FromBeginEnd(begin, end));
        Assert.Contains(problem, error.Message);
        Assert.Contains($"[{begin},{end}]", error.Message);
        Assert.False(PortRange.TryFromBeginEnd(begin, end, out _));
    }

    // The reference's worked examples (§2.2), begin,end pairs.
    [Theory]
    [InlineData("[31000-31499]", "[31000,31007] [31008,31039] [31040,31103] [31104,31231] [31232,31487] [31488,31495] [31496,31499]")]
    [InlineData("[31500-32000]", "[31500,31503] [31504,31519] [31520,31551] [31552,31615] [31616,31743] [31744,31999] [32000,32000]")]
    [InlineData("[31000-32000]", "[31000,31007] [31008,31039] [31040,31103] [31104,31231] [31232,31743] [31744,31999] [32000,32000]")]
    [InlineData("[5-19]", "[5,5] [6,7] [8,15] [16,19]")]
    [InlineData("[32768-57344]", "[32768,49151] [49152,57343] [57344,57344]")]
    [InlineData("[0-65535]", "[0,65535]")]
    [InlineData("[0-2]", "[0,1] [2,2]")]
    [InlineData("[]", "")]
    public void Decompose_MatchesMesosExamples(string ports, string expected) =>
        Assert.Equal(expected, string.Join(' ', PortRange.Decompose(PortSet.Parse(ports))));

    [Fact]
    public void Decompose_ExampleMasks()
    {
        var ranges = PortRange.Decompose(PortSet.Parse("[31000-31499]"));
        Assert.Equal([0xfff8, 0xffe0, 0xffc0, 0xff80, 0xff00, 0xfff8, 0xfffc], ranges.Select(r => (int)r.Mask));
        Assert.Equal(0xfe00, PortRange.Decompose(PortSet.Parse("[31000-32000]"))[4].Mask);
        Assert.Equal([0xc000, 0xe000, 0xffff], PortRange.Decompose(PortSet.Parse("[32768-57344]")).Select(r => (int)r.Mask));
    }

    [Fact]
    public void Decompose_MergesAdjacentSetsFirst()
    {
        // nonEphemeral ∪ ephemeral is decomposed as one set: [30016-30031] and [30032-30047] make one block of 32.
        var ports = PortSet.Parse("[30016-30031]").Union(PortSet.Parse("[30032-30047]"));
        Assert.Equal("[30016,30047]", string.Join(' ', PortRange.Decompose(ports)));
    }

    /// <summary>
    /// Random port sets: the ranges cover the set exactly, are disjoint and ascending, each is an aligned power of
    /// two, and there are as few as possible (checked against a dynamic programme over every valid cut).
    /// </summary>
    [Fact]
    public void Decompose_Properties_OnRandomSets()
    {
        var random = new Random(20240823);
        for (var trial = 0; trial < 400; trial++)
        {
            var span = trial % 4 == 0 ? 65536 : 4096;
            var intervals = new List<PortInterval>();
            for (var i = random.Next(0, 6); i > 0; i--)
            {
                var begin = random.Next(0, span);
                var end = Math.Min(span - 1, begin + random.Next(0, trial % 3 == 0 ? 3000 : 70));
                intervals.Add(new PortInterval(begin, end));
            }

            var set = PortSet.Of(intervals);
            var ranges = PortRange.Decompose(set);

            Assert.Equal(set, PortSet.Of(ranges.Select(r => new PortInterval(r.Begin, r.End))));
            Assert.Equal(set.Count, ranges.Sum(r => r.Size));
            for (var i = 1; i < ranges.Count; i++)
            {
                Assert.True(ranges[i - 1].End < ranges[i].Begin, $"{ranges[i - 1]} and {ranges[i]} overlap or are out of order");
            }

            foreach (var range in ranges)
            {
                Assert.True((range.Size & (range.Size - 1)) == 0 && range.Begin % range.Size == 0, $"{range} is not an aligned power of two");
            }

            if (span <= 4096)
            {
                Assert.Equal(set.Intervals.Sum(i => MinimumBlocks(i.Begin, i.End + 1)), ranges.Count);
            }
        }
    }

    /// <summary>The fewest aligned power-of-two blocks tiling [low, high), by dynamic programming from the top.</summary>
    private static int MinimumBlocks(int low, int high)
    {
        var best = new int[high - low + 1];
        for (var x = high - 1; x >= low; x--)
        {
            best[x - low] = int.MaxValue;
            for (var size = 1; x + size <= high && size <= 65536; size <<= 1)
            {
                if (x % size == 0 && best[x + size - low] != int.MaxValue)
                {
                    best[x - low] = Math.Min(best[x - low], 1 + best[x + size - low]);
                }
            }
        }

        return best[0];
    }

    [Fact]
    public void PortSet_Operations()
    {
        var a = PortSet.Parse("[1-10, 20-30]");
        var b = PortSet.Parse("[5-25]");
        Assert.Equal("[1-30]", a.Union(b).ToString());
        Assert.Equal("[5-10, 20-25]", a.Intersect(b).ToString());
        Assert.Equal("[1-4, 26-30]", a.Subtract(b).ToString());
        Assert.Equal("[11-19]", b.Subtract(a).ToString());
        Assert.True(a.Contains(PortSet.Parse("[2-3, 21-21]")));
        Assert.False(a.Contains(PortSet.Parse("[10-11]")));
        Assert.Equal(21, a.Count);
        Assert.Equal("[1-5]", PortSet.Parse("[1-2,3-5]").ToString());
        Assert.Equal(PortSet.Parse("[80]"), PortSet.Of(80, 80));
        Assert.True(PortSet.Parse("[]").IsEmpty);
    }

    [Theory]
    [InlineData("[1-x]")]
    [InlineData("[5-4]")]
    [InlineData("[1-65536]")]
    [InlineData("[1-2,,3-4]")]
    [InlineData("[-1-3]")]
    public void PortSet_ParseRefusesGarbage(string text) => Assert.Throws<FormatException>(() => PortSet.Parse(text));

    [Fact]
    public void Allocator_FirstFitAlignedToTheBlockSize()
    {
        // Reference §2.1: pool [30001-30999], P=16.
        var allocator = new EphemeralPortsAllocator(PortSet.Parse("[30001-30999]"), 16);
        Assert.Equal("[30016,30031]", allocator.Allocate().ToString());
        Assert.Equal("[30032,30047]", allocator.Allocate().ToString());
        var count = 2;
        while (TryAllocate(allocator, out var range))
        {
            Assert.Equal(0, range.Begin % 16);
            count++;
        }

        Assert.Equal(61, count);
        Assert.Equal("[30001-30015, 30992-30999]", allocator.Free.ToString());
        var error = Assert.Throws<InvalidOperationException>(() => allocator.Allocate());
        Assert.Equal("Failed to allocate ephemeral ports", error.Message);
    }

    [Fact]
    public void Allocator_OnlyOneBlockOf512FitsTheTestPool()
    {
        var allocator = new EphemeralPortsAllocator(PortSet.Parse("[30001-30999]"), 512);
        Assert.Equal("[30208,30719]", allocator.Allocate().ToString());
        Assert.False(TryAllocate(allocator, out _));
    }

    [Fact]
    public void Allocator_AlignedPoolIsUsedWhole()
    {
        var allocator = new EphemeralPortsAllocator(PortSet.Parse("[32768-57344]"), 1024);
        var blocks = new List<PortRange>();
        while (TryAllocate(allocator, out var range))
        {
            blocks.Add(range);
            Assert.Equal(0xfc00, range.Mask);
        }

        Assert.Equal(24, blocks.Count);
        Assert.Equal("[32768,33791]", blocks[0].ToString());
        Assert.Equal("[56320,57343]", blocks[^1].ToString());
        Assert.Equal("[57344-57344]", allocator.Free.ToString());
    }

    [Fact]
    public void Allocator_ReusesTheLowestFreedBlock_AndGuardsItsBooks()
    {
        var allocator = new EphemeralPortsAllocator(PortSet.Parse("[32768-33791]"), 256);
        var first = allocator.Allocate();
        var second = allocator.Allocate();
        allocator.Allocate();
        allocator.Deallocate(first.ToSet());
        Assert.Equal(first, allocator.Allocate());

        Assert.Throws<InvalidOperationException>(() => allocator.Allocate(second.ToSet()));
        allocator.Deallocate(second.ToSet());
        Assert.Throws<InvalidOperationException>(() => allocator.Deallocate(second.ToSet()));
        allocator.Allocate(second.ToSet());
        Assert.Equal("[32768-33535]", allocator.Used.ToString());

        Assert.True(allocator.IsManaged(PortSet.Parse("[33000-33100]")));
        Assert.False(allocator.IsManaged(PortSet.Parse("[33700-33800]")));
        Assert.Equal("Number of ephemeral ports per container is zero",
            Assert.Throws<InvalidOperationException>(() => new EphemeralPortsAllocator(PortSet.Parse("[32768-33791]"), 0).Allocate()).Message);
    }

    [Fact]
    public void Allocator_IsSafeUnderConcurrentUse()
    {
        var allocator = new EphemeralPortsAllocator(PortSet.Parse("[32768-49151]"), 16);
        var blocks = new System.Collections.Concurrent.ConcurrentBag<PortRange>();
        Parallel.For(0, 1024, _ => blocks.Add(allocator.Allocate()));
        Assert.Equal(1024, blocks.Distinct().Count());
        Assert.True(allocator.Free.IsEmpty);
        Parallel.ForEach(blocks, b => allocator.Deallocate(b.ToSet()));
        Assert.Equal(allocator.Pool, allocator.Free);
    }

    private static bool TryAllocate(EphemeralPortsAllocator allocator, out PortRange range)
    {
        try
        {
            range = allocator.Allocate();
            return true;
        }
        catch (InvalidOperationException)
        {
            range = default;
            return false;
        }
    }
}
