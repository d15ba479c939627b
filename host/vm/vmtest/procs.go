package vmtest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
)

// ProcessesMentioning returns the pids of live (non-zombie) processes whose
// command line contains s: tests use it to prove that no QEMU or virtiofsd
// outlived a VM.
func ProcessesMentioning(s string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte(s)) || zombie(d) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

func zombie(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}
