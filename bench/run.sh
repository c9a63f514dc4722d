#!/usr/bin/env bash
# Runs one benchmark suite and prints its figures, one line each: `name value unit [details]`.
#   ./bench/run.sh bridge [--quick]
#   ./bench/run.sh cni [--quick]          (root: CNI isolator vs ip netns add + the plugins run directly)
#   ./bench/run.sh portmapper [--quick]   (root: mesos-cni-port-mapper vs bridge + portmap)
#   ./bench/run.sh portmapping [--quick]  (root: port-mapping isolator vs the same plan as ip/tc commands)
# The results are written to bench/results/<suite>.txt, and for the root suites also <suite>.csv and <suite>.png.
set -euo pipefail
cd "$(dirname "$0")/.."

# Builds the CMake targets a suite needs (the NativeAOT executables it runs, or the native benchmark).
build_targets() {
  [ -f build/CMakeCache.txt ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  local out
  if ! out=$(cmake --build build --target "$@" 2>&1); then
    echo "$out" >&2; exit 1
  fi
}

# Runs the managed benchmark project bench/<folder>/<project>.csproj as root, with gnuplot for its plot.
run_managed_suite() {
  local folder=$1 project=$2
  shift 2
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench/run.sh: the $suite suite must run as root (it creates network namespaces)" >&2; exit 2
  fi
  if ! command -v gnuplot >/dev/null 2>&1; then
    echo "bench/run.sh: installing gnuplot-nox for the plot" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y gnuplot-nox >/dev/null
  fi
  # Published ReadyToRun, as CMake publishes the module the agent loads (cmake/Dotnet.cmake): the isolators run
  # precompiled code from their first call, where a plain build would time tier-0 JIT code in the early trials.
  local out publish="bench/$folder/bin/publish"
  if ! out=$(dotnet publish -c Release -nologo -v q -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
      -o "$publish" "bench/$folder/$project.csproj" 2>&1); then
    echo "$out" >&2; exit 1
  fi
  mkdir -p bench/results
  dotnet "$publish/$project.dll" --results bench/results "$@" | tee "bench/results/$suite.txt"
  exit "${PIPESTATUS[0]}"
}

suite=${1:-}
shift || true
case "$suite" in
  bridge)
    build_targets bridge_bench
    mkdir -p bench/results
    build/bin/bridge_bench "$@" | tee "bench/results/$suite.txt" ;;
  cni)
    run_managed_suite cni NetIsolator.Bench.Cni "$@" ;;
  portmapper)
    build_targets netisolator_port_mapper   # build/bin/mesos-cni-port-mapper
    run_managed_suite portmapper NetIsolator.Bench.PortMapper "$@" ;;
  portmapping)
    run_managed_suite portmapping NetIsolator.Bench.PortMapping "$@" ;;
  *) echo "usage: bench/run.sh bridge|cni|portmapper|portmapping [--quick]" >&2; exit 2 ;;
esac
