package fsops

import (
	"fmt"
	"strconv"
	"strings"
)

// Mode is a parsed chmod(1) mode: octal, or symbolic clauses like
// "u+x,go-w", "a=rX", "g=u", "+t".
type Mode struct {
	octal   *uint32
	clauses []clause
}

type clause struct {
	who uint32 // mask of the affected bits (0: "all, but not the umask's")
	ops []modeOp
}

type modeOp struct {
	op    byte   // '+', '-', '='
	perm  string // letters from rwxXst
	copyF byte   // 'u', 'g', 'o' to copy that class's bits, else 0
}

const (
	whoU = 0o4700
	whoG = 0o2070
	whoO = 0o1007
	whoA = whoU | whoG | whoO
)

// ParseMode parses a chmod mode.
func ParseMode(s string) (Mode, error) {
	if s != "" && strings.Trim(s, "01234567") == "" {
		n, err := strconv.ParseUint(s, 8, 32)
		if err != nil || n > 0o7777 {
			return Mode{}, fmt.Errorf("mode %q: %w", s, ErrInvalidValue)
		}
		o := uint32(n)
		return Mode{octal: &o}, nil
	}
	var m Mode
	for _, part := range strings.Split(s, ",") {
		c, err := parseClause(part)
		if err != nil {
			return Mode{}, fmt.Errorf("mode %q: %w", s, err)
		}
		m.clauses = append(m.clauses, c)
	}
	return m, nil
}

func parseClause(s string) (clause, error) {
	var c clause
	i := 0
	for ; i < len(s) && strings.IndexByte("ugoa", s[i]) >= 0; i++ {
		c.who |= map[byte]uint32{'u': whoU, 'g': whoG, 'o': whoO, 'a': whoA}[s[i]]
	}
	rest := s[i:]
	if rest == "" {
		return c, ErrInvalidValue
	}
	for rest != "" {
		if strings.IndexByte("+-=", rest[0]) < 0 {
			return c, ErrInvalidValue
		}
		op := modeOp{op: rest[0]}
		rest = rest[1:]
		if rest != "" && strings.IndexByte("ugo", rest[0]) >= 0 {
			op.copyF, rest = rest[0], rest[1:]
		} else {
			j := 0
			for j < len(rest) && strings.IndexByte("rwxXst", rest[j]) >= 0 {
				j++
			}
			op.perm, rest = rest[:j], rest[j:]
		}
		c.ops = append(c.ops, op)
	}
	return c, nil
}

// Apply returns the new permission bits for a file with bits cur; umask
// limits clauses that name no class, as in chmod(1).
func (m Mode) Apply(cur uint32, isDir bool, umask uint32) uint32 {
	if m.octal != nil {
		return *m.octal
	}
	cur &= 0o7777
	for _, c := range m.clauses {
		who, mask := c.who, uint32(0o7777)
		if who == 0 {
			who, mask = whoA, ^umask&0o7777
		}
		for _, op := range c.ops {
			cur = op.apply(cur, who, mask, isDir)
		}
	}
	return cur
}

func (o modeOp) apply(cur, who, mask uint32, isDir bool) uint32 {
	bits := o.bits(cur, isDir) & who & mask
	switch o.op {
	case '+':
		return cur | bits
	case '-':
		return cur &^ bits
	}
	clear := who & mask
	if isDir {
		clear &^= 0o6000 // chmod keeps a directory's setuid/setgid on '='
	}
	return cur&^clear | bits
}

// bits expands the op's letters to all classes' bits; the who mask then
// picks the classes.
func (o modeOp) bits(cur uint32, isDir bool) uint32 {
	if o.copyF != 0 {
		shift := map[byte]uint{'u': 6, 'g': 3, 'o': 0}[o.copyF]
		b := (cur >> shift) & 7
		return b<<6 | b<<3 | b
	}
	var out uint32
	for _, l := range o.perm {
		switch l {
		case 'r':
			out |= 0o444
		case 'w':
			out |= 0o222
		case 'x':
			out |= 0o111
		case 'X':
			if isDir || cur&0o111 != 0 {
				out |= 0o111
			}
		case 's':
			out |= 0o6000
		case 't':
			out |= 0o1000
		}
	}
	return out
}
