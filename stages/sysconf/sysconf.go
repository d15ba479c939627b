// Package sysconf implements the stages that write one small system
// configuration file each (hostname, locale, fstab, sysctl.d, …), in Go,
// so they work in a tree that has no systemd-firstboot or other tools.
// Each function is a stage: it takes the loaded arguments and edits the
// tree they name.
package sysconf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// ErrInvalidValue marks an option value the stage refuses (a hostname
// systemd would reject, a command line that is too long, …).
var ErrInvalidValue = errors.New("invalid value")

// hostnameRe follows systemd's hostname_is_valid: dot-separated labels of
// letters, digits, '-' and '_', none empty.
var hostnameRe = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// Hostname writes /etc/hostname, replacing what is there.
func Hostname(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Hostname string `json:"hostname"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	if len(opts.Hostname) > 64 || !hostnameRe.MatchString(opts.Hostname) {
		return fmt.Errorf("hostname %q: %w", opts.Hostname, ErrInvalidValue)
	}
	return replaceFile(args, "/etc/hostname", opts.Hostname+"\n")
}

// zoneRe is the shape of a tz database name (Europe/Berlin, UTC, Etc/GMT+1).
var zoneRe = regexp.MustCompile(`^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$`)

// Timezone points /etc/localtime at the zone's file under
// /usr/share/zoneinfo, with a relative link as systemd-firstboot makes.
func Timezone(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Zone string `json:"zone"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	if !zoneRe.MatchString(opts.Zone) {
		return fmt.Errorf("timezone %q: %w", opts.Zone, ErrInvalidValue)
	}
	tree := api.Root(args.Tree)
	if _, err := os.Stat(tree.Join("/usr/share/zoneinfo/" + opts.Zone)); err != nil {
		fmt.Printf("warning: /usr/share/zoneinfo/%s is not in the tree (yet)\n", opts.Zone)
	}
	return tree.Symlink("../usr/share/zoneinfo/"+opts.Zone, "/etc/localtime")
}

// localeRe accepts what systemd's locale_is_valid does in practice:
// printable ASCII without spaces or quotes.
var localeRe = regexp.MustCompile(`^[A-Za-z0-9_.@+-]+$`)

// Locale writes LANG= into /etc/locale.conf, replacing what is there.
func Locale(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Language string `json:"language"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	if !localeRe.MatchString(opts.Language) {
		return fmt.Errorf("locale %q: %w", opts.Language, ErrInvalidValue)
	}
	return replaceFile(args, "/etc/locale.conf", "LANG="+opts.Language+"\n")
}

// replaceFile removes path (a packaged default, maybe a symlink) and
// writes content in its place with mode 0644.
func replaceFile(args *api.Arguments, path, content string) error {
	tree := api.Root(args.Tree)
	removed, err := tree.Remove(path)
	if err != nil {
		return err
	}
	if removed {
		fmt.Printf("%s already exists. Replacing.\n", path)
	}
	return tree.WriteFile(path, []byte(content), 0o644)
}
