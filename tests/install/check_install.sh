#!/usr/bin/env bash
# Installs the build into a throwaway prefix and checks what an operator gets: the layout, a manifest with the
# prefix's paths, no RUNPATH into the build tree, and an installed runner that loads the installed provider and
# finds the default assembly next to it.
#   check_install.sh <build dir>
set -euo pipefail
build=$1
prefix=$(mktemp -d /tmp/netisolator-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null

lib=$prefix/lib/netisolator
for file in "$prefix/bin/isolator" "$prefix/bin/netisolator-helper" "$prefix/libexec/netisolator/cni/mesos-cni-port-mapper" "$lib/libnetisolator_provider.so" "$lib/NetIsolator.Isolators.dll" \
            "$lib/NetIsolator.Isolators.runtimeconfig.json" "$lib/NetIsolator.Isolators.deps.json" \
            "$lib/NetIsolator.Bridge.dll" "$lib/Google.Protobuf.dll" "$prefix/share/netisolator/mesos-module.json"; do
  [ -e "$file" ] || fail "missing $file"
done
[ ! -e "$lib/NetIsolator.TestIsolator.dll" ] || fail "the test isolator was installed"

manifest=$prefix/share/netisolator/mesos-module.json
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$manifest" || fail "manifest is not JSON"
grep -q "\"$lib/libnetisolator_mesos.so\"" "$manifest" || fail "manifest does not name $lib/libnetisolator_mesos.so"
grep -q "\"$lib/NetIsolator.Isolators.dll\"" "$manifest" || fail "manifest does not name the installed assembly"

for binary in "$prefix/bin/isolator" "$lib/libnetisolator_provider.so"; do
  if readelf -d "$binary" | grep -E 'R(UN)?PATH' | grep -q "$(realpath "$build")"; then
    fail "$binary has a RUNPATH into the build tree"
  fi
done

# No 'assembly' parameter: the installed provider must find the installed default assembly beside itself.
output=$("$prefix/bin/isolator" bridge-check --module org_example_Probe 2>&1 || true)
echo "$output" | grep -q "no isolator module 'org_example_Probe' in '$lib/NetIsolator.Isolators.dll'" \
  || fail "the installed runner did not load the installed assembly: $output"
# The CNI isolator finds the installed helper from the installed assembly (lib/netisolator -> bin).
"$prefix/bin/netisolator-helper" network-cni-setup --help | grep -q -- "--etc_resolv_conf" \
  || fail "the installed netisolator-helper does not answer network-cni-setup --help"
echo "install layout ok under a fresh prefix"
