namespace NetIsolator.Bridge;

/// <summary>
/// An expected failure of an isolator step (a plugin failed, a namespace is gone). Its message reaches the agent
/// as it is, so it should name the thing and the step: <c>attaching 'c1' to network 'net1': bridge exited 1</c>.
/// Any other exception is reported with its type as well, since it points at a bug rather than at the world.
/// </summary>
public class IsolatorException : Exception
{
    public IsolatorException(string message) : base(message) { }

    public IsolatorException(string message, Exception innerException) : base(message, innerException) { }
}
