// netiso_isolator_metrics through the C ABI, against the test isolator (tests/TestIsolator): the counters it keeps
// of the calls it saw, and every way the call can fail without harming the isolator or the host.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "isolator_client.hpp"
#include "netisolator/bridge.pb.h"
#include "test_support.hpp"

namespace netisolator {
namespace {

using namespace std::chrono_literals;

const std::string kModule = kTestModule;

// The names the test isolator reports, all of them from creation on. metrics_calls includes the call that reads it.
std::map<std::string, double> Counts(double recover, double prepare, double isolate, double watch, double update,
                                     double usage, double status, double cleanup, double containers,
                                     double metrics_calls) {
    return {
        {"test_isolator/metrics_calls", metrics_calls},
        {"test_isolator/recover_calls", recover}, {"test_isolator/prepare_calls", prepare},
        {"test_isolator/isolate_calls", isolate}, {"test_isolator/watch_calls", watch},
        {"test_isolator/update_calls", update},   {"test_isolator/usage_calls", usage},
        {"test_isolator/status_calls", status},   {"test_isolator/cleanup_calls", cleanup},
        {"test_isolator/containers", containers},
    };
}

Parameters WithMetrics(const std::string& mode) {
    auto parameters = TestParameters();
    parameters.emplace_back("metrics", mode);
    return parameters;
}

Reply CallMetrics(const IsolatorClient& isolator, const std::string& request = std::string()) {
    auto future = isolator.call(Method::Metrics, request);
    EXPECT_EQ(future.wait_for(10s), std::future_status::ready) << "metrics never answered";
    return future.get();
}

std::string ContainerRequest(const std::string& id) {
    bridge::StatusRequest request;  // the same bytes as every {container_id = 1} envelope
    *request.mutable_container_id() = MakeContainerId(id);
    return request.SerializeAsString();
}

TEST(BridgeMetrics, EveryNameIsReportedFromCreationOn) {
    IsolatorClient isolator(kModule, TestParameters());
    EXPECT_EQ(isolator.metrics(), Counts(0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
}

TEST(BridgeMetrics, CountersFollowTheCallsThatReachedTheIsolator) {
    IsolatorClient isolator(kModule, TestParameters());
    ASSERT_TRUE(isolator.call(Method::Prepare, MakePrepare("c1", {"net-a"}).SerializeAsString()).get().ok());
    bridge::IsolateRequest isolate;
    *isolate.mutable_container_id() = MakeContainerId("c1");
    isolate.set_pid(4242);
    ASSERT_TRUE(isolator.call(Method::Isolate, isolate.SerializeAsString()).get().ok());
    ASSERT_TRUE(isolator.call(Method::Status, ContainerRequest("c1")).get().ok());
    ASSERT_TRUE(isolator.call(Method::Status, ContainerRequest("c1")).get().ok());
    ASSERT_TRUE(isolator.call(Method::Usage, ContainerRequest("c1")).get().ok());
    // A call the isolator fails is still a call it saw; one the bridge refuses (malformed) never reached it.
    EXPECT_FALSE(isolator.call(Method::Prepare, MakePrepare("fail-1", {}).SerializeAsString()).get().ok());
    EXPECT_FALSE(isolator.call(Method::Prepare, "\xff\xff").get().ok());

    EXPECT_EQ(isolator.metrics(), Counts(0, 2, 1, 0, 0, 1, 2, 0, 1, 1));

    ASSERT_TRUE(isolator.call(Method::Cleanup, ContainerRequest("c1")).get().ok());
    EXPECT_EQ(isolator.metrics(), Counts(0, 2, 1, 0, 0, 1, 2, 1, 0, 2));
}

TEST(BridgeMetrics, TheAnswerIsAWellFormedMetricsResponse) {
    IsolatorClient isolator(kModule, TestParameters());
    auto reply = CallMetrics(isolator);
    ASSERT_TRUE(reply.ok()) << reply.data;
    bridge::MetricsResponse response;
    ASSERT_TRUE(response.ParseFromString(reply.data));
    EXPECT_EQ(response.values_size(), 10);
    EXPECT_EQ(response.values().at("test_isolator/containers"), 0.0);
}

TEST(BridgeMetrics, AnEmptyRequestAnEmptyMessageAndUnknownFieldsAreAllAccepted) {
    IsolatorClient isolator(kModule, TestParameters());
    EXPECT_TRUE(CallMetrics(isolator, std::string()).ok());
    EXPECT_TRUE(CallMetrics(isolator, bridge::MetricsRequest().SerializeAsString()).ok());
    // Field 5, varint 1: a field a later host might send. proto2 keeps it as unknown.
    auto reply = CallMetrics(isolator, std::string("\x28\x01", 2));
    EXPECT_TRUE(reply.ok()) << reply.data;
}

TEST(BridgeMetrics, MalformedRequestIsAnErrorNamingTheEnvelope) {
    IsolatorClient isolator(kModule, TestParameters());
    auto reply = CallMetrics(isolator, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
    EXPECT_EQ(reply.status, NETISO_STATUS_FAILED);
    EXPECT_NE(reply.data.find(kModule + ": metrics: malformed MetricsRequest (11 bytes)"), std::string::npos)
        << reply.data;
    // The isolator is unharmed.
    EXPECT_EQ(isolator.metrics().size(), 10u);
}

TEST(BridgeMetrics, IsolatorWithoutMetricsAnswersAnEmptyMessage) {
    IsolatorClient isolator(kModule, WithMetrics("none"));
    auto reply = CallMetrics(isolator);
    ASSERT_TRUE(reply.ok()) << reply.data;
    EXPECT_TRUE(reply.data.empty());
    EXPECT_TRUE(isolator.metrics().empty());
}

TEST(BridgeMetrics, IsolatorFailureNamesTheModuleAndTheCall) {
    IsolatorClient isolator(kModule, WithMetrics("fail"));
    auto reply = CallMetrics(isolator);
    EXPECT_EQ(reply.status, NETISO_STATUS_FAILED);
    EXPECT_EQ(reply.data, kModule + ": metrics of the isolator failed: injected failure in metrics");
    // Failing metrics do not stop the lifecycle.
    EXPECT_TRUE(isolator.call(Method::Prepare, MakePrepare("c1", {}).SerializeAsString()).get().ok());
}

TEST(BridgeMetrics, UnexpectedExceptionIsReportedWithItsType) {
    IsolatorClient isolator(kModule, WithMetrics("crash"));
    auto reply = CallMetrics(isolator);
    EXPECT_EQ(reply.status, NETISO_STATUS_FAILED);
    EXPECT_EQ(reply.data,
              kModule + ": metrics of the isolator failed: InvalidOperationException: injected crash in metrics");
}

TEST(BridgeMetrics, ValueThatIsNotAFiniteNumberIsRefusedByName) {
    IsolatorClient isolator(kModule, WithMetrics("nan"));
    auto reply = CallMetrics(isolator);
    EXPECT_EQ(reply.status, NETISO_STATUS_FAILED);
    EXPECT_EQ(reply.data, kModule + ": metrics of the isolator failed: metric 'test_isolator/broken' is NaN, not a "
                                    "finite number");
    try {
        isolator.metrics();
        FAIL() << "metrics() returned despite a NaN";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("'test_isolator/broken' is NaN"), std::string::npos) << e.what();
    }
}

TEST(BridgeMetrics, EmptyNameIsRefused) {
    IsolatorClient isolator(kModule, WithMetrics("unnamed"));
    auto reply = CallMetrics(isolator);
    EXPECT_EQ(reply.status, NETISO_STATUS_FAILED);
    EXPECT_EQ(reply.data, kModule + ": metrics of the isolator failed: a metric has an empty name (its value is 1)");
}

TEST(BridgeMetrics, UnknownModeOfTheTestIsolatorIsACreateError) {
    try {
        IsolatorClient isolator(kModule, WithMetrics("sometimes"));
        FAIL() << "accepted metrics=sometimes";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("parameter 'metrics' must be one of count, none, fail, crash, nan, "
                                             "unnamed, not 'sometimes'"),
                  std::string::npos)
            << e.what();
    }
}

TEST(BridgeMetrics, NullHandleAndInconsistentBuffersAreRejectedThroughTheCallback) {
    IsolatorClient isolator(kModule, TestParameters());
    Reply reply;
    auto done = [](void* context, int32_t status, uint8_t* data, int32_t length) {
        auto* out = static_cast<Reply*>(context);
        out->status = status;
        out->data.assign(reinterpret_cast<const char*>(data), length);
        netiso_free(data);
    };
    netiso_isolator_metrics(nullptr, nullptr, 0, done, &reply);
    EXPECT_EQ(reply.status, NETISO_STATUS_FAILED);
    EXPECT_EQ(reply.data, "lifecycle call #8 rejected: no isolator (NULL handle)");

    reply = Reply{};
    netiso_isolator_metrics(isolator.handle(), nullptr, 4, done, &reply);
    EXPECT_EQ(reply.status, NETISO_STATUS_FAILED);
    EXPECT_EQ(reply.data, "lifecycle call #8 rejected: request buffer and length disagree");

    // No callback: nothing to answer, and nothing may crash.
    netiso_isolator_metrics(isolator.handle(), nullptr, 0, nullptr, nullptr);
    EXPECT_EQ(isolator.metrics().size(), 10u);
}

// What the shim does on every /metrics/snapshot while the containerizer keeps working: metrics calls from many
// threads beside lifecycle calls. Every call answers, on a thread other than its caller's, and the final counts
// are exact.
TEST(BridgeMetrics, ConcurrentMetricsAndLifecycleCallsAllAnswerAndCountExactly) {
    IsolatorClient isolator(kModule, TestParameters());
    constexpr int kThreads = 16;
    constexpr int kRounds = 20;
    std::atomic<int> failures{0};
    std::atomic<int> on_caller_thread{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            while (!go.load()) std::this_thread::yield();
            for (int round = 0; round < kRounds; round++) {
                const auto caller = std::this_thread::get_id();
                auto promise = std::make_shared<std::promise<std::pair<Reply, bool>>>();
                auto answer = promise->get_future();
                const bool metrics = t % 2 == 0;
                const std::string request =
                    metrics ? std::string()
                            : ContainerRequest("c-" + std::to_string(t) + "-" + std::to_string(round));
                isolator.call(metrics ? Method::Metrics : Method::Status, request,
                              [caller, promise](Reply reply) {
                                  promise->set_value({std::move(reply), std::this_thread::get_id() == caller});
                              });
                if (answer.wait_for(20s) != std::future_status::ready) {
                    failures++;
                    continue;
                }
                auto [reply, on_caller] = answer.get();
                if (!reply.ok()) failures++;
                if (on_caller) on_caller_thread++;
            }
        });
    }
    go = true;
    for (auto& thread : threads) thread.join();

    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(on_caller_thread.load(), 0) << "metrics and lifecycle calls complete off the caller's thread";
    const auto final_counts = isolator.metrics();
    EXPECT_EQ(final_counts.at("test_isolator/status_calls"), (kThreads / 2) * kRounds);
    EXPECT_EQ(final_counts.at("test_isolator/metrics_calls"), (kThreads / 2) * kRounds + 1);  // one per call
}

}  // namespace
}  // namespace netisolator
