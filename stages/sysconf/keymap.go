package sysconf

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

var keymapRe = regexp.MustCompile(`^[A-Za-z0-9_.+-]+$`)

type keymapOptions struct {
	Keymap    string `json:"keymap"`
	Font      string `json:"font"`
	X11Keymap *struct {
		Layouts []string `json:"layouts"`
	} `json:"x11-keymap"`
}

// Keymap sets the console keymap (and font) in /etc/vconsole.conf and,
// when asked, the X11 layouts in /etc/X11/xorg.conf.d/00-keyboard.conf.
func Keymap(_ context.Context, args *api.Arguments) error {
	var opts keymapOptions
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	if !keymapRe.MatchString(opts.Keymap) {
		return fmt.Errorf("keymap %q: %w", opts.Keymap, ErrInvalidValue)
	}
	content := "KEYMAP=" + opts.Keymap + "\n"
	if opts.Font != "" {
		content += "FONT=" + opts.Font + "\n"
	}
	if err := replaceFile(args, "/etc/vconsole.conf", content); err != nil {
		return err
	}
	if opts.X11Keymap == nil {
		return nil
	}
	for _, l := range opts.X11Keymap.Layouts {
		if !keymapRe.MatchString(l) {
			return fmt.Errorf("x11 layout %q: %w", l, ErrInvalidValue)
		}
	}
	return api.Root(args.Tree).WriteFile("/etc/X11/xorg.conf.d/00-keyboard.conf",
		[]byte(xkbConfig(opts.X11Keymap.Layouts)), 0o644)
}

// xkbConfig is the xorg.conf snippet localectl writes for the layouts.
func xkbConfig(layouts []string) string {
	return "# Written by osbuild-vm; localectl(1) may rewrite it.\n" +
		"Section \"InputClass\"\n" +
		"        Identifier \"system-keyboard\"\n" +
		"        MatchIsKeyboard \"on\"\n" +
		"        Option \"XkbLayout\" \"" + strings.Join(layouts, ",") + "\"\n" +
		"EndSection\n"
}
