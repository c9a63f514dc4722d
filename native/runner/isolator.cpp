// `isolator`: the one command users type. It loads the same provider library the Mesos module shim loads and
// drives the isolators through the same C ABI, so what works here works inside the agent.
//
//   isolator run [--network-config-dir DIR] [--network NAME]... [--plugins-dir DIR] [--real-host] -- COMMAND...
//     Runs COMMAND in a container attached to CNI networks, as the agent would (see run.cpp).
//
//   isolator bridge-check [--assembly PATH] [--dotnet-root DIR] [--module NAME]... [--parameter KEY=VALUE]...
//                         [--lifecycle] [--metrics]
//     Loads the .NET runtime and creates each module (by default the modules the project ships, as named in
//     mesos-module.json), printing what loaded and what did not. With --lifecycle, also drives one synthetic
//     container through prepare, isolate, status, usage, update and cleanup, printing every answer, and then
//     prints the isolator's metrics; the "container" is the runner's own process, so use it with isolators that do
//     not touch the kernel. With --metrics, prints the metrics (what the agent's /metrics/snapshot shows) after
//     loading.
//
//   isolator network-cni-setup --flag=value...
//     The helper subcommands the isolators run per container, served by netisolator-helper (NativeAOT, beside this
//     executable), which this execs with the same arguments. Reachable here so users have one command to type.
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "isolator_client.hpp"
#include "netisolator/bridge.pb.h"
#include "run.hpp"

