#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and builds everything into build/ (see README.md).
# Installs the Debian packages the build and tests need; the .NET SDK must already be on PATH
# (Debian 12 does not package it); NuGet packages are restored by the build.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake ninja-build g++ pkg-config      # the native build
  libprotobuf-dev protobuf-compiler     # C++ classes from proto/ for the runner, native tests and benchmark
  libgtest-dev libgmock-dev             # the native test host
  gcc                                   # the interop layout test compiles C _Static_asserts
  iproute2 containernetworking-plugins  # namespaces and real CNI plugins for the network tests
  iptables                              # used by the portmap plugin in the CNI runtime tests
  conntrack                             # mesos-cni-port-mapper flushes UDP conntrack entries of mapped ports
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null; then
  echo "setup: the .NET SDK 10 is required (dotnet on PATH); Debian 12 does not package it" >&2
  exit 1
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${NETISOLATOR_CMAKE_ARGS:-} >/dev/null
cmake --build build
