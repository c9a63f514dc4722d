// A C++ view of the C ABI for native hosts that own a libprotobuf (the runner, the native tests, the
// benchmark): one call returns a std::future, the provider's buffers are released for you, and an answer that
// lacks a proto2 required field is turned into a failure naming the field, as the Mesos shim does.
// The Mesos shim does not use this: inside the agent, answers must go through libprocess instead.
#ifndef NETISOLATOR_CLIENT_ISOLATOR_CLIENT_HPP
#define NETISOLATOR_CLIENT_ISOLATOR_CLIENT_HPP

#include <cstdint>
#include <functional>
#include <map>
#include <future>
#include <string>
#include <utility>
#include <vector>

#include "netisolator/netisolator.h"

namespace netisolator {

// The eight lifecycle calls of mesos::slave::Isolator, and `metrics` (MetricsRequest -> MetricsResponse).
enum class Method { Recover, Prepare, Isolate, Watch, Update, Usage, Status, Cleanup, Metrics };

const char* method_name(Method method);

// The answer of one lifecycle call: `status` is a NETISO_STATUS_* value; `data` is the response message or the
// error text.
struct Reply {
    int32_t status = NETISO_STATUS_FAILED;
    std::string data;

    bool ok() const { return status == NETISO_STATUS_OK; }
};

using Parameters = std::vector<std::pair<std::string, std::string>>;

class IsolatorClient {
public:
    // Creates the isolator of `module`; throws std::runtime_error carrying the provider's error text.
    IsolatorClient(const std::string& module, const Parameters& parameters);
    ~IsolatorClient();
    IsolatorClient(const IsolatorClient&) = delete;
    IsolatorClient& operator=(const IsolatorClient&) = delete;

    int32_t capabilities() const;

    // `done` runs exactly once, on whatever thread the provider completes on.
    void call(Method method, const std::string& request, std::function<void(Reply)> done) const;
    std::future<Reply> call(Method method, const std::string& request) const;

    // The isolator's metrics by name (an empty MetricsRequest); throws std::runtime_error with the failure text.
    std::map<std::string, double> metrics() const;

    netiso_isolator* handle() const { return handle_; }

private:
    netiso_isolator* handle_ = nullptr;
};

// The lifecycle function of the C ABI for `method`, for callers that drive the C ABI directly.
using LifecycleFunction = void (*)(netiso_isolator*, const uint8_t*, int32_t, netiso_completion_fn, void*);
LifecycleFunction lifecycle_function(Method method);

}  // namespace netisolator

#endif  // NETISOLATOR_CLIENT_ISOLATOR_CLIENT_HPP
