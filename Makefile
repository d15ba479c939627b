# osbuild-vm build. `make` cross-compiles the guest binary (the VM's PID 1 and
# built-in stages) for each target architecture into host/guestbin/bin/, where
# package guestbin embeds it, then builds osbuild-vm. `make test` runs the tests.

GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
MODULE  := github.com/osbuild-vm/osbuild-vm
ARCHES  := amd64 arm64

GUEST_BINS    := $(foreach a,$(ARCHES),host/guestbin/bin/osbuild-guest-$(a))
GUEST_LDFLAGS := -s -w -X $(MODULE)/guest/agent.Version=$(VERSION)
HOST_LDFLAGS  := -X $(MODULE)/cli.Version=$(VERSION)

.PHONY: all guest deps run hello test soak e2e repro bench bench-debian fuzz clean FORCE

all: osbuild-vm

guest: $(GUEST_BINS)

# FORCE: go build decides what is stale; make only orders the steps.
host/guestbin/bin/osbuild-guest-%: FORCE
	CGO_ENABLED=0 GOOS=linux GOARCH=$* $(GO) build -trimpath -ldflags '$(GUEST_LDFLAGS)' -o $@ ./guest/cmd/osbuild-guest

osbuild-vm: $(GUEST_BINS) FORCE
	$(GO) build -trimpath -ldflags '$(HOST_LDFLAGS)' -o $@ ./cmd/osbuild-vm

# deps installs what building, running and testing needs (Debian 12), only
# when missing: QEMU, virtiofsd, firmware, uidmap, busybox-static, Go modules.
deps:
	./test/deps.sh

# run builds the stock arm64 Debian trixie qcow2 in the build VM: the
# README's first command. The image lands in output/qcow2/disk.qcow2.
run: deps osbuild-vm
	./osbuild-vm run --arch arm64 --memory 3GiB --output-directory output --export qcow2 images/debian/trixie-qcow2.json
	@ls -l output/qcow2/disk.qcow2

# hello builds the small example for arm64 (seconds, not minutes): a tar
# of a tree made by built-in stages, in output/archive/hello.tar.
hello: deps osbuild-vm
	./osbuild-vm run --arch arm64 --output-directory output --export archive images/hello/hello.json
	@ls -l output/archive/hello.tar

# test runs go test -race ./... (VM tests boot real VMs under TCG); in CI
# (CI=true) a skipped test fails the run. The guest binaries are rebuilt
# first so the embedded ones are never stale. The race detector costs
# little here: the VM tests' time is QEMU's, which it does not slow down.
test: deps guest
	./test/gotest.sh

# soak runs the suite of `make test` three times in a row with a CPU hog
# keeping every core busy; all rounds must pass. The hog ends with it.
soak: deps guest
	./test/soak.sh

# e2e runs the end-to-end builds verbosely with their timings: the example
# for both architectures; the store under concurrent runs, kills and a full
# disk; hostile stages; the Debian checks: trixie minbase for amd64 and
# arm64 against mmdebstrap's, file by file (arm64 through qemu-user binfmt,
# which needs root), and built twice from empty stores, the second time as
# a plain user in another time zone, umask and locale with one CPU, to the
# same bytes; then the disk images: devices and mounts, a reproducible
# partitioned image, and the stock images booted in QEMU to a login prompt
# (arm64 qcow2 with UEFI, amd64 qcow2 with BIOS and UEFI, the live ISO).
# `go test ./...` runs the arm64 minbase and boots the arm64 qcow2 only.
# Two hours or more under TCG.
e2e: deps guest
	./test/deps.sh e2e
	$(GO) test -tags e2e -count=1 -timeout 0 -v -run 'TestHelloExample|TestUserStageInBuildRoot|TestV1BuildPipelineAndTarAssembler|TestCheckpointReuse|TestEveryBuiltinStageInVM|TestConcurrentRunsOneStore|TestKillAtRandomMoments|TestStoreOnFullFilesystem|TestHostile|TestDebian|TestDevicesAndMounts|TestDiskImageReproducible|TestBoot' ./test/

# repro builds the stock arm64 qcow2 twice from empty stores, the second
# as a plain user in another time zone with umask 077, another locale and
# one CPU, and compares the bytes (ARCH, MANIFEST, EXPORT choose another).
repro: deps osbuild-vm
	./test/repro.sh

# bench runs the benchmarks and prints what they measured: VM boot to
# agent-ready and to exit, request round trip (host/vm), stage dispatch,
# the example's first and cached build, the example and the arm64 trixie
# minbase tree served entirely from a remote cache (a registry on
# 127.0.0.1: seconds, bytes pulled) against the same build from an empty
# cache, bulk tree transfer, the stock qcow2 for
# arm64 and amd64 (cold, with sources cached, its size and its boot to a
# login prompt) (test/), and reading a whole Packages index
# (images/debian/archive/).
bench: deps guest
	$(GO) test -run '^$$' -bench . -benchtime 3x -timeout 0 ./host/vm/ ./test/ ./images/debian/archive/

# bench-debian builds the stock trixie minbase tree with osbuild-vm (cold
# store, and with sources cached) and with mmdebstrap --variant=minbase
# (natively for amd64, through qemu-user binfmt for arm64), side by side in
# ROUNDS rounds (default 3), and prints medians: seconds, CPU, peak memory,
# ratios and where the time goes. Needs root (mmdebstrap's root mode,
# binfmt); about 9 minutes a round under TCG on 2 cores.
ROUNDS ?= 3
bench-debian: deps osbuild-vm
	./test/deps.sh e2e
	$(GO) run ./test/benchdebian -rounds $(ROUNDS)

# fuzz runs every fuzz target in the module for FUZZTIME each (default
# 20s; about 10 minutes in all), listed with go test -list, and stops at the
# first failure.
fuzz: guest
	./test/fuzz.sh

clean:
	rm -rf osbuild-vm $(GUEST_BINS) output
