#include "managed_isolator.hpp"

#include <exception>
#include <memory>
#include <utility>

#include <glog/logging.h>

#include <process/collect.hpp>
#include <process/defer.hpp>
#include <process/dispatch.hpp>
#include <process/id.hpp>

#include <process/metrics/metrics.hpp>

#include <stout/duration.hpp>
#include <stout/lambda.hpp>

#include "envelopes.hpp"

namespace NetIsolator {

namespace {

using LifecycleFunction = void (*)(netiso_isolator*, const uint8_t*, int32_t, netiso_completion_fn, void*);

LifecycleFunction functionOf(Lifecycle lifecycle)
{
    switch (lifecycle) {
    case Lifecycle::Recover: return &netiso_isolator_recover;
    case Lifecycle::Prepare: return &netiso_isolator_prepare;
    case Lifecycle::Isolate: return &netiso_isolator_isolate;
    case Lifecycle::Watch: return &netiso_isolator_watch;
    case Lifecycle::Update: return &netiso_isolator_update;
    case Lifecycle::Usage: return &netiso_isolator_usage;
    case Lifecycle::Status: return &netiso_isolator_status;
    case Lifecycle::Cleanup: return &netiso_isolator_cleanup;
    case Lifecycle::Metrics: return &netiso_isolator_metrics;
    }
    return nullptr;
}

// How long ~ManagedIsolator waits for its gauges to be removed before it ends the actor anyway.
const Duration kMetricsRemovalTimeout = Seconds(10);

// What the completion callback needs to find its way back: a copy of the actor's PID, never a pointer to the
// actor. If the isolator is destroyed while a call is still in flight, dispatching to the PID of a terminated
// process is harmless (libprocess drops the event), whereas a pointer would dangle.
struct CompletionContext
{
    process::PID<CallProcess> pid;
    uint64_t id;
};

// Called exactly once per call, on any thread: a .NET thread pool thread, or the actor's own thread when the
// isolator answers before netiso_isolator_<call> returns (then the dispatch is simply queued behind the call).
void onCompletion(void* context, int32_t status, uint8_t* data, int32_t length)
{
    std::unique_ptr<CompletionContext> completion(static_cast<CompletionContext*>(context));
    // No exception may unwind out of here: the caller is native code entered from .NET.
    try {
        std::string payload;
        if (data != nullptr && length > 0) {
            payload.assign(reinterpret_cast<const char*>(data), static_cast<size_t>(length));
        }
        netiso_free(data);
        data = nullptr;
        process::dispatch(completion->pid, &CallProcess::complete, completion->id, status, std::move(payload));
    } catch (const std::exception& e) {
        netiso_free(data);
        LOG(ERROR) << "netisolator: dropped the answer to call #" << completion->id << ": " << e.what();
    }
}

} // namespace

const char* lifecycleName(Lifecycle lifecycle)
{
    switch (lifecycle) {
    case Lifecycle::Recover: return "recover";
    case Lifecycle::Prepare: return "prepare";
    case Lifecycle::Isolate: return "isolate";
    case Lifecycle::Watch: return "watch";
    case Lifecycle::Update: return "update";
    case Lifecycle::Usage: return "usage";
    case Lifecycle::Status: return "status";
    case Lifecycle::Cleanup: return "cleanup";
    case Lifecycle::Metrics: return "metrics";
    }
    return "unknown call";
}

CallProcess::CallProcess(const std::string& moduleName, netiso_isolator* isolator)
    : process::ProcessBase(process::ID::generate(moduleName)),
      moduleName(moduleName),
      metricsSubject(moduleName + ": metrics of the isolator"),
      isolator(isolator)
{
}

process::Future<std::string> CallProcess::call(Lifecycle lifecycle, const std::string& subject,
                                               const std::string& request)
{
    if (request.size() > static_cast<size_t>(INT32_MAX)) {
        return process::Failure(subject + ": the request is too large (" + std::to_string(request.size()) +
                                " bytes)");
    }

    // The promise is in the table before the isolator can possibly answer, and it is only ever touched here.
    const uint64_t id = nextId++;
    process::Owned<process::Promise<std::string>> promise(new process::Promise<std::string>());
    process::Future<std::string> future = promise->future();
    pending.put(id, Pending{promise, lifecycle, subject});

    // A caller that no longer wants the answer discards its future, and libprocess carries the request back through
    // `then`, `collect` and `await` to this one. Honour it by forgetting the call: the answer, when it comes, finds no
    // promise and is dropped. The isolator itself is not told; it still finishes, and what it set up is undone by
    // the cleanup the containerizer issues for every container it prepared.
    future.onDiscard(process::defer(self(), &CallProcess::discarded, id));

    functionOf(lifecycle)(isolator, reinterpret_cast<const uint8_t*>(request.data()),
                          static_cast<int32_t>(request.size()), &onCompletion, new CompletionContext{self(), id});
    return future;
}

void CallProcess::complete(uint64_t id, int32_t status, const std::string& payload)
{
    Option<Pending> call = pending.get(id);
    if (call.isNone()) {
        return; // discarded meanwhile: nobody is waiting for this answer
    }
    pending.erase(id);

    process::Promise<std::string>& promise = *call->promise;
    switch (status) {
    case NETISO_STATUS_OK:
        promise.set(payload);
        return;
    case NETISO_STATUS_FAILED:
        promise.fail(failureText(call.get(), payload));
        return;
    case NETISO_STATUS_ABANDONED:
        if (call->lifecycle == Lifecycle::Watch) {
            // The container was cleaned up without ever hitting a limit. The containerizer destroys a container
            // whose watch future fails or is discarded, and reads only a future that never settles as "nothing to
            // report". Dropping the last reference to the promise (when `call` goes out of scope) abandons its
            // future, which is exactly that, and frees the callbacks chained onto it.
            return;
        }
        promise.fail(call->subject + " was abandoned by the isolator; only watch may be");
        return;
    default:
        promise.fail(call->subject + ": the isolator answered with unknown status " + std::to_string(status));
        return;
    }
}

std::string CallProcess::failureText(const Pending& call, const std::string& reason) const
{
    // The managed bridge words its failures in full ("<module>: <call> of container '<id>' failed: <reason>");
    // texts from anywhere else (the provider's own checks) get that context added here.
    if (reason.empty()) {
        return call.subject + " failed: the isolator gave no reason";
    }
    if (reason.compare(0, moduleName.size() + 1, moduleName + ":") == 0) {
        return reason;
    }
    return call.subject + " failed: " + reason;
}

void CallProcess::discarded(uint64_t id)
{
    Option<Pending> call = pending.get(id);
    if (call.isSome()) {
        pending.erase(id);
        call->promise->discard();
    }
}

process::Future<CallProcess::MetricValues> CallProcess::fetchMetrics()
{
    const std::string subject = metricsSubject;
    return call(Lifecycle::Metrics, subject, envelopes::metricsRequest())
        .then([subject](const std::string& response) -> process::Future<MetricValues> {
            Try<MetricValues> values = envelopes::metricsResponse(response);
            if (values.isError()) {
                return process::Failure(subject + ": " + values.error());
            }
            return std::move(values.get());
        });
}

void CallProcess::registerMetrics()
{
    fetchMetrics().onAny(process::defer(self(), &CallProcess::_registerMetrics, lambda::_1));
}

void CallProcess::_registerMetrics(const process::Future<MetricValues>& answer)
{
    if (metricsClosed) {
        return; // the isolator is being destroyed
    }
    if (!answer.isReady()) {
        // An isolator assembly built against an older bridge lands here too ("unknown lifecycle method #8").
        LOG(WARNING) << "netisolator: " << moduleName << " shows no metrics in /metrics/snapshot: "
                     << (answer.isFailed() ? answer.failure() : std::string("the metrics call was discarded"));
        return;
    }
    for (const auto& entry : answer.get()) {
        const std::string& name = entry.first;
        process::metrics::PullGauge gauge(name, process::defer(self(), &CallProcess::metric, name));
        process::Future<Nothing> added = process::metrics::add(gauge);
        const std::string module = moduleName;
        added.onFailed([module, name](const std::string& reason) {
            LOG(WARNING) << "netisolator: " << module << ": metric '" << name
                         << "' is not in /metrics/snapshot: " << reason;
        });
        gauges.emplace_back(gauge, added);
    }
    LOG(INFO) << "netisolator: " << moduleName << " registers " << answer->size() << " metric(s) for /metrics/snapshot";
}

process::Future<double> CallProcess::metric(const std::string& name)
{
    if (metricsClosed) {
        return process::Failure(metricsSubject + ": the isolator is being destroyed");
    }
    if (metricsInFlight.isNone() || !metricsInFlight->isPending()) {
        metricsInFlight = fetchMetrics();
        const std::string subject = metricsSubject;
        metricsInFlight->onFailed([subject](const std::string& reason) {
            VLOG(1) << "netisolator: " << subject << ": " << reason;
        });
    }
    const std::string subject = metricsSubject;
    // Undiscardable: a snapshot that gives up on one gauge (its `timeout`) must not cancel the call that other
    // gauges, or another snapshot, are waiting for.
    return process::undiscardable(
        metricsInFlight->then([subject, name](const MetricValues& values) -> process::Future<double> {
            MetricValues::const_iterator found = values.find(name);
            if (found == values.end()) {
                return process::Failure(subject + ": the isolator no longer reports '" + name + "'");
            }
            return found->second;
        }));
}

process::Future<Nothing> CallProcess::unregisterMetrics()
{
    metricsClosed = true;
    std::vector<process::Future<Nothing>> removals;
    removals.reserve(gauges.size());
    for (const auto& entry : gauges) {
        const process::metrics::PullGauge gauge = entry.first;
        // A failed addition is not followed by a removal: `then` passes the failure on instead.
        removals.push_back(entry.second.then([gauge]() { return process::metrics::remove(gauge); }));
    }
    gauges.clear();
    // MetricsProcess reads gauges and removes them on its own actor, so every read of ours it made before the
    // removals completed was dispatched here before the deferred step below, which therefore runs after each of
    // them has been answered.
    return process::await(removals).then(
        process::defer(self(), [](const std::vector<process::Future<Nothing>>&) { return Nothing(); }));
}

void CallProcess::finalize()
{
    // The isolator is going away (the agent is shutting down). Calls still in flight get a definite answer, except
    // watches: a failed watch would destroy its container, so those are left to be abandoned.
    hashmap<uint64_t, Pending> unanswered;
    std::swap(unanswered, pending);
    for (auto& entry : unanswered) {
        if (entry.second.lifecycle != Lifecycle::Watch) {
            entry.second.promise->fail(entry.second.subject + ": the isolator was destroyed before it answered");
        }
    }
}

ManagedIsolator::ManagedIsolator(const std::string& moduleName, netiso_isolator* isolator)
    : moduleName(moduleName),
      isolator(isolator),
      capabilities(netiso_isolator_capabilities(isolator)),
      process(new CallProcess(moduleName, isolator)),
      pid(process::spawn(process.get()))
{
    process::dispatch(pid, &CallProcess::registerMetrics);
}

ManagedIsolator::~ManagedIsolator()
{
    // The gauges go first, while the actor still answers every read (see unregisterMetrics).
    process::Future<Nothing> removed = process::dispatch(pid, &CallProcess::unregisterMetrics);
    if (!removed.await(kMetricsRemovalTimeout)) {
        LOG(WARNING) << "netisolator: " << moduleName << ": its metrics were not removed from /metrics/snapshot within "
                     << kMetricsRemovalTimeout << "; ending the isolator anyway";
    }

    // terminate() jumps the actor's queue: calls dispatched but not yet started are dropped, and their futures are
    // abandoned; calls already started are failed by finalize(). After wait() no answer can reach the actor any more
    // (libprocess drops late ones), so the handle can go; the provider lets calls still running inside it complete
    // into callbacks that no longer find anyone.
    process::terminate(pid);
    process::wait(pid);
    netiso_isolator_destroy(isolator);
}

bool ManagedIsolator::supportsNesting()
{
    return (capabilities & NETISO_SUPPORTS_NESTING) != 0;
}

bool ManagedIsolator::supportsStandalone()
{
    return (capabilities & NETISO_SUPPORTS_STANDALONE) != 0;
}

template <typename T>
process::Future<T> ManagedIsolator::send(Lifecycle lifecycle, const std::string& subject,
                                         const Try<std::string>& request, Try<T> (*decode)(const std::string&))
{
    if (request.isError()) {
        return process::Failure(subject + ": not sent: " + request.error());
    }
    // Isolator methods are called from the containerizer's actor or from whatever thread completed the future
    // before them; dispatching keeps this method non-blocking and leaves all bookkeeping to the actor.
    return process::dispatch(pid, &CallProcess::call, lifecycle, subject, request.get())
        .then([subject, decode](const std::string& response) -> process::Future<T> {
            Try<T> value = decode(response);
            if (value.isError()) {
                return process::Failure(subject + ": " + value.error());
            }
            return std::move(value.get());
        });
}

std::string ManagedIsolator::subjectOf(Lifecycle lifecycle, const mesos::ContainerID& containerId) const
{
    return moduleName + ": " + lifecycleName(lifecycle) + " of container '" + envelopes::describe(containerId) +
           "'";
}

process::Future<Nothing> ManagedIsolator::recover(const std::vector<mesos::slave::ContainerState>& states,
                                                  const hashset<mesos::ContainerID>& orphans)
{
    const std::string subject = moduleName + ": recover of " + std::to_string(states.size()) +
                                " checkpointed container(s) and " + std::to_string(orphans.size()) + " orphan(s)";
    return send(Lifecycle::Recover, subject, envelopes::recoverRequest(states, orphans), &envelopes::emptyResponse);
}

process::Future<Option<mesos::slave::ContainerLaunchInfo>> ManagedIsolator::prepare(
    const mesos::ContainerID& containerId, const mesos::slave::ContainerConfig& containerConfig)
{
    return send(Lifecycle::Prepare, subjectOf(Lifecycle::Prepare, containerId),
                envelopes::prepareRequest(containerId, containerConfig), &envelopes::prepareResponse);
}

process::Future<Nothing> ManagedIsolator::isolate(const mesos::ContainerID& containerId, pid_t pid)
{
    return send(Lifecycle::Isolate, subjectOf(Lifecycle::Isolate, containerId),
                envelopes::isolateRequest(containerId, pid), &envelopes::emptyResponse);
}

process::Future<mesos::slave::ContainerLimitation> ManagedIsolator::watch(const mesos::ContainerID& containerId)
{
    return send(Lifecycle::Watch, subjectOf(Lifecycle::Watch, containerId), envelopes::containerRequest(containerId),
                &envelopes::messageResponse<mesos::slave::ContainerLimitation>);
}

process::Future<Nothing> ManagedIsolator::update(
    const mesos::ContainerID& containerId, const mesos::Resources& resourceRequests,
    const google::protobuf::Map<std::string, mesos::Value::Scalar>& resourceLimits)
{
    return send(Lifecycle::Update, subjectOf(Lifecycle::Update, containerId),
                envelopes::updateRequest(containerId, resourceRequests, resourceLimits), &envelopes::emptyResponse);
}

process::Future<mesos::ResourceStatistics> ManagedIsolator::usage(const mesos::ContainerID& containerId)
{
    return send(Lifecycle::Usage, subjectOf(Lifecycle::Usage, containerId), envelopes::containerRequest(containerId),
                &envelopes::messageResponse<mesos::ResourceStatistics>);
}

process::Future<mesos::ContainerStatus> ManagedIsolator::status(const mesos::ContainerID& containerId)
{
    return send(Lifecycle::Status, subjectOf(Lifecycle::Status, containerId),
                envelopes::containerRequest(containerId), &envelopes::messageResponse<mesos::ContainerStatus>);
}

process::Future<Nothing> ManagedIsolator::cleanup(const mesos::ContainerID& containerId)
{
    return send(Lifecycle::Cleanup, subjectOf(Lifecycle::Cleanup, containerId),
                envelopes::containerRequest(containerId), &envelopes::emptyResponse);
}

} // namespace NetIsolator
