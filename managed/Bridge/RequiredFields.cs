using System.Collections;
using System.Collections.Concurrent;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace NetIsolator.Bridge;

/// <summary>
/// Finds proto2 <c>required</c> fields that are not set. Google.Protobuf's C# runtime serializes such messages
/// without complaint, but Mesos's C++ side refuses to parse them, so the bridge checks every answer before it
/// leaves and names the missing fields instead of letting the agent report an unparsable reply.
/// </summary>
/// <remarks>
/// This walks protobuf reflection descriptors. Building them for Mesos's large schema is the most expensive
/// thing the bridge does at start-up, so <see cref="Prepare"/> builds them off the critical path, and the walk
/// itself allocates nothing unless a field is missing.
/// </remarks>
internal static class RequiredFields
{
    /// <summary>Per message type, only the fields that can hide a missing required field: required fields and
    /// fields holding messages.</summary>
    private static readonly ConcurrentDictionary<MessageDescriptor, FieldDescriptor[]> s_plans = new();

    /// <summary>Builds the descriptors and plans of these message types and of every type they contain.</summary>
    public static void Prepare(params MessageDescriptor[] descriptors)
    {
        var pending = new Stack<MessageDescriptor>(descriptors);
        while (pending.TryPop(out var descriptor))
        {
            if (s_plans.ContainsKey(descriptor))
            {
                continue;
            }
            foreach (var field in PlanOf(descriptor))
            {
                if (field.FieldType == FieldType.Message)
                {
                    pending.Push(field.MessageType);
                }
            }
        }
    }

    /// <summary>Dotted paths of the missing fields (e.g. <c>launch_info.environment.variables[0].name</c>).</summary>
    public static List<string> FindMissing(IMessage message)
    {
        var missing = new List<string>();
        Collect(message, new List<Step>(), missing);
        return missing;
    }

    /// <summary>One step of the walk from the root: a field, with the element's index or map key if any.</summary>
    private readonly record struct Step(string Field, int Index, object? Key)
    {
        public override string ToString() =>
            Key is not null ? $"{Field}[{Key}]" : Index >= 0 ? $"{Field}[{Index}]" : Field;
    }

    private static void Collect(IMessage message, List<Step> path, List<string> missing)
    {
        foreach (var field in PlanOf(message.Descriptor))
        {
            var accessor = field.Accessor;
            if (field.IsMap)
            {
                foreach (DictionaryEntry entry in (IDictionary)accessor.GetValue(message))
                {
                    if (entry.Value is IMessage value)
                    {
                        CollectNested(value, new Step(field.Name, -1, entry.Key), path, missing);
                    }
                }
            }
            else if (field.IsRepeated)
            {
                var elements = (IList)accessor.GetValue(message);
                for (var index = 0; index < elements.Count; index++)
                {
                    CollectNested((IMessage)elements[index]!, new Step(field.Name, index, null), path, missing);
                }
            }
            else if (!accessor.HasValue(message))
            {
                if (field.IsRequired)
                {
                    missing.Add(string.Join('.', path.Append(new Step(field.Name, -1, null))));
                }
            }
            else if (field.FieldType == FieldType.Message)
            {
                CollectNested((IMessage)accessor.GetValue(message), new Step(field.Name, -1, null), path, missing);
            }
        }
    }

    private static void CollectNested(IMessage message, Step step, List<Step> path, List<string> missing)
    {
        path.Add(step);
        Collect(message, path, missing);
        path.RemoveAt(path.Count - 1);
    }

    private static FieldDescriptor[] PlanOf(MessageDescriptor descriptor) =>
        s_plans.GetOrAdd(descriptor, static d =>
            d.Fields.InFieldNumberOrder().Where(f => f.IsRequired || f.FieldType == FieldType.Message).ToArray());
}
