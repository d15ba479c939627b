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

.PHONY: all guest deps run hello test e2e repro bench fuzz clean FORCE

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

# test runs go test ./... (VM tests boot real VMs under TCG); in CI
# (CI=true) a skipped test fails the run. The guest binaries are rebuilt
# first so the embedded ones are never stale.
test: deps guest
	./test/gotest.sh

# e2e builds the example for both architectures end to end and prints the
# timings, then the disk images: devices and mounts, a reproducible
# partitioned image, and the stock images booted in QEMU to a login
# prompt (arm64 qcow2 with UEFI, amd64 qcow2 with BIOS and UEFI, the live
# ISO); the amd64 and ISO boots need -tags e2e, `go test ./...` boots the
# arm64 qcow2 only.
e2e: deps guest
	$(GO) test -tags e2e -count=1 -timeout 0 -v -run 'TestHelloExample|TestUserStageInBuildRoot|TestV1BuildPipelineAndTarAssembler|TestCheckpointReuse|TestEveryBuiltinStageInVM|TestDevicesAndMounts|TestDiskImageReproducible|TestBoot' ./test/

# repro builds the stock arm64 qcow2 twice from empty stores, the second
# as a plain user in another time zone with umask 077, another locale and
# one CPU, and compares the bytes (ARCH, MANIFEST, EXPORT choose another).
repro: deps osbuild-vm
	./test/repro.sh

# bench runs the benchmarks and prints what they measured: VM boot to
# agent-ready and to exit, request round trip (host/vm), stage dispatch,
# the example's first and cached build, bulk tree transfer, and the stock
# qcow2 for arm64 and amd64 (cold, with sources cached, its size and its
# boot to a login prompt) (test/).
bench: deps guest
	$(GO) test -run '^$$' -bench . -benchtime 3x -timeout 0 ./host/vm/ ./test/

# fuzz runs every fuzz target in the module for FUZZTIME each (default
# 20s; about 10 minutes in all), listed with go test -list, and stops at the
# first failure.
fuzz: guest
	./test/fuzz.sh

clean:
	rm -rf osbuild-vm $(GUEST_BINS) output
