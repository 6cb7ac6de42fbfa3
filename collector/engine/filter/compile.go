package filter

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unsafe"

	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// Resolver turns a field reference of a condition into an extractor. The rules loader passes the
// field registry narrowed to the rule's source.
type Resolver interface {
	Resolve(name, arg string, hasArg bool) (*fields.Extractor, error)
}

// Matcher reports whether an event satisfies a compiled condition.
//
// A Matcher keeps scratch buffers (for list-valued fields and transformers) in its closure so
// that evaluating it allocates nothing; in exchange it must be used by one goroutine at a time.
// The engine evaluates each source on one goroutine, which is the natural owner.
type Matcher func(*event.Event) bool

// Warning is something legal but probably wrong in a condition. Code is Falco's load-result
// warning code.
type Warning struct {
	Pos  Pos
	Code string
	Msg  string
}

// String returns the warning's message.
func (w Warning) String() string { return w.Msg }

// CompileError is a condition that parses but cannot be compiled: unknown field, operator the
// field's type does not support, value that does not parse for the type. Err, when set, is the
// underlying error (errors.Is(err, fields.ErrUnknownField) finds unknown fields).
type CompileError struct {
	Pos Pos
	Msg string
	Err error
}

// Error returns the message, which names the field, operator or value at fault.
func (e *CompileError) Error() string { return e.Msg }

// Unwrap returns the underlying error.
func (e *CompileError) Unwrap() error { return e.Err }

// Compile turns a condition whose macros are resolved into a Matcher. Every field is resolved
// once here; evaluation only calls typed extractors and precomputed comparisons.
func Compile(n Node, r Resolver) (Matcher, []Warning, error) {
	if n == nil {
		return nil, nil, errors.New("compile: nil condition")
	}
	c := &compiler{r: r}
	m, err := c.node(n)
	if err != nil {
		return nil, c.warnings, err
	}
	return m, c.warnings, nil
}

type compiler struct {
	r        Resolver
	warnings []Warning
}

func (c *compiler) warn(pos Pos, code, format string, args ...any) {
	c.warnings = append(c.warnings, Warning{Pos: pos, Code: code, Msg: fmt.Sprintf(format, args...)})
}

func errAt(pos Pos, err error, format string, args ...any) *CompileError {
	return &CompileError{Pos: pos, Msg: fmt.Sprintf(format, args...), Err: err}
}

func (c *compiler) node(n Node) (Matcher, error) {
	switch n := n.(type) {
	case *And:
		ms, err := c.all(n.Children)
		if err != nil {
			return nil, err
		}
		return andOf(ms), nil
	case *Or:
		ms, err := c.all(n.Children)
		if err != nil {
			return nil, err
		}
		return orOf(ms), nil
	case *Not:
		m, err := c.node(n.Child)
		if err != nil {
			return nil, err
		}
		return func(e *event.Event) bool { return !m(e) }, nil
	case *Ident:
		return nil, errAt(n.Pos, &MacroError{Name: n.Name, Pos: n.Pos}, "Undefined macro '%s' used in filter.", n.Name)
	case *Check:
		return c.check(n)
	}
	return nil, fmt.Errorf("compile: unexpected node %T", n)
}

func (c *compiler) all(ns []Node) ([]Matcher, error) {
	ms := make([]Matcher, len(ns))
	for i, n := range ns {
		m, err := c.node(n)
		if err != nil {
			return nil, err
		}
		ms[i] = m
	}
	return ms, nil
}

// andOf and orOf specialise the common small arities: a loop over a slice of closures costs a
// bounds check and an indirect call per child, two direct captures are cheaper.
func andOf(ms []Matcher) Matcher {
	switch len(ms) {
	case 1:
		return ms[0]
	case 2:
		a, b := ms[0], ms[1]
		return func(e *event.Event) bool { return a(e) && b(e) }
	case 3:
		a, b, d := ms[0], ms[1], ms[2]
		return func(e *event.Event) bool { return a(e) && b(e) && d(e) }
	}
	return func(e *event.Event) bool {
		for _, m := range ms {
			if !m(e) {
				return false
			}
		}
		return true
	}
}

func orOf(ms []Matcher) Matcher {
	switch len(ms) {
	case 1:
		return ms[0]
	case 2:
		a, b := ms[0], ms[1]
		return func(e *event.Event) bool { return a(e) || b(e) }
	case 3:
		a, b, d := ms[0], ms[1], ms[2]
		return func(e *event.Event) bool { return a(e) || b(e) || d(e) }
	}
	return func(e *event.Event) bool {
		for _, m := range ms {
			if m(e) {
				return true
			}
		}
		return false
	}
}

