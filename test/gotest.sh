#!/bin/bash
# Runs the whole test suite under the race detector (every package allows
# it, and with it the suite still fits CI's budget: see the Makefile's
# test target). In CI (CI=true) a skipped test is a failure: VM tests
# skip only when QEMU is missing, and CI installs QEMU.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
go test -race -count=1 -timeout 80m -v "$@" ./... 2>&1 | tee "$log" | grep -E '^(ok|FAIL|panic)|--- (FAIL|SKIP)|^\s+\S+_test\.go:|DATA RACE'
status=${PIPESTATUS[0]}
passed=$(grep -c -- '^\s*--- PASS' "$log")
failed=$(grep -c -- '^\s*--- FAIL' "$log")
skipped=$(grep -c -- '^\s*--- SKIP' "$log")
if [ "$status" != 0 ]; then
	grep -B2 -A30 -- '--- FAIL\|^panic' "$log" | head -300
fi
if [ "${CI:-}" = true ] && [ "$skipped" -gt 0 ]; then
	echo "CI treats skipped tests as failures:"
	grep -A3 -- '--- SKIP' "$log"
	status=1
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
