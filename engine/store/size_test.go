package store

import (
	"errors"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false},
		{"1073741824", 1 << 30, false},
		{"unlimited", Unlimited, false},
		{"10kB", 10000, false},
		{"10 KiB", 10240, false},
		{"  3MB", 3000000, false},
		{"2MiB", 2 << 20, false},
		{"20GB", 20e9, false},
		{"20GiB", 20 << 30, false},
		{"1TB", 1e12, false},
		{"1TiB", 1 << 40, false},
		{"1 \t TiB", 1 << 40, false},
		{"", 0, true},
		{"5 ", 0, true},         // osbuild: no trailing blanks without a unit
		{"10kib", 0, true},      // units are case-sensitive
		{"10KB", 0, true},       // not a unit osbuild knows
		{"10B", 0, true},        // nor is B
		{"-1", 0, true},         // no sign
		{"1.5GiB", 0, true},     // integers only
		{"Unlimited", 0, true},  // exact word
		{" unlimited", 0, true}, // exact word
		{"5\n", 0, true},
		{"9223372036854775807", 9223372036854775807, false},
		{"9223372036854775808", 0, true},
		{"9000000000TiB", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.err {
				if !errors.Is(err, ErrInvalidSize) {
					t.Fatalf("ParseSize(%q) = %d, %v; want ErrInvalidSize", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "10 KiB", "unlimited", "1TiB", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidSize) {
				t.Fatalf("ParseSize(%q): unclassified error %v", s, err)
			}
			return
		}
		if n < 0 && n != Unlimited {
			t.Fatalf("ParseSize(%q) = %d: negative", s, n)
		}
	})
}

func TestValidateID(t *testing.T) {
	good := "52ae4ffe396a55b6b89134c9f91c1c69dd56d51e56b15d2ad19ecd0645b38301"
	tests := map[string]bool{
		good:                     true,
		"":                       false,
		good[:63]:                false,
		good + "0":               false,
		"../" + good[3:]:         false,
		"52AE" + good[4:]:        false,
		"52ae/" + good[5:]:       false,
		good[:63] + "\x00":       false,
		"g" + good[1:]:           false,
		"0000000000" + good[10:]: true,
	}
	for id, ok := range tests {
		t.Run(id, func(t *testing.T) {
			err := ValidateID(id)
			if ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidID)) {
				t.Fatalf("ValidateID(%q) = %v, want ok=%v", id, err, ok)
			}
		})
	}
}
