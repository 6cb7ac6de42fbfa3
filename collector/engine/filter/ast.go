package filter

// Pos is a position in a condition string: a byte offset and the 1-based line and column that
// libsinsp would report (a '\r' or '\n' starts a new line).
type Pos struct {
	Offset, Line, Col int
}

// Node is a node of a parsed condition: *And, *Or, *Not, *Check or *Ident.
type Node interface {
	node()
	// Position returns where the node starts in the condition text.
	Position() Pos
}

// And is an n-ary conjunction (`a and b and c` is one And with three children).
type And struct {
	Children []Node
	Pos      Pos
}

// Or is an n-ary disjunction.
type Or struct {
	Children []Node
	Pos      Pos
}

// Not negates its child.
type Not struct {
	Child Node
	Pos   Pos
}

// Check compares a field with a value: `proc.name = bash`, `fd.num exists`. Value is nil for the
// unary operator exists.
type Check struct {
	Field *FieldExpr
	Op    string
	// Mod is the list modifier of a string operator (libs 0.25+): "oneof", "anyof" or "allof",
	// as in `proc.name startswith anyof (/tmp/, /dev/shm/)`; "" for none. Value is then a list.
	Mod   string
	Value *Value
	Pos   Pos
}

// Ident is a bare word in check position: a macro reference, replaced by ResolveMacros.
type Ident struct {
	Name string
	Pos  Pos
}

func (*And) node()   {}
func (*Or) node()    {}
func (*Not) node()   {}
func (*Check) node() {}
func (*Ident) node() {}

// Position returns where the node starts.
func (n *And) Position() Pos { return n.Pos }

// Position returns where the node starts.
func (n *Or) Position() Pos { return n.Pos }

// Position returns where the node starts.
func (n *Not) Position() Pos { return n.Pos }

// Position returns where the node starts.
func (n *Check) Position() Pos { return n.Pos }

// Position returns where the node starts.
func (n *Ident) Position() Pos { return n.Pos }

// Transformer names. TransformerVal is only valid on the right of an operator, where it marks the
// operand as a field instead of a constant.
const (
	TransformerToLower  = "tolower"
	TransformerToUpper  = "toupper"
	TransformerB64      = "b64"
	TransformerBasename = "basename"
	TransformerLen      = "len"
	TransformerVal      = "val"
)

// FieldExpr is a field reference, possibly wrapped in a transformer. A plain field has
// Transformer == "" and Name set (Arg/HasArg for `proc.aname[2]`); a transformer has Inner set:
// `tolower(proc.name)` is {Transformer: "tolower", Inner: {Name: "proc.name"}}.
type FieldExpr struct {
	Transformer string
	Inner       *FieldExpr

	Name string
	// Arg is the text inside [...], unescaped when it was quoted. HasArg tells `f[""]` from `f`.
	// The dotted key form (`evt.arg.flags`) is not split here: it is a plain Name that the field
	// registry resolves.
	Arg    string
	HasArg bool
	Pos    Pos
}

// Base returns the plain field at the bottom of a chain of transformers.
func (f *FieldExpr) Base() *FieldExpr {
	for f.Transformer != "" {
		f = f.Inner
	}
	return f
}

// ValueKind says which member of a Value is set.
type ValueKind uint8

// Value kinds.
const (
	// ValueString is one constant: a quoted or bare string, a number, or (after a list operator)
	// an identifier that was not substituted by a list.
	ValueString ValueKind = iota + 1
	// ValueList is an inline list `(a, b, c)`.
	ValueList
	// ValueField is a field operand: `val(f)` or a transformer.
	ValueField
)

// Value is the right-hand side of a binary check.
type Value struct {
	Kind  ValueKind
	Str   string
	List  []string
	Field *FieldExpr
	Pos   Pos
}