// op is an operator code, so evaluation switches on a small integer.
type op uint8

const (
	opInvalid op = iota
	opExists
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opContains
	opIContains
	opBContains
	opStartsWith
	opBStartsWith
	opEndsWith
	opGlob
	opIGlob
	opRegex
	opIn
	opIntersects
	opPMatch
)

var opByName = map[string]op{
	"exists": opExists, "=": opEq, "==": opEq, "!=": opNe, "<": opLt, "<=": opLe, ">": opGt, ">=": opGe,
	"contains": opContains, "icontains": opIContains, "bcontains": opBContains, "startswith": opStartsWith,
	"bstartswith": opBStartsWith, "endswith": opEndsWith, "glob": opGlob, "iglob": opIGlob, "regex": opRegex,
	"in": opIn, "intersects": opIntersects, "pmatch": opPMatch,
}

func (o op) isList() bool { return o == opIn || o == opIntersects || o == opPMatch }

// comparable is libsinsp's flt_is_comparable: which operators a field type supports.
func comparable(t fields.Type, list bool, o op) bool {
	if o == opExists {
		return true
	}
	if list {
		return o == opIn || o == opIntersects
	}
	switch t.Kind() {
	case fields.KindNum:
		return o == opEq || o == opNe || o == opLt || o == opLe || o == opGt || o == opGe || o == opIn || o == opIntersects
	case fields.KindBool, fields.KindIP:
		return o == opEq || o == opNe || o == opIn || o == opIntersects
	case fields.KindString:
		return o != opBContains && o != opBStartsWith
	case fields.KindBytes:
		switch o {
		case opEq, opNe, opContains, opIn, opStartsWith, opEndsWith, opIntersects, opBContains, opBStartsWith:
			return true
		}
	}
	return false
}

// operand is a field, possibly transformed, ready to be read. Exactly one reader is set, chosen
// by the type's kind and whether the operand has several values.
type operand struct {
	name  string // as written, for messages
	base  *fields.Extractor
	typ   fields.Type
	multi bool // List or AnyOf: values come from strs, ips or nums
	anyOf bool
	// neAll makes != on an any-of field hold only when every value differs (fd.ip, fd.net,
	// fd.port): Falco compares both ends of the connection and wants neither to match.
	neAll bool

	str   func(*event.Event) (string, bool)
	num   func(*event.Event) (int64, bool)
	boolv func(*event.Event) (bool, bool)
	ip    func(*event.Event) (netip.Addr, bool)
	bytes func(*event.Event) ([]byte, bool)
	strs  func(*event.Event, []string) ([]string, bool)
	ips   func(*event.Event, []netip.Addr) ([]netip.Addr, bool)
	nums  func(*event.Event, []int64) ([]int64, bool)
}

func fieldText(f *FieldExpr) string {
	var b strings.Builder
	writeField(&b, f)
	return b.String()
}

func (c *compiler) operand(f *FieldExpr, rhs bool) (*operand, error) {
	if f.Transformer == "" {
		x, err := c.r.Resolve(f.Name, f.Arg, f.HasArg)
		if err != nil {
			return nil, errAt(f.Pos, err, "%v", err)
		}
		if x.Field != nil && x.Field.Has(fields.Deprecated) {
			c.warn(f.Pos, "LOAD_DEPRECATED_ITEM", "field %s is deprecated", x.Name)
		}
		o := &operand{
			name: fieldText(f), base: x, typ: x.Type, multi: x.List || x.AnyOf, anyOf: x.AnyOf, neAll: x.AnyOf && x.NotEqualAll,
			str: x.Str, num: x.Num, boolv: x.Bool, ip: x.IP, bytes: x.Bytes, strs: x.Strs, ips: x.IPs, nums: x.Nums,
		}
		if o.multi && o.strs == nil && o.ips == nil && o.nums == nil || !o.multi && o.str == nil && o.num == nil && o.boolv == nil && o.ip == nil && o.bytes == nil {
			return nil, errAt(f.Pos, nil, "field %s has no extractor for its type %s", o.name, o.typ)
		}
		return o, nil
	}
	if f.Transformer == TransformerVal {
		if !rhs {
			return nil, errAt(f.Pos, nil, "val() can only be used on the right-hand side of an operator")
		}
		return c.operand(f.Inner, rhs)
	}
	in, err := c.operand(f.Inner, rhs)
	if err != nil {
		return nil, err
	}
	return c.transform(f, in)
}

