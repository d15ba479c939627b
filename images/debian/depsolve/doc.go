// Package depsolve resolves a Debian package request on the host, as
// osbuild-mpp's depsolve does for RPM: from a Universe (the candidate
// packages of one suite and architecture, read from the signed archive by
// package archive) and a Request (a variant, package names, exclusions) it
// computes the packages an apt-get install into an empty system would
// install, with Recommends off, and an install order.
//
// It follows apt's classic solver (apt-pkg/depcache.cc MarkInstall, apt
// 2.6) rather than looking for some solution: Pre-Depends and Depends;
// alternatives in written order, a group already met by a selected
// package left alone; providers ranked as apt's CompareProviders ranks
// them (the real package first, then Essential, Important, Priority, and
// last apt's package ID, the order in which apt's cache first met each
// name); versioned Provides; Conflicts and Breaks (against Provides too,
// never against the package itself); "name:any" met only by Multi-Arch:
// allowed packages. Variants are run the way mmdebstrap runs apt: the
// Essential: yes packages first as one request, then the rest with those
// installed. The one place apt would call its problem resolver (a
// package an already selected one conflicts with) is treated as that
// package being uninstallable, so the next alternative is tried.
//
// A Universe holds one architecture; Architecture: all packages count as
// that architecture, so Multi-Arch: same and foreign change nothing here.
//
// The result is checked before it is returned: every dependency met,
// nothing in conflict; otherwise the error names the failing chain. The
// install order puts each package after what it depends on; within a
// dependency cycle packages go by name, and a Pre-Depends inside a cycle
// is an error, as apt cannot order it either.
//
// Tests check each rule on a small signed archive and run every such case
// through apt-get --simulate as well; reference_test.go compares minbase
// and a larger request on the live archive with mmdebstrap and apt-get.
package depsolve
