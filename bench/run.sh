#!/usr/bin/env bash
# Runs one benchmark suite and prints its figures, one line each: `name value unit [details]`.
#   ./bench/run.sh bridge [--quick]
#   ./bench/run.sh cni [--quick]      (root only: CNI isolator vs the reference path; also bench/results/cni.{csv,png})
# The results are also written to bench/results/<suite>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

suite=${1:-}
shift || true
case "$suite" in
  bridge) ;;
  cni)
    if [ "$(id -u)" -ne 0 ]; then
      echo "bench/run.sh: the cni suite must run as root (it creates network namespaces and runs CNI plugins)" >&2; exit 2
    fi
    if ! command -v gnuplot >/dev/null 2>&1; then
      echo "bench/run.sh: installing gnuplot-nox for the plot" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y gnuplot-nox >/dev/null
    fi
    # The isolator runs build/bin/netisolator-helper in isolate, as it does on an agent.
    if [ ! -f build/CMakeCache.txt ]; then
      cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    fi
    cmake --build build --target netisolator_helper >/dev/null
    if ! out=$(dotnet build -c Release -nologo -v q bench/cni/NetIsolator.Bench.Cni.csproj 2>&1); then
      echo "$out" >&2; exit 1
    fi
    mkdir -p bench/results
    dotnet bench/cni/bin/Release/net10.0/NetIsolator.Bench.Cni.dll --results bench/results "$@" | tee "bench/results/$suite.txt"
    exit "${PIPESTATUS[0]}" ;;
  portmapper|portmapping)
    echo "bench/run.sh: suite '$suite' arrives with its isolator (see the open issues)" >&2; exit 2 ;;
  *) echo "usage: bench/run.sh bridge|cni [--quick]" >&2; exit 2 ;;
esac

if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build --target bridge_bench >/dev/null

mkdir -p bench/results
build/bin/bridge_bench "$@" | tee "bench/results/$suite.txt"
