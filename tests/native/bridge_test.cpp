// Drives the provider exactly as the Mesos shim does (the C ABI of netisolator.h) with protobuf bytes built by
// libprotobuf from proto/, against the test isolator (tests/TestIsolator), and checks every answer.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "isolator_client.hpp"
#include "netisolator/bridge.pb.h"
#include "test_support.hpp"

namespace netisolator {
namespace {

using namespace std::chrono_literals;

class BridgeTest : public ::testing::Test {
protected:
    void SetUp() override { isolator_ = std::make_unique<IsolatorClient>(kTestModule, TestParameters()); }

    Reply Call(Method method, const google::protobuf::Message& request) {
        auto future = isolator_->call(method, request.SerializeAsString());
        EXPECT_EQ(future.wait_for(10s), std::future_status::ready) << method_name(method) << " never answered";
        return future.get();
    }

    std::unique_ptr<IsolatorClient> isolator_;
};

TEST_F(BridgeTest, AbiVersionOfProviderMatchesHeader) {
    EXPECT_EQ(netiso_abi_version(), NETISO_ABI_VERSION);
}

TEST_F(BridgeTest, PrepareAnswersLaunchInfoBuiltFromTheConfig) {
    auto reply = Call(Method::Prepare, MakePrepare("c1", {"net-a", "net-b"}));
    ASSERT_TRUE(reply.ok()) << reply.data;

    bridge::PrepareResponse response;
    ASSERT_TRUE(response.ParseFromString(reply.data));
    ASSERT_TRUE(response.has_launch_info());
    const auto& variables = response.launch_info().environment().variables();
    ASSERT_EQ(variables.size(), 4);
    EXPECT_EQ(variables[0].name(), "NETISO_TEST_CONTAINER");
    EXPECT_EQ(variables[0].value(), "c1");
    EXPECT_EQ(variables[1].value(), "from-native-test");  // the module parameter 'label'
    EXPECT_EQ(variables[2].value(), "net-a");
    EXPECT_EQ(variables[3].value(), "net-b");
}

TEST_F(BridgeTest, EveryLifecycleCallRoundTrips) {
    const auto id = MakeContainerId("c2");
    ASSERT_TRUE(Call(Method::Prepare, MakePrepare("c2", {"net-a"})).ok());

    bridge::IsolateRequest isolate;
    *isolate.mutable_container_id() = id;
    isolate.set_pid(4242);
    auto isolated = Call(Method::Isolate, isolate);
    ASSERT_TRUE(isolated.ok()) << isolated.data;
    EXPECT_TRUE(isolated.data.empty());  // Empty

    bridge::UpdateRequest update;
    *update.mutable_container_id() = id;
    *update.add_resource_requests() = MakePortsResource({{31000, 31009}, {32000, 32767}});
    *update.add_resource_requests() = MakePortsResource({{40000, 40000}});
    (*update.mutable_resource_limits())["cpus"].set_value(1.5);
    auto updated = Call(Method::Update, update);
    ASSERT_TRUE(updated.ok()) << updated.data;

    bridge::UsageRequest usage;
    *usage.mutable_container_id() = id;
    auto used = Call(Method::Usage, usage);
    ASSERT_TRUE(used.ok()) << used.data;
    mesos::ResourceStatistics statistics;
    ASSERT_TRUE(statistics.ParseFromString(used.data));
    EXPECT_DOUBLE_EQ(statistics.timestamp(), 1763900000.25);
    EXPECT_EQ(statistics.net_rx_packets(), 2u);      // the two resources update() carried
    EXPECT_DOUBLE_EQ(statistics.cpus_limit(), 1.5);  // and the limits map

    bridge::StatusRequest status;
    *status.mutable_container_id() = id;
    auto reported = Call(Method::Status, status);
    ASSERT_TRUE(reported.ok()) << reported.data;
    mesos::ContainerStatus container_status;
    ASSERT_TRUE(container_status.ParseFromString(reported.data));
    EXPECT_EQ(container_status.container_id().value(), "c2");
    EXPECT_EQ(container_status.executor_pid(), 4242u);
    ASSERT_EQ(container_status.network_infos_size(), 1);
    EXPECT_EQ(container_status.network_infos(0).name(), "net-a");

    bridge::CleanupRequest cleanup;
    *cleanup.mutable_container_id() = id;
    ASSERT_TRUE(Call(Method::Cleanup, cleanup).ok());

    // After cleanup the isolator no longer knows the container.
    ASSERT_TRUE(container_status.ParseFromString(Call(Method::Status, status).data));
    EXPECT_EQ(container_status.network_infos_size(), 0);
}

TEST_F(BridgeTest, RecoverCarriesStatesAndOrphans) {
    bridge::RecoverRequest recover;
    auto* state = recover.add_states();
    *state->mutable_container_id() = MakeContainerId("debug-7", "parent-1");
    state->set_pid(41234);
    state->set_directory("/var/lib/mesos/x");
    state->mutable_container_info()->set_type(mesos::ContainerInfo::MESOS);
    state->mutable_container_info()->add_network_infos()->set_name("recovered-net");
    *recover.add_orphans() = MakeContainerId("orphan-1");
    auto recovered = Call(Method::Recover, recover);
    ASSERT_TRUE(recovered.ok()) << recovered.data;

    bridge::StatusRequest status;
    *status.mutable_container_id() = MakeContainerId("debug-7", "parent-1");
    mesos::ContainerStatus container_status;
    ASSERT_TRUE(container_status.ParseFromString(Call(Method::Status, status).data));
    EXPECT_EQ(container_status.executor_pid(), 41234u);
    ASSERT_EQ(container_status.network_infos_size(), 1);
    EXPECT_EQ(container_status.network_infos(0).name(), "recovered-net");
}

TEST_F(BridgeTest, WatchReportsALimitation) {
    bridge::WatchRequest watch;
    *watch.mutable_container_id() = MakeContainerId("limit-1");
    auto reply = Call(Method::Watch, watch);
    ASSERT_TRUE(reply.ok()) << reply.data;
    mesos::slave::ContainerLimitation limitation;
    ASSERT_TRUE(limitation.ParseFromString(reply.data));
    EXPECT_EQ(limitation.message(), "test limitation of 'limit-1'");
    EXPECT_EQ(limitation.reason(), mesos::TaskStatus::REASON_CONTAINER_LIMITATION);
}

TEST_F(BridgeTest, WatchIsAbandonedNotFailedOnceTheContainerIsCleanedUp) {
    bridge::WatchRequest watch;
    *watch.mutable_container_id() = MakeContainerId("c3");
    auto pending = isolator_->call(Method::Watch, watch.SerializeAsString());
    EXPECT_EQ(pending.wait_for(100ms), std::future_status::timeout) << "a watch without limitation must stay pending";

    bridge::CleanupRequest cleanup;
    *cleanup.mutable_container_id() = MakeContainerId("c3");
    ASSERT_TRUE(Call(Method::Cleanup, cleanup).ok());
    ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(pending.get().status, NETISO_STATUS_ABANDONED);
}

TEST_F(BridgeTest, DestroyingTheIsolatorAbandonsPendingWatches) {
    bridge::WatchRequest watch;
    *watch.mutable_container_id() = MakeContainerId("c4");
    auto pending = isolator_->call(Method::Watch, watch.SerializeAsString());
    isolator_.reset();
    ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(pending.get().status, NETISO_STATUS_ABANDONED);
}

TEST_F(BridgeTest, IsolatorFailureComesBackAsErrorTextNamingCallAndContainer) {
    auto reply = Call(Method::Prepare, MakePrepare("fail-1", {}));
    EXPECT_EQ(reply.status, NETISO_STATUS_FAILED);
    EXPECT_EQ(reply.data, std::string(kTestModule) +
                              ": prepare of container 'fail-1' failed: injected failure in prepare of 'fail-1'");
}

TEST_F(BridgeTest, UnexpectedExceptionIsReportedWithItsType) {
    bridge::CleanupRequest cleanup;
    *cleanup.mutable_container_id() = MakeContainerId("crash-1");
    auto reply = Call(Method::Cleanup, cleanup);
    EXPECT_EQ(reply.status, NETISO_STATUS_FAILED);
    EXPECT_NE(reply.data.find("cleanup of container 'crash-1' failed: InvalidOperationException: injected crash"),
              std::string::npos)
        << reply.data;
}

TEST_F(BridgeTest, AnswerMissingARequiredFieldIsRefused) {
    bridge::UsageRequest usage;
    *usage.mutable_container_id() = MakeContainerId("incomplete-1");
    auto reply = Call(Method::Usage, usage);
    EXPECT_EQ(reply.status, NETISO_STATUS_FAILED);
    EXPECT_EQ(reply.data, "usage: the isolator answered a mesos.ResourceStatistics that lacks required field(s) timestamp")
        << reply.data;
}

TEST_F(BridgeTest, MalformedBytesAreAnErrorNotACrash) {
    const std::string garbage = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
    auto future = isolator_->call(Method::Prepare, garbage);
    auto reply = future.get();
    EXPECT_EQ(reply.status, NETISO_STATUS_FAILED);
    EXPECT_NE(reply.data.find("prepare: malformed PrepareRequest (11 bytes)"), std::string::npos) << reply.data;
}

TEST_F(BridgeTest, TruncatedBytesAreAnError) {
    const std::string whole = MakePrepare("c5", {"net-a", "net-b"}).SerializeAsString();
    for (size_t length : {whole.size() - 1, whole.size() / 2, size_t{3}}) {
        auto reply = isolator_->call(Method::Prepare, whole.substr(0, length)).get();
        EXPECT_EQ(reply.status, NETISO_STATUS_FAILED) << "length " << length;
        EXPECT_NE(reply.data.find("prepare: "), std::string::npos) << reply.data;
    }
    // The isolator still works afterwards.
    EXPECT_TRUE(Call(Method::Prepare, MakePrepare("c5", {})).ok());
}

TEST_F(BridgeTest, MissingRequiredFieldsInARequestAreNamed) {
    auto reply = isolator_->call(Method::Prepare, std::string()).get();
    EXPECT_EQ(reply.status, NETISO_STATUS_FAILED);
    EXPECT_NE(reply.data.find("PrepareRequest lacks required field(s) container_id, container_config"),
              std::string::npos)
        << reply.data;

    bridge::PrepareRequest partial = MakePrepare("c6", {});
    partial.mutable_container_id()->clear_value();
    reply = isolator_->call(Method::Prepare, partial.SerializePartialAsString()).get();
    EXPECT_NE(reply.data.find("PrepareRequest lacks required field(s) container_id.value"), std::string::npos)
        << reply.data;
}

TEST_F(BridgeTest, NullHandleAndInconsistentBuffersAreRejectedThroughTheCallback) {
    auto reply = std::make_shared<Reply>();
    auto done = [](void* context, int32_t status, uint8_t* data, int32_t length) {
        auto* out = static_cast<Reply*>(context);
        out->status = status;
        out->data.assign(reinterpret_cast<const char*>(data), length);
        netiso_free(data);
    };
    netiso_isolator_prepare(nullptr, nullptr, 0, done, reply.get());
    EXPECT_EQ(reply->status, NETISO_STATUS_FAILED);
    EXPECT_NE(reply->data.find("NULL handle"), std::string::npos);

    netiso_isolator_prepare(isolator_->handle(), nullptr, 12, done, reply.get());
    EXPECT_NE(reply->data.find("request buffer and length disagree"), std::string::npos);
}

TEST_F(BridgeTest, SixtyFourConcurrentCallsAnswerOnForeignThreads) {
    constexpr int kCalls = 64;
    std::vector<Reply> replies(kCalls);
    std::vector<char> answered_on_caller_thread(kCalls, 1);  // not vector<bool>: written from many threads
    std::vector<std::thread> threads;
    std::atomic<bool> go{false};
    for (int i = 0; i < kCalls; i++) {
        threads.emplace_back([&, i] {
            while (!go.load()) std::this_thread::yield();
            const auto caller = std::this_thread::get_id();
            auto promise = std::make_shared<std::promise<std::pair<Reply, bool>>>();
            auto answer = promise->get_future();
            const auto id = (i % 4 == 0 ? "slow-" : "c-") + std::to_string(i);
            isolator_->call(Method::Prepare, MakePrepare(id, {"net-" + std::to_string(i)}).SerializeAsString(),
                            [caller, promise](Reply reply) {
                                promise->set_value({std::move(reply), std::this_thread::get_id() == caller});
                            });
            // The caller stays alive until its answer arrives: a thread id is only unique among live threads.
            if (answer.wait_for(20s) == std::future_status::ready) {
                auto [reply, on_caller] = answer.get();
                replies[i] = std::move(reply);
                answered_on_caller_thread[i] = on_caller;
            } else {
                replies[i] = {NETISO_STATUS_FAILED, "no answer within 20 s"};
            }
        });
    }
    go = true;
    for (auto& thread : threads) thread.join();

    for (int i = 0; i < kCalls; i++) {
        ASSERT_TRUE(replies[i].ok()) << "call " << i << ": " << replies[i].data;
        bridge::PrepareResponse response;
        ASSERT_TRUE(response.ParseFromString(replies[i].data));
        // Each answer belongs to its own call: no mix-ups under concurrency.
        EXPECT_EQ(response.launch_info().environment().variables(2).value(), "net-" + std::to_string(i));
        EXPECT_FALSE(answered_on_caller_thread[i]) << "call " << i << " completed on the caller's thread";
    }
}

TEST(BridgeModules, CapabilitiesComeFromTheManagedIsolator) {
    IsolatorClient plain(kTestModule, TestParameters());
    EXPECT_EQ(plain.capabilities(), 0);
    IsolatorClient nesting("org_netisolator_NestingTestIsolator", TestParameters());
    EXPECT_EQ(nesting.capabilities(), NETISO_SUPPORTS_NESTING | NETISO_SUPPORTS_STANDALONE);
}

TEST(BridgeModules, UnknownModuleNamesTheAssemblyAndWhatItOffers) {
    try {
        IsolatorClient isolator("org_example_Missing", TestParameters());
        FAIL() << "created an unknown module";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("no isolator module 'org_example_Missing' in '"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("'org_netisolator_TestIsolator'"), std::string::npos) << e.what();
    }
}

TEST(BridgeModules, UnknownParameterIsRefusedWithTheKnownOnes) {
    auto parameters = TestParameters();
    parameters.emplace_back("lable", "typo");
    try {
        IsolatorClient isolator(kTestModule, parameters);
        FAIL() << "accepted an unknown parameter";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("unknown parameter(s) 'lable'"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("'label'"), std::string::npos) << e.what();
    }
}

TEST(BridgeModules, ConstructorFailureComesBackAsCreateError) {
    auto parameters = TestParameters();
    parameters.emplace_back("fail_create", "true");
    EXPECT_THROW(IsolatorClient(kTestModule, parameters), std::runtime_error);
    parameters.back().second = "maybe";
    try {
        IsolatorClient isolator(kTestModule, parameters);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("parameter 'fail_create' must be true or false, not 'maybe'"),
                  std::string::npos)
            << e.what();
    }
    // A failed creation leaves nothing broken: the next one works.
    EXPECT_NO_THROW(IsolatorClient(kTestModule, TestParameters()));
}

// Mesos reaps its children by pid (libprocess polls waitpid(pid, WNOHANG)). Once managed code starts processes,
// .NET installs a SIGCHLD handler and reaps its own children. The host's children must stay the host's: each
// waitpid(pid) must find its child and read the exit status the child chose.
TEST(BridgeSignals, HostChildrenAreReapedByTheHostWhileManagedCodeReapsItsOwn) {
    IsolatorClient isolator(kTestModule, TestParameters());
    // Make the runtime install its SIGCHLD handling first.
    ASSERT_TRUE(isolator.call(Method::Prepare, MakePrepare("spawn-2-warmup", {}).SerializeAsString()).get().ok());

    std::vector<std::future<Reply>> managed;
    for (int i = 0; i < 4; i++) {
        managed.push_back(isolator.call(Method::Prepare,
                                        MakePrepare("spawn-8-" + std::to_string(i), {}).SerializeAsString()));
    }
    for (int round = 0; round < 40; round++) {
        const int code = round % 100 + 1;
        pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            usleep(2000);
            _exit(code);
        }
        int status = 0;
        pid_t reaped;
        do {
            reaped = waitpid(child, &status, 0);
        } while (reaped < 0 && errno == EINTR);
        ASSERT_EQ(reaped, child) << "host child " << child << " was reaped by someone else (errno " << errno << ")";
        ASSERT_TRUE(WIFEXITED(status));
        EXPECT_EQ(WEXITSTATUS(status), code);
    }
    for (auto& reply : managed) {
        ASSERT_EQ(reply.wait_for(20s), std::future_status::ready);
        auto answer = reply.get();
        EXPECT_TRUE(answer.ok()) << answer.data;
    }
}

}  // namespace
}  // namespace netisolator
