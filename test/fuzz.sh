#!/bin/bash
# Runs every fuzz target of the module, one after the other, for FUZZTIME
# each (default 20s), and stops at the first failure; Go saves the failing
# input under the package's testdata/fuzz/<target>/, where later `go test`
# runs replay it. Targets are found with `go test -list`, so a new one is
# fuzzed without being named here. Minimisation of new inputs is kept short
# (FUZZMINIMIZE, default 100 runs) so that the time goes to exploring.
set -euo pipefail
fuzztime=${FUZZTIME:-20s}
minimize=${FUZZMINIMIZE:-100x}
command -v go >/dev/null || export PATH=/usr/local/go/bin:$PATH

# `go test -list` prints a package's matching names, then its "ok" line.
targets=$(go test -list '^Fuzz' ./... | awk '
	/^Fuzz/ { names[n++] = $1; next }
	/^ok/   { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }')
count=$(wc -l <<<"$targets")
echo "fuzz: $count targets, $fuzztime each"
while read -r pkg name; do
	echo "fuzz: $pkg $name"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$pkg"
done <<<"$targets"
echo "fuzz: all $count targets ran $fuzztime without a failure"
