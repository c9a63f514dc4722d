// `isolator run`: plays the Mesos agent for one command, through the same provider and C ABI the module shim uses.
//
//   isolator run [--network-config-dir DIR] [--network NAME]... [--plugins-dir DIR] [--real-host]
//                [--assembly PATH] [--dotnet-root DIR] -- COMMAND [ARGS]...
//
// The agent's sequence, in order:
//   1. prepare(container, config)   the isolator answers which namespaces the container gets
//   2. start COMMAND in them, held before exec (the agent forks, then waits for its isolators)
//   3. isolate(container, pid)      the isolator attaches the container's network namespace to its networks
//   4. release the command, let it run, wait for it
//   5. cleanup(container)           everything the isolator made is removed
// The exit status is the command's (128 + signal if it was killed); its output passes through.
//
// By default the "host" the networks attach to is a throwaway network namespace made for this run, so trying
// the isolator never touches the machine's own network: the bridge, its address and every rule live in that
// namespace and vanish with it. --real-host attaches to the machine's network instead.
#include "run.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "isolator_client.hpp"
#include "netisolator/bridge.pb.h"

namespace netisolator::runner {
namespace {

namespace fs = std::filesystem;

const char* const kCniModule = "org_netisolator_NetworkCniIsolator";

// The embedded default network: Debian's bridge and host-local plugins on a private subnet. No masquerade and no
// default route: traffic stays between the container and the "host" it is attached to. @DATA_DIR@ becomes a
// directory of this run, so address leases never outlive it.
const char* const kDefaultNetworkName = "netisolator";
const char* const kDefaultNetwork = R"({
  "cniVersion": "1.0.0",
  "name": "netisolator",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "netiso0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "10.231.0.0/24" }]],
        "dataDir": "@DATA_DIR@"
      }
    }
  ]
}
)";

[[noreturn]] void Fail(const std::string& step) {
    throw std::runtime_error(step + ": " + std::strerror(errno));
}

// Brings `lo` up in the calling thread's network namespace (a fresh namespace has it down).
void BringLoopbackUp() {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return;
    struct ifreq request {};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFFLAGS, &request) == 0) {
        request.ifr_flags |= IFF_UP;
        ioctl(sock, SIOCSIFFLAGS, &request);
    }
    close(sock);
}

