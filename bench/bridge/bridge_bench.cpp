// The bridge benchmark (`./bench/run.sh bridge`). Prints one line per figure, `name value unit [extra]`:
//
//   bridge.first_call_ms     cold start to the first answered call: a fresh process creates the isolator (which
//                            loads the .NET runtime) and sends one prepare; median over fresh processes.
//   bridge.call_us           per-call cost of a typical prepare (a ContainerConfig with two NetworkInfos) through
//                            the whole native -> managed -> native path, calls pipelined as the agent issues them.
//   bridge.bare_roundtrip_us the reference, measured in the same run and process, interleaved with the calls:
//                            the same protobuf work without the bridge around it, i.e. parsing the same request
//                            bytes and serializing the same answer with Google.Protobuf in the same runtime
//                            (done inside the test isolator, see its `benchref-N` containers).
//   bridge.call_overhead_us  what crossing the bridge adds (transitions, thread-pool hop, buffers, completion): the
//                            median over batches of (bridge batch - the reference batch measured right after it),
//                            so machine noise that hits a pair cancels; with the median of the paired ratios.
//   bridge.libprotobuf_roundtrip_us  context: the same round trip with C++ libprotobuf.
//   bridge.call_latency_us   one call at a time, waiting for each answer (includes waking a thread-pool thread).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "isolator_client.hpp"
#include "netisolator/bridge.pb.h"
#include "test_support.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using netisolator::IsolatorClient;
using netisolator::Method;

double Microseconds(Clock::duration duration) {
    return std::chrono::duration<double, std::micro>(duration).count();
}

struct Summary {
    double min, median, p95;
};

Summary Summarize(std::vector<double> samples) {
    std::sort(samples.begin(), samples.end());
    auto at = [&](double q) { return samples[std::min(samples.size() - 1, size_t(q * (samples.size() - 1) + 0.5))]; };
    return {samples.front(), at(0.5), at(0.95)};
}

// Child mode: the process is fresh, so this includes starting the runtime. Prints milliseconds.
int FirstCall() {
    const auto start = Clock::now();
    IsolatorClient isolator(netisolator::kTestModule, netisolator::TestParameters());
    auto reply = isolator.call(Method::Prepare, netisolator::MakePrepare("first", {"net-a", "net-b"}).SerializeAsString())
                     .get();
    const double ms = Microseconds(Clock::now() - start) / 1000.0;
    if (!reply.ok()) {
        std::fprintf(stderr, "first call failed: %s\n", reply.data.c_str());
        return 1;
    }
    std::printf("%.3f\n", ms);
    return 0;
}

Summary MeasureFirstCall(const char* self, int processes) {
    std::vector<double> samples;
    for (int i = 0; i < processes; i++) {
        int out[2];
        if (pipe(out) != 0) std::exit(1);
        pid_t child = fork();
        if (child == 0) {
            dup2(out[1], STDOUT_FILENO);
            close(out[0]);
            execl(self, self, "--first-call", static_cast<char*>(nullptr));
            _exit(127);
        }
        close(out[1]);
        char text[64] = {};
        ssize_t length = read(out[0], text, sizeof text - 1);
        close(out[0]);
        int status = 0;
        waitpid(child, &status, 0);
        if (length <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::fprintf(stderr, "first-call child failed\n");
            std::exit(1);
        }
        samples.push_back(std::atof(text));
    }
    return Summarize(samples);
}

// Completion for pipelined calls: count down, free the answer, nothing else (the measurement is the bridge).
struct Batch {
    std::mutex lock;
    std::condition_variable done;
    std::atomic<int> remaining{0};
    std::atomic<int> failures{0};
};

void CountDown(void* context, int32_t status, uint8_t* data, int32_t) {
    auto* batch = static_cast<Batch*>(context);
    netiso_free(data);
    if (status != NETISO_STATUS_OK) batch->failures++;
    if (batch->remaining.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> guard(batch->lock);
        batch->done.notify_one();
    }
}

// Per-call microseconds of `batches` batches of `size` pipelined prepares.
std::vector<double> MeasureBridgeCalls(const IsolatorClient& isolator, const std::string& request, int batches,
                                       int size) {
    std::vector<double> samples;
    const auto* bytes = reinterpret_cast<const uint8_t*>(request.data());
    for (int b = 0; b < batches; b++) {
        Batch batch;
        batch.remaining.store(size);
        const auto start = Clock::now();
        for (int i = 0; i < size; i++) {
            netiso_isolator_prepare(isolator.handle(), bytes, static_cast<int32_t>(request.size()), CountDown, &batch);
        }
        std::unique_lock<std::mutex> wait(batch.lock);
        batch.done.wait(wait, [&] { return batch.remaining.load() == 0; });
        samples.push_back(Microseconds(Clock::now() - start) / size);
        if (batch.failures > 0) {
            std::fprintf(stderr, "bridge calls failed\n");
            std::exit(1);
        }
    }
    return samples;
}

// The reference: the test isolator times `iterations` parse+serialize round trips of the same bytes in managed
// code and answers the mean in the launch environment. One sample per call.
double MeasureManagedRoundTrip(const IsolatorClient& isolator, int iterations) {
    auto reply = isolator.call(Method::Prepare, netisolator::MakePrepare("benchref-" + std::to_string(iterations),
                                                                          {"net-a", "net-b"}).SerializeAsString())
                     .get();
    netisolator::bridge::PrepareResponse response;
    if (!reply.ok() || !response.ParseFromString(reply.data)) {
        std::fprintf(stderr, "reference measurement failed: %s\n", reply.data.c_str());
        std::exit(1);
    }
    return std::atof(response.launch_info().environment().variables(0).value().c_str()) / 1000.0;
}

