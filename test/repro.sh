#!/bin/bash
# make repro: builds one manifest twice, each time from an empty store, and
# compares the exported files byte for byte. The second build differs in
# everything that must not matter: it runs as a plain user (when this runs
# as root: the user osbuildvm-repro, made with subordinate ids if missing),
# in another time zone, with umask 077, another locale and one CPU. When the
# files differ it shows where: diffoscope when installed, else
# test/reprodiff (byte ranges, by partition). The work directory is kept
# then, for a closer look; it is removed when they match.
#
#   ARCH=arm64 MANIFEST=images/debian/trixie-qcow2.json EXPORT=qcow2 make repro
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${ARCH:-arm64}
manifest=${MANIFEST:-images/debian/trixie-qcow2.json}
export_=${EXPORT:-qcow2}
bin=$PWD/osbuild-vm
work=$(mktemp -d /var/tmp/osbuild-vm-repro.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/a" "$work/b"
cp "$manifest" "$work/manifest.json"
chmod 644 "$work/manifest.json"
cp "$bin" "$work/osbuild-vm"

as=()
if [ "$(id -u)" = 0 ]; then
	user=osbuildvm-repro
	if ! id "$user" >/dev/null 2>&1; then
		echo "repro: adding the plain user $user for the second build" >&2
		useradd --system --home-dir "$work/b" --shell /usr/sbin/nologin "$user"
	fi
	if ! grep -q "^$user:" /etc/subuid || ! grep -q "^$user:" /etc/subgid; then
		usermod --add-subuids 400000-465535 --add-subgids 400000-465535 "$user"
	fi
	chown "$user:" "$work/b"
	as=(setpriv --reuid="$user" --regid="$user" --clear-groups --)
fi

build() { # dir, extra flags, then the command that runs osbuild-vm
	local dir=$1 extra=$2 start=$SECONDS
	shift 2
	# shellcheck disable=SC2086 # extra is a list of flags
	"$@" run --arch "$arch" --memory 3GiB $extra --store "$work/$dir/store" \
		--output-directory "$work/$dir/out" --export "$export_" "$work/manifest.json"
	echo "repro: build $dir took $((SECONDS - start)) s" >&2
}

echo "repro: first build of $manifest ($arch) as $(id -un), TZ=UTC, umask 022, C.UTF-8" >&2
(umask 022 && TZ=UTC LC_ALL=C.UTF-8 LANG=C.UTF-8 build a "" "$work/osbuild-vm")
echo "repro: second build as ${as[1]:-the same user}, TZ=Pacific/Chatham, umask 077, de_DE.UTF-8, --cpus 1" >&2
(umask 077 && cd "$work/b" && TZ=Pacific/Chatham LC_ALL=de_DE.UTF-8 LANG=de_DE.UTF-8 HOME="$work/b" \
	build b "--cpus 1" "${as[@]}" "$work/osbuild-vm")

status=0
while IFS= read -r -d '' f; do
	rel=${f#"$work/a/out/"}
	if cmp -s "$f" "$work/b/out/$rel"; then
		echo "repro: $rel: same bytes ($(stat -c %s "$f") bytes, sha256 $(sha256sum <"$f" | cut -c1-16)…)"
		continue
	fi
	status=1
	if command -v diffoscope >/dev/null; then
		diffoscope "$f" "$work/b/out/$rel" || true
	else
		go run ./test/reprodiff "$f" "$work/b/out/$rel" || true
	fi
done < <(find "$work/a/out" -type f -print0)
if [ "$status" = 0 ]; then
	rm -rf "$work"
	echo "repro: the two builds are the same bytes"
else
	echo "repro: the builds differ; both are kept in $work" >&2
fi
exit "$status"
