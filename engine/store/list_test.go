package store

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestObjectsListsCommittedOnly: Objects lists cached objects sorted, and
// neither floating objects nor entries that are not committed objects.
func TestObjectsListsCommittedOnly(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{MaxSize: ptr(Unlimited)})
	commit(t, s, testID(2), 10, 'b')
	commit(t, s, testID(1), 10, 'a')
	for _, junk := range []string{"not-an-id", testID(3)} { // no info.json: not committed
		if err := os.MkdirAll(filepath.Join(dir, "objects", junk), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Objects()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{testID(1), testID(2)}, got); diff != "" {
		t.Fatalf("Objects (-want +got):\n%s", diff)
	}

	small := mustOpen(t, t.TempDir(), Options{}) // limit 0: everything floats
	commit(t, small, testID(4), 10, 'c')
	if got, err := small.Objects(); err != nil || len(got) != 0 {
		t.Fatalf("floating objects listed: %v, %v", got, err)
	}
}

// TestPendingSHA256 is the digest of the bytes WriteTree wrote, as the
// store computed it, and "" before.
func TestPendingSHA256(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	p, err := s.NewObject(testID(1))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	if p.SHA256() != "" {
		t.Fatalf("digest before WriteTree: %q", p.SHA256())
	}
	data := []byte("tree bytes")
	if err := p.WriteTree(func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	if p.SHA256() != hex.EncodeToString(want[:]) {
		t.Fatalf("SHA256 = %s, want %x", p.SHA256(), want)
	}
}
