#!/bin/bash
# Installs what building, running and testing osbuild-vm needs on Debian 12,
# only when something is missing: QEMU for both architectures, the C
# virtiofsd, firmware, uidmap (rootless virtiofsd), busybox-static (a
# pinned-free local build root for tests), and the Go modules.
set -euo pipefail

need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in qemu-system-x86 qemu-system-arm qemu-system-common qemu-utils ovmf qemu-efi-aarch64 seabios \
	uidmap busybox-static debian-archive-keyring ca-certificates make git; do
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

if ! command -v go >/dev/null; then
	if [ -x /usr/local/go/bin/go ]; then
		export PATH=/usr/local/go/bin:$PATH
	else
		echo "deps: no Go toolchain (go 1.26 or newer) on PATH or at /usr/local/go; install it first" >&2
		exit 1
	fi
fi
go mod download
