package fsops

import (
	"errors"
	"fmt"
	"testing"
)

func TestModeApply(t *testing.T) {
	cases := []struct {
		mode  string
		cur   uint32
		dir   bool
		umask uint32
		want  uint32
	}{
		{"0755", 0o600, false, 0o022, 0o755},
		{"4755", 0o600, false, 0o022, 0o4755},
		{"u+x", 0o644, false, 0o022, 0o744},
		{"go-w", 0o666, false, 0o022, 0o644},
		{"a=r", 0o777, false, 0o022, 0o444},
		{"+x", 0o644, false, 0o022, 0o755},
		{"+w", 0o444, false, 0o022, 0o644},
		{"u=rwx,g=rx,o=", 0o000, false, 0o022, 0o750},
		{"a+X", 0o644, false, 0o022, 0o644},
		{"a+X", 0o744, false, 0o022, 0o755},
		{"a+X", 0o600, true, 0o022, 0o711},
		{"g=u", 0o740, false, 0o022, 0o770},
		{"u+s,+t", 0o755, false, 0o022, 0o5755},
		{"g-s", 0o2755, true, 0o022, 0o755},
		{"u=rw", 0o4755, false, 0o022, 0o655},
		{"o-rwx", 0o777, false, 0o022, 0o770},
		{"u+r-w", 0o200, false, 0o022, 0o400},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%o", tc.mode, tc.cur), func(t *testing.T) {
			m, err := ParseMode(tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Apply(tc.cur, tc.dir, tc.umask); got != tc.want {
				t.Errorf("got %o, want %o", got, tc.want)
			}
		})
	}
}

func TestParseModeRejects(t *testing.T) {
	for _, s := range []string{"", "9", "77777", "u", "u+q", "x+r", "u+r,", "rwx"} {
		if _, err := ParseMode(s); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("%q: got %v", s, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	cases := []struct {
		s    string
		cur  int64
		want int64
	}{
		{"10", 0, 10}, {"1K", 0, 1024}, {"1KiB", 0, 1024}, {"1KB", 0, 1000},
		{"2M", 0, 2 << 20}, {"1G", 0, 1 << 30}, {"1GB", 0, 1e9}, {"3T", 0, 3 << 40},
		{"+1K", 100, 1124}, {"-50", 100, 50}, {"-500", 100, 0},
		{"<50", 100, 50}, {"<500", 100, 100}, {">500", 100, 500},
		{"/64", 100, 64}, {"%64", 100, 128}, {"%64", 128, 128},
	}
	for _, tc := range cases {
		t.Run(tc.s, func(t *testing.T) {
			got, err := ParseSize(tc.s, tc.cur)
			if err != nil || got != tc.want {
				t.Errorf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "x", "1X", "1KBB", "/0", "99999999999E", "-"} {
		if _, err := ParseSize(bad, 10); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseMode(f *testing.F) {
	for _, s := range []string{"0755", "u+x,go-w", "a=rX", "g=u", "+t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMode(s)
		if err != nil {
			return
		}
		if got := m.Apply(0o644, false, 0o022); got > 0o7777 {
			t.Fatalf("mode %q gave %o", s, got)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"10", "+1K", "%64", "1GiB"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, s string, cur int64) {
		if cur < 0 {
			return
		}
		if n, err := ParseSize(s, cur); err == nil && n < 0 {
			t.Fatalf("%q on %d gave %d", s, cur, n)
		}
	})
}
