#include "envelopes.hpp"

#include <stdint.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace NetIsolator {
namespace envelopes {

namespace {

using google::protobuf::MessageLite;
using google::protobuf::io::CodedInputStream;
using google::protobuf::io::CodedOutputStream;
using google::protobuf::io::StringOutputStream;

// Protobuf wire types (the low three bits of a tag). Groups (3 and 4) never occur in the bridge's messages.
enum WireType : uint32_t {
    WIRE_VARINT = 0,
    WIRE_FIXED64 = 1,
    WIRE_LENGTH_DELIMITED = 2,
    WIRE_FIXED32 = 5,
};

constexpr uint32_t makeTag(uint32_t field, WireType type)
{
    return (field << 3) | type;
}

// The serialized form of a Mesos message, or why it cannot be sent. proto2 `required` fields are the concern:
// a message missing one would serialize (the partial form) but the other side could not make sense of it.
Try<std::string> serialize(const MessageLite& message)
{
    if (!message.IsInitialized()) {
        return Error(message.GetTypeName() + " is missing required fields: " + message.InitializationErrorString());
    }
    std::string bytes;
    if (!message.SerializePartialToString(&bytes)) {
        return Error("could not serialize " + message.GetTypeName());
    }
    return bytes;
}

// Appends the fields of one envelope to a buffer, in the order they are written.
class EnvelopeWriter
{
public:
    void bytes(uint32_t field, const std::string& value)
    {
        // Each write gets its own short-lived stream: StringOutputStream appends to the buffer, and the coded
        // stream hands back the bytes it reserved but did not use when it is destroyed.
        StringOutputStream sink(&buffer);
        CodedOutputStream out(&sink);
        out.WriteTag(makeTag(field, WIRE_LENGTH_DELIMITED));
        out.WriteVarint32(static_cast<uint32_t>(value.size()));
        out.WriteString(value);
    }

    void varint(uint32_t field, uint64_t value)
    {
        StringOutputStream sink(&buffer);
        CodedOutputStream out(&sink);
        out.WriteTag(makeTag(field, WIRE_VARINT));
        out.WriteVarint64(value);
    }

    Option<Error> message(uint32_t field, const MessageLite& value)
    {
        Try<std::string> serialized = serialize(value);
        if (serialized.isError()) {
            return Error(serialized.error());
        }
        bytes(field, serialized.get());
        return None();
    }

