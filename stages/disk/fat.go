package disk

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
)

// fatPopulate copies the tree at root into the FAT file system on dev,
// below dir ("" for its root), with mtools: one mmd per directory and one
// mcopy per file, in byte order of their paths (mcopy -s would follow
// readdir order, which differs between two copies of a tree). mtools
// takes its time stamps from SOURCE_DATE_EPOCH and, with TZ=UTC, writes
// them the same everywhere; no -m, so the tree's mtimes do not count.
// FAT holds no symlinks, device nodes or owners: a tree with such
// entries is refused.
func fatPopulate(ctx context.Context, dev, root, dir string) error {
	entries, err := fatEntries(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		dst := "::" + path.Join("/", dir, e.rel)
		if e.dir {
			err = mtool(ctx, "mmd", "-i", dev, dst)
		} else {
			err = mtool(ctx, "mcopy", "-i", dev, "-o", filepath.Join(root, e.rel), dst)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

type fatEntry struct {
	rel string
	dir bool
}

// fatEntries lists the tree below root, parents before children, in byte
// order (sort.Strings compares bytes, as LC_ALL=C does).
func fatEntries(root string) ([]fatEntry, error) {
	var out []fatEntry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		switch {
		case d.IsDir():
			out = append(out, fatEntry{rel: filepath.ToSlash(rel), dir: true})
		case d.Type().IsRegular():
			out = append(out, fatEntry{rel: filepath.ToSlash(rel)})
		default:
			return fmt.Errorf("%s: a FAT file system holds only directories and files, not %v", rel, d.Type())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("populate FAT from %s: %w", root, err)
	}
	// WalkDir visits in lexical order per directory; a full sort by path
	// puts "a/b" after "a" and before "a.txt" only where bytes say so,
	// so sort by path components instead: parents stay first.
	sort.SliceStable(out, func(i, j int) bool { return lessPath(out[i].rel, out[j].rel) })
	return out, nil
}

// lessPath orders paths component by component, in byte order.
func lessPath(a, b string) bool {
	for a != "" && b != "" {
		ca, ra := cut(a)
		cb, rb := cut(b)
		if ca != cb {
			return ca < cb
		}
		a, b = ra, rb
	}
	return a == "" && b != ""
}

func cut(p string) (string, string) {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			return p[:i], p[i+1:]
		}
	}
	return p, ""
}

// mtool runs an mtools command; MTOOLS_SKIP_CHECK lets it take file
// systems whose geometry fields it would question.
func mtool(ctx context.Context, name string, args ...string) error {
	cmd, err := command(ctx, name, args...)
	if err != nil {
		return err
	}
	cmd.Env = append(cmd.Env, "MTOOLS_SKIP_CHECK=1")
	cmd.Stdout = os.Stdout
	return runCmd(cmd)
}
