#!/usr/bin/env bash
# Runs the whole test suite: installs the Debian tools the tests drive, builds, runs every
# test project, and ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"
bash scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log=$(mktemp)
if ! dotnet build BlockSwarm.slnx -c Release -nologo -v:q 2>&1 | tee "$log" | grep -E "error|Warn.*[1-9]" ; then :; fi
if grep -q "Build FAILED\|: error " "$log"; then
  cat "$log"; echo "0 passed, 1 failed"; exit 1
fi
dotnet test --solution BlockSwarm.slnx -c Release --no-build --ignore-exit-code 8 "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
total=$(grep -E '^\s+total: ' "$log" | tail -1 | awk '{print $2}')
failed=$(grep -E '^\s+failed: ' "$log" | tail -1 | awk '{print $2}')
passed=$(grep -E '^\s+succeeded: ' "$log" | tail -1 | awk '{print $2}')
: "${passed:=0}" "${failed:=0}"
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "${passed} passed, ${failed} failed"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
