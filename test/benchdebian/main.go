// Command benchdebian is `make bench-debian`: it builds the stock trixie
// minbase tree (images/debian/trixie-minbase.json) with osbuild-vm and
// with mmdebstrap --variant=minbase, side by side in rounds, and prints the
// medians: seconds, CPU seconds, peak memory and where the time went.
//
// Each round runs, for each architecture: mmdebstrap (natively for the
// host's architecture, through qemu-user binfmt for the other), osbuild-vm
// from a cold store (only the build VM's kernel in it: the archive's
// indices and every .deb are downloaded, as mmdebstrap downloads them) and
// osbuild-vm with the sources cached (indices, .debs and their
// uncompressed copies kept; no built object). All read the same mirror:
// --mirror, else $OSBUILD_VM_MIRROR, else the host's apt configuration.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
)

type options struct {
	bin, manifest, mirror, work, suite string
	arches                             []string
	rounds                             int
}

// sample is one measured build.
type sample struct {
	wall, cpu time.Duration
	maxRSS    int64 // KiB, the largest process of the build (QEMU, dpkg, ...)
	phases    map[string]time.Duration
}

func main() {
	var o options
	var arches string
	flag.StringVar(&o.bin, "osbuild-vm", "./osbuild-vm", "the osbuild-vm binary")
	flag.StringVar(&o.manifest, "manifest", "images/debian/trixie-minbase.json", "the manifest (its last pipeline is exported)")
	flag.StringVar(&o.suite, "suite", "trixie", "the suite mmdebstrap builds (the manifest's)")
	flag.StringVar(&o.mirror, "mirror", "", "Debian mirror (default $"+archive.MirrorEnv+", else apt's configuration)")
	flag.StringVar(&o.work, "work", "", "where the builds go (default a new directory in $TMPDIR, removed at the end)")
	flag.StringVar(&arches, "arches", "amd64,arm64", "architectures")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; the medians are over them")
	flag.Parse()
	o.arches = strings.Split(arches, ",")
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-debian:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	mirror, err := archive.ResolveMirror(o.mirror)
	if err != nil {
		return err
	}
	o.mirror = mirror
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		return errors.New("mmdebstrap is not installed (./test/deps.sh e2e installs it)")
	}
	if o.work == "" {
		dir, err := os.MkdirTemp("", "bench-debian-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.work = dir
	}
	for _, arch := range o.arches {
		if arch != hostArch() {
			if err := enableBinfmt(arch); err != nil {
				return fmt.Errorf("mmdebstrap for %s: %w", arch, err)
			}
		}
	}
	kernels, err := seedKernels(o)
	if err != nil {
		return err
	}
	fmt.Printf("bench-debian: %s, %d round(s), mirror %s, %d CPUs\n", o.manifest, o.rounds, o.mirror, runtime.NumCPU())
	results := map[string][]sample{}
	var order []string
	for round := 1; round <= o.rounds; round++ {
		for _, arch := range o.arches {
			for _, kind := range []string{"mmdebstrap", "osbuild-vm cold", "osbuild-vm sources cached"} {
				name := kind + " " + arch
				if round == 1 {
					order = append(order, name)
				}
				var s sample
				var err error
				if kind == "mmdebstrap" {
					s, err = runMmdebstrap(o, arch)
				} else {
					s, err = runOurs(o, arch, kernels[arch], kind == "osbuild-vm sources cached")
				}
				if err != nil {
					return fmt.Errorf("round %d, %s: %w", round, name, err)
				}
				fmt.Printf("round %d: %-34s %7.1f s wall %7.1f s CPU %6d MiB peak\n", round, name, s.wall.Seconds(), s.cpu.Seconds(), s.maxRSS>>10)
				results[name] = append(results[name], s)
			}
		}
	}
	report(o, order, results)
	return nil
}

func hostArch() string { return runtime.GOARCH }

