using System.Collections;
using System.Collections.Concurrent;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace NetIsolator.Bridge;

/// <summary>
/// Finds proto2 <c>required</c> fields that are not set. Google.Protobuf's C# runtime parses and serializes such
/// messages without complaint, but Mesos's C++ side refuses to parse them (and aborts when asked to serialize
/// them), so the bridge checks both directions and names the missing fields.
/// </summary>
internal static class RequiredFields
{
    /// <summary>Per message type, only the fields that can hide a missing required field: required fields and
    /// fields holding messages. Computed once per type.</summary>
    private static readonly ConcurrentDictionary<MessageDescriptor, FieldDescriptor[]> s_plans = new();

    /// <summary>Dotted paths of the missing fields (e.g. <c>container_config.command_info</c>); empty when complete.</summary>
    public static List<string> FindMissing(IMessage message)
    {
        var missing = new List<string>();
        Collect(message, "", missing);
        return missing;
    }

    private static void Collect(IMessage message, string path, List<string> missing)
    {
        foreach (var field in s_plans.GetOrAdd(message.Descriptor, Plan))
        {
            var accessor = field.Accessor;
            if (field.IsMap)
            {
                foreach (DictionaryEntry entry in (IDictionary)accessor.GetValue(message))
                {
                    if (entry.Value is IMessage value)
                    {
                        Collect(value, $"{path}{field.Name}[{entry.Key}].", missing);
                    }
                }
            }
            else if (field.IsRepeated)
            {
                var index = 0;
                foreach (var element in (IList)accessor.GetValue(message))
                {
                    Collect((IMessage)element, $"{path}{field.Name}[{index++}].", missing);
                }
            }
            else if (!accessor.HasValue(message))
            {
                if (field.IsRequired)
                {
                    missing.Add(path + field.Name);
                }
            }
            else if (field.FieldType == FieldType.Message)
            {
                Collect((IMessage)accessor.GetValue(message), $"{path}{field.Name}.", missing);
            }
        }
    }

    private static FieldDescriptor[] Plan(MessageDescriptor descriptor) =>
        descriptor.Fields.InFieldNumberOrder().Where(f => f.IsRequired || f.FieldType == FieldType.Message).ToArray();
}
