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

.PHONY: all guest test clean FORCE

all: osbuild-vm

guest: $(GUEST_BINS)

# FORCE: go build decides what is stale; make only orders the steps.
host/guestbin/bin/osbuild-guest-%: FORCE
	CGO_ENABLED=0 GOOS=linux GOARCH=$* $(GO) build -trimpath -ldflags '$(GUEST_LDFLAGS)' -o $@ ./guest/cmd/osbuild-guest

osbuild-vm: $(GUEST_BINS) FORCE
	$(GO) build -trimpath -ldflags '$(HOST_LDFLAGS)' -o $@ ./cmd/osbuild-vm

test:
	$(GO) test ./...

clean:
	rm -f osbuild-vm $(GUEST_BINS)