    std::string take()
    {
        return std::move(buffer);
    }

private:
    std::string buffer;
};

const uint8_t* dataOf(const std::string& bytes)
{
    return reinterpret_cast<const uint8_t*>(bytes.data());
}

// Steps over one field the reader does not care about; false when the input is malformed.
bool skipField(CodedInputStream& in, uint32_t tag)
{
    switch (tag & 7) {
    case WIRE_VARINT: {
        uint64_t ignored;
        return in.ReadVarint64(&ignored);
    }
    case WIRE_FIXED64: {
        uint64_t ignored;
        return in.ReadLittleEndian64(&ignored);
    }
    case WIRE_LENGTH_DELIMITED: {
        uint32_t length;
        return in.ReadVarint32(&length) && length <= static_cast<uint32_t>(INT32_MAX) &&
               in.Skip(static_cast<int>(length));
    }
    case WIRE_FIXED32: {
        uint32_t ignored;
        return in.ReadLittleEndian32(&ignored);
    }
    default:
        return false;
    }
}

// ReadTag answers 0 both at the end of the input and on garbage; only the former is a complete message.
bool endedCleanly(CodedInputStream& in)
{
    return in.ConsumedEntireMessage();
}

// The payload of a length-delimited field whose tag was just read; false when the input is malformed.
bool readBytes(CodedInputStream& in, std::string* value)
{
    uint32_t length;
    return in.ReadVarint32(&length) && length <= static_cast<uint32_t>(INT32_MAX) &&
           in.ReadString(value, static_cast<int>(length));
}

// One entry of MetricsResponse.values, a map<string, double>: on the wire {key = 1 (string); value = 2 (double)}.
// A missing value is 0, as protobuf reads a map entry; a missing key is an empty name, which the caller refuses.
Try<std::pair<std::string, double>> metricsEntry(const std::string& bytes)
{
    std::string name;
    double value = 0;
    CodedInputStream in(dataOf(bytes), static_cast<int>(bytes.size()));
    for (uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
        if (tag == makeTag(1, WIRE_LENGTH_DELIMITED)) {
            if (!readBytes(in, &name)) {
                break;
            }
        } else if (tag == makeTag(2, WIRE_FIXED64)) {
            uint64_t bits;
            if (!in.ReadLittleEndian64(&bits)) {
                break;
            }
            static_assert(sizeof bits == sizeof value, "double is 64 bits");
            std::memcpy(&value, &bits, sizeof value);
        } else if ((tag >> 3) == 1 || (tag >> 3) == 2) {
            return Error("an entry of values (field 1) of netisolator.bridge.MetricsResponse has field " +
                         std::to_string(tag >> 3) + " with wire type " + std::to_string(tag & 7));
        } else if (!skipField(in, tag)) {
            break;
        }
    }
    if (!endedCleanly(in)) {
        return Error("an entry of values (field 1) of netisolator.bridge.MetricsResponse is not well-formed");
    }
    return std::make_pair(std::move(name), value);
}

} // namespace

std::string describe(const mesos::ContainerID& containerId)
{
    if (containerId.has_parent()) {
        return describe(containerId.parent()) + "." + containerId.value();
    }
    return containerId.value();
}

Try<std::string> recoverRequest(const std::vector<mesos::slave::ContainerState>& states,
                                const hashset<mesos::ContainerID>& orphans)
{
    EnvelopeWriter envelope;
    for (const mesos::slave::ContainerState& state : states) {
        Option<Error> error = envelope.message(1, state);
        if (error.isSome()) {
            return Error("state of container '" + describe(state.container_id()) + "': " + error->message);
        }
    }
    for (const mesos::ContainerID& orphan : orphans) {
        Option<Error> error = envelope.message(2, orphan);
        if (error.isSome()) {
            return Error("orphan container '" + describe(orphan) + "': " + error->message);
        }
    }
    return envelope.take();
}

Try<std::string> prepareRequest(const mesos::ContainerID& containerId,
                                const mesos::slave::ContainerConfig& containerConfig)
{
    EnvelopeWriter envelope;
    Option<Error> error = envelope.message(1, containerId);
    if (error.isNone()) {
        error = envelope.message(2, containerConfig);
    }
    if (error.isSome()) {
        return Error(error->message);
    }
    return envelope.take();
}

Try<std::string> isolateRequest(const mesos::ContainerID& containerId, pid_t pid)
{
    if (pid <= 0) {
        return Error("no process to isolate (pid " + std::to_string(pid) + ")");
    }
    EnvelopeWriter envelope;
    Option<Error> error = envelope.message(1, containerId);
    if (error.isSome()) {
        return Error(error->message);
    }
    envelope.varint(2, static_cast<uint64_t>(pid));
    return envelope.take();
}

Try<std::string> updateRequest(const mesos::ContainerID& containerId, const mesos::Resources& resourceRequests,
                               const google::protobuf::Map<std::string, mesos::Value::Scalar>& resourceLimits)
{
    EnvelopeWriter envelope;
    Option<Error> error = envelope.message(1, containerId);
    if (error.isSome()) {
        return Error(error->message);
    }
    for (const mesos::Resource& resource : resourceRequests) {
        error = envelope.message(2, resource);
        if (error.isSome()) {
            return Error("resource request '" + resource.name() + "': " + error->message);
        }
    }

    // A map field is, on the wire, a repeated message {1: key, 2: value}. Keys are sorted only so that the same
    // update always makes the same bytes.
    std::vector<std::string> names;
    names.reserve(resourceLimits.size());
    for (const auto& limit : resourceLimits) {
        names.push_back(limit.first);
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
        EnvelopeWriter entry;
        entry.bytes(1, name);
        error = entry.message(2, resourceLimits.at(name));
        if (error.isSome()) {
            return Error("resource limit '" + name + "': " + error->message);
        }
        envelope.bytes(3, entry.take());
    }
    return envelope.take();
}

Try<std::string> containerRequest(const mesos::ContainerID& containerId)
{
    EnvelopeWriter envelope;
    Option<Error> error = envelope.message(1, containerId);
    if (error.isSome()) {
        return Error(error->message);
    }
    return envelope.take();
}

std::string metricsRequest()
{
    return std::string();
}

Try<std::map<std::string, double>> metricsResponse(const std::string& bytes)
{
    std::map<std::string, double> values;
    CodedInputStream in(dataOf(bytes), static_cast<int>(bytes.size()));
    for (uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
        if (tag == makeTag(1, WIRE_LENGTH_DELIMITED)) {
            std::string entry;
            if (!readBytes(in, &entry)) {
                break;
            }
            Try<std::pair<std::string, double>> metric = metricsEntry(entry);
            if (metric.isError()) {
                return Error(metric.error());
            }
            if (metric->first.empty()) {
                return Error("netisolator.bridge.MetricsResponse has a metric without a name");
            }
            if (!std::isfinite(metric->second)) {
                return Error("metric '" + metric->first + "' of netisolator.bridge.MetricsResponse is not a finite "
                             "number");
            }
            values[metric->first] = metric->second; // a repeated key: the last one wins, as in protobuf's maps
        } else if ((tag >> 3) == 1) {
            return Error("values (field 1) of netisolator.bridge.MetricsResponse has wire type " +
                         std::to_string(tag & 7) + ", not a map entry");
        } else if (!skipField(in, tag)) {
            break;
        }
    }
    if (!endedCleanly(in)) {
        return Error("the answer is not a well-formed netisolator.bridge.MetricsResponse");
    }
    return values;
}

Try<Nothing> emptyResponse(const std::string& bytes)
{
    CodedInputStream in(dataOf(bytes), static_cast<int>(bytes.size()));
    for (uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
        if (!skipField(in, tag)) {
            break;
        }
    }
    if (!endedCleanly(in)) {
        return Error("the answer is not a well-formed netisolator.bridge.Empty");
    }
    return Nothing();
}

Try<Option<mesos::slave::ContainerLaunchInfo>> prepareResponse(const std::string& bytes)
{
    // launch_info may in principle arrive in several pieces; protobuf merges repeated occurrences of a message
    // field, and parsing the concatenated pieces does exactly that.
    bool present = false;
    std::string launchInfo;
    CodedInputStream in(dataOf(bytes), static_cast<int>(bytes.size()));
    for (uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
        if (tag == makeTag(1, WIRE_LENGTH_DELIMITED)) {
            uint32_t length;
            std::string piece;
            if (!in.ReadVarint32(&length) || length > static_cast<uint32_t>(INT32_MAX) ||
                !in.ReadString(&piece, static_cast<int>(length))) {
                break;
            }
            launchInfo += piece;
            present = true;
        } else if ((tag >> 3) == 1) {
            return Error("launch_info (field 1) of netisolator.bridge.PrepareResponse has wire type " +
                         std::to_string(tag & 7) + ", not a message");
        } else if (!skipField(in, tag)) {
            break;
        }
    }
    if (!endedCleanly(in)) {
        return Error("the answer is not a well-formed netisolator.bridge.PrepareResponse");
    }
    if (!present) {
        return None();
    }

    mesos::slave::ContainerLaunchInfo info;
    Option<Error> error = parseMessage(launchInfo, &info);
    if (error.isSome()) {
        return Error("launch_info of netisolator.bridge.PrepareResponse: " + error->message);
    }
    return Option<mesos::slave::ContainerLaunchInfo>(std::move(info));
}

Option<Error> parseMessage(const std::string& bytes, google::protobuf::MessageLite* message)
{
    // The partial parse plus an explicit IsInitialized() check gives a message that names the missing fields,
    // where ParseFromString would only answer false (and log through protobuf's own logger).
    if (!message->ParsePartialFromString(bytes)) {
        return Error("the answer is not a well-formed " + message->GetTypeName());
    }
    if (!message->IsInitialized()) {
        return Error("the answer is a " + message->GetTypeName() +
                     " missing required fields: " + message->InitializationErrorString());
    }
    return None();
}

} // namespace envelopes
} // namespace NetIsolator
