using static NetIsolator.Bridge.Tests.Messages;

namespace NetIsolator.Bridge.Tests;

public sealed class ContainerIdsTests
{
    [Fact]
    public void TopLevelContainerKeyIsItsValue() => Assert.Equal("a", Id("a").ToKey());

    [Fact]
    public void NestedContainerKeyIsParentDotChild() => Assert.Equal("p.c", Id("c", Id("p")).ToKey());

    [Fact]
    public void DoublyNestedContainerKeyJoinsAllAncestorsOutermostFirst() =>
        Assert.Equal("g.p.c", Id("c", Id("p", Id("g"))).ToKey());
}
