// The mesos::slave::Isolator every NetIsolator module hands to the agent: each lifecycle call is serialized into
// its bridge.proto envelope and passed through the C ABI of netisolator.h to the isolator written in C#.
#ifndef NETISOLATOR_SHIM_MANAGED_ISOLATOR_HPP
#define NETISOLATOR_SHIM_MANAGED_ISOLATOR_HPP

#include <stdint.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include <mesos/mesos.hpp>
#include <mesos/resources.hpp>
#include <mesos/slave/isolator.hpp>

#include <process/future.hpp>
#include <process/owned.hpp>
#include <process/pid.hpp>
#include <process/process.hpp>

#include <stout/hashmap.hpp>
#include <stout/hashset.hpp>
#include <stout/nothing.hpp>
#include <stout/option.hpp>
#include <stout/try.hpp>

#include "netisolator/netisolator.h"

namespace NetIsolator {

// The eight calls that cross the C ABI.
enum class Lifecycle { Recover, Prepare, Isolate, Watch, Update, Usage, Status, Cleanup };

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

protected:
    void finalize() override;

private:
    struct Pending
    {
        process::Owned<process::Promise<std::string>> promise;
        Lifecycle lifecycle;
        std::string subject;
    };

    void discarded(uint64_t id);
    std::string failureText(const Pending& call, const std::string& reason) const;

    const std::string moduleName;
    netiso_isolator* const isolator;
    uint64_t nextId = 1;
    hashmap<uint64_t, Pending> pending;
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
