// The bridge envelopes of proto/netisolator/bridge.proto, written and read by hand.
//
// The shim links no protobuf runtime and no generated code of its own: the agent's libmesos already carries both,
// and a second copy of either (built from another protoc, or against other protobuf headers) would disagree with
// the agent's about class layouts and descriptor pools. So the Mesos arguments are serialized with the agent's own
// generated classes, and the few envelope fields around them are framed here with CodedOutputStream and read back
// with CodedInputStream. The field numbers below are the contract of bridge.proto.
#ifndef NETISOLATOR_SHIM_ENVELOPES_HPP
#define NETISOLATOR_SHIM_ENVELOPES_HPP

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include <google/protobuf/map.h>
#include <google/protobuf/message_lite.h>

#include <mesos/mesos.hpp>
#include <mesos/resources.hpp>
#include <mesos/slave/containerizer.hpp>

#include <stout/hashset.hpp>
#include <stout/nothing.hpp>
#include <stout/option.hpp>
#include <stout/try.hpp>

namespace NetIsolator {
namespace envelopes {

// A container as people read it in logs: its value, preceded by its parents' values ("parent.child").
std::string describe(const mesos::ContainerID& containerId);

// Requests. Each refuses (with an error naming the message type and its missing fields) to serialize a Mesos
// message whose required fields are not all set, rather than handing the isolator half a message.

// RecoverRequest{states = 1; orphans = 2}
Try<std::string> recoverRequest(const std::vector<mesos::slave::ContainerState>& states,
                                const hashset<mesos::ContainerID>& orphans);

// PrepareRequest{container_id = 1; container_config = 2}
Try<std::string> prepareRequest(const mesos::ContainerID& containerId,
                                const mesos::slave::ContainerConfig& containerConfig);

// IsolateRequest{container_id = 1; pid = 2}
Try<std::string> isolateRequest(const mesos::ContainerID& containerId, pid_t pid);

// UpdateRequest{container_id = 1; resource_requests = 2; resource_limits = 3 (map)}
Try<std::string> updateRequest(const mesos::ContainerID& containerId, const mesos::Resources& resourceRequests,
                               const google::protobuf::Map<std::string, mesos::Value::Scalar>& resourceLimits);

// WatchRequest, UsageRequest, StatusRequest and CleanupRequest: all four are {container_id = 1}.
Try<std::string> containerRequest(const mesos::ContainerID& containerId);

// MetricsRequest{}: no fields, so no bytes.
std::string metricsRequest();

// Responses.

// Empty: carries nothing, but must still be a well-formed message.
Try<Nothing> emptyResponse(const std::string& bytes);

// PrepareResponse{optional ContainerLaunchInfo launch_info = 1}: None when launch_info is absent.
Try<Option<mesos::slave::ContainerLaunchInfo>> prepareResponse(const std::string& bytes);

// MetricsResponse{map<string, double> values = 1}: each metric's value by its full name. An entry without a name
// or with a value that is not a finite number makes the whole answer an error naming it; the bridge sends neither.
Try<std::map<std::string, double>> metricsResponse(const std::string& bytes);

// A Mesos message answered as is (ContainerLimitation, ResourceStatistics, ContainerStatus).
Option<Error> parseMessage(const std::string& bytes, google::protobuf::MessageLite* message);

template <typename Message>
Try<Message> messageResponse(const std::string& bytes)
{
    Message message;
    Option<Error> error = parseMessage(bytes, &message);
    if (error.isSome()) {
        return error.get();
    }
    return message;
}

} // namespace envelopes
} // namespace NetIsolator

#endif // NETISOLATOR_SHIM_ENVELOPES_HPP