func isStringType(t fields.Type) bool {
	return t == fields.TypeCharBuf || t == fields.TypeFSPath || t == fields.TypeFSRelPath
}

func (c *compiler) transform(f *FieldExpr, in *operand) (*operand, error) {
	if in.base != nil && in.base.Field != nil && in.base.Field.Has(fields.NoTransformer) {
		return nil, errAt(f.Pos, nil, "can't add field transformer: field %s does not support transformers", in.name)
	}
	unsupported := func() error {
		return errAt(f.Pos, nil, "can't add field transformer: type %s of %s is not supported by '%s'", in.typ, in.name, f.Transformer)
	}
	out := *in
	out.name = fieldText(f)
	switch f.Transformer {
	case TransformerToLower, TransformerToUpper, TransformerBasename:
		if !isStringType(in.typ) || in.strs == nil && in.str == nil {
			return nil, unsupported()
		}
		var fn strFunc
		switch f.Transformer {
		case TransformerToLower:
			fn = func(s string, buf []byte) (string, []byte, bool) { r, b := mapASCII(s, buf, lower); return r, b, true }
		case TransformerToUpper:
			fn = func(s string, buf []byte) (string, []byte, bool) { r, b := mapASCII(s, buf, upper); return r, b, true }
		default:
			fn = func(s string, buf []byte) (string, []byte, bool) {
				return s[strings.LastIndexByte(s, '/')+1:], buf, true
			}
		}
		out.str, out.strs = mapStr(in, fn)
	case TransformerB64:
		switch {
		case in.typ == fields.TypeCharBuf && (in.str != nil || in.strs != nil):
			// A value that is not valid base64 is a missing value.
			out.str, out.strs = mapStr(in, func(s string, buf []byte) (string, []byte, bool) {
				b, ok := b64decode(s, buf[:0])
				if !ok {
					return "", buf, false
				}
				return unsafeString(b), b, true
			})
		case in.typ == fields.TypeByteBuf && in.bytes != nil:
			src := in.bytes
			var buf []byte
			out.bytes = func(e *event.Event) ([]byte, bool) {
				v, ok := src(e)
				if !ok {
					return nil, false
				}
				b, ok := b64decode(unsafeString(v), buf[:0])
				if !ok {
					return nil, false
				}
				buf = b
				return b, true
			}
		default:
			return nil, unsupported()
		}
	case TransformerLen:
		out = operand{name: out.name, base: in.base, typ: fields.TypeUint64}
		switch {
		case in.multi && in.strs != nil:
			out.num = listLen(in.strs)
		case in.multi && in.ips != nil:
			out.num = listLen(in.ips)
		case in.multi && in.nums != nil:
			out.num = listLen(in.nums)
		case isStringType(in.typ) && in.str != nil:
			src := in.str
			out.num = func(e *event.Event) (int64, bool) {
				v, ok := src(e)
				if i := strings.IndexByte(v, 0); i >= 0 {
					v = v[:i] // strnlen
				}
				return int64(len(v)), ok
			}
		case in.typ == fields.TypeByteBuf && in.bytes != nil:
			src := in.bytes
			out.num = func(e *event.Event) (int64, bool) {
				v, ok := src(e)
				return int64(len(v)), ok
			}
		default:
			return nil, unsupported()
		}
	default:
		return nil, errAt(f.Pos, nil, "unknown field transformer '%s'", f.Transformer)
	}
	return &out, nil
}

// unsafeString views b as a string without copying. The transformers use it on their own
// scratch buffers: the string is only read by the comparison that asked for it, before the next
// evaluation of the same matcher rewrites the buffer.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func mapASCII(s string, buf []byte, f func(byte) byte) (string, []byte) {
	changed := false
	for i := 0; i < len(s); i++ {
		if f(s[i]) != s[i] {
			changed = true
			break
		}
	}
	if !changed {
		return s, buf
	}
	buf = append(buf[:0], s...)
	for i := range buf {
		buf[i] = f(buf[i])
	}
	return unsafeString(buf), buf
}

func b64decode(s string, buf []byte) ([]byte, bool) {
	s = strings.TrimRight(s, "=")
	n := base64.RawStdEncoding.DecodedLen(len(s))
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	m, err := base64.RawStdEncoding.Decode(buf, unsafe.Slice(unsafe.StringData(s), len(s)))
	if err != nil {
		return nil, false
	}
	return buf[:m], true
}

