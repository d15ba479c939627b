package archive

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"pault.ag/go/debian/control"

	"github.com/osbuild-vm/osbuild-vm/formats/deb822"
)

// syntheticIndex is a Packages file shaped like Debian's trixie main for
// one architecture (about 68 000 entries, 56 MB): the same fields, a
// Description of eight lines.
var syntheticIndex = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	sum := strings.Repeat("5a", 32)
	for i := 0; i < 68000; i++ {
		fmt.Fprintf(&b, "Package: package%d\nSource: source%d (1.2-3)\nVersion: 1.2-3+b%d\nInstalled-Size: %d\n", i, i/3, i%5, 100+i)
		fmt.Fprintf(&b, "Maintainer: Debian Maintainers <maint%d@lists.debian.org>\nArchitecture: arm64\n", i%100)
		fmt.Fprintf(&b, "Depends: libc6 (>= 2.38), libfoo%d (>= 1.0~rc1) | libbar, debconf (>= 0.5) | debconf-2.0\n", i%1000)
		if i%7 == 0 {
			fmt.Fprintf(&b, "Provides: virtual%d (= 1.0), other%d\nBreaks: old%d (<< 2)\n", i%50, i, i)
		}
		b.WriteString("Description: a package of the synthetic index\n")
		for l := 0; l < 8; l++ {
			b.WriteString(" This long description line is about as long as Debian's usually are.\n")
		}
		fmt.Fprintf(&b, "Multi-Arch: foreign\nHomepage: https://example.invalid/%d\nDescription-md5: %s\n", i, sum[:32])
		fmt.Fprintf(&b, "Section: utils\nPriority: optional\nFilename: pool/main/p/package%d/package%d_1.2-3_arm64.deb\n", i, i)
		fmt.Fprintf(&b, "Size: %d\nMD5sum: %s\nSHA256: %s\n\n", 1000+i, sum[:32], sum)
	}
	return b.Bytes()
})

// BenchmarkParsePackages reads a whole index into Packages, as a
// resolution does.
func BenchmarkParsePackages(b *testing.B) {
	data := syntheticIndex()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePackages(bytes.NewReader(data), nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParagraphs compares our deb822 reader with
// pault.ag/go/debian/control's ParagraphReader on the same index: only
// the paragraphs, nothing converted. (Ours is the one used: about twice
// as fast with half the allocations here, and strict where the library
// is lenient.)
func BenchmarkParagraphs(b *testing.B) {
	data := syntheticIndex()
	b.Run("deb822", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			rd := deb822.NewReader(bytes.NewReader(data))
			for {
				if _, err := rd.Next(); err != nil {
					if err != io.EOF {
						b.Fatal(err)
					}
					break
				}
			}
		}
	})
	b.Run("pault.ag-control", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			rd, err := control.NewParagraphReader(bytes.NewReader(data), nil)
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, err := rd.Next(); err != nil {
					if err != io.EOF {
						b.Fatal(err)
					}
					break
				}
			}
		}
	})
}
