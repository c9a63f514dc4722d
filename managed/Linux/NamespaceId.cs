namespace NetIsolator.Linux;

/// <summary>
/// The identity of a namespace: device and inode of its nsfs file. Two handles refer to the same namespace exactly
/// when their identities are equal; <c>readlink /proc/.../ns/net</c> shows the inode as <c>net:[4026531840]</c>.
/// </summary>
public readonly record struct NamespaceId(ulong Device, ulong Inode)
{
    public override string ToString() => $"net:[{Inode}]";
}
