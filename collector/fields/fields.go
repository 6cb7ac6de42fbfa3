package fields

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/lannersec/lanner/collector/event"
)

// Type is a field's value type, with Falco's type names.
type Type uint8

// Field types. The storage kind (which Extractor function is set) follows from the type.
const (
	TypeInvalid Type = iota
	TypeCharBuf
	TypeFSPath
	TypeFSRelPath
	TypeByteBuf
	TypeInt8
	TypeInt16
	TypeInt32
	TypeInt64
	TypeUint8
	TypeUint16
	TypeUint32
	TypeUint64
	TypeBool
	TypeIPAddr
	TypeIPNet
	TypePort
	TypeL4Proto
	TypeRelTime
	TypeAbsTime
	TypeErrno
	TypeFD
	TypePID
	TypeFlags32
	TypeDouble
	numTypes
)

var typeNames = [...]string{
	TypeInvalid: "INVALID", TypeCharBuf: "CHARBUF", TypeFSPath: "FSPATH", TypeFSRelPath: "FSRELPATH",
	TypeByteBuf: "BYTEBUF", TypeInt8: "INT8", TypeInt16: "INT16", TypeInt32: "INT32", TypeInt64: "INT64",
	TypeUint8: "UINT8", TypeUint16: "UINT16", TypeUint32: "UINT32", TypeUint64: "UINT64", TypeBool: "BOOL",
	TypeIPAddr: "IPADDR", TypeIPNet: "IPNET", TypePort: "PORT", TypeL4Proto: "L4PROTO",
	TypeRelTime: "RELTIME", TypeAbsTime: "ABSTIME", TypeErrno: "ERRNO", TypeFD: "FD", TypePID: "PID",
	TypeFlags32: "FLAGS32", TypeDouble: "DOUBLE",
}

// String returns Falco's name for the type (CHARBUF, UINT64, IPADDR...).
func (t Type) String() string {
	if t < numTypes {
		return typeNames[t]
	}
	return "INVALID"
}

// Kind is how a value of a type is stored and compared.
type Kind uint8

// Storage kinds.
const (
	KindInvalid Kind = iota
	KindString       // Extractor.Str (or Strs for lists)
	KindNum          // Extractor.Num: every integer, port, time, errno, fd and pid type
	KindBool         // Extractor.Bool
	KindIP           // Extractor.IP (or IPs for lists); IPNET fields too: they hold addresses tested against CIDRs
	KindBytes        // Extractor.Bytes
)

// Kind returns the storage kind of values of type t.
func (t Type) Kind() Kind {
	switch t {
	case TypeCharBuf, TypeFSPath, TypeFSRelPath:
		return KindString
	case TypeByteBuf:
		return KindBytes
	case TypeBool:
		return KindBool
	case TypeIPAddr, TypeIPNet:
		return KindIP
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64, TypeUint8, TypeUint16, TypeUint32, TypeUint64,
		TypePort, TypeL4Proto, TypeRelTime, TypeAbsTime, TypeErrno, TypeFD, TypePID, TypeFlags32, TypeDouble:
		return KindNum
	}
	return KindInvalid
}

// Flags describe how a field may be used (Falco's EPF_* flags).
type Flags uint16

// Field flags.
const (
	// ArgRequired: the field must be written with an argument (evt.arg[flags], ka.req.pod.containers.image needs none).
	ArgRequired Flags = 1 << iota
	// ArgAllowed: the field may take an argument.
	ArgAllowed
	// ArgIndex: the argument is a number (proc.aname[2]).
	ArgIndex
	// ArgKey: the argument is a key, also writable after a dot (evt.arg.flags == evt.arg[flags]).
	ArgKey
	// NoRHS: the field cannot be used on the right of a comparison (val(proc.aname) is refused).
	NoRHS
	// NoTransformer: the field cannot be wrapped in a transformer.
	NoTransformer
	// FilterOnly: the field cannot be printed in an output.
	FilterOnly
	// IsList: the field yields a list of values.
	IsList
	// Deprecated: the field still works but loading warns.
	Deprecated
	// Suggested: Falco appends the field to every output of its source (suggested_output).
	Suggested
)

// Field is one entry of the registry.
type Field struct {
	Name   string
	Source event.Source
	Type   Type
	Flags  Flags
	Desc   string
	// ArgDesc says what the argument means, for `lanner rules fields`.
	ArgDesc string
	// Build makes the extractor for one use of the field. arg is the text inside [...] or after
	// the dot of the key form; hasArg tells an empty argument from none. It validates the argument
	// and returns an error that says what is wrong with it.
	Build func(arg string, hasArg bool) (*Extractor, error)
}

// Has reports whether all flags in f are set.
func (f *Field) Has(fl Flags) bool { return f.Flags&fl == fl }