// Mount points at or below `directory`, deepest first, from /proc/self/mountinfo (field 5, octal-escaped).
std::vector<std::string> MountPointsBelow(const fs::path& directory) {
    std::vector<std::string> found;
    std::ifstream mountinfo("/proc/self/mountinfo");
    std::string line;
    const std::string prefix = directory.string();
    while (std::getline(mountinfo, line)) {
        std::istringstream fields(line);
        std::string id, parent, device, root, point;
        fields >> id >> parent >> device >> root >> point;
        std::string unescaped;
        for (size_t i = 0; i < point.size(); i++) {
            if (point[i] == '\\' && i + 3 < point.size()) {
                unescaped += static_cast<char>(std::stoi(point.substr(i + 1, 3), nullptr, 8));
                i += 3;
            } else {
                unescaped += point[i];
            }
        }
        if (unescaped == prefix || unescaped.rfind(prefix + "/", 0) == 0) found.push_back(unescaped);
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    return found;
}

// The isolator leaves its root a mount point of its own (an agent keeps it for its lifetime); a one-shot run
// must not leave that, or anything else, mounted in its scratch directory.
void UnmountEverythingBelow(const fs::path& directory) {
    for (const auto& point : MountPointsBelow(directory)) {
        if (umount2(point.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
            std::fprintf(stderr, "isolator run: cannot unmount '%s': %s\n", point.c_str(), std::strerror(errno));
        }
    }
}

// A network namespace made for this run and pinned at `pin` (a bind mount of the namespace onto an empty file).
// It is created on a thread of its own, which ends afterwards, so no thread of this process stays in it.
class ThrowawayHostNamespace {
public:
    explicit ThrowawayHostNamespace(fs::path pin) : pin_(std::move(pin)) {
        std::ofstream(pin_).close();
        std::string error;
        std::thread([&] {
            if (unshare(CLONE_NEWNET) != 0) {
                error = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
                return;
            }
            BringLoopbackUp();
            if (mount("/proc/thread-self/ns/net", pin_.c_str(), nullptr, MS_BIND, nullptr) != 0) {
                error = "pinning the host namespace at '" + pin_.string() + "': " + std::strerror(errno);
            }
        }).join();
        if (!error.empty()) {
            fs::remove(pin_);
            throw std::runtime_error("creating the throwaway host namespace: " + error);
        }
    }
    ~ThrowawayHostNamespace() {
        umount2(pin_.c_str(), MNT_DETACH);
        std::error_code ignored;
        fs::remove(pin_, ignored);
    }
    ThrowawayHostNamespace(const ThrowawayHostNamespace&) = delete;
    ThrowawayHostNamespace& operator=(const ThrowawayHostNamespace&) = delete;

    const fs::path& path() const { return pin_; }

private:
    fs::path pin_;
};

// The command, forked into new namespaces and held before exec until released (or abandoned).
class HeldCommand {
public:
    HeldCommand(const std::vector<std::string>& argv, int clone_flags,
                const std::vector<std::pair<std::string, std::string>>& environment) {
        int ready[2], go[2];
        if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0) Fail("pipe");
        pid_ = fork();
        if (pid_ < 0) Fail("fork");
        if (pid_ == 0) {
            close(ready[0]);
            close(go[1]);
            RunChild(argv, clone_flags, environment, ready[1], go[0]);
        }
        close(ready[1]);
        close(go[0]);
        go_ = go[1];
        int child_errno = 0;
        ssize_t got = read(ready[0], &child_errno, sizeof child_errno);
        close(ready[0]);
        if (got == sizeof child_errno && child_errno != 0) {
            Wait();
            errno = child_errno;
            Fail("entering the container's namespaces (unshare)");
        }
    }
    ~HeldCommand() {
        if (go_ >= 0) close(go_);  // an unreleased command exits without running
        if (pid_ > 0 && !waited_) Wait();
    }

    pid_t pid() const { return pid_; }

    void Release() {
        const char go = 'x';
        if (write(go_, &go, 1) != 1) Fail("releasing the command");
        close(go_);
        go_ = -1;
    }

    // The command's exit status as a shell reports it.
    int Wait() {
        int status = 0;
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        waited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

private:
    [[noreturn]] static void RunChild(const std::vector<std::string>& argv, int clone_flags,
                                      const std::vector<std::pair<std::string, std::string>>& environment,
                                      int ready, int go) {
        int result = 0;
        if (clone_flags != 0 && unshare(clone_flags) != 0) {
            result = errno;
        } else if ((clone_flags & CLONE_NEWNS) != 0 && mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
            result = errno;  // keep the container's mounts from propagating back to the host
        }
        if (result == 0 && (clone_flags & CLONE_NEWNET) != 0) {
            BringLoopbackUp();
        }
        (void)!write(ready, &result, sizeof result);
        close(ready);
        char released = 0;
        if (result != 0 || read(go, &released, 1) != 1) {
            _exit(126);
        }
        for (const auto& [name, value] : environment) {
            setenv(name.c_str(), value.c_str(), 1);
        }
        std::vector<char*> args;
        for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        std::fprintf(stderr, "isolator run: cannot execute '%s': %s\n", args[0], std::strerror(errno));
        _exit(127);
    }

    pid_t pid_ = -1;
    int go_ = -1;
    bool waited_ = false;
};

struct Options {
    std::string config_dir;  // empty: the embedded default network
    std::vector<std::string> networks;
    std::string plugins_dir = "/usr/lib/cni";
    bool real_host = false;
    Parameters extra;
    std::vector<std::string> command;
};

Options ParseOptions(int argc, char** argv) {
    Options options;
    int i = 0;
    auto value = [&](const char* name) -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(std::string(name) + " needs a value");
        return argv[++i];
    };
    for (; i < argc; i++) {
        std::string argument = argv[i];
        if (argument == "--") {
            options.command.assign(argv + i + 1, argv + argc);
            break;
        } else if (argument == "--network-config-dir") {
            options.config_dir = value("--network-config-dir");
        } else if (argument == "--network") {
            options.networks.push_back(value("--network"));
        } else if (argument == "--plugins-dir") {
            options.plugins_dir = value("--plugins-dir");
        } else if (argument == "--real-host") {
            options.real_host = true;
        } else if (argument == "--assembly") {
            options.extra.emplace_back("assembly", value("--assembly"));
        } else if (argument == "--dotnet-root") {
            options.extra.emplace_back("dotnet_root", value("--dotnet-root"));
        } else {
            throw std::invalid_argument("unknown option '" + argument + "'");
        }
    }
    if (options.command.empty()) throw std::invalid_argument("no command given after --");
    if (options.config_dir.empty() && options.networks.empty()) options.networks.push_back(kDefaultNetworkName);
    return options;
}

// The answer of one call; a failure's text already names the module, the call and the container.
std::string Call(const IsolatorClient& isolator, Method method, const google::protobuf::Message& request) {
    Reply reply = isolator.call(method, request.SerializeAsString()).get();
    if (!reply.ok()) throw std::runtime_error(reply.data);
    return reply.data;
}

}  // namespace

