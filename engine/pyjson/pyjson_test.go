package pyjson

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// TestPythonDumps compares against json.dumps output recorded with
// Debian's /usr/bin/python3 (testdata/python_dumps.json: input, sorted,
// unsorted).
func TestPythonDumps(t *testing.T) {
	data, err := os.ReadFile("testdata/python_dumps.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases [][3]string
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c[0], func(t *testing.T) {
			v, err := Decode([]byte(c[0]))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			for i, sorted := range []bool{true, false} {
				got, err := Dumps(v, sorted)
				if err != nil {
					t.Fatalf("Dumps: %v", err)
				}
				if string(got) != c[1+i] {
					t.Errorf("Dumps(sort_keys=%v)\n got %s\nwant %s", sorted, got, c[1+i])
				}
			}
		})
	}
}

func TestFloatRepr(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"1E2", "100.0"}, {"1e16", "1e+16"}, {"0.1", "0.1"}, {"1.5e-7", "1.5e-07"},
		{"-0.0", "-0.0"}, {"1e15", "1000000000000000.0"}, {"0.0001", "0.0001"},
		{"0.00001", "1e-05"}, {"123.456", "123.456"}, {"1e100", "1e+100"},
		{"1.7976931348623157e308", "1.7976931348623157e+308"}, {"5e-324", "5e-324"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := FloatRepr(Number(tt.in).Float64()); got != tt.want {
				t.Errorf("FloatRepr(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		utf8 bool
	}{
		{"truncated", `{"a": [1, 2`, false},
		{"trailing", `{} {}`, false},
		{"nan", `[NaN]`, false},
		{"infinity", `[Infinity]`, false},
		{"single quotes", `{'a': 1}`, false},
		{"control char", "\"a\x01b\"", false},
		{"empty", ``, false},
		{"latin1", "\"caf\xe9\"", true},
		{"huge int", "[" + string(make([]byte, 0)) + bigDigits(4301) + "]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.in))
			if err == nil {
				t.Fatal("Decode succeeded, want an error")
			}
			var se *SyntaxError
			if tt.utf8 != errors.Is(err, ErrInvalidUTF8) || (!tt.utf8 && !errors.As(err, &se)) {
				t.Errorf("error %v (%T) has the wrong class", err, err)
			}
		})
	}
}

func bigDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '7'
	}
	return string(b)
}

func TestIntDigitsLimit(t *testing.T) {
	if _, err := Decode([]byte(bigDigits(MaxIntDigits))); err != nil {
		t.Errorf("%d digits: %v", MaxIntDigits, err)
	}
	if _, err := Decode([]byte("-" + bigDigits(MaxIntDigits))); err != nil {
		t.Errorf("-%d digits: %v", MaxIntDigits, err)
	}
}

func TestObjectOrder(t *testing.T) {
	o := NewObject("z", 1, "a", 2)
	o.Set("z", 3)
	got, err := Dumps(o, false)
	if err != nil || string(got) != `{"z": 3, "a": 2}` {
		t.Errorf("Dumps = %s, %v", got, err)
	}
}

func TestTruthy(t *testing.T) {
	tests := []struct {
		v    any
		want bool
	}{
		{nil, false}, {false, false}, {true, true}, {"", false}, {"x", true},
		{[]any{}, false}, {[]any{nil}, true}, {&Object{}, false}, {NewObject("a", 1), true},
		{Number("0"), false}, {Number("-0"), false}, {Number("0.0"), false}, {Number("1"), true}, {Number("0.5"), true},
	}
	for _, tt := range tests {
		if got := Truthy(tt.v); got != tt.want {
			t.Errorf("Truthy(%#v) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestDumpsUnsupported(t *testing.T) {
	if _, err := Dumps(struct{}{}, true); err == nil {
		t.Error("Dumps(struct{}) succeeded")
	}
}

// FuzzDumps checks that decoding never panics and that Dumps output is a
// fixed point: it decodes again to a value that dumps to the same bytes.
func FuzzDumps(f *testing.F) {
	f.Add([]byte(`{"b": [1.0, 1e2, "\u00e9\ud83d\ude00"], "a": null}`))
	f.Add([]byte(`[1e400, -0, 123456789012345678901234567890]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err != nil {
			return
		}
		for _, sorted := range []bool{true, false} {
			out, err := Dumps(v, sorted)
			if err != nil {
				t.Fatalf("Dumps: %v", err)
			}
			v2, err := Decode(out)
			if err != nil {
				if errors.Is(err, ErrInvalidUTF8) {
					t.Fatalf("Dumps wrote non-UTF-8: %q", out)
				}
				return // Infinity is valid Python output but not JSON
			}
			out2, err := Dumps(v2, sorted)
			if err != nil || string(out2) != string(out) {
				t.Fatalf("not a fixed point:\n%s\n%s", out, out2)
			}
		}
	})
}
