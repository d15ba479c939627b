package test

import (
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/engine/remotecache/registrytest"
	"github.com/osbuild-vm/osbuild-vm/host/vm/vmtest"
)

// BenchmarkRemoteCacheHello measures, for the example, a build served
// entirely from a remote cache (a fresh store, the checkpoints in a local
// registry: pull, verify, import, export; no VM) against the same build
// from an empty cache (a fresh store, no remote: the VM builds it), as
// medians, and the bytes the remote build pulled. The registry is
// Debian's docker-registry on 127.0.0.1, so the figures leave out a real
// network.
// Run: go test -run '^$' -bench RemoteCache -benchtime 3x ./test/
func BenchmarkRemoteCacheHello(b *testing.B) {
	benchRemoteCache(b, benchSpec{arch: "amd64", manifest: hello, export: "archive", checkpoints: []string{"archive"}})
}

// BenchmarkRemoteCacheDebian is the case a build farm has: the stock arm64
// trixie minbase tree (minutes of emulated dpkg under TCG), checkpointed
// with its os and tar pipelines checkpointed, served from the remote cache
// against built from nothing (its .debs downloaded too).
func BenchmarkRemoteCacheDebian(b *testing.B) {
	benchRemoteCache(b, benchSpec{arch: "arm64", manifest: trixieMinbase, export: "tar", checkpoints: []string{"os", "tar"}})
}

type benchSpec struct {
	arch, manifest, export string
	checkpoints            []string
}

func benchRemoteCache(b *testing.B, spec benchSpec) {
	b.Setenv("DOCKER_CONFIG", b.TempDir())
	kernel := vmtest.Boot(b, spec.arch).Kernel.Dir
	reg := registrytest.Start(b, registrytest.Options{})
	remote := []string{"--remote-cache", reg.Ref("bench"), "--remote-cache-plain-http"}
	for _, c := range spec.checkpoints {
		remote = append(remote, "--checkpoint", c)
	}
	if _, err := benchBuild(b, spec, kernel, append(remote, "--remote-cache-push")...); err != nil {
		b.Fatal(err)
	}
	noKernel := filepath.Join(b.TempDir(), "no-kernel") // a remote build that boots a VM fails
	var empty, fromRemote []time.Duration
	var pulled int64
	for b.Loop() {
		start := time.Now()
		if _, err := benchBuild(b, spec, kernel); err != nil {
			b.Fatal(err)
		}
		empty = append(empty, time.Since(start))
		start = time.Now()
		stderr, err := benchBuild(b, spec, noKernel, remote...)
		if err != nil {
			b.Fatal(err)
		}
		fromRemote = append(fromRemote, time.Since(start))
		pulled = pulledBytes(stderr)
	}
	b.ReportMetric(medianDur(empty).Seconds(), "empty-cache-s")
	b.ReportMetric(medianDur(fromRemote).Seconds(), "remote-cache-s")
	b.ReportMetric(float64(pulled), "pulled-bytes")
	b.ReportMetric(float64(medianDur(empty))/float64(medianDur(fromRemote)), "empty/remote")
}

// benchBuild builds spec into a fresh store and returns what it printed.
func benchBuild(b *testing.B, spec benchSpec, kernel string, flags ...string) (string, error) {
	var out, errb syncBuffer
	args := append([]string{"run", "--arch", spec.arch, "--vm-kernel", kernel, "--store", b.TempDir()}, flags...)
	args = append(args, "--output-directory", b.TempDir(), "--export", spec.export, spec.manifest)
	err := runCLI(context.Background(), &out, &errb, args...)
	if err != nil {
		b.Logf("%s", errb.String())
	}
	return errb.String(), err
}

var pulledLine = regexp.MustCompile(`remote cache: pulled \S+ from \S+ \((\d+) bytes\)`)

// pulledBytes adds up the bytes of a run's "pulled" lines.
func pulledBytes(stderr string) int64 {
	var n int64
	for _, m := range pulledLine.FindAllStringSubmatch(stderr, -1) {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		n += v
	}
	return n
}
