package bootstrap

// Dir is a directory a new system starts with.
type Dir struct {
	Path string
	Mode int64
}

// Skeleton is mmdebstrap's run_setup: the directories dpkg and apt expect,
// parents first, as `mkdir -p` with umask 022 makes them, and /tmp.
var Skeleton = []Dir{
	{"etc", 0o755}, {"etc/apt", 0o755}, {"etc/apt/apt.conf.d", 0o755}, {"etc/apt/sources.list.d", 0o755},
	{"etc/apt/preferences.d", 0o755}, {"var", 0o755}, {"var/cache", 0o755}, {"var/cache/apt", 0o755},
	{"var/lib", 0o755}, {"var/lib/apt", 0o755}, {"var/lib/apt/lists", 0o755},
	{"var/lib/apt/lists/partial", 0o755}, {"tmp", 0o1777}, {"var/lib/dpkg", 0o755}, {"etc/dpkg", 0o755},
	{"etc/dpkg/dpkg.cfg.d", 0o755}, {"var/log", 0o755}, {"var/log/apt", 0o755},
	{"var/lib/dpkg/triggers", 0o755}, {"var/lib/dpkg/info", 0o755}, {"var/lib/dpkg/alternatives", 0o755},
	{"var/lib/dpkg/updates", 0o755},
}

// Fstab is the /etc/fstab debootstrap and mmdebstrap write: no package
// ships one.
const Fstab = "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n"

// DevFile is a node or link of /dev.
type DevFile struct {
	Name         string
	Mode         int64
	Kind         byte // 'c' character device, 'l' symlink, 'd' directory
	Target       string
	Major, Minor int64
}

// DevFiles are the nodes and links mmdebstrap creates in /dev of a new
// system (its @devfiles, root mode): installing the essential set needs
// them, and they stay in the tree as in mmdebstrap's output.
var DevFiles = []DevFile{
	{"console", 0o666, 'c', "", 5, 1},
	{"fd", 0o777, 'l', "/proc/self/fd", 0, 0},
	{"full", 0o666, 'c', "", 1, 7},
	{"null", 0o666, 'c', "", 1, 3},
	{"ptmx", 0o666, 'c', "", 5, 2},
	{"pts", 0o755, 'd', "", 0, 0},
	{"random", 0o666, 'c', "", 1, 8},
	{"shm", 0o755, 'd', "", 0, 0},
	{"stderr", 0o777, 'l', "/proc/self/fd/2", 0, 0},
	{"stdin", 0o777, 'l', "/proc/self/fd/0", 0, 0},
	{"stdout", 0o777, 'l', "/proc/self/fd/1", 0, 0},
	{"tty", 0o666, 'c', "", 5, 0},
	{"urandom", 0o666, 'c', "", 1, 9},
	{"zero", 0o666, 'c', "", 1, 5},
}
