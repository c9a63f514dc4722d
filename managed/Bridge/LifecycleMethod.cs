namespace NetIsolator.Bridge;

/// <summary>
/// The lifecycle calls of the C ABI; the numbers mirror <c>enum lifecycle_method</c> in the provider.
/// <see cref="Metrics"/> is no Mesos lifecycle method, but it travels the same way.
/// </summary>
internal enum LifecycleMethod
{
    Recover = 0,
    Prepare = 1,
    Isolate = 2,
    Watch = 3,
    Update = 4,
    Usage = 5,
    Status = 6,
    Cleanup = 7,
    Metrics = 8,
}
