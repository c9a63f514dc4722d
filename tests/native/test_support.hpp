// Builders shared by the native tests and the bridge benchmark.
#ifndef NETISOLATOR_TESTS_TEST_SUPPORT_HPP
#define NETISOLATOR_TESTS_TEST_SUPPORT_HPP

#include <string>
#include <utility>
#include <vector>

#include "isolator_client.hpp"
#include "netisolator/bridge.pb.h"

namespace netisolator {

// The test isolator (tests/TestIsolator), published next to the tests by the build.
inline constexpr const char* kTestModule = "org_netisolator_TestIsolator";

inline Parameters TestParameters() {
    return {{"assembly", NETISO_TEST_ASSEMBLY}, {"label", "from-native-test"}};
}

inline mesos::ContainerID MakeContainerId(const std::string& value, const std::string& parent = "") {
    mesos::ContainerID id;
    id.set_value(value);
    if (!parent.empty()) {
        id.mutable_parent()->set_value(parent);
    }
    return id;
}

inline mesos::Resource MakePortsResource(const std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
    mesos::Resource resource;
    resource.set_name("ports");
    resource.set_type(mesos::Value::RANGES);
    for (const auto& [begin, end] : ranges) {
        auto* range = resource.mutable_ranges()->add_range();
        range->set_begin(begin);
        range->set_end(end);
    }
    return resource;
}

// A typical prepare: a task container asking for the given CNI networks, with cpus, mem and ports.
inline bridge::PrepareRequest MakePrepare(const std::string& id, const std::vector<std::string>& networks) {
    bridge::PrepareRequest request;
    *request.mutable_container_id() = MakeContainerId(id);
    auto* config = request.mutable_container_config();
    config->set_directory("/var/lib/mesos/slaves/S1/frameworks/F1/executors/web/runs/" + id);
    config->set_user("nobody");
    auto* command = config->mutable_command_info();
    command->set_shell(false);
    command->set_value("/bin/sh");
    command->add_arguments("sh");
    command->add_arguments("-c");
    command->add_arguments("exec ./server --port 80");
    auto* info = config->mutable_container_info();
    info->set_type(mesos::ContainerInfo::MESOS);
    info->set_hostname("web-1");
    for (const auto& name : networks) {
        auto* network = info->add_network_infos();
        network->set_name(name);
        auto* label = network->mutable_labels()->add_labels();
        label->set_key("tier");
        label->set_value("web");
        auto* mapping = network->add_port_mappings();
        mapping->set_host_port(31000);
        mapping->set_container_port(80);
        mapping->set_protocol("tcp");
    }
    auto* cpus = config->add_resources();
    cpus->set_name("cpus");
    cpus->set_type(mesos::Value::SCALAR);
    cpus->mutable_scalar()->set_value(0.5);
    *config->add_resources() = MakePortsResource({{31000, 31001}});
    return request;
}

}  // namespace netisolator

#endif  // NETISOLATOR_TESTS_TEST_SUPPORT_HPP