// enableBinfmt makes the kernel run arch's binaries through qemu-user, as
// mmdebstrap needs for a foreign architecture.
func enableBinfmt(arch string) error {
	name := map[string]string{"arm64": "qemu-aarch64", "amd64": "qemu-x86_64"}[arch]
	if name == "" {
		return fmt.Errorf("no qemu-user for %s", arch)
	}
	if data, err := os.ReadFile("/proc/sys/fs/binfmt_misc/" + name); err == nil && strings.HasPrefix(string(data), "enabled") {
		return nil
	}
	if _, err := os.Stat("/proc/sys/fs/binfmt_misc/register"); err != nil {
		if out, err := exec.Command("mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc").CombinedOutput(); err != nil {
			return fmt.Errorf("mount binfmt_misc: %v: %s", err, out)
		}
	}
	if out, err := exec.Command("update-binfmts", "--enable", name).CombinedOutput(); err != nil {
		return fmt.Errorf("update-binfmts --enable %s: %v: %s (install qemu-user-static and binfmt-support, as root)", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// seedKernels fetches each architecture's build-VM kernel once, into a
// store whose vm-kernels and vm-initramfs every cold store starts with:
// the kernel is the builder's, not the image's, and mmdebstrap needs none.
func seedKernels(o options) (map[string]string, error) {
	seed := filepath.Join(o.work, "seed")
	out := map[string]string{}
	for _, arch := range o.arches {
		cmd := exec.Command(o.bin, "vm", "check", "--arch", arch, "--store", seed)
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("fetch the %s build-VM kernel (%s vm check): %v\n%s", arch, o.bin, err, b)
		}
		out[arch] = seed
	}
	return out, nil
}

// measure runs cmd, timing it and reading its resource use (CPU and peak
// memory of it and every process it waited for); each line of its stderr
// goes to line with the time it arrived.
func measure(cmd *exec.Cmd, logPath string, line func(at time.Duration, text string)) (sample, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return sample{}, err
	}
	defer log.Close()
	pr, pw := io.Pipe()
	cmd.Stdout = log
	cmd.Stderr = io.MultiWriter(log, pw)
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if line != nil {
				line(time.Since(start), sc.Text())
			}
		}
		io.Copy(io.Discard, pr)
	}()
	err = cmd.Run()
	pw.Close()
	<-done
	s := sample{wall: time.Since(start), phases: map[string]time.Duration{}}
	if cmd.ProcessState != nil {
		s.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.maxRSS = ru.Maxrss
		}
	}
	if err != nil {
		return s, fmt.Errorf("%v (log: %s)", err, logPath)
	}
	return s, nil
}

// mmPhases are mmdebstrap's progress lines (with --verbose) that start a
// phase, in the order they come.
var mmPhases = []struct{ prefix, name string }{
	{"I: running apt-get update", "resolve (apt update)"},
	{"I: downloading packages with apt", "download"},
	{"I: extracting archives", "unpack (essential, tar)"},
	{"I: installing essential packages", "dpkg --install essential"},
	{"I: installing remaining packages inside the chroot", "apt install the rest"},
	{"I: cleaning package lists and apt cache", "clean-up"},
	{"I: creating tarball", "tar"},
}

func runMmdebstrap(o options, arch string) (sample, error) {
	dir, err := os.MkdirTemp(o.work, "mm-")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("mmdebstrap", "--verbose", "--variant=minbase", "--arch", arch, "--mode=root",
		o.suite, filepath.Join(dir, "out.tar"), "deb "+o.mirror+" "+o.suite+" main")
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	var marks []mark
	s, err := measure(cmd, filepath.Join(o.work, "mmdebstrap-"+arch+".log"), func(at time.Duration, text string) {
		for _, p := range mmPhases {
			if strings.HasPrefix(text, p.prefix) {
				marks = append(marks, mark{p.name, at})
			}
		}
	})
	if err != nil {
		return s, err
	}
	s.phases = intervals(marks, s.wall, "setup")
	return s, nil
}

// mark is the start of a phase.
type mark struct {
	name string
	at   time.Duration
}

// intervals turns phase starts into durations; what comes before the
// first is first.
func intervals(marks []mark, end time.Duration, first string) map[string]time.Duration {
	out := map[string]time.Duration{}
	prev := mark{first, 0}
	for _, m := range append(marks, mark{"", end}) {
		out[prev.name] += m.at - prev.at
		prev = m
	}
	return out
}

