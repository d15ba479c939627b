#!/bin/bash
# Runs the whole suite (test/gotest.sh, as `make test` does) three times in
# a row while a CPU hog keeps every core busy: a test that fails under load
# is a bug (a timeout tied to wall-clock time under TCG, an ordering
# assumption, a shared path or port), to fix, never to retry. The hog, and
# a suite still running, are killed however the soak ends: success,
# failure, Ctrl-C or SIGTERM.
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${SOAK_ROUNDS:-3}
hogs=()
suite=""
cleanup() {
	# The suite runs in a session of its own: its whole process group
	# (go test, the test binaries and what they started) goes at once.
	if [ -n "$suite" ]; then
		kill -TERM -- "-$suite" 2>/dev/null
		wait "$suite" 2>/dev/null
	fi
	for pid in "${hogs[@]}"; do
		kill "$pid" 2>/dev/null
	done
	wait "${hogs[@]}" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
for _ in $(seq "$(nproc)"); do
	sh -c 'while :; do :; done' &
	hogs+=($!)
done
echo "soak: ${#hogs[@]} CPU hogs (pids ${hogs[*]}), $rounds rounds of the suite"
start=$SECONDS
for round in $(seq "$rounds"); do
	echo "soak: round $round/$rounds"
	setsid ./test/gotest.sh "$@" &
	suite=$!
	wait "$suite"
	status=$?
	suite=""
	if [ "$status" != 0 ]; then
		echo "soak: round $round/$rounds failed (status $status) after $((SECONDS - start))s"
		exit 1
	fi
done
echo "soak: $rounds rounds green under load in $((SECONDS - start))s"