namespace {

using netisolator::IsolatorClient;
using netisolator::Method;
using netisolator::Reply;

const char* const kUsage =
    "usage: isolator run [--network-config-dir DIR] [--network NAME]... [--plugins-dir DIR] [--real-host]\n"
    "                    [--assembly PATH] [--dotnet-root DIR] -- COMMAND [ARGS]...\n"
    "       isolator bridge-check [--assembly PATH] [--dotnet-root DIR] [--module NAME]...\n"
    "                             [--parameter KEY=VALUE]... [--lifecycle] [--metrics]\n"
    "       isolator network-cni-setup --flag=value...   (see: isolator network-cni-setup --help)\n";

// Served by netisolator-helper, which must be a process of its own: it is single-threaded when it enters a
// container's mount namespace, which a process that has loaded .NET can no longer do.
// network-cni-setup: the CNI isolator's; update, statistics, htb_config: Mesos's mesos-network-helper subcommands (port mapping).
const char* const kHelperSubcommands[] = {"network-cni-setup", "update", "statistics", "htb_config"};
const char* const kHelperName = "netisolator-helper";

// Replaces this process with netisolator-helper from this executable's directory; returns only on failure.
int exec_helper(char** argv) {
    std::string self(4096, '\0');
    ssize_t length = readlink("/proc/self/exe", self.data(), self.size() - 1);
    if (length <= 0) {
        std::fprintf(stderr, "isolator: cannot read /proc/self/exe: %s\n", std::strerror(errno));
        return 125;
    }
    self.resize(static_cast<size_t>(length));
    const std::string helper = self.substr(0, self.rfind('/') + 1) + kHelperName;
    argv[0] = const_cast<char*>(kHelperName);
    execv(helper.c_str(), argv);
    std::fprintf(stderr, "isolator: cannot execute '%s': %s\n", helper.c_str(), std::strerror(errno));
    return 125;
}

const char* const kShippedModules[] = {"org_netisolator_NetworkCniIsolator", "org_netisolator_PortMappingIsolator"};

std::string to_json(const google::protobuf::Message& message) {
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(message, &json, options);
    return json;
}

// Prints one answer; returns whether it was a success.
bool report(Method method, const Reply& reply, google::protobuf::Message* response) {
    if (!reply.ok()) {
        std::printf("  %-8s %s: %s\n", netisolator::method_name(method),
                    reply.status == NETISO_STATUS_ABANDONED ? "abandoned" : "FAILED", reply.data.c_str());
        return false;
    }
    if (response != nullptr && !response->ParseFromString(reply.data)) {
        std::printf("  %-8s FAILED: the answer is not a valid %s\n", netisolator::method_name(method),
                    response->GetTypeName().c_str());
        return false;
    }
    std::printf("  %-8s ok %s\n", netisolator::method_name(method), response ? to_json(*response).c_str() : "");
    return true;
}

// Prints the isolator's metrics, one `name value` line each, sorted by name; returns whether the call succeeded.
bool report_metrics(const IsolatorClient& isolator) {
    try {
        const auto metrics = isolator.metrics();
        std::printf("  %-8s ok %zu metric(s)\n", netisolator::method_name(Method::Metrics), metrics.size());
        for (const auto& [name, value] : metrics) {
            std::printf("    %s %.15g\n", name.c_str(), value);
        }
        return true;
    } catch (const std::exception& e) {
        std::printf("  %-8s FAILED: %s\n", netisolator::method_name(Method::Metrics), e.what());
        return false;
    }
}

bool drive_lifecycle(const IsolatorClient& isolator) {
    mesos::ContainerID id;
    id.set_value("bridge-check-" + std::to_string(getpid()));

    netisolator::bridge::PrepareRequest prepare;
    *prepare.mutable_container_id() = id;
    auto* config = prepare.mutable_container_config();
    config->set_directory("/tmp");
    config->mutable_command_info()->set_value("/bin/true");
    config->mutable_container_info()->set_type(mesos::ContainerInfo::MESOS);
    config->mutable_container_info()->add_network_infos()->set_name("net-a");
    config->mutable_container_info()->add_network_infos()->set_name("net-b");

    netisolator::bridge::IsolateRequest isolate;
    *isolate.mutable_container_id() = id;
    isolate.set_pid(getpid());
    netisolator::bridge::StatusRequest status;
    *status.mutable_container_id() = id;
    netisolator::bridge::UsageRequest usage;
    *usage.mutable_container_id() = id;
    netisolator::bridge::UpdateRequest update;
    *update.mutable_container_id() = id;
    netisolator::bridge::CleanupRequest cleanup;
    *cleanup.mutable_container_id() = id;

    netisolator::bridge::PrepareResponse prepared;
    mesos::ContainerStatus container_status;
    mesos::ResourceStatistics statistics;
    bool ok = report(Method::Prepare, isolator.call(Method::Prepare, prepare.SerializeAsString()).get(), &prepared);
    ok = report(Method::Isolate, isolator.call(Method::Isolate, isolate.SerializeAsString()).get(), nullptr) && ok;
    ok = report(Method::Status, isolator.call(Method::Status, status.SerializeAsString()).get(), &container_status) &&
         ok;
    ok = report(Method::Usage, isolator.call(Method::Usage, usage.SerializeAsString()).get(), &statistics) && ok;
    ok = report(Method::Update, isolator.call(Method::Update, update.SerializeAsString()).get(), nullptr) && ok;
    ok = report(Method::Cleanup, isolator.call(Method::Cleanup, cleanup.SerializeAsString()).get(), nullptr) && ok;
    ok = report_metrics(isolator) && ok;
    return ok;
}

int bridge_check(int argc, char** argv) {
    netisolator::Parameters parameters;
    std::vector<std::string> modules;
    bool lifecycle = false;
    bool metrics = false;
    for (int i = 0; i < argc; i++) {
        std::string argument = argv[i];
        auto value = [&](const char* name) -> std::string {
            if (i + 1 >= argc) {
                throw std::invalid_argument(std::string(name) + " needs a value");
            }
            return argv[++i];
        };
        if (argument == "--assembly") {
            parameters.emplace_back("assembly", value("--assembly"));
        } else if (argument == "--dotnet-root") {
            parameters.emplace_back("dotnet_root", value("--dotnet-root"));
        } else if (argument == "--module") {
            modules.push_back(value("--module"));
        } else if (argument == "--parameter") {
            std::string pair = value("--parameter");
            auto equals = pair.find('=');
            if (equals == std::string::npos) {
                throw std::invalid_argument("--parameter takes KEY=VALUE, not '" + pair + "'");
            }
            parameters.emplace_back(pair.substr(0, equals), pair.substr(equals + 1));
        } else if (argument == "--lifecycle") {
            lifecycle = true;
        } else if (argument == "--metrics") {
            metrics = true;
        } else {
            throw std::invalid_argument("unknown option '" + argument + "'");
        }
    }
    if (modules.empty()) {
        modules.assign(std::begin(kShippedModules), std::end(kShippedModules));
    }

    std::printf("provider ABI version %u (this runner expects %u)\n", netiso_abi_version(), NETISO_ABI_VERSION);
    if (netiso_abi_version() != NETISO_ABI_VERSION) {
        return 1;
    }
    bool all_ok = true;
    for (const auto& module : modules) {
        try {
            IsolatorClient isolator(module, parameters);
            const int32_t capabilities = isolator.capabilities();
            std::printf("%s: loaded (nesting: %s, standalone: %s)\n", module.c_str(),
                        capabilities & NETISO_SUPPORTS_NESTING ? "yes" : "no",
                        capabilities & NETISO_SUPPORTS_STANDALONE ? "yes" : "no");
            if (lifecycle) {
                all_ok = drive_lifecycle(isolator) && all_ok;
            } else if (metrics) {
                all_ok = report_metrics(isolator) && all_ok;
            }
        } catch (const std::exception& e) {
            std::printf("%s: NOT loaded: %s\n", module.c_str(), e.what());
            all_ok = false;
        }
    }
    return all_ok ? 0 : 1;
}

// Log lines of the provider and the isolators: warnings and errors always, the rest when NETISOLATOR_LOG says.
void LogToStderr(void*, int32_t level, const char* message, int32_t length) {
    static const int threshold = [] {
        const char* wanted = std::getenv("NETISOLATOR_LOG");
        if (wanted == nullptr) return int{NETISO_LOG_WARNING};
        return std::strcmp(wanted, "debug") == 0 ? int{NETISO_LOG_DEBUG}
               : std::strcmp(wanted, "info") == 0 ? int{NETISO_LOG_INFO}
                                                   : int{NETISO_LOG_WARNING};
    }();
    if (level >= threshold) std::fprintf(stderr, "netisolator: %.*s\n", static_cast<int>(length), message);
}

}  // namespace

int main(int argc, char** argv) {
    netiso_set_log_sink(LogToStderr, nullptr);
    if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    try {
        if (std::strcmp(argv[1], "bridge-check") == 0) {
            return bridge_check(argc - 2, argv + 2);
        }
        if (std::strcmp(argv[1], "run") == 0) {
            return netisolator::runner::Run(argc - 2, argv + 2);
        }
        for (const char* helper_subcommand : kHelperSubcommands) {
            if (std::strcmp(argv[1], helper_subcommand) == 0) return exec_helper(argv);
        }
        std::fprintf(stderr, "isolator: unknown subcommand '%s'\n%s", argv[1], kUsage);
        return 2;
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "isolator %s: %s\n%s", argv[1], e.what(), kUsage);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "isolator %s: %s\n", argv[1], e.what());
        return 125;
    }
}
