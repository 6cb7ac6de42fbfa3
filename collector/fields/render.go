package fields

import (
	"strconv"
	"strings"

	"github.com/lannersec/lanner/collector/event"
)

// Rendering follows libsinsp's filtercheck tostring/tojson so that lanner's output strings and
// output_fields read exactly like Falco's:
//   - integers print in decimal, signed or unsigned by type (a UINT64 holding 2^64-1 prints as
//     such, not as -1), and are JSON numbers; RELTIME and ABSTIME are integer nanoseconds;
//   - DOUBLE prints with one decimal in text;
//   - BOOL is true/false in both forms;
//   - IPADDR prints dotted IPv4 or inet_ntop IPv6; IPNET prints the placeholder <IPNET> as
//     libsinsp does;
//   - strings are C strings in Falco: the value ends at the first NUL byte;
//   - byte buffers print printable ASCII and '.' for every other byte, at most 1023 bytes;
//   - list fields (IsList) print "(a,b,c)" in text and a JSON array;
//   - any-of fields (proc.aname with no argument) print their values separated by spaces, in
//     text and JSON alike, because Falco prints them as one string.
//
// Fields whose Falco rendering is special (evt.time, evt.res, fd.l4proto...) set Text/JSON.

// maxBufLen is the size of libsinsp's string-property storage, which bounds a rendered byte
// buffer (and list text) to 1023 bytes plus the NUL.
const maxBufLen = 1023

// Render returns the text of the field on e as an output string shows it, and false when the
// value is missing (the formatter prints <NA>).
func (x *Extractor) Render(e *event.Event) (string, bool) {
	if x.Text != nil {
		return x.Text(e)
	}
	return x.renderText(e)
}

// RenderJSON returns the field on e as a JSON value for output_fields: string, int64, uint64,
// float64, bool or []any. It returns false when the value is missing (JSON null).
func (x *Extractor) RenderJSON(e *event.Event) (any, bool) {
	if x.JSON != nil {
		return x.JSON(e)
	}
	return x.renderJSON(e)
}

func (x *Extractor) renderText(e *event.Event) (string, bool) {
	if x.List {
		elems, ok := x.listText(e)
		if !ok {
			return "", false
		}
		if x.AnyOf {
			return strings.Join(elems, " "), true
		}
		s := "(" + strings.Join(elems, ",") + ")"
		if len(s) > maxBufLen {
			s = s[:maxBufLen]
		}
		return s, true
	}
	switch x.Type.Kind() {
	case KindString:
		if x.Str == nil {
			return "", false
		}
		s, ok := x.Str(e)
		return cString(s), ok
	case KindNum:
		if x.Num == nil {
			return "", false
		}
		n, ok := x.Num(e)
		if !ok {
			return "", false
		}
		return FormatNum(x.Type, n), true
	case KindBool:
		if x.Bool == nil {
			return "", false
		}
		b, ok := x.Bool(e)
		if !ok {
			return "", false
		}
		return strconv.FormatBool(b), true
	case KindIP:
		if x.IP == nil {
			return "", false
		}
		a, ok := x.IP(e)
		if !ok {
			return "", false
		}
		if x.Type == TypeIPNet {
			return "<IPNET>", true
		}
		return a.String(), true
	case KindBytes:
		if x.Bytes == nil {
			return "", false
		}
		b, ok := x.Bytes(e)
		if !ok {
			return "", false
		}
		return PrintableBytes(b), true
	}
	return "", false
}

func (x *Extractor) renderJSON(e *event.Event) (any, bool) {
	if x.List {
		elems, ok := x.listText(e)
		if !ok {
			return nil, false
		}
		if x.AnyOf {
			return strings.Join(elems, " "), true
		}
		if len(elems) == 0 {
			// jsoncpp leaves a value with no appended element as null.
			return nil, false
		}
		out := make([]any, len(elems))
		for i, s := range elems {
			out[i] = s
		}
		return out, true
	}
	switch x.Type.Kind() {
	case KindNum:
		if x.Num == nil {
			return nil, false
		}
		n, ok := x.Num(e)
		if !ok {
			return nil, false
		}
		return NumJSON(x.Type, n), true
	case KindBool:
		if x.Bool == nil {
			return nil, false
		}
		b, ok := x.Bool(e)
		if !ok {
			return nil, false
		}
		return b, true
	}
	// Strings, paths, addresses and byte buffers are JSON strings of their text.
	s, ok := x.renderText(e)
	if !ok {
		return nil, false
	}
	return s, true
}

// listText returns the text of every element of a list field.
func (x *Extractor) listText(e *event.Event) ([]string, bool) {
	switch {
	case x.Strs != nil:
		v, ok := x.Strs(e, nil)
		if !ok {
			return nil, false
		}
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = cString(s)
		}
		return out, true
	case x.IPs != nil:
		v, ok := x.IPs(e, nil)
		if !ok {
			return nil, false
		}
		out := make([]string, len(v))
		for i, a := range v {
			if x.Type == TypeIPNet {
				out[i] = "<IPNET>"
			} else {
				out[i] = a.String()
			}
		}
		return out, true
	}
	return nil, false
}

// FormatNum prints an integer value of type t the way libsinsp does: signed types as signed
// decimal, unsigned types as unsigned decimal of their width, DOUBLE with one decimal.
func FormatNum(t Type, n int64) string {
	switch t {
	case TypeInt8:
		return strconv.FormatInt(int64(int8(n)), 10)
	case TypeInt16:
		return strconv.FormatInt(int64(int16(n)), 10)
	case TypeInt32:
		return strconv.FormatInt(int64(int32(n)), 10)
	case TypeUint8, TypeL4Proto:
		return strconv.FormatUint(uint64(uint8(n)), 10)
	case TypeUint16, TypePort:
		return strconv.FormatUint(uint64(uint16(n)), 10)
	case TypeUint32, TypeFlags32:
		return strconv.FormatUint(uint64(uint32(n)), 10)
	case TypeUint64, TypeRelTime, TypeAbsTime:
		return strconv.FormatUint(uint64(n), 10)
	case TypeDouble:
		return strconv.FormatFloat(float64(n), 'f', 1, 64)
	}
	// INT64, PID, FD, ERRNO and anything else stored as a signed 64-bit number.
	return strconv.FormatInt(n, 10)
}

// NumJSON returns the JSON number for an integer value of type t: int64 for signed types,
// uint64 for unsigned ones (so 2^64-1 stays exact), as libsinsp's rawval_to_json does with the
// decimal print format. DOUBLE in decimal print format is truncated to an integer there too.
func NumJSON(t Type, n int64) any {
	switch t {
	case TypeInt8:
		return int64(int8(n))
	case TypeInt16:
		return int64(int16(n))
	case TypeInt32:
		return int64(int32(n))
	case TypeUint8, TypeL4Proto:
		return uint64(uint8(n))
	case TypeUint16, TypePort:
		return uint64(uint16(n))
	case TypeUint32, TypeFlags32:
		return uint64(uint32(n))
	case TypeUint64, TypeRelTime, TypeAbsTime:
		return uint64(n)
	}
	return n
}

// PrintableBytes renders a byte buffer as libsinsp's normal print format does: printable ASCII
// as is, every other byte as '.', cut at 1023 bytes.
func PrintableBytes(b []byte) string {
	if len(b) > maxBufLen {
		b = b[:maxBufLen]
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 0x20 && c <= 0x7e {
			out[i] = c
		} else {
			out[i] = '.'
		}
	}
	return string(out)
}

// cString cuts s at its first NUL byte: Falco hands strings around as C strings, so nothing
// after a NUL ever reaches an output.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}
