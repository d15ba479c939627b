// Package bootstrap knows how a new Debian system starts, as mmdebstrap
// makes one: the directories and files dpkg and apt expect, the /dev
// nodes, which packages form the essential set, how they are unpacked
// before any maintainer script can run (tar --keep-directory-symlink over
// a tree whose merged-/usr links came from base-files), and in which
// dpkg runs the other packages are installed, as apt drives dpkg.
//
// It is pure Go with no target code and no policy about where it runs:
// the host uses it to unpack the essential set natively before the build
// VM starts the install stage, and the install stage uses the same code
// when it finds an empty tree itself. Both give the same archive.
package bootstrap