// strFunc maps a string using (and returning) a scratch buffer; ok=false makes the value missing.
type strFunc func(s string, buf []byte) (string, []byte, bool)

// mapStr applies a string function to a scalar or multi-valued string operand.
func mapStr(in *operand, fn strFunc) (func(*event.Event) (string, bool), func(*event.Event, []string) ([]string, bool)) {
	if in.str != nil {
		src := in.str
		var buf []byte
		return func(e *event.Event) (string, bool) {
			v, ok := src(e)
			if !ok {
				return "", false
			}
			r, b, ok := fn(v, buf)
			buf = b
			return r, ok
		}, nil
	}
	src := in.strs
	var tmp []string
	return nil, func(e *event.Event, dst []string) ([]string, bool) {
		vals, ok := src(e, tmp[:0])
		tmp = vals
		if !ok {
			return dst, false
		}
		for _, v := range vals {
			// Each element needs its own storage: the results live side by side.
			r, _, ok := fn(v, nil)
			if !ok {
				continue
			}
			dst = append(dst, strings.Clone(r))
		}
		return dst, true
	}
}

func (c *compiler) check(n *Check) (Matcher, error) {
	o, ok := opByName[n.Op]
	if !ok {
		return nil, errAt(n.Pos, nil, "unknown operator '%s'", n.Op)
	}
	lhs, err := c.operand(n.Field, false)
	if err != nil {
		return nil, err
	}
	listField := lhs.multi && !lhs.anyOf
	if !comparable(lhs.typ, listField, o) {
		what := fmt.Sprintf("type %s", lhs.typ)
		if listField {
			what = fmt.Sprintf("list type %s", lhs.typ)
		}
		return nil, errAt(n.Pos, nil, "operator '%s' is not supported by field %s of %s", n.Op, lhs.name, what)
	}
	if o == opExists {
		return existsMatcher(lhs), nil
	}
	if n.Value == nil {
		return nil, errAt(n.Pos, nil, "operator '%s' needs a value", n.Op)
	}
	if n.Value.Kind == ValueField {
		if n.Mod != "" {
			return nil, errAt(n.Value.Pos, nil, "modifier '%s' needs a list of values", n.Mod)
		}
		return c.fieldCheck(n, o, lhs)
	}
	vals := []string{n.Value.Str}
	if n.Value.Kind == ValueList {
		vals = n.Value.List
	}
	c.lintValues(n, lhs, o, vals)
	if n.Mod != "" {
		return c.modCheck(n, o, lhs, vals)
	}
	p, err := c.pred(n, o, lhs, vals)
	if err != nil {
		return nil, err
	}
	return p.matcher(lhs, o), nil
}

// modCheck compiles `op oneof|anyof|allof (r1, r2...)`: the check `op ri` is evaluated for each
// item and the modifier counts how many hold (exactly one, at least one, all). An empty list is
// false.
func (c *compiler) modCheck(n *Check, o op, lhs *operand, vals []string) (Matcher, error) {
	if o.isList() || o == opExists {
		return nil, errAt(n.Pos, nil, "modifier '%s' needs a string operator, not '%s'", n.Mod, n.Op)
	}
	ms := make([]Matcher, len(vals))
	for i, v := range vals {
		p, err := c.pred(n, o, lhs, []string{v})
		if err != nil {
			return nil, err
		}
		ms[i] = p.matcher(lhs, o)
	}
	if len(ms) == 0 {
		return func(*event.Event) bool { return false }, nil
	}
	switch n.Mod {
	case "anyof":
		return orOf(ms), nil
	case "allof":
		return andOf(ms), nil
	case "oneof":
		return func(e *event.Event) bool {
			k := 0
			for _, m := range ms {
				if m(e) {
					if k++; k > 1 {
						return false
					}
				}
			}
			return k == 1
		}, nil
	}
	return nil, errAt(n.Pos, nil, "unknown operator modifier '%s'", n.Mod)
}

func existsMatcher(lhs *operand) Matcher {
	switch {
	case lhs.strs != nil:
		return listExists(lhs.strs)
	case lhs.ips != nil:
		return listExists(lhs.ips)
	case lhs.nums != nil:
		return listExists(lhs.nums)
	case lhs.str != nil:
		src := lhs.str
		return func(e *event.Event) bool { _, ok := src(e); return ok }
	case lhs.num != nil:
		src := lhs.num
		return func(e *event.Event) bool { _, ok := src(e); return ok }
	case lhs.boolv != nil:
		src := lhs.boolv
		return func(e *event.Event) bool { _, ok := src(e); return ok }
	case lhs.ip != nil:
		src := lhs.ip
		return func(e *event.Event) bool { _, ok := src(e); return ok }
	default:
		src := lhs.bytes
		return func(e *event.Event) bool { _, ok := src(e); return ok }
	}
}

