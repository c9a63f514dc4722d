// The module symbols the agent looks up, and the create() functions behind them.
//
// The agent dlopen()s this library with RTLD_NOW and finds each module with dlsym() under the name given in
// --modules and --isolation. That name is the name of a global variable: it must live in the global namespace
// (C++ does not mangle the names of global variables) and be exported despite -fvisibility=hidden. Every other
// symbol this library uses from Mesos, libprocess, protobuf and glog is left undefined on purpose and bound to the
// agent's own copies at load time.
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include <glog/logging.h>

#include <mesos/mesos.hpp>
#include <mesos/module.hpp>
#include <mesos/module/isolator.hpp>
#include <mesos/slave/isolator.hpp>

#include "managed_isolator.hpp"
#include "netisolator/netisolator.h"

#define NETISOLATOR_MODULE_SYMBOL __attribute__((visibility("default")))

namespace {

// Log lines of the provider and of the C# isolators, on any thread; glog is thread-safe.
void forwardLog(void* /*context*/, int32_t level, const char* message, int32_t length)
{
    // No exception may unwind out of here: the caller may be native code entered from .NET.
    try {
        const std::string text =
            message != nullptr && length > 0 ? std::string(message, static_cast<size_t>(length)) : std::string();
        switch (level) {
        case NETISO_LOG_DEBUG: VLOG(1) << "netisolator: " << text; break;
        case NETISO_LOG_WARNING: LOG(WARNING) << "netisolator: " << text; break;
        case NETISO_LOG_ERROR: LOG(ERROR) << "netisolator: " << text; break;
        default: LOG(INFO) << "netisolator: " << text; break;
        }
    } catch (...) {
    }
}

// Everything create() may refuse is refused with a logged reason and nullptr: the agent then stops with "Error
// creating Module instance" next to our message. Aborting instead (what a DNNE-style loader does by default when
// the runtime cannot be found) would kill the agent without saying why.
mesos::slave::Isolator* createIsolator(const char* moduleName, const mesos::Parameters& parameters)
{
    try {
        const uint32_t providerVersion = netiso_abi_version();
        if (providerVersion != NETISO_ABI_VERSION) {
            LOG(ERROR) << "netisolator: cannot create " << moduleName << ": libnetisolator_provider.so speaks C ABI "
                       << "version " << providerVersion << " but this module was built for version "
                       << NETISO_ABI_VERSION << "; install the module and the provider from the same build";
            return nullptr;
        }

        static std::once_flag logSinkInstalled;
        std::call_once(logSinkInstalled, [] { netiso_set_log_sink(&forwardLog, nullptr); });

        // The strings stay owned by `parameters`, which outlives the call.
        std::vector<netiso_parameter> forwarded;
        forwarded.reserve(static_cast<size_t>(parameters.parameter_size()));
        for (const mesos::Parameter& parameter : parameters.parameter()) {
            forwarded.push_back(netiso_parameter{parameter.key().c_str(), parameter.value().c_str()});
        }

        // This loads the .NET runtime on the first call in the process: the agent is still starting and may
        // block here, which no lifecycle call (they run on libprocess workers) could afford.
        netiso_isolator* isolator = nullptr;
        char* error = nullptr;
        if (netiso_isolator_create(moduleName, forwarded.data(), static_cast<int32_t>(forwarded.size()), &isolator,
                                   &error) != 0 ||
            isolator == nullptr) {
            LOG(ERROR) << "netisolator: cannot create " << moduleName << ": "
                       << (error != nullptr ? error : "the provider gave no reason");
            netiso_free(error);
            return nullptr;
        }
        netiso_free(error);

        return new NetIsolator::ManagedIsolator(moduleName, isolator);
    } catch (const std::exception& e) {
        LOG(ERROR) << "netisolator: cannot create " << moduleName << ": " << e.what();
        return nullptr;
    }
}

mesos::slave::Isolator* createNetworkCniIsolator(const mesos::Parameters& parameters)
{
    return createIsolator("org_netisolator_NetworkCniIsolator", parameters);
}

mesos::slave::Isolator* createPortMappingIsolator(const mesos::Parameters& parameters)
{
    return createIsolator("org_netisolator_PortMappingIsolator", parameters);
}

constexpr const char* kAuthorName = "NetIsolator project";
constexpr const char* kAuthorEmail = "netisolator@example.org";

} // namespace

// MESOS_VERSION comes from the agent's generated mesos/version.hpp. The agent loads an Isolator module only when
// this string equals its own version exactly; `compatible` stays null, which asks for exactly that check.
NETISOLATOR_MODULE_SYMBOL mesos::modules::Module<mesos::slave::Isolator> org_netisolator_NetworkCniIsolator(
    MESOS_MODULE_API_VERSION, MESOS_VERSION, kAuthorName, kAuthorEmail,
    "CNI network isolator of NetIsolator, hosted in .NET", nullptr, createNetworkCniIsolator);

NETISOLATOR_MODULE_SYMBOL mesos::modules::Module<mesos::slave::Isolator> org_netisolator_PortMappingIsolator(
    MESOS_MODULE_API_VERSION, MESOS_VERSION, kAuthorName, kAuthorEmail,
    "Port-mapping network isolator of NetIsolator, hosted in .NET", nullptr,
    createPortMappingIsolator);
