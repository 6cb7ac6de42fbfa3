package engine

import (
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Pos is a place in a rules file. Line and Col are 1-based.
type Pos struct {
	File      string
	Line, Col int
}

// span maps bytes [start, end) of an mtext back to the file. A verbatim span was copied from one
// source line unchanged, so byte start+k sits at column Col+k; other spans (joins, substituted
// list items, generated exception text) all map to pos.
type span struct {
	start, end int
	pos        Pos
	verbatim   bool
}

// mtext is condition text that remembers where each byte came from, so that an error at an
// offset of the final condition (after appends, exceptions and list substitution) can still be
// reported at the line and column of the rules file that produced it.
type mtext struct {
	s     string
	spans []span
}

// lit makes text that maps entirely to pos.
func lit(s string, pos Pos) mtext {
	if s == "" {
		return mtext{}
	}
	return mtext{s: s, spans: []span{{0, len(s), pos, false}}}
}

// cat concatenates texts.
func cat(parts ...mtext) mtext {
	var out mtext
	var b strings.Builder
	for _, p := range parts {
		off := b.Len()
		b.WriteString(p.s)
		for _, sp := range p.spans {
			sp.start += off
			sp.end += off
			out.spans = append(out.spans, sp)
		}
	}
	out.s = b.String()
	return out
}

// replace substitutes bytes [start, end) by with; the new bytes map to where the old start was.
func (m mtext) replace(start, end int, with string) mtext {
	pos := m.locate(start)
	return cat(m.slice(0, start), lit(with, pos), m.slice(end, len(m.s)))
}

// slice returns bytes [start, end) with their origins.
func (m mtext) slice(start, end int) mtext {
	if start >= end {
		return mtext{}
	}
	out := mtext{s: m.s[start:end]}
	for _, sp := range m.spans {
		if sp.end <= start || sp.start >= end {
			continue
		}
		ns := sp
		if ns.start < start {
			if ns.verbatim {
				ns.pos.Col += start - ns.start
			}
			ns.start = start
		}
		if ns.end > end {
			ns.end = end
		}
		ns.start -= start
		ns.end -= start
		out.spans = append(out.spans, ns)
	}
	return out
}

// locate returns the file position of byte off (the end of the text maps to its last byte).
func (m mtext) locate(off int) Pos {
	if len(m.spans) == 0 {
		return Pos{}
	}
	past := 0
	if off >= len(m.s) {
		// The end of the text (an "unexpected end of input"): just after the last byte.
		off, past = len(m.s)-1, 1
	}
	if off < 0 {
		off = 0
	}
	i := sort.Search(len(m.spans), func(i int) bool { return m.spans[i].end > off })
	if i == len(m.spans) {
		i--
	}
	sp := m.spans[i]
	p := sp.pos
	if sp.verbatim && off >= sp.start {
		p.Col += off - sp.start + past
	}
	return p
}

// scalarText returns a scalar node's value with byte origins. For the scalar styles rules files
// use (plain, quoted on one line, literal and folded blocks) it rebuilds the value from the raw
// file lines; if the rebuild does not reproduce the value exactly (escapes, unusual folding) the
// whole value maps to the node's position, which is still the right line for most errors.
func scalarText(file string, lines []string, n *yaml.Node) mtext {
	npos := Pos{File: file, Line: n.Line, Col: n.Column}
	if m, ok := rebuildScalar(file, lines, n); ok && m.s == n.Value {
		return m
	}
	return lit(n.Value, npos)
}

func rebuildScalar(file string, lines []string, n *yaml.Node) (mtext, bool) {
	if n.Line < 1 || n.Line > len(lines) {
		return mtext{}, false
	}
	switch n.Style {
	case 0, yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		col := n.Column // 1-based column of the first byte of the value
		if n.Style != 0 {
			col++
		}
		first := lines[n.Line-1]
		if col-1 > len(first) {
			return mtext{}, false
		}
		if rest := first[col-1:]; len(rest) >= len(n.Value) && rest[:len(n.Value)] == n.Value {
			return verbatim(n.Value, Pos{file, n.Line, col}), true
		}
		if n.Style != 0 {
			return mtext{}, false
		}
		// A plain scalar folded over several lines: lines are trimmed and joined by one space.
		var parts []mtext
		total := 0
		line, c := n.Line, col
		for len(parts) == 0 || line <= len(lines) {
			raw := lines[line-1]
			if c-1 > len(raw) {
				return mtext{}, false
			}
			seg := raw[c-1:]
			lead := len(seg) - len(strings.TrimLeft(seg, " \t"))
			seg = strings.TrimRight(stripComment(seg[lead:]), " \t")
			if seg == "" {
				return mtext{}, false
			}
			if len(parts) > 0 {
				parts = append(parts, lit(" ", Pos{file, line, c + lead}))
				total++
			}
			parts = append(parts, verbatim(seg, Pos{file, line, c + lead}))
			total += len(seg)
			// Build the text once at the end: concatenating on every line would be quadratic
			// in the length of the scalar.
			if total >= len(n.Value) {
				return cat(parts...), true
			}
			line, c = line+1, 1
		}
		return mtext{}, false
	case yaml.LiteralStyle, yaml.FoldedStyle:
		return rebuildBlock(file, lines, n)
	}
	return mtext{}, false
}

func stripComment(s string) string {
	if i := strings.Index(s, " #"); i >= 0 {
		return s[:i]
	}
	return s
}

func verbatim(s string, p Pos) mtext {
	if s == "" {
		return mtext{}
	}
	return mtext{s: s, spans: []span{{0, len(s), p, true}}}
}

// rebuildBlock handles `|` and `>` scalars whose lines all share one indentation (how rules
// files write conditions); anything else falls back to the node position.
func rebuildBlock(file string, lines []string, n *yaml.Node) (mtext, bool) {
	indent := -1
	var parts []mtext
	pendingBlank := 0
	last := Pos{file, n.Line, n.Column}
	for ln := n.Line + 1; ln <= len(lines); ln++ {
		raw := lines[ln-1]
		trimmed := strings.TrimLeft(raw, " ")
		if strings.TrimSpace(raw) == "" {
			pendingBlank++
			continue
		}
		ind := len(raw) - len(trimmed)
		if indent < 0 {
			indent = ind
		}
		if ind < indent {
			break
		}
		if ind > indent {
			return mtext{}, false // more-indented lines fold differently
		}
		content := raw[indent:]
		if len(parts) > 0 {
			sep := " "
			if n.Style == yaml.LiteralStyle {
				sep = "\n"
			}
			if pendingBlank > 0 {
				sep = strings.Repeat("\n", pendingBlank)
				if n.Style == yaml.LiteralStyle {
					sep += "\n"
				}
			}
			parts = append(parts, lit(sep, last))
		}
		pendingBlank = 0
		parts = append(parts, verbatim(content, Pos{file, ln, indent + 1}))
		last = Pos{file, ln, len(raw) + 1}
	}
	if len(parts) == 0 {
		return mtext{}, false
	}
	body := cat(parts...)
	// Chomping: the value ends with one newline (clip), none (strip) or all (keep). Only the
	// suffix differs, so compare against the value's own ending.
	if strings.HasPrefix(n.Value, body.s) {
		rest := n.Value[len(body.s):]
		if strings.Trim(rest, "\n") == "" {
			return cat(body, lit(rest, last)), true
		}
	}
	return mtext{}, false
}