// Context: the same bytes in, the same answer out, with libprotobuf and nothing else.
std::vector<double> MeasureLibprotobufRoundTrip(const std::string& request, const std::string& answer, int batches, int size) {
    std::vector<double> samples;
    netisolator::bridge::PrepareRequest parsed;
    netisolator::bridge::PrepareResponse response;
    std::string out;
    size_t sink = 0;
    for (int b = 0; b < batches; b++) {
        const auto start = Clock::now();
        for (int i = 0; i < size; i++) {
            parsed.ParseFromString(request);
            response.ParseFromString(answer);  // stands for building the answer
            response.SerializeToString(&out);
            sink += out.size() + parsed.container_id().value().size();
        }
        samples.push_back(Microseconds(Clock::now() - start) / size);
    }
    if (sink == 0) std::puts("");  // keep the work observable
    return samples;
}

std::vector<double> MeasureLatency(const IsolatorClient& isolator, const std::string& request, int calls) {
    std::vector<double> samples;
    for (int i = 0; i < calls; i++) {
        const auto start = Clock::now();
        auto reply = isolator.call(Method::Prepare, request).get();
        samples.push_back(Microseconds(Clock::now() - start));
        if (!reply.ok()) std::exit(1);
    }
    return samples;
}

}  // namespace

// Keeps the runtime's informational lines out of the figures; warnings and errors still show.
void QuietLog(void*, int32_t level, const char* message, int32_t length) {
    if (level >= NETISO_LOG_WARNING) std::fprintf(stderr, "%.*s\n", static_cast<int>(length), message);
}

int main(int argc, char** argv) {
    netiso_set_log_sink(QuietLog, nullptr);
    if (argc > 1 && std::strcmp(argv[1], "--first-call") == 0) {
        return FirstCall();
    }
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    const int processes = quick ? 3 : 15;
    const int batches = quick ? 20 : 200;
    const int batch_size = 256;

    const Summary first = MeasureFirstCall("/proc/self/exe", processes);
    std::printf("bridge.first_call_ms %.1f ms min=%.1f p95=%.1f n=%d target<=120\n", first.median, first.min,
                first.p95, processes);

    IsolatorClient isolator(netisolator::kTestModule, netisolator::TestParameters());
    const std::string request = netisolator::MakePrepare("bench-1", {"net-a", "net-b"}).SerializeAsString();
    const auto answer = isolator.call(Method::Prepare, request).get();
    if (!answer.ok()) {
        std::fprintf(stderr, "prepare failed: %s\n", answer.data.c_str());
        return 1;
    }
    // Warm up every path (JIT tiering, page faults on fresh GC memory) before measuring any.
    MeasureBridgeCalls(isolator, request, quick ? 20 : 100, batch_size);
    for (int i = 0; i < 20; i++) MeasureManagedRoundTrip(isolator, batch_size);
    MeasureLibprotobufRoundTrip(request, answer.data, 20, batch_size);

    // Interleave the series batch by batch so machine noise hits them alike.
    std::vector<double> bridge, bare, libprotobuf;
    for (int b = 0; b < batches; b++) {
        bridge.push_back(MeasureBridgeCalls(isolator, request, 1, batch_size)[0]);
        bare.push_back(MeasureManagedRoundTrip(isolator, batch_size));
        libprotobuf.push_back(MeasureLibprotobufRoundTrip(request, answer.data, 1, batch_size)[0]);
    }
    const Summary call = Summarize(bridge);
    const Summary reference = Summarize(bare);
    const Summary native = Summarize(libprotobuf);
    std::printf("bridge.call_us %.3f us min=%.3f p95=%.3f request=%zuB answer=%zuB batches=%d of %d pipelined calls\n",
                call.median, call.min, call.p95, request.size(), answer.data.size(), batches, batch_size);
    std::printf("bridge.bare_roundtrip_us %.3f us min=%.3f p95=%.3f (Google.Protobuf parse+serialize of the same "
                "bytes, same process and runtime, no bridge)\n",
                reference.median, reference.min, reference.p95);
    std::vector<double> differences, ratios;
    for (size_t b = 0; b < bridge.size(); b++) {
        differences.push_back(bridge[b] - bare[b]);
        ratios.push_back(bridge[b] / bare[b]);
    }
    const Summary overhead = Summarize(differences);
    std::printf("bridge.call_overhead_us %.3f us p95=%.3f ratio=%.2f vs bare_roundtrip (paired per batch) target<=2\n",
                overhead.median, overhead.p95, Summarize(ratios).median);
    std::printf("bridge.libprotobuf_roundtrip_us %.3f us min=%.3f p95=%.3f (context: the same round trip in C++)\n",
                native.median, native.min, native.p95);

    const Summary latency = Summarize(MeasureLatency(isolator, request, quick ? 200 : 2000));
    std::printf("bridge.call_latency_us %.1f us min=%.1f p95=%.1f (one call at a time)\n", latency.median, latency.min,
                latency.p95);
    return 0;
}
