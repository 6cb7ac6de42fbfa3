package alert

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lannersec/lanner/collector/engine/filter"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// notAvailable is what an output string shows for a missing value.
const notAvailable = "<NA>"

// FormatError is a rule output that does not compile. Offset is the byte offset in the format
// string (as the rule wrote it) where the bad token starts.
type FormatError struct {
	Offset int
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("invalid output format at offset %d: %s", e.Offset, e.Msg)
}

// Formatter is a compiled output format string (a rule's `output`). It is built once at rule
// load time and then used for every alert of the rule; it is safe for concurrent use because
// it only reads its tokens.
type Formatter struct {
	src    event.Source
	format string
	parts  []part
	// keys are the output_fields entries, in order of first appearance, without duplicates.
	keys []outputKey
}

// part is a literal (x == nil) or a field token with an optional width.
type part struct {
	lit   string
	x     *fields.Extractor
	width int
}

type outputKey struct {
	key string
	x   *fields.Extractor
}

// NewFormatter compiles format for events of src, resolving every %token through r. The rules
// follow Falco's sinsp_evt_formatter:
//
//   - a leading '*' is dropped (Falco always formats as if it were there: missing values print
//     <NA> and are null in output_fields);
//   - at each '%': an optional decimal width (%20proc.name pads or cuts the value to exactly 20
//     bytes), then the longest prefix of the rest that parses as a field or a transformer AND
//     resolves for the source: `(%proc.name)` stops at ')', `%proc.aname[2]` takes its
//     argument, `%evt.arg.flags` is the dotted key form, `%tolower(proc.name)` is a transformer;
//   - '%' at the end, digits at the end, or a '%' followed by no valid field is an error; there
//     is no "%%" escape;
//   - fields flagged FilterOnly cannot be printed.
//
// On syscall outputs the deprecated %container.info is replaced by nothing, as Falco does.
func NewFormatter(format string, src event.Source, r *fields.Registry) (*Formatter, error) {
	if r == nil {
		return nil, errors.New("output format: no field registry")
	}
	f := &Formatter{src: src, format: format}
	offset := 0
	lfmt := format
	if strings.HasPrefix(lfmt, "*") {
		lfmt, offset = lfmt[1:], 1
	}
	if src == event.SourceSyscall && strings.Contains(lfmt, "%container.info") {
		if _, ok := r.Lookup(src, "container.info"); !ok {
			// Offsets after the removal shift; errors in such outputs are rare enough that an
			// approximate offset is acceptable.
			lfmt = strings.ReplaceAll(lfmt, "%container.info", "")
		}
	}
	seen := map[string]bool{}
	litStart := 0
	for j := 0; j < len(lfmt); j++ {
		if lfmt[j] != '%' {
			continue
		}
		if j > litStart {
			f.parts = append(f.parts, part{lit: lfmt[litStart:j]})
		}
		tokStart := j
		if j == len(lfmt)-1 {
			return nil, &FormatError{Offset: offset + j, Msg: "formatting cannot end with a %"}
		}
		k := j + 1
		width := 0
		for k < len(lfmt) && lfmt[k] >= '0' && lfmt[k] <= '9' {
			if width < 1<<20 {
				width = width*10 + int(lfmt[k]-'0')
			}
			k++
		}
		if k == len(lfmt) {
			return nil, &FormatError{Offset: offset + tokStart, Msg: "formatting cannot end with a number"}
		}
		tok, n, err := compileToken(lfmt[k:], src, r)
		if err != nil {
			return nil, &FormatError{Offset: offset + tokStart, Msg: err.Error()}
		}
		f.parts = append(f.parts, part{x: tok.x, width: width})
		for _, ok := range tok.keys {
			if !seen[ok.key] {
				seen[ok.key] = true
				f.keys = append(f.keys, ok)
			}
		}
		j = k + n - 1
		litStart = j + 1
	}
	if litStart < len(lfmt) {
		f.parts = append(f.parts, part{lit: lfmt[litStart:]})
	}
	return f, nil
}

// String returns the format as written.
func (f *Formatter) String() string { return f.format }

// Source returns the source the format was compiled for.
func (f *Formatter) Source() event.Source { return f.src }

// Fields returns the output_fields keys the format produces, in order of first appearance.
func (f *Formatter) Fields() []string {
	out := make([]string, len(f.keys))
	for i, k := range f.keys {
		out[i] = k.key
	}
	return out
}

// Format renders the format for e: the output text and the output_fields map (key = token as
// written, typed JSON value, nil when missing).
//
// The text is passed through a JSON string escaper with the quotes left off, as Falco does with
// its text output, so a value cannot inject a line break or a terminal control sequence.
func (f *Formatter) Format(e *event.Event) (string, map[string]any) {
	text := string(f.AppendText(make([]byte, 0, 256), e))
	m := make(map[string]any, len(f.keys))
	f.AddFields(m, e)
	return text, m
}

