#!/bin/bash
# Installs what building, running and testing osbuild-vm needs on Debian 12,
# only when something is missing: QEMU for both architectures, the C
# virtiofsd, firmware, uidmap (rootless virtiofsd), busybox-static (a
# pinned-free local build root for tests), gcc (cgo, which the race detector
# of `make test` needs), mmdebstrap (the reference the package resolver is
# compared with), docker-registry (the remote-cache tests' registry), and the
# Go modules. With the argument "e2e" also what the end-to-end comparisons
# need: qemu-user-static and binfmt-support, so that mmdebstrap builds arm64
# references on an amd64 host.
set -euo pipefail

need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
pkgs=(qemu-system-x86 qemu-system-arm qemu-system-common qemu-utils ovmf qemu-efi-aarch64 seabios
	uidmap busybox-static debian-archive-keyring ca-certificates make git gcc libc6-dev mmdebstrap)
if [ "${1:-}" = e2e ]; then
	pkgs+=(qemu-user-static binfmt-support)
fi
for pkg in "${pkgs[@]}"; do
	have "$pkg" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || { echo "deps: missing packages ${need[*]}; run this as root or install them" >&2; exit 1; }
		sudo=sudo
	fi
	echo "deps: installing ${need[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${need[@]}" >&2
fi

# docker-registry (the CNCF distribution registry) serves the remote-cache
# tests, which start their own instances on 127.0.0.1. Its postinst starts a
# system service on :5000 (invoke-rc.d, or systemd): a policy-rc.d that
# forbids starting services keeps that from happening during this install,
# and the unit is disabled so that no boot starts it either.
if ! have docker-registry; then
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || { echo "deps: missing package docker-registry; run this as root or install it" >&2; exit 1; }
		sudo=sudo
	fi
	policy=/usr/sbin/policy-rc.d
	ours=""
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# deps.sh: no service starts while docker-registry installs\nexit 101\n' | $sudo tee "$policy" >/dev/null
		$sudo chmod 755 "$policy"
		ours=1
		trap '$sudo rm -f "$policy"' EXIT
	fi
	echo "deps: installing docker-registry (its service is not started)" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends docker-registry >&2
	if [ -n "$ours" ]; then
		$sudo rm -f "$policy"
		trap - EXIT
	fi
	$sudo update-rc.d docker-registry disable >/dev/null 2>&1 || true
	if command -v systemctl >/dev/null; then
		$sudo systemctl disable docker-registry.service >/dev/null 2>&1 || true
	fi
fi

if ! command -v go >/dev/null; then
	if [ -x /usr/local/go/bin/go ]; then
		export PATH=/usr/local/go/bin:$PATH
	else
		echo "deps: no Go toolchain (go 1.26 or newer) on PATH or at /usr/local/go; install it first" >&2
		exit 1
	fi
fi
go mod download
