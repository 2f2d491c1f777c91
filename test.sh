#!/usr/bin/env bash
# Runs the whole test suite: installs the Debian tools the tests drive, builds, runs every
# test project, prints "N skipped: <reasons>" and ends with one line "N passed, N failed".
# Tests declare what they need ([Requires(...)], tests/BlockSwarm.Testing/Requires.cs) and skip with the reason when
# it is missing; with CI=true (as .ci/run is run) a missing requirement fails the test instead, unless it is optional.
set -uo pipefail
cd "$(dirname "$0")"
bash scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log=$(mktemp)
# Every skip appends "test<TAB>reason" here (Requires.cs), for the summary line below.
skiplog=$(mktemp)
export BLOCKSWARM_SKIP_LOG="$skiplog"
if ! dotnet build BlockSwarm.slnx -c Release -nologo -v:q 2>&1 | tee "$log" | grep -E "error|Warn.*[1-9]" ; then :; fi
if grep -q "Build FAILED\|: error " "$log"; then
  cat "$log"; echo "0 passed, 1 failed"; exit 1
fi
# A hung test is named after 2 minutes (xunit's long-running report) and its test app stopped after 25 (the longest,
# BlockSwarm.Cli.Tests, takes 5-6): a hang is a readable failure, not the whole CI budget.
dotnet test --solution BlockSwarm.slnx -c Release --no-build --ignore-exit-code 8 --long-running 120 --timeout 25m "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
total=$(grep -E '^\s+total: ' "$log" | tail -1 | awk '{print $2}')
failed=$(grep -E '^\s+failed: ' "$log" | tail -1 | awk '{print $2}')
passed=$(grep -E '^\s+succeeded: ' "$log" | tail -1 | awk '{print $2}')
skipped=$(grep -E '^\s+skipped: ' "$log" | tail -1 | awk '{print $2}')
: "${passed:=0}" "${failed:=0}" "${skipped:=0}"
# "N skipped: 3× needs root; 1× set BLOCKSWARM_BENCH=1 to …", most frequent reason first.
reasons=$(cut -f2 "$skiplog" | sort | uniq -c | sort -rn | awk '{n=$1; $1=""; printf "%s%d× %s", (NR > 1 ? "; " : ""), n, substr($0, 2)}')
recorded=$(wc -l < "$skiplog")
if [ "$skipped" -gt "$recorded" ]; then reasons="${reasons:+$reasons; }$((skipped - recorded)) without a recorded reason"; fi
echo "${skipped} skipped${reasons:+: $reasons}"
rm -f "$skiplog"
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "${passed} passed, ${failed} failed"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
