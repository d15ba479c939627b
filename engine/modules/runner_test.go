package modules

import "testing"

func TestHostRunner(t *testing.T) {
	ix := NewIndex("testdata/libdir")
	tests := []struct {
		osRelease map[string]string
		want      string
	}{
		{ReadOSRelease("testdata/osrelease/missing", "testdata/osrelease/debian12"), "org.osbuild.debian"},
		{ReadOSRelease("testdata/osrelease/fedora39"), "org.osbuild.fedora38"},
		{map[string]string{"ID": "debian", "VERSION_ID": "13"}, "org.osbuild.debian13"},
		{map[string]string{"ID": "fedora", "VERSION_ID": "29"}, ""},
		{map[string]string{}, "org.osbuild.linux"},
		{map[string]string{"ID": "arch"}, ""},
		{map[string]string{"ID": "ubuntu", "VERSION_ID": "20.04"}, "org.osbuild.ubuntu1804"}, // a symlink
	}
	for _, tt := range tests {
		if got := ix.HostRunner(tt.osRelease); got != tt.want {
			t.Errorf("HostRunner(%v) = %q, want %q", tt.osRelease, got, tt.want)
		}
	}
	if got := NewIndex().HostRunner(map[string]string{"ID": "debian"}); got != "" {
		t.Errorf("no libdir: %q", got)
	}
}

func TestParseRunnerName(t *testing.T) {
	tests := map[string]struct {
		distro  string
		version int
	}{
		"org.osbuild.fedora38": {"org.osbuild.fedora", 38},
		"org.osbuild.linux":    {"org.osbuild.linux", 0},
		"org.osbuild.rhel81":   {"org.osbuild.rhel", 81},
	}
	for in, want := range tests {
		if d, v := parseRunnerName(in); d != want.distro || v != want.version {
			t.Errorf("parseRunnerName(%q) = %q, %d", in, d, v)
		}
	}
}