func runOurs(o options, arch, seed string, cached bool) (sample, error) {
	store := filepath.Join(o.work, "store-"+arch)
	if !cached {
		os.RemoveAll(store)
		if err := os.MkdirAll(store, 0o755); err != nil {
			return sample{}, err
		}
		for _, d := range []string{"vm-kernels", "vm-initramfs"} {
			if out, err := exec.Command("cp", "-a", filepath.Join(seed, d), store).CombinedOutput(); err != nil {
				return sample{}, fmt.Errorf("seed the store: %v %s", err, out)
			}
		}
	} else {
		// Keep what the cold run fetched (indices, .debs, their
		// uncompressed copies); build everything again.
		if err := os.RemoveAll(filepath.Join(store, "objects")); err != nil {
			return sample{}, err
		}
	}
	outDir, err := os.MkdirTemp(o.work, "out-")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(outDir)
	monR, monW, err := os.Pipe()
	if err != nil {
		return sample{}, err
	}
	cmd := exec.Command(o.bin, "run", "--arch", arch, "--store", store, "--mirror", o.mirror,
		"--output-directory", outDir, "--export", lastPipeline(o.manifest),
		"--monitor", "JSONSeqMonitor", "--monitor-fd", "3", o.manifest)
	cmd.ExtraFiles = []*os.File{monW}
	start := time.Now()
	recs := make(chan []record, 1)
	go func() { recs <- readMonitor(monR, start) }()
	s, err := measure(cmd, filepath.Join(o.work, "osbuild-vm-"+arch+".log"), nil)
	monW.Close()
	rs := <-recs
	monR.Close()
	if err != nil {
		return s, err
	}
	s.phases = ourPhases(rs, s.wall)
	return s, nil
}

// lastPipeline names the manifest's last pipeline, which the stock
// manifests export.
func lastPipeline(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var m struct {
		Pipelines []struct {
			Name string `json:"name"`
		} `json:"pipelines"`
	}
	if json.Unmarshal(data, &m) != nil || len(m.Pipelines) == 0 {
		return ""
	}
	return m.Pipelines[len(m.Pipelines)-1].Name
}

// record is what the bench reads of a monitor record.
type record struct {
	at       time.Duration
	message  string
	duration float64
}

func readMonitor(r io.Reader, start time.Time) []record {
	var out []record
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		chunk, err := br.ReadBytes(0x1e)
		chunk = []byte(strings.Trim(string(chunk), "\x1e\n"))
		if len(chunk) > 0 {
			var rec struct {
				Message   string   `json:"message"`
				Timestamp float64  `json:"timestamp"`
				Duration  *float64 `json:"duration"`
			}
			if json.Unmarshal(chunk, &rec) == nil {
				sec, frac := int64(rec.Timestamp), rec.Timestamp-float64(int64(rec.Timestamp))
				at := time.Unix(sec, int64(frac*1e9)).Sub(start)
				d := 0.0
				if rec.Duration != nil {
					d = *rec.Duration
				}
				out = append(out, record{at, strings.TrimSpace(rec.Message), d})
			}
		}
		if err != nil {
			return out
		}
	}
}

var (
	hostLine  = regexp.MustCompile(`^host: \d+ packages uncompressed in ([0-9.]+)s(?:; unpacked the essential set natively: \d+ packages in ([0-9.]+)s)?`)
	dpkgLine  = regexp.MustCompile(`^deb: dpkg: (.*): ([0-9.]+)s$`)
	preinsts  = regexp.MustCompile(`^deb: ran the essential set's preinsts in ([0-9.]+)s$`)
	stageDone = regexp.MustCompile(`^Finished module (\S+)`)
)

