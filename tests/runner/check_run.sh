#!/usr/bin/env bash
# `isolator run` end to end, as a user types it: a command in its own network namespace, attached by the CNI
# isolator (through the provider and the bridge) to the embedded default network, inside a throwaway host
# namespace. Checks the address, the exit status, that the machine's own network is untouched, and that nothing
# is left behind. Needs root (namespaces, mounts); exits 77 (skipped) otherwise.
#   check_run.sh <build dir>
set -euo pipefail
build=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then echo "skipped: needs root (network namespaces, mounts)"; exit 77; fi

links_before=$(ip -o link show | awk -F': ' '{print $2}' | sort)
mounts_before=$(grep -c . /proc/self/mountinfo)

output=$("$build/bin/isolator" run -- sh -c 'ip -4 -o addr show dev eth0; exit 3') && status=0 || status=$?
[ "$status" -eq 3 ] || fail "exit status $status, expected the command's 3 (output: $output)"
echo "$output" | grep -q "inet 10\.231\.0\.[0-9]*/24" || fail "no address on the default network: $output"

# The container's files and host name (the network-cni-setup helper): /etc/hosts maps its host name to its address,
# and lo is up; the machine's own /etc/hosts and host name are untouched.
hosts_before=$(cat /etc/hosts); hostname_before=$(hostname)
files=$("$build/bin/isolator" run -- sh -c 'hostname; cat /etc/hosts; ip -o link show lo; getent hosts "$(hostname)"') \
  || fail "the files check failed: $files"
name=$(echo "$files" | head -1)
echo "$files" | grep -q "^10\.231\.0\.[0-9]* $name\$" || fail "/etc/hosts does not map '$name' to its address: $files"
echo "$files" | grep -q "lo: <LOOPBACK,UP" || fail "lo is not up: $files"
echo "$files" | grep -q "^10\.231\.0\.[0-9]* *$name\$" || fail "the container's resolver does not find its own host name: $files"
[ "$(cat /etc/hosts)" = "$hosts_before" ] && [ "$(hostname)" = "$hostname_before" ] || fail "the host's /etc/hosts or host name changed"
"$build/bin/isolator" network-cni-setup --help | grep -q -- "--etc_resolv_conf" || fail "isolator network-cni-setup --help"

# A second run gets an address too (the first one's lease is gone with its scratch directory).
"$build/bin/isolator" run -- ip -4 -o addr show dev eth0 | grep -q "inet 10\.231\.0\." || fail "second run"

# Unknown network: a clear error and a non-zero status, nothing left either.
if error=$("$build/bin/isolator" run --network no-such-net -- true 2>&1); then fail "ran on an unknown network"; fi
echo "$error" | grep -q "Unknown CNI network 'no-such-net'" || fail "unclear error: $error"

[ "$(ip -o link show | awk -F': ' '{print $2}' | sort)" = "$links_before" ] || fail "links changed in the root namespace"
[ "$(grep -c . /proc/self/mountinfo)" -eq "$mounts_before" ] || fail "mounts left behind"
! ls -d /tmp/netisolator-run-* >/dev/null 2>&1 || fail "scratch directories left behind"
echo "isolator run ok: address on eth0, hosts and host name set, exit status passed through, nothing left behind"