int Run(int argc, char** argv) {
    const Options options = ParseOptions(argc, argv);
    if (geteuid() != 0) {
        std::fprintf(stderr, "isolator run: needs root (it creates network namespaces and mounts)\n");
        return 2;
    }

    // Everything this run makes on disk lives here and is removed at the end.
    char scratch_template[] = "/tmp/netisolator-run-XXXXXX";
    if (mkdtemp(scratch_template) == nullptr) Fail("creating a scratch directory under /tmp");
    const fs::path scratch = scratch_template;
    struct RemoveScratch {
        fs::path path;
        ~RemoveScratch() {
            UnmountEverythingBelow(path);
            std::error_code ignored;
            fs::remove_all(path, ignored);
        }
    } remove_scratch{scratch};

    fs::path config_dir = options.config_dir;
    if (config_dir.empty()) {
        config_dir = scratch / "networks";
        fs::create_directories(config_dir);
        std::string network = kDefaultNetwork;
        network.replace(network.find("@DATA_DIR@"), 10, (scratch / "ipam").string());
        std::ofstream(config_dir / "netisolator.conflist") << network;
    }

    std::unique_ptr<ThrowawayHostNamespace> host;
    if (!options.real_host) host = std::make_unique<ThrowawayHostNamespace>(scratch / "host-netns");

    Parameters parameters = {
        {"network_cni_config_dir", config_dir.string()},
        {"network_cni_plugins_dir", options.plugins_dir},
        {"runtime_dir", (scratch / "runtime").string()},
    };
    if (host) parameters.emplace_back("network_cni_host_netns", host->path().string());
    parameters.insert(parameters.end(), options.extra.begin(), options.extra.end());
    IsolatorClient isolator(kCniModule, parameters);

    std::random_device random;
    mesos::ContainerID id;
    id.set_value("run-" + std::to_string(getpid()) + "-" + std::to_string(random() % 100000));

    bridge::PrepareRequest prepare;
    *prepare.mutable_container_id() = id;
    auto* config = prepare.mutable_container_config();
    config->set_directory((scratch / "sandbox").string());
    fs::create_directories(config->directory());
    config->mutable_command_info()->set_shell(false);
    config->mutable_command_info()->set_value(options.command[0]);
    for (const auto& arg : options.command) config->mutable_command_info()->add_arguments(arg);
    config->mutable_container_info()->set_type(mesos::ContainerInfo::MESOS);
    for (const auto& name : options.networks) config->mutable_container_info()->add_network_infos()->set_name(name);

    bridge::CleanupRequest cleanup;
    *cleanup.mutable_container_id() = id;
    int status = 0;
    try {
        bridge::PrepareResponse prepared;
        prepared.ParseFromString(Call(isolator, Method::Prepare, prepare));
        int clone_flags = 0;
        for (int flag : prepared.launch_info().clone_namespaces()) clone_flags |= flag;
        std::vector<std::pair<std::string, std::string>> environment;
        for (const auto& variable : prepared.launch_info().environment().variables()) {
            environment.emplace_back(variable.name(), variable.value());
        }

        HeldCommand command(options.command, clone_flags, environment);
        bridge::IsolateRequest isolate;
        *isolate.mutable_container_id() = id;
        isolate.set_pid(command.pid());
        Call(isolator, Method::Isolate, isolate);

        // While the command runs, Ctrl-C is its to handle; this process must live on to clean up.
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        command.Release();
        status = command.Wait();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "isolator run: %s\n", e.what());
        status = 125;
    }
    Reply cleaned = isolator.call(Method::Cleanup, cleanup.SerializeAsString()).get();
    if (!cleaned.ok()) {
        std::fprintf(stderr, "isolator run: cleanup of container '%s' failed: %s\n", id.value().c_str(),
                     cleaned.data.c_str());
        if (status == 0) status = 125;
    }
    return status;
}

}  // namespace netisolator::runner
