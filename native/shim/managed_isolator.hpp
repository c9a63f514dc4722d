// The mesos::slave::Isolator every NetIsolator module hands to the agent: each lifecycle call is serialized into
// its bridge.proto envelope and passed through the C ABI of netisolator.h to the isolator written in C#.
#ifndef NETISOLATOR_SHIM_MANAGED_ISOLATOR_HPP
#define NETISOLATOR_SHIM_MANAGED_ISOLATOR_HPP

#include <stdint.h>
#include <sys/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <mesos/mesos.hpp>
#include <mesos/resources.hpp>
#include <mesos/slave/isolator.hpp>

#include <process/future.hpp>
#include <process/owned.hpp>
#include <process/pid.hpp>
#include <process/process.hpp>

#include <process/metrics/pull_gauge.hpp>

#include <stout/hashmap.hpp>
#include <stout/hashset.hpp>
#include <stout/nothing.hpp>
#include <stout/option.hpp>
#include <stout/try.hpp>

#include "netisolator/netisolator.h"

namespace NetIsolator {

// The calls that cross the C ABI: the eight of mesos::slave::Isolator, and metrics.
enum class Lifecycle { Recover, Prepare, Isolate, Watch, Update, Usage, Status, Cleanup, Metrics };

const char* lifecycleName(Lifecycle lifecycle);

// The libprocess actor that owns every call in flight.
//
// The C# side answers on threads libprocess knows nothing about. Completing a process::Promise there would run
// every continuation the containerizer chained onto the future (its `.then`s are mostly not deferred) on that
// foreign thread; the next isolator's prepare(), for one, would start on a .NET thread pool thread. So the
// completion callback only dispatches the answer to this actor, and the promises are created, kept and completed
// here, inside libprocess, where the containerizer expects its continuations to run.
class CallProcess : public process::Process<CallProcess>
{
public:
    CallProcess(const std::string& moduleName, netiso_isolator* isolator);

    // Starts one call; the future settles when the isolator answers (with the serialized response message).
    // `subject` names the call and the container for error texts.
    process::Future<std::string> call(Lifecycle lifecycle, const std::string& subject, const std::string& request);

    // The answer to call `id`, dispatched here from the completion callback.
    void complete(uint64_t id, int32_t status, const std::string& payload);

    // Metrics, for the agent's /metrics/snapshot. The isolator names its metrics itself; this asks it once (right
    // after spawn) and registers one libprocess PullGauge per name, named exactly as the isolator names it.
    void registerMetrics();

    // A gauge is read: the value of `name`. Every gauge read while one metrics call is in flight shares that call,
    // so a snapshot costs one call, not one per gauge. The future always settles (a value or a failure), because
    // MetricsProcess waits for every gauge it read.
    process::Future<double> metric(const std::string& name);

    // Removes the gauges this actor added (waiting for additions still in flight), then completes once every
    // gauge read that reached this actor before the removal has been answered. To be awaited before terminate():
    // a read dropped by terminate() would leave its future abandoned, and a snapshot waiting for it would never
    // finish.
    process::Future<Nothing> unregisterMetrics();

protected:
    void finalize() override;

private:
    using MetricValues = std::map<std::string, double>;
    struct Pending
    {
        process::Owned<process::Promise<std::string>> promise;
        Lifecycle lifecycle;
        std::string subject;
    };

    void discarded(uint64_t id);
    std::string failureText(const Pending& call, const std::string& reason) const;

    process::Future<MetricValues> fetchMetrics();
    void _registerMetrics(const process::Future<MetricValues>& answer);

    const std::string moduleName;
    const std::string metricsSubject;
    netiso_isolator* const isolator;
    uint64_t nextId = 1;
    hashmap<uint64_t, Pending> pending;

    // The gauges, each with the future of its process::metrics::add(): only an added gauge is removed, because
    // removal goes by name and the name might belong to someone else's metric.
    std::vector<std::pair<process::metrics::PullGauge, process::Future<Nothing>>> gauges;
    Option<process::Future<MetricValues>> metricsInFlight;
    bool metricsClosed = false;
};

class ManagedIsolator : public mesos::slave::Isolator
{
public:
    // Takes ownership of `isolator`, a handle made by netiso_isolator_create for module `moduleName`.
    ManagedIsolator(const std::string& moduleName, netiso_isolator* isolator);
    ~ManagedIsolator() override;

    ManagedIsolator(const ManagedIsolator&) = delete;
    ManagedIsolator& operator=(const ManagedIsolator&) = delete;

    bool supportsNesting() override;
    bool supportsStandalone() override;

    process::Future<Nothing> recover(const std::vector<mesos::slave::ContainerState>& states,
                                     const hashset<mesos::ContainerID>& orphans) override;

    process::Future<Option<mesos::slave::ContainerLaunchInfo>> prepare(
        const mesos::ContainerID& containerId, const mesos::slave::ContainerConfig& containerConfig) override;

    process::Future<Nothing> isolate(const mesos::ContainerID& containerId, pid_t pid) override;

    process::Future<mesos::slave::ContainerLimitation> watch(const mesos::ContainerID& containerId) override;

    process::Future<Nothing> update(
        const mesos::ContainerID& containerId, const mesos::Resources& resourceRequests,
        const google::protobuf::Map<std::string, mesos::Value::Scalar>& resourceLimits = {}) override;

    process::Future<mesos::ResourceStatistics> usage(const mesos::ContainerID& containerId) override;

    process::Future<mesos::ContainerStatus> status(const mesos::ContainerID& containerId) override;

    process::Future<Nothing> cleanup(const mesos::ContainerID& containerId) override;

private:
    // Sends `request` (or fails with its error) and decodes the answer into a T.
    template <typename T>
    process::Future<T> send(Lifecycle lifecycle, const std::string& subject, const Try<std::string>& request,
                            Try<T> (*decode)(const std::string&));

    std::string subjectOf(Lifecycle lifecycle, const mesos::ContainerID& containerId) const;

    const std::string moduleName;
    netiso_isolator* const isolator;
    const int32_t capabilities;
    process::Owned<CallProcess> process;
    process::PID<CallProcess> pid;
};

} // namespace NetIsolator

#endif // NETISOLATOR_SHIM_MANAGED_ISOLATOR_HPP
