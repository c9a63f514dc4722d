#include "isolator_client.hpp"

#include <memory>
#include <stdexcept>

#include "netisolator/bridge.pb.h"

namespace netisolator {

const char* method_name(Method method) {
    static const char* const names[] = {"recover", "prepare", "isolate", "watch",  "update",
                                        "usage",   "status",  "cleanup", "metrics"};
    return names[static_cast<int>(method)];
}

LifecycleFunction lifecycle_function(Method method) {
    static const LifecycleFunction functions[] = {
        netiso_isolator_recover, netiso_isolator_prepare, netiso_isolator_isolate, netiso_isolator_watch,
        netiso_isolator_update,  netiso_isolator_usage,   netiso_isolator_status,  netiso_isolator_cleanup,
        netiso_isolator_metrics,
    };
    return functions[static_cast<int>(method)];
}

IsolatorClient::IsolatorClient(const std::string& module, const Parameters& parameters) {
    std::vector<netiso_parameter> native;
    native.reserve(parameters.size());
    for (const auto& [key, value] : parameters) {
        native.push_back({key.c_str(), value.c_str()});
    }
    char* error = nullptr;
    if (netiso_isolator_create(module.c_str(), native.data(), static_cast<int32_t>(native.size()), &handle_,
                               &error) != 0) {
        std::string message = error != nullptr ? error : "netiso_isolator_create failed without a message";
        netiso_free(error);
        throw std::runtime_error(message);
    }
}

IsolatorClient::~IsolatorClient() { netiso_isolator_destroy(handle_); }

int32_t IsolatorClient::capabilities() const { return netiso_isolator_capabilities(handle_); }

namespace {

struct PendingCall {
    Method method;
    std::function<void(Reply)> done;
};

// The message type each call answers with (bridge.proto), to check answers as the Mesos shim does.
std::unique_ptr<google::protobuf::Message> answer_type(Method method) {
    switch (method) {
        case Method::Prepare: return std::make_unique<bridge::PrepareResponse>();
        case Method::Watch: return std::make_unique<mesos::slave::ContainerLimitation>();
        case Method::Usage: return std::make_unique<mesos::ResourceStatistics>();
        case Method::Status: return std::make_unique<mesos::ContainerStatus>();
        case Method::Metrics: return std::make_unique<bridge::MetricsResponse>();
        default: return std::make_unique<bridge::Empty>();
    }
}

void complete(void* context, int32_t status, uint8_t* data, int32_t length) {
    std::unique_ptr<PendingCall> call(static_cast<PendingCall*>(context));
    Reply reply{status, data != nullptr ? std::string(reinterpret_cast<const char*>(data), length) : std::string()};
    netiso_free(data);
    if (reply.ok()) {
        // proto2 required fields: C# does not enforce them, libprotobuf (and so the agent) does.
        auto answer = answer_type(call->method);
        if (!answer->ParsePartialFromString(reply.data)) {
            reply = {NETISO_STATUS_FAILED, std::string(method_name(call->method)) + ": the answer is not a valid " +
                                               answer->GetTypeName()};
        } else if (!answer->IsInitialized()) {
            reply = {NETISO_STATUS_FAILED, std::string(method_name(call->method)) + ": the isolator answered a " +
                                               answer->GetTypeName() + " that lacks required field(s) " +
                                               answer->InitializationErrorString()};
        }
    }
    call->done(std::move(reply));
}

}  // namespace

void IsolatorClient::call(Method method, const std::string& request, std::function<void(Reply)> done) const {
    auto* context = new PendingCall{method, std::move(done)};
    lifecycle_function(method)(handle_, reinterpret_cast<const uint8_t*>(request.data()),
                               static_cast<int32_t>(request.size()), complete, context);
}

std::future<Reply> IsolatorClient::call(Method method, const std::string& request) const {
    auto promise = std::make_shared<std::promise<Reply>>();
    auto future = promise->get_future();
    call(method, request, [promise](Reply reply) { promise->set_value(std::move(reply)); });
    return future;
}

std::map<std::string, double> IsolatorClient::metrics() const {
    Reply reply = call(Method::Metrics, std::string()).get();
    if (!reply.ok()) {
        throw std::runtime_error(reply.status == NETISO_STATUS_ABANDONED ? "metrics: abandoned by the isolator"
                                                                         : reply.data);
    }
    bridge::MetricsResponse response;
    if (!response.ParseFromString(reply.data)) {
        throw std::runtime_error("metrics: the answer is not a valid " + response.GetTypeName());
    }
    return {response.values().begin(), response.values().end()};
}

}  // namespace netisolator