// ourPhases splits a run at its monitor records: resolving (before the
// first record: the pre-processor runs first), downloading, starting the
// VM, the host's work for deb.install, each dpkg phase the stage reports,
// the other stages, and the export.
func ourPhases(rs []record, wall time.Duration) map[string]time.Duration {
	p := map[string]time.Duration{}
	if len(rs) == 0 {
		p["unknown"] = wall
		return p
	}
	sec := func(s string) time.Duration {
		f, _ := strconv.ParseFloat(s, 64)
		return time.Duration(f * float64(time.Second))
	}
	p["resolve"] = rs[0].at
	var osStart, installStart, lastFinish time.Duration
	var sourcesDone time.Duration = rs[0].at
	var installDur time.Duration
	var inStage time.Duration
	for _, r := range rs {
		switch {
		case r.message == "Finished pipeline org.osbuild.curl":
			sourcesDone = r.at
		case r.message == "Starting pipeline os" || (osStart == 0 && strings.HasPrefix(r.message, "Starting pipeline") && !strings.Contains(r.message, "source")):
			if osStart == 0 {
				osStart = r.at
			}
		case r.message == "Starting module org.osbuild.deb.install" && installStart == 0:
			installStart = r.at
		}
		if m := hostLine.FindStringSubmatch(r.message); m != nil {
			p["host: uncompress .debs"] += sec(m[1])
			if m[2] != "" {
				p["host: unpack essential"] += sec(m[2])
			}
			inStage += sec(m[1]) + sec(m[2])
		}
		if m := preinsts.FindStringSubmatch(r.message); m != nil {
			p["VM: preinsts (essential)"] += sec(m[1])
			inStage += sec(m[1])
		}
		if m := dpkgLine.FindStringSubmatch(r.message); m != nil {
			name := "VM: dpkg configure (rest)"
			switch {
			case strings.HasPrefix(m[1], "configure the essential set"):
				name = "VM: dpkg configure (essential)"
			case strings.HasPrefix(m[1], "unpack"):
				name = "VM: dpkg unpack (rest)"
			}
			p[name] += sec(m[2])
			inStage += sec(m[2])
		}
		if m := stageDone.FindStringSubmatch(r.message); m != nil {
			d := time.Duration(r.duration * float64(time.Second))
			if m[1] == "org.osbuild.deb.install" {
				installDur += d
			} else {
				p["stage "+strings.TrimPrefix(m[1], "org.osbuild.")] += d
			}
			lastFinish = r.at
		}
	}
	p["download"] = sourcesDone - rs[0].at
	if installStart > 0 && osStart > 0 {
		p["VM start"] = installStart - osStart
	}
	if installDur > inStage {
		p["deb.install: rest (tree into and out of the VM, apt-mark, ...)"] = installDur - inStage
	}
	if lastFinish > 0 {
		p["export"] = wall - lastFinish
	}
	return p
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func report(o options, order []string, results map[string][]sample) {
	med := func(name string, f func(sample) time.Duration) time.Duration {
		var ds []time.Duration
		for _, s := range results[name] {
			ds = append(ds, f(s))
		}
		return median(ds)
	}
	fmt.Printf("\nmedians over %d round(s):\n", o.rounds)
	fmt.Printf("%-34s %9s %9s %10s\n", "", "wall s", "CPU s", "peak MiB")
	for _, name := range order {
		var rss []time.Duration
		for _, s := range results[name] {
			rss = append(rss, time.Duration(s.maxRSS))
		}
		fmt.Printf("%-34s %9.1f %9.1f %10d\n", name, med(name, func(s sample) time.Duration { return s.wall }).Seconds(),
			med(name, func(s sample) time.Duration { return s.cpu }).Seconds(), int64(median(rss))>>10)
	}
	fmt.Printf("\nratios of medians (osbuild-vm / mmdebstrap, wall; below 1.0 osbuild-vm is faster):\n")
	for _, arch := range o.arches {
		mm := med("mmdebstrap "+arch, func(s sample) time.Duration { return s.wall })
		how := "native"
		if arch != hostArch() {
			how = "qemu-user"
		}
		for _, kind := range []string{"osbuild-vm cold", "osbuild-vm sources cached"} {
			ours := med(kind+" "+arch, func(s sample) time.Duration { return s.wall })
			fmt.Printf("  %s %-26s / mmdebstrap (%s): %.2f\n", arch, kind, how, ours.Seconds()/mm.Seconds())
		}
	}
	fmt.Printf("\nwhere the time goes (medians, seconds):\n")
	for _, name := range order {
		keys := map[string]bool{}
		for _, s := range results[name] {
			for k := range s.phases {
				keys[k] = true
			}
		}
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		slices.SortFunc(names, func(a, b string) int {
			return int(med(name, func(s sample) time.Duration { return s.phases[b] }) - med(name, func(s sample) time.Duration { return s.phases[a] }))
		})
		fmt.Printf("  %s:\n", name)
		for _, k := range names {
			fmt.Printf("    %-62s %7.1f\n", k, med(name, func(s sample) time.Duration { return s.phases[k] }).Seconds())
		}
	}
}
