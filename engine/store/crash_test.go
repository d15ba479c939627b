package store

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain doubles as the crash helper: run as a child by TestCrashRecovery
// with STORE_CRASH_DIR set, the test binary opens the store, gets to the
// requested phase, prints "ready" and waits to be killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("STORE_CRASH_DIR"); dir != "" {
		if err := crashHelper(dir, os.Getenv("STORE_CRASH_PHASE")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		return
	}
	os.Exit(m.Run())
}

func crashHelper(dir, phase string) error {
	s, err := Open(dir, Options{MaxSize: ptr(Unlimited)})
	if err != nil {
		return err
	}
	ready := func() {
		fmt.Println("ready")
		time.Sleep(time.Minute)
	}
	p, err := s.NewObject(testID(1))
	if err != nil {
		return err
	}
	err = p.WriteTree(func(w io.Writer) error {
		_, err := w.Write(make([]byte, 4096))
		if phase == "write" {
			ready()
		}
		return err
	})
	if err != nil {
		return err
	}
	beforeRename = ready
	_, err = p.Commit(nil)
	return err
}

func TestCrashRecovery(t *testing.T) {
	for _, phase := range []string{"write", "commit"} {
		t.Run(phase, func(t *testing.T) {
			dir := t.TempDir()
			killHelper(t, dir, phase)
			if left := tmpEntries(t, dir); len(left) != 2 {
				t.Fatalf("killed run left %v, want its lock and directory", left)
			}
			s := mustOpen(t, dir, Options{MaxSize: ptr(Unlimited)})
			if left := tmpEntries(t, dir, s); len(left) != 0 {
				t.Fatalf("Open did not recover the dead run: %v", left)
			}
			if _, ok := s.Lookup(testID(1)); ok {
				t.Fatal("a partial object is visible after the crash")
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, "objects")); len(ents) != 0 {
				t.Fatalf("objects/ holds %d entries after the crash", len(ents))
			}
			commit(t, s, testID(1), 10, 'a') // the id is usable again
		})
	}
}

// killHelper runs TestCrashHelper in a child, waits for "ready", SIGKILLs it.
func killHelper(t *testing.T, dir, phase string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "STORE_CRASH_DIR="+dir, "STORE_CRASH_PHASE="+phase)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	cmd.Process.Kill()
	cmd.Wait()
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("helper said %q, %v", line, err)
	}
}