// Extractor reads one field, with one argument, from events. Exactly one of the value functions is
// set, chosen by Type.Kind() and List. Each returns ok=false when the value is missing (no fd,
// unknown parent, absent parameter...): every comparison with a missing value is false.
//
// Extractors are called on one goroutine per source at a time. The list functions append to dst
// and return it, so a caller that keeps dst between calls reads lists without allocating.
type Extractor struct {
	// Name is the field as written, with its argument: "proc.aname[2]", "evt.arg.flags".
	Name   string
	Field  *Field
	Arg    string
	HasArg bool
	Type   Type
	// List is set for list-valued fields (ka.req.pod.containers.image...). Comparisons on a list
	// follow Falco: `in` means every element is in the set, `intersects` means some element is.
	List bool
	// AnyOf is set for fields that stand for several values where a check holds if it holds for
	// any of them (proc.aname without argument: some ancestor; fd.ip: client or server address).
	// Such an extractor is List as well.
	AnyOf bool
	// NotEqualAll, set with AnyOf, makes != hold only when it holds for every value, as Falco
	// compares fd.ip, fd.net and fd.port: `fd.ip != 127.0.0.1` means neither end is 127.0.0.1.
	// Without it an AnyOf check holds when it holds for some value, != included:
	// `proc.aname != bash` means some ancestor is not bash.
	NotEqualAll bool

	Str   func(e *event.Event) (string, bool)
	Num   func(e *event.Event) (int64, bool)
	Bool  func(e *event.Event) (bool, bool)
	IP    func(e *event.Event) (netip.Addr, bool)
	Bytes func(e *event.Event) ([]byte, bool)
	Strs  func(e *event.Event, dst []string) ([]string, bool)
	IPs   func(e *event.Event, dst []netip.Addr) ([]netip.Addr, bool)
	// Nums is the list form of Num, for numeric AnyOf fields (proc.apid, fd.port).
	Nums func(e *event.Event, dst []int64) ([]int64, bool)

	// Text, when set, overrides the generic text rendering used in output strings (evt.time
	// prints a clock time, evt.res prints SUCCESS or an errno name...).
	Text func(e *event.Event) (string, bool)
	// JSON, when set, overrides the generic JSON value used in output_fields.
	JSON func(e *event.Event) (any, bool)
}

// ErrUnknownField is wrapped by Resolve's error when no field has the name.
var ErrUnknownField = errors.New("unknown field")

// Registry holds the fields of every source. It is built once and then only read.
type Registry struct {
	bySource [event.NumSources]map[string]*Field
	ordered  [event.NumSources][]*Field
}

// NewRegistry returns a registry with every built-in field of lanner's sources. Options set what
// the syscall fields need from outside the event (time zone, host name, DNS).
func NewRegistry(opts ...Option) *Registry {
	r := &Registry{}
	c := newConfig(opts)
	for _, f := range syscallFields(c) {
		r.mustAdd(f)
	}
	for _, f := range auditFields(c) {
		r.mustAdd(f)
	}
	return r
}

func (r *Registry) mustAdd(f *Field) {
	if err := r.Add(f); err != nil {
		// Built-in tables are fixed at compile time; a clash is a programming error that every
		// test run would hit.
		panic(err)
	}
}

// Add registers a field. Names are unique per source.
func (r *Registry) Add(f *Field) error {
	if f.Source == event.SourceUnknown || int(f.Source) >= event.NumSources {
		return fmt.Errorf("field %s: invalid source %v", f.Name, f.Source)
	}
	if f.Build == nil {
		return fmt.Errorf("field %s: no extractor builder", f.Name)
	}
	m := r.bySource[f.Source]
	if m == nil {
		m = make(map[string]*Field)
		r.bySource[f.Source] = m
	}
	if _, dup := m[f.Name]; dup {
		return fmt.Errorf("field %s: defined twice for source %s", f.Name, f.Source)
	}
	m[f.Name] = f
	r.ordered[f.Source] = append(r.ordered[f.Source], f)
	return nil
}

// Fields returns the fields of a source sorted by name.
func (r *Registry) Fields(src event.Source) []*Field {
	out := append([]*Field(nil), r.ordered[src]...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the field with exactly this name.
func (r *Registry) Lookup(src event.Source, name string) (*Field, bool) {
	f, ok := r.bySource[src][name]
	return f, ok
}

// Resolve builds the extractor for a field reference as the condition parser delivers it: a name
// and an optional bracketed argument. A name that is not a field itself may carry its argument
// after a dot (evt.arg.flags, k8s.pod.label.app): the longest registered prefix with ArgKey wins.
func (r *Registry) Resolve(src event.Source, name, arg string, hasArg bool) (*Extractor, error) {
	f, ok := r.Lookup(src, name)
	if !ok && !hasArg {
		for i := len(name) - 1; i > 0; i-- {
			if name[i] != '.' {
				continue
			}
			if p, ok2 := r.Lookup(src, name[:i]); ok2 && p.Flags&ArgKey != 0 {
				f, ok, arg, hasArg = p, true, name[i+1:], true
				break
			}
		}
	}
	if !ok {
		return nil, fmt.Errorf("%w %q for source %s", ErrUnknownField, name, src)
	}
	if hasArg && f.Flags&(ArgAllowed|ArgRequired) == 0 {
		return nil, fmt.Errorf("field %s does not take an argument", f.Name)
	}
	if !hasArg && f.Flags&ArgRequired != 0 {
		return nil, fmt.Errorf("field %s requires an argument", f.Name)
	}
	x, err := f.Build(arg, hasArg)
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", displayName(f.Name, arg, hasArg), err)
	}
	x.Field, x.Arg, x.HasArg = f, arg, hasArg
	if x.Name == "" {
		x.Name = displayName(f.Name, arg, hasArg)
	}
	if x.Type == TypeInvalid {
		x.Type = f.Type
	}
	return x, nil
}

func displayName(name, arg string, hasArg bool) string {
	if !hasArg {
		return name
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('[')
	b.WriteString(arg)
	b.WriteByte(']')
	return b.String()
}
