package manifest

import (
	"regexp"
	"strings"
)

// Checkpoints returns the IDs of the stages to commit to the store for
// --checkpoint patterns, as osbuild's Manifest.mark_checkpoints: each
// pattern is a shell-style pattern (Python fnmatch: * and ? match any
// character including "/", [seq], [!seq]) matched against pipeline names
// (selecting the pipeline's last stage), stage IDs and stage types.
// Pipelines without stages are skipped. Like osbuild, it fails
// (ErrNoCheckpoint) only when no pattern matched anything.
func (m *Manifest) Checkpoints(patterns []string) (map[string]bool, error) {
	res := make([]*regexp.Regexp, 0, len(patterns))
	for _, p := range patterns {
		res = append(res, fnmatchRegexp(p))
	}
	match := func(s string) bool {
		for _, re := range res {
			if re.MatchString(s) {
				return true
			}
		}
		return false
	}
	ids := map[string]bool{}
	for _, p := range m.Pipelines {
		if len(p.Stages) == 0 {
			continue
		}
		if match(p.Name) {
			ids[p.ID] = true
		}
		for _, s := range p.Stages {
			if match(s.ID) || match(s.Type) {
				ids[s.ID] = true
			}
		}
	}
	if len(ids) == 0 && len(patterns) > 0 {
		return nil, &Error{Path: ".", Kind: ErrNoCheckpoint,
			Msg:  "no checkpoints matched " + strings.Join(patterns, ", "),
			Hint: "a checkpoint pattern matches pipeline names, stage IDs or stage types"}
	}
	return ids, nil
}

// fnmatchRegexp translates a pattern as Python's fnmatch.translate does.
func fnmatchRegexp(pat string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for i := 0; i < len(pat); {
		c := pat[i]
		i++
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			class, next, ok := bracket(pat, i)
			if !ok {
				b.WriteString(`\[`)
				continue
			}
			b.WriteString(class)
			i = next
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`\z`)
	re, err := regexp.Compile(b.String())
	if err != nil { // e.g. a reversed range [z-a]: match the text literally
		return regexp.MustCompile(`\A` + regexp.QuoteMeta(pat) + `\z`)
	}
	return re
}

// bracket translates the [seq] starting after the '[' at i; ok is false
// when there is no closing ']' (then '[' is a literal).
func bracket(pat string, i int) (string, int, bool) {
	j := i
	if j < len(pat) && pat[j] == '!' {
		j++
	}
	if j < len(pat) && pat[j] == ']' {
		j++
	}
	for j < len(pat) && pat[j] != ']' {
		j++
	}
	if j >= len(pat) {
		return "", i, false
	}
	body := pat[i:j]
	neg := strings.HasPrefix(body, "!")
	body = strings.TrimPrefix(body, "!")
	var b strings.Builder
	b.WriteByte('[')
	if neg {
		b.WriteByte('^')
	}
	for _, r := range body {
		if r == '-' {
			b.WriteRune(r)
			continue
		}
		b.WriteString(regexp.QuoteMeta(string(r)))
	}
	b.WriteByte(']')
	if body == "" {
		return "", i, false
	}
	return b.String(), j + 1, true
}