// lintValues emits Falco's warnings about constant values.
func (c *compiler) lintValues(n *Check, lhs *operand, o op, vals []string) {
	name := lhs.name
	if (strings.HasPrefix(name, "ka.") || strings.HasPrefix(name, "jevt.")) && (o == opEq || o == opNe || o == opIn || o == opIntersects) {
		for _, v := range vals {
			if v == "<NA>" {
				c.warn(n.Pos, "LOAD_UNSAFE_NA_CHECK", "comparing %s with '<NA>' is unsafe: a missing value makes every comparison false; use 'exists' or 'not %s exists'", name, name)
				break
			}
		}
	}
	if lhs.typ.Kind() != fields.KindString {
		return
	}
	for _, v := range vals {
		if l := scanFieldName(v); l > 0 && l == len(v) {
			if _, err := c.r.Resolve(v, "", false); err == nil {
				c.warn(n.Value.Pos, "LOAD_COMPILE_CONDITION", "string '%s' may be a valid field misused as a const string value (use val(%s) to compare with the field)", v, v)
			}
		}
	}
	if o == opRegex && len(vals) == 1 {
		if alt, lit := simpleRegex(vals[0]); alt != "" {
			c.warn(n.Value.Pos, "LOAD_COMPILE_CONDITION", "regex '%s' can be written '%s %s', which is faster and means the same", vals[0], alt, lit)
		}
	}
}

// simpleRegex reports the plain operator an anchored regex is equivalent to: a literal is `=`,
// `lit.*` startswith, `.*lit` endswith, `.*lit.*` contains. It returns "" when there is none.
func simpleRegex(re string) (op, lit string) {
	pre := strings.HasPrefix(re, ".*")
	if pre {
		re = re[2:]
	}
	suf := strings.HasSuffix(re, ".*") && !strings.HasSuffix(re, `\.*`)
	if suf {
		re = re[:len(re)-2]
	}
	if re == "" || regexp.QuoteMeta(re) != re {
		return "", ""
	}
	switch {
	case pre && suf:
		return "contains", re
	case pre:
		return "endswith", re
	case suf:
		return "startswith", re
	}
	return "=", re
}

// pred is a compiled constant comparison for one kind of value. Exactly one function is set.
type pred struct {
	str   func(string) bool
	num   func(int64) bool
	boolv func(bool) bool
	ip    func(netip.Addr) bool
	bytes func([]byte) bool
}

