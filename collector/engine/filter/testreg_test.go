package filter

import (
	"net/netip"
	"testing"

	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// vals are the field values of one synthetic event, keyed by the field as written with its
// argument ("t.arg[x]"). A key that is absent is a missing value.
type vals map[string]any

// testEnv is a synthetic field registry with one field per type (and the list, any-of, argument
// and flag variants the compiler treats specially), reading values from env.cur. It keeps these
// tests independent of the real field tables.
type testEnv struct {
	reg *fields.Registry
	cur vals
}

func (env *testEnv) Resolve(name, arg string, hasArg bool) (*fields.Extractor, error) {
	return env.reg.Resolve(event.SourceSyscall, name, arg, hasArg)
}

func newTestEnv(t testing.TB) *testEnv {
	env := &testEnv{reg: &fields.Registry{}}
	add := func(name string, typ fields.Type, fl fields.Flags) {
		f := &fields.Field{Name: name, Source: event.SourceSyscall, Type: typ, Flags: fl, Desc: "test field"}
		f.Build = func(arg string, hasArg bool) (*fields.Extractor, error) {
			key := name
			if hasArg {
				key = name + "[" + arg + "]"
			}
			x := &fields.Extractor{Name: key, Type: typ}
			list := fl&fields.IsList != 0
			anyOf := anyOfFields[name] || (name == "t.aname" || name == "t.apid") && !hasArg
			x.List, x.AnyOf = list || anyOf, anyOf
			x.NotEqualAll = anyOf && notEqualAllFields[name]
			get := func() (any, bool) { v, ok := env.cur[key]; return v, ok }
			switch {
			case x.List && typ.Kind() == fields.KindNum && (anyOf || name == "t.numlist"):
				x.Nums = func(_ *event.Event, dst []int64) ([]int64, bool) {
					v, ok := get()
					if !ok {
						return dst, false
					}
					switch l := v.(type) {
					case []int:
						for _, n := range l {
							dst = append(dst, int64(n))
						}
					case []int64:
						dst = append(dst, l...)
					}
					return dst, true
				}
			case x.List && typ.Kind() == fields.KindIP:
				x.IPs = func(_ *event.Event, dst []netip.Addr) ([]netip.Addr, bool) {
					v, ok := get()
					if !ok {
						return dst, false
					}
					for _, s := range v.([]string) {
						dst = append(dst, netip.MustParseAddr(s))
					}
					return dst, true
				}
			case x.List:
				x.Strs = func(_ *event.Event, dst []string) ([]string, bool) {
					v, ok := get()
					if !ok {
						return dst, false
					}
					return append(dst, v.([]string)...), true
				}
			case typ.Kind() == fields.KindString:
				x.Str = func(*event.Event) (string, bool) { v, ok := get(); s, _ := v.(string); return s, ok }
			case typ.Kind() == fields.KindNum:
				x.Num = func(*event.Event) (int64, bool) {
					v, ok := get()
					switch n := v.(type) {
					case int:
						return int64(n), ok
					case int64:
						return n, ok
					}
					return 0, ok
				}
			case typ.Kind() == fields.KindBool:
				x.Bool = func(*event.Event) (bool, bool) { v, ok := get(); b, _ := v.(bool); return b, ok }
			case typ.Kind() == fields.KindIP:
				x.IP = func(*event.Event) (netip.Addr, bool) {
					v, ok := get()
					if !ok {
						return netip.Addr{}, false
					}
					return netip.MustParseAddr(v.(string)), true
				}
			case typ.Kind() == fields.KindBytes:
				x.Bytes = func(*event.Event) ([]byte, bool) { v, ok := get(); s, _ := v.(string); return []byte(s), ok }
			}
			return x, nil
		}
		if err := env.reg.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	add("t.str", fields.TypeCharBuf, 0)
	add("t.str2", fields.TypeCharBuf, 0)
	add("t.path", fields.TypeFSPath, 0)
	add("t.path2", fields.TypeFSPath, 0)
	add("t.rel", fields.TypeFSRelPath, 0)
	add("t.bytes", fields.TypeByteBuf, 0)
	add("t.i8", fields.TypeInt8, 0)
	add("t.i16", fields.TypeInt16, 0)
	add("t.i32", fields.TypeInt32, 0)
	add("t.i64", fields.TypeInt64, 0)
	add("t.i64b", fields.TypeInt64, 0)
	add("t.u8", fields.TypeUint8, 0)
	add("t.u16", fields.TypeUint16, 0)
	add("t.u32", fields.TypeUint32, 0)
	add("t.u64", fields.TypeUint64, 0)
	add("t.bool", fields.TypeBool, 0)
	add("t.bool2", fields.TypeBool, 0)
	add("t.ip", fields.TypeIPAddr, 0)
	add("t.ip2", fields.TypeIPAddr, 0)
	add("t.net", fields.TypeIPNet, 0)
	add("t.port", fields.TypePort, 0)
	add("t.l4", fields.TypeL4Proto, 0)
	add("t.reltime", fields.TypeRelTime, 0)
	add("t.abstime", fields.TypeAbsTime, 0)
	add("t.errno", fields.TypeErrno, 0)
	add("t.fd", fields.TypeFD, 0)
	add("t.pid", fields.TypePID, 0)
	add("t.flags", fields.TypeFlags32, 0)
	add("t.double", fields.TypeDouble, 0)
	add("t.strs", fields.TypeCharBuf, fields.IsList)
	add("t.strs2", fields.TypeCharBuf, fields.IsList)
	add("t.bools", fields.TypeBool, fields.IsList)
	add("t.nums", fields.TypeUint32, fields.IsList)
	add("t.ips", fields.TypeIPAddr, fields.IsList)
	// Like proc.aname: any ancestor, no transformer, not on the right of a comparison.
	add("t.anc", fields.TypeCharBuf, fields.NoRHS|fields.NoTransformer)
	add("t.aname", fields.TypeCharBuf, fields.ArgAllowed|fields.ArgIndex|fields.NoRHS|fields.NoTransformer)
	// Like fd.ip, fd.net and fd.port: client or server end, != only when neither end matches.
	add("t.anyip", fields.TypeIPAddr, fields.NoRHS|fields.NoTransformer)
	add("t.anynet", fields.TypeIPNet, fields.NoRHS|fields.NoTransformer)
	add("t.anyport", fields.TypePort, fields.NoRHS|fields.NoTransformer)
	// Like proc.apid: any ancestor's pid without argument, one ancestor's with one; != holds
	// when some ancestor differs.
	add("t.apid", fields.TypeInt64, fields.ArgAllowed|fields.ArgIndex|fields.NoRHS|fields.NoTransformer)
	// An any-of number without the proc.* flags, so transformers and val() can be tried on it.
	add("t.anynum", fields.TypeUint16, 0)
	// An any-of address without NotEqualAll: != holds when some value differs.
	add("t.someip", fields.TypeIPAddr, 0)
	// A numeric list read through Nums (t.nums arrives as text).
	add("t.numlist", fields.TypeUint64, fields.IsList)
	// Like evt.arg: evt.arg[flags] or evt.arg.flags.
	add("t.arg", fields.TypeCharBuf, fields.ArgRequired|fields.ArgKey)
	add("t.dep", fields.TypeCharBuf, fields.Deprecated)
	add("ka.user", fields.TypeCharBuf, 0)
	return env
}

// anyOfFields stand for several values, a check holding when it holds for one of them;
// notEqualAllFields among them take != to mean every value differs (fields.Extractor.NotEqualAll).
var (
	anyOfFields       = map[string]bool{"t.anc": true, "t.anyip": true, "t.anynet": true, "t.anyport": true, "t.anynum": true, "t.someip": true}
	notEqualAllFields = map[string]bool{"t.anyip": true, "t.anynet": true, "t.anyport": true}
)

// eval parses, compiles and evaluates cond against v.
func (env *testEnv) compile(cond string) (Matcher, []Warning, error) {
	n, err := Parse(cond)
	if err != nil {
		return nil, nil, err
	}
	return Compile(n, env)
}

func (env *testEnv) eval(cond string, v vals) (bool, []Warning, error) {
	m, w, err := env.compile(cond)
	if err != nil {
		return false, w, err
	}
	env.cur = v
	return m(&event.Event{Source: event.SourceSyscall, Num: 1}), w, nil
}

func TestTestEnvFieldsCoverEveryType(t *testing.T) {
	env := newTestEnv(t)
	seen := map[fields.Type]bool{}
	for _, f := range env.reg.Fields(event.SourceSyscall) {
		seen[f.Type] = true
	}
	for typ := fields.TypeCharBuf; typ <= fields.TypeDouble; typ++ {
		if !seen[typ] && typ != fields.TypeInvalid {
			t.Errorf("no synthetic field of type %s", typ)
		}
	}
}