// AppendText appends the escaped output text for e to dst.
func (f *Formatter) AppendText(dst []byte, e *event.Event) []byte {
	var raw [512]byte
	return appendEscaped(dst, f.appendRaw(raw[:0], e))
}

// appendRaw appends the text before escaping.
func (f *Formatter) appendRaw(dst []byte, e *event.Event) []byte {
	for i := range f.parts {
		p := &f.parts[i]
		if p.x == nil {
			dst = append(dst, p.lit...)
			continue
		}
		s, ok := p.x.Render(e)
		if !ok {
			s = notAvailable
		}
		if p.width == 0 {
			dst = append(dst, s...)
			continue
		}
		// std::string::resize: cut to width bytes or pad with spaces.
		if len(s) >= p.width {
			dst = append(dst, s[:p.width]...)
		} else {
			dst = append(dst, s...)
			for n := len(s); n < p.width; n++ {
				dst = append(dst, ' ')
			}
		}
	}
	return dst
}

// AddFields stores the output_fields values for e into m.
func (f *Formatter) AddFields(m map[string]any, e *event.Event) {
	for _, k := range f.keys {
		v, ok := k.x.RenderJSON(e)
		if !ok {
			v = nil
		}
		m[k.key] = v
	}
}

// compiledToken is one %token: the extractor that prints it, and the output_fields entries it
// adds (the token itself and, for a transformer, the plain field inside).
type compiledToken struct {
	x    *fields.Extractor
	keys []outputKey
}

// compileToken finds the longest prefix of s that parses as a field or transformer (with the
// condition parser's rules, filter.ParseFieldExpr) and resolves, shrinking one byte at a time as
// libsinsp does; n is the length consumed.
func compileToken(s string, src event.Source, r *fields.Registry) (compiledToken, int, error) {
	// Falco reports the error of the last (shortest) attempt, which is usually "expected a
	// field" about one letter; the first resolution error ("unknown field proc.nme") is what
	// the rule author needs, so that one is kept.
	var firstResolveErr, lastErr error
	for size := len(s); size > 0; {
		expr, n, err := filter.ParseFieldExpr(s[:size])
		if err == nil {
			var tok compiledToken
			tok, err = resolveExpr(expr, src, r)
			if err == nil {
				return tok, n, nil
			}
			if firstResolveErr == nil {
				firstResolveErr = err
			}
			// Every prefix at least n long parses to the same expression; skip them.
			size = n
		}
		lastErr = err
		size--
	}
	if firstResolveErr != nil {
		lastErr = firstResolveErr
	}
	if lastErr == nil {
		lastErr = errors.New("empty field")
	}
	return compiledToken{}, 0, fmt.Errorf("unknown filter: %w", lastErr)
}

// tokenKey is the token's canonical text, the key Falco uses in output_fields: the argument as
// it was after unquoting, between brackets.
func tokenKey(x *filter.FieldExpr) string {
	if x.Transformer != "" {
		return x.Transformer + "(" + tokenKey(x.Inner) + ")"
	}
	if x.HasArg {
		return x.Name + "[" + x.Arg + "]"
	}
	return x.Name
}

func resolveExpr(x *filter.FieldExpr, src event.Source, r *fields.Registry) (compiledToken, error) {
	if x.Transformer == "" {
		ex, err := r.Resolve(src, x.Name, x.Arg, x.HasArg)
		if err != nil {
			return compiledToken{}, err
		}
		if ex.Field != nil && ex.Field.Has(fields.FilterOnly) {
			return compiledToken{}, fmt.Errorf("%s is filter only and cannot be used as a display field", tokenKey(x))
		}
		return compiledToken{x: ex, keys: []outputKey{{key: tokenKey(x), x: ex}}}, nil
	}
	inner, err := resolveExpr(x.Inner, src, r)
	if err != nil {
		return compiledToken{}, err
	}
	ex, err := transform(x.Transformer, inner.x)
	if err != nil {
		return compiledToken{}, err
	}
	ex.Name = tokenKey(x)
	// Falco lists the plain fields inside a transformer, then the outermost transformer
	// itself (a nested transformer replaces the one it wraps).
	keys := inner.keys
	if x.Inner.Transformer != "" {
		keys = keys[:len(keys)-1]
	}
	keys = append(keys[:len(keys):len(keys)], outputKey{key: tokenKey(x), x: ex})
	return compiledToken{x: ex, keys: keys}, nil
}