func (c *compiler) pred(n *Check, o op, lhs *operand, vals []string) (pred, error) {
	bad := func(v string, err error) error {
		return errAt(n.Value.Pos, err, "invalid value '%s' for field %s of type %s: %v", v, lhs.name, lhs.typ, err)
	}
	if lhs.typ != fields.TypeByteBuf {
		for _, v := range vals {
			if strings.IndexByte(v, 0) >= 0 {
				return pred{}, errAt(n.Value.Pos, nil, "value for field %s contains a NUL byte", lhs.name)
			}
		}
	}
	switch lhs.typ.Kind() {
	case fields.KindString:
		p, err := strPred(o, vals)
		if err != nil {
			return pred{}, errAt(n.Value.Pos, err, "invalid regex '%s' for field %s: %v", vals[0], lhs.name, err)
		}
		return pred{str: p}, nil
	case fields.KindNum:
		nums := make([]int64, len(vals))
		for i, v := range vals {
			x, err := parseNum(lhs.typ, v)
			if err != nil {
				return pred{}, bad(v, err)
			}
			nums[i] = x
		}
		return pred{num: numPred(o, nums)}, nil
	case fields.KindBool:
		var set [2]bool
		var one bool
		for i, v := range vals {
			switch v {
			case "true":
				set[1] = true
			case "false":
				set[0] = true
			default:
				return pred{}, bad(v, errors.New("a boolean is true or false"))
			}
			if i == 0 {
				one = v == "true"
			}
		}
		switch o {
		case opEq:
			return pred{boolv: func(b bool) bool { return b == one }}, nil
		case opNe:
			return pred{boolv: func(b bool) bool { return b != one }}, nil
		}
		return pred{boolv: func(b bool) bool {
			if b {
				return set[1]
			}
			return set[0]
		}}, nil
	case fields.KindIP:
		if lhs.typ == fields.TypeIPNet {
			nets := make([]netip.Prefix, len(vals))
			for i, v := range vals {
				if !strings.Contains(v, "/") {
					return pred{}, bad(v, errors.New("a network is written as a CIDR like 10.0.0.0/8"))
				}
				p, err := netip.ParsePrefix(v)
				if err != nil {
					return pred{}, bad(v, err)
				}
				nets[i] = unmapPrefix(p).Masked()
			}
			in := func(a netip.Addr) bool {
				a = a.Unmap()
				for _, p := range nets {
					if p.Contains(a) {
						return true
					}
				}
				return false
			}
			if o == opNe {
				return pred{ip: func(a netip.Addr) bool { return !in(a) }}, nil
			}
			return pred{ip: in}, nil
		}
		addrs := make([]netip.Addr, len(vals))
		for i, v := range vals {
			a, err := netip.ParseAddr(v)
			if err != nil {
				return pred{}, bad(v, err)
			}
			addrs[i] = a.Unmap()
		}
		if o == opNe && len(addrs) == 1 {
			one := addrs[0]
			return pred{ip: func(a netip.Addr) bool { return a.Unmap() != one }}, nil
		}
		return pred{ip: func(a netip.Addr) bool {
			a = a.Unmap()
			for _, x := range addrs {
				if x == a {
					return true
				}
			}
			return false
		}}, nil
	case fields.KindBytes:
		bvals := make([][]byte, len(vals))
		for i, v := range vals {
			if o == opBContains || o == opBStartsWith {
				b, err := hex.DecodeString(v)
				if err != nil {
					return pred{}, bad(v, fmt.Errorf("'%s' takes a hex string: %w", n.Op, err))
				}
				bvals[i] = b
			} else {
				bvals[i] = []byte(v)
			}
		}
		return pred{bytes: bytesPred(o, bvals)}, nil
	}
	return pred{}, errAt(n.Pos, nil, "field %s has unsupported type %s", lhs.name, lhs.typ)
}

func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

func strPred(o op, vals []string) (func(string) bool, error) {
	var v string // the constant of a scalar operator (lists may be empty)
	if len(vals) > 0 {
		v = vals[0]
	}
	switch o {
	case opEq:
		return func(s string) bool { return s == v }, nil
	case opNe:
		return func(s string) bool { return s != v }, nil
	case opLt:
		return func(s string) bool { return s < v }, nil
	case opLe:
		return func(s string) bool { return s <= v }, nil
	case opGt:
		return func(s string) bool { return s > v }, nil
	case opGe:
		return func(s string) bool { return s >= v }, nil
	case opContains:
		return func(s string) bool { return strings.Contains(s, v) }, nil
	case opIContains:
		return func(s string) bool { return indexFold(s, v) >= 0 }, nil
	case opStartsWith:
		return func(s string) bool { return strings.HasPrefix(s, v) }, nil
	case opEndsWith:
		return func(s string) bool { return strings.HasSuffix(s, v) }, nil
	case opGlob:
		return func(s string) bool { return fnmatch(v, s, false) }, nil
	case opIGlob:
		return func(s string) bool { return fnmatch(v, s, true) }, nil
	case opRegex:
		re, err := compileRegex(v)
		if err != nil {
			return nil, err
		}
		return re.MatchString, nil
	case opIn, opIntersects:
		return stringSet(vals), nil
	case opPMatch:
		return newPathPrefixes(vals).match, nil
	}
	return nil, fmt.Errorf("operator not supported on strings")
}

// compileRegex compiles a pattern in RE2's POSIX syntax, anchored at both ends as Falco does.
func compileRegex(v string) (*regexp.Regexp, error) {
	if _, err := syntax.Parse(v, syntax.POSIX); err != nil {
		return nil, err
	}
	return regexp.Compile(`^(?:` + v + `)$`)
}

