#!/usr/bin/env bash
# Builds everything (scripts/setup.sh) and runs the whole test suite: the managed xUnit tests, then the native
# tests through CTest. Tests that need root skip with a message when not run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
dotnet test Isolator.sln -c Release --nologo
ctest --test-dir build --output-on-failure --timeout 300
