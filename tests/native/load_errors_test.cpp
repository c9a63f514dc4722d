// Loading failures, in one process and in this order on purpose: the runtime must not be running yet when the
// failures happen (once it runs, it is never loaded again), and the last test proves that a good load still
// works in a process where every kind of failure happened first.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "isolator_client.hpp"
#include "test_support.hpp"

namespace netisolator {
namespace {

namespace fs = std::filesystem;

std::string CreateError(const Parameters& parameters) {
    try {
        IsolatorClient isolator(kTestModule, parameters);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    ADD_FAILURE() << "the isolator was created";
    return "";
}

// A copy of the published test isolator in a fresh directory, to damage without touching the build.
class DamagedCopy {
public:
    DamagedCopy() {
        directory_ = fs::temp_directory_path() / ("netiso-load-" + std::to_string(::getpid()) + "-" +
                                                  std::to_string(counter_++));
        fs::copy(fs::path(NETISO_TEST_ASSEMBLY).parent_path(), directory_, fs::copy_options::recursive);
    }
    ~DamagedCopy() { fs::remove_all(directory_); }

    fs::path assembly() const { return directory_ / fs::path(NETISO_TEST_ASSEMBLY).filename(); }
    fs::path runtimeconfig() const {
        return directory_ / (fs::path(NETISO_TEST_ASSEMBLY).stem().string() + ".runtimeconfig.json");
    }

private:
    static inline int counter_ = 0;
    fs::path directory_;
};

TEST(LoadErrors, MissingAssemblyIsNamed) {
    auto error = CreateError({{"assembly", "/nonexistent/Missing.dll"}});
    EXPECT_EQ(error, "managed assembly '/nonexistent/Missing.dll' (module parameter 'assembly') not found");
}

TEST(LoadErrors, MissingRuntimeNamesWhereItLooked) {
    auto error = CreateError({{"assembly", NETISO_TEST_ASSEMBLY}, {"dotnet_root", "/nonexistent/dotnet"}});
    EXPECT_NE(error.find("libhostfxr.so was not found under dotnet_root '/nonexistent/dotnet'"), std::string::npos)
        << error;
    EXPECT_NE(error.find("/nonexistent/dotnet/host/fxr/<version>/libhostfxr.so"), std::string::npos) << error;
}

TEST(LoadErrors, MissingRuntimeconfigIsNamed) {
    DamagedCopy copy;
    fs::remove(copy.runtimeconfig());
    auto error = CreateError({{"assembly", copy.assembly().string()}});
    EXPECT_NE(error.find("'" + copy.runtimeconfig().string() + "' not found"), std::string::npos) << error;
}

TEST(LoadErrors, WrongRuntimeVersionNamesTheFrameworkAsked) {
    DamagedCopy copy;
    std::stringstream text;
    text << std::ifstream(copy.runtimeconfig()).rdbuf();
    auto damaged = std::regex_replace(text.str(), std::regex("\"version\": \"[0-9.]+\""), "\"version\": \"99.0.0\"");
    damaged = std::regex_replace(damaged, std::regex("\"rollForward\": \"\\w+\""), "\"rollForward\": \"Disable\"");
    std::ofstream(copy.runtimeconfig()) << damaged;

    auto error = CreateError({{"assembly", copy.assembly().string()}});
    EXPECT_NE(error.find("hostfxr_initialize_for_runtime_config: 0x80008096 FrameworkMissingFailure"),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("99.0.0"), std::string::npos) << error;
}

TEST(LoadErrors, AGoodLoadStillWorksAfterEveryFailure) {
    IsolatorClient isolator(kTestModule, TestParameters());
    auto reply = isolator.call(Method::Prepare, MakePrepare("after-failures", {"net-a"}).SerializeAsString()).get();
    EXPECT_TRUE(reply.ok()) << reply.data;
}

}  // namespace
}  // namespace netisolator