// stringSet returns a membership test: a linear scan for a few items (cheaper than hashing),
// a map beyond. A mask of the item lengths rejects most non-members before either: a process
// name of 5 bytes cannot be in a list of shells whose names have 2 to 4.
func stringSet(vals []string) func(string) bool {
	var lens uint64 // bit n: some item has length n (n < 63); bit 63: some item is longer
	for _, v := range vals {
		lens |= 1 << min(len(v), 63)
	}
	possible := func(s string) bool { return lens&(1<<min(len(s), 63)) != 0 }
	if len(vals) <= 4 {
		vs := append([]string(nil), vals...)
		return func(s string) bool {
			if !possible(s) {
				return false
			}
			for _, v := range vs {
				if s == v {
					return true
				}
			}
			return false
		}
	}
	m := make(map[string]struct{}, len(vals))
	for _, v := range vals {
		m[v] = struct{}{}
	}
	return func(s string) bool {
		if !possible(s) {
			return false
		}
		_, ok := m[s]
		return ok
	}
}

func numPred(o op, nums []int64) func(int64) bool {
	var v int64
	if len(nums) > 0 {
		v = nums[0]
	}
	switch o {
	case opEq:
		return func(x int64) bool { return x == v }
	case opNe:
		return func(x int64) bool { return x != v }
	case opLt:
		return func(x int64) bool { return x < v }
	case opLe:
		return func(x int64) bool { return x <= v }
	case opGt:
		return func(x int64) bool { return x > v }
	case opGe:
		return func(x int64) bool { return x >= v }
	}
	if len(nums) <= 4 {
		return func(x int64) bool {
			for _, n := range nums {
				if n == x {
					return true
				}
			}
			return false
		}
	}
	m := make(map[int64]struct{}, len(nums))
	for _, n := range nums {
		m[n] = struct{}{}
	}
	return func(x int64) bool { _, ok := m[x]; return ok }
}

func bytesPred(o op, vals [][]byte) func([]byte) bool {
	var v []byte
	if len(vals) > 0 {
		v = vals[0]
	}
	switch o {
	case opEq:
		return func(b []byte) bool { return bytes.Equal(b, v) }
	case opNe:
		return func(b []byte) bool { return !bytes.Equal(b, v) }
	case opContains, opBContains:
		return func(b []byte) bool { return bytes.Contains(b, v) }
	case opStartsWith, opBStartsWith:
		return func(b []byte) bool { return bytes.HasPrefix(b, v) }
	case opEndsWith:
		return func(b []byte) bool { return bytes.HasSuffix(b, v) }
	}
	m := make(map[string]struct{}, len(vals))
	for _, x := range vals {
		m[string(x)] = struct{}{}
	}
	return func(b []byte) bool { _, ok := m[string(b)]; return ok }
}

// numWidth is the bit width and signedness libsinsp stores a value of the type in; a constant is
// truncated to it the way sscanf into that C type does.
func numWidth(t fields.Type) (bits int, signed bool) {
	switch t {
	case fields.TypeInt8:
		return 8, true
	case fields.TypeInt16:
		return 16, true
	case fields.TypeInt32:
		return 32, true
	case fields.TypeUint8, fields.TypeL4Proto:
		return 8, false
	case fields.TypeUint16, fields.TypePort:
		return 16, false
	case fields.TypeUint32, fields.TypeFlags32:
		return 32, false
	case fields.TypeUint64, fields.TypeRelTime, fields.TypeAbsTime:
		return 64, false
	}
	return 64, true
}

// parseNum parses a constant for a numeric field: a decimal integer and nothing else (libsinsp
// scans "%d%c" and refuses trailing characters, so 0x10 and 1.5 are errors). Ports also take
// service names (ssh -> 22).
func parseNum(t fields.Type, v string) (int64, error) {
	if t == fields.TypePort && v == "" {
		return 0, nil // libsinsp reads an empty port as 0
	}
	if t == fields.TypePort && strings.Trim(v, "0123456789") != "" {
		p, err := net.LookupPort("tcp", v)
		if err != nil {
			return 0, fmt.Errorf("unrecognized protocol %s", v)
		}
		return int64(p), nil
	}
	if t == fields.TypeL4Proto {
		switch v {
		case "tcp":
			return int64(event.L4TCP), nil
		case "udp":
			return int64(event.L4UDP), nil
		case "icmp":
			return int64(event.L4ICMP), nil
		case "raw":
			return int64(event.L4Raw), nil
		}
	}
	s := strings.TrimLeft(v, " \t\n\v\f\r")
	var x int64
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		x = i
	} else if u, err2 := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, 64); err2 == nil {
		x = int64(u)
	} else {
		return 0, fmt.Errorf("%s is not a valid number", v)
	}
	bits, signed := numWidth(t)
	if bits < 64 {
		x &= 1<<bits - 1
		if signed && x&(1<<(bits-1)) != 0 {
			x -= 1 << bits
		}
	}
	return x, nil
}

// needAll reports whether a check on a multi-valued operand must hold for every value rather
// than for one: a list field under `in` (every element in the set), and != on an any-of field
// flagged NotEqualAll (neither end of the connection is the value).
func needAll(lhs *operand, o op) bool {
	if lhs.anyOf {
		return lhs.neAll && o == opNe
	}
	return lhs.multi && o == opIn
}

// matcher applies a constant predicate to an operand's value(s): a missing value (or an empty
// list) is false; an any-of field holds if one of its values does, a list field under
// `intersects` too; needAll tells the cases that need every value.
func (p pred) matcher(lhs *operand, o op) Matcher {
	all := needAll(lhs, o)
	switch {
	case lhs.strs != nil:
		return listMatcher(lhs.strs, p.strEach(lhs.typ), all)
	case lhs.ips != nil:
		return listMatcher(lhs.ips, p.ip, all)
	case lhs.nums != nil:
		return listMatcher(lhs.nums, p.num, all)
	// The scalar cases stay written out per type: they run for nearly every check of every
	// event, and a generic helper measured about 3% slower on the stable-rules mix
	// (BenchmarkStableRulesetMix).
	case lhs.str != nil:
		src, f := lhs.str, p.str
		return func(e *event.Event) bool {
			v, ok := src(e)
			return ok && f(v)
		}
	case lhs.num != nil:
		src, f := lhs.num, p.num
		return func(e *event.Event) bool {
			v, ok := src(e)
			return ok && f(v)
		}
	case lhs.boolv != nil:
		src, f := lhs.boolv, p.boolv
		return func(e *event.Event) bool {
			v, ok := src(e)
			return ok && f(v)
		}
	case lhs.ip != nil:
		src, f := lhs.ip, p.ip
		return func(e *event.Event) bool {
			v, ok := src(e)
			return ok && f(v)
		}
	default:
		src, f := lhs.bytes, p.bytes
		return func(e *event.Event) bool {
			v, ok := src(e)
			return ok && f(v)
		}
	}
}

// A compiled matcher runs on one goroutine at a time (see Compile), so the list helpers below
// keep one scratch slice per closure: reading a list allocates only until the slice has grown to
// the longest list seen, and a non-matching event allocates nothing.

// listLen returns the element count of a multi-valued field (the len() transformer).
func listLen[T any](src func(*event.Event, []T) ([]T, bool)) func(*event.Event) (int64, bool) {
	var buf []T
	return func(e *event.Event) (int64, bool) {
		v, ok := src(e, buf[:0])
		buf = v
		return int64(len(v)), ok
	}
}

// listExists holds when a multi-valued field has at least one value.
func listExists[T any](src func(*event.Event, []T) ([]T, bool)) Matcher {
	var buf []T
	return func(e *event.Event) bool {
		v, ok := src(e, buf[:0])
		buf = v
		return ok && len(v) > 0
	}
}

// listMatcher tests f on the values of a multi-valued field: with all unset it holds when some
// value satisfies f, with all set when every value does. A missing or empty list never holds.
func listMatcher[T any](src func(*event.Event, []T) ([]T, bool), f func(T) bool, all bool) Matcher {
	var buf []T
	return func(e *event.Event) bool {
		vals, ok := src(e, buf[:0])
		buf = vals
		if !ok || len(vals) == 0 {
			return false
		}
		for _, v := range vals {
			if f(v) != all {
				return !all
			}
		}
		return all
	}
}

// strEach adapts a predicate to the text elements of a multi-valued field: numeric and boolean
// lists arrive as text and are parsed per element (an element that does not parse never
// satisfies the check).
func (p pred) strEach(t fields.Type) func(string) bool {
	switch {
	case p.str != nil:
		return p.str
	case p.num != nil:
		f := p.num
		return func(s string) bool {
			x, err := strconv.ParseInt(s, 10, 64)
			return err == nil && f(x)
		}
	case p.boolv != nil:
		f := p.boolv
		return func(s string) bool {
			switch s {
			case "true":
				return f(true)
			case "false":
				return f(false)
			}
			return false
		}
	case p.ip != nil:
		f := p.ip
		return func(s string) bool {
			a, err := netip.ParseAddr(s)
			return err == nil && f(a)
		}
	default:
		f := p.bytes
		return func(s string) bool { return f(unsafe.Slice(unsafe.StringData(s), len(s))) }
	}
}
