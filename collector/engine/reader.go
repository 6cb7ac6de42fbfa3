package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/lannersec/lanner/collector/alert"
)

// File is one rules file: its name (used in diagnostics) and content.
type File struct {
	Name string
	Data []byte
}

// Falco's warnings and errors for deprecated forms (rule_loading_messages.h).
const (
	warnAppend     = "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead."
	warnEnabled    = "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace')."
	errOverrideApp = "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead."
)

// Name patterns from the condition grammar: a macro name must be an identifier (or it could not
// be referenced), a list name a bare string. Falco only warns about others.
var (
	identRe   = regexp.MustCompile(`^[a-zA-Z]+[a-zA-Z0-9_]*$`)
	bareStrRe = regexp.MustCompile(`^[^()"'\s=,]+$`)
)

// Keys each item type accepts; anything else is warned about and ignored, as Falco does.
var (
	listKeys      = keySet("list", "items", "append", "override")
	macroKeys     = keySet("macro", "condition", "append", "override")
	ruleKeys      = keySet("rule", "condition", "output", "desc", "priority", "source", "enabled", "capture", "capture_duration", "warn_evttypes", "skip-if-unknown-filter", "tags", "exceptions", "override", "append")
	exceptionKeys = keySet("name", "fields", "comps", "values")
	pluginKeys    = keySet("name", "version", "alternatives")
	altKeys       = keySet("name", "version")
	engineKeys    = keySet("required_engine_version")
	pluginsKeys   = keySet("required_plugin_versions")

	ruleAppendable   = []string{"condition", "exceptions", "output", "desc", "tags"}
	ruleReplaceable  = []string{"condition", "exceptions", "output", "desc", "tags", "priority", "enabled", "warn_evttypes", "skip-if-unknown-filter", "capture", "capture_duration"}
	ruleAppendSet    = keySet(ruleAppendable...)
	ruleReplaceSet   = keySet(ruleReplaceable...)
	singleKeyItemSet = keySet("items")
	condKeySet       = keySet("condition")
)

func keySet(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// reader reads one file into the collector.
type reader struct {
	c     *collector
	res   *Result
	file  string
	lines []string
}

// readFile reads every document of f. Like Falco it stops at the first error of the file.
func (c *collector) readFile(f File, res *Result) {
	r := &reader{c: c, res: res, file: f.Name, lines: strings.Split(string(f.Data), "\n")}
	if err := r.read(f.Data); err != nil {
		var le *loadErr
		if errors.As(err, &le) {
			res.add(le.d)
			return
		}
		res.add(Diag{Severity: SevError, Code: codeYAMLParse, File: f.Name, Msg: err.Error()})
	}
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlParserErrors are the messages of yaml.v3's parser (as opposed to its scanner).
var yamlParserErrors = map[string]bool{
	"did not find expected <document start>": true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
}

func (r *reader) read(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// yaml.v3 reports "yaml: line N: what"; keep the line, the column is unknown.
			msg, line := err.Error(), 0
			if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
				line, _ = strconv.Atoi(m[1])
				msg = m[2]
				if yamlParserErrors[msg] {
					// For parser (not scanner) errors yaml.v3 prints the 0-based line of the
					// construct being parsed ("while parsing a flow sequence"): make it 1-based.
					line++
				}
			} else {
				msg = strings.TrimPrefix(msg, "yaml: ")
			}
			col := 0
			if line > 0 {
				col = 1
			}
			return &loadErr{Diag{Severity: SevError, Code: codeYAMLParse, File: r.file, Line: line, Col: col, Msg: "invalid YAML: " + msg}}
		}
		docs = append(docs, &doc)
	}
	// Falco parses the whole file before reading any item, so a syntax error anywhere means no
	// item of the file is read.
	for _, doc := range docs {
		root := doc
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		root = deref(root)
		if isNull(root) {
			continue
		}
		if root.Kind != yaml.SequenceNode {
			msg := "Rules content is not yaml array of objects"
			if root.Kind != yaml.MappingNode {
				msg = "Rules content is not yaml"
			}
			return r.errAt(codeYAMLValidate, root, "", "", msg)
		}
		for _, it := range root.Content {
			it = deref(it)
			if isNull(it) {
				continue
			}
			if err := r.readItem(it); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *reader) pos(n *yaml.Node) Pos { return Pos{File: r.file, Line: n.Line, Col: n.Column} }

func (r *reader) errAt(code string, n *yaml.Node, kind, name, msg string) error {
	return itemErr(code, r.pos(n), kind, name, msg)
}

func (r *reader) warn(code string, n *yaml.Node, kind, name, msg string) {
	p := r.pos(n)
	r.res.add(Diag{Severity: SevWarning, Code: code, File: p.File, Line: p.Line, Col: p.Col, Kind: kind, Item: name, Msg: msg})
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// get returns the value of key in mapping n, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}

func getKey(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}

// checkDuplicates rejects a mapping (at any depth) that names a key twice: YAML forbids it, and
// silently keeping one of two conditions would hide a mistake.
func (r *reader) checkDuplicates(n *yaml.Node, kind, name string, depth int) error {
	if n == nil || depth > 50 {
		return nil
	}
	if n.Kind == yaml.MappingNode {
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if first, dup := seen[k.Value]; dup {
				return r.errAt(codeYAMLValidate, k, kind, name,
					fmt.Sprintf("duplicate key '%s' (first defined at line %d)", k.Value, first.Line))
			}
			seen[k.Value] = k
		}
	}
	for _, ch := range n.Content {
		if err := r.checkDuplicates(ch, kind, name, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) warnUnknownKeys(n *yaml.Node, allowed map[string]bool, kind, name string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !allowed[k.Value] {
			r.warn(codeUnknownKey, k, kind, name, fmt.Sprintf("Unknown key '%s' ignored", k.Value))
		}
	}
}

// str decodes a required (or optional) non-empty scalar the way Falco's decode_val does.
func (r *reader) str(item *yaml.Node, key string, optional bool, kind, name string) (string, *yaml.Node, error) {
	v := get(item, key)
	if v == nil {
		if optional {
			return "", nil, nil
		}
		return "", nil, r.errAt(codeYAMLValidate, item, kind, name, fmt.Sprintf("Item has no mapping for key '%s'", key))
	}
	if isNull(v) {
		return "", nil, r.errAt(codeYAMLValidate, item, kind, name, fmt.Sprintf("Mapping for key '%s' is empty", key))
	}
	if v.Kind != yaml.ScalarNode {
		return "", nil, r.errAt(codeYAMLValidate, v, kind, name, "Value is not a scalar value")
	}
	if v.Value == "" {
		return "", nil, r.errAt(codeYAMLValidate, v, kind, name, "Value must be non-empty")
	}
	return v.Value, v, nil
}

// boolean decodes a YAML boolean as yaml-cpp does (true/false, yes/no, on/off, y/n).
func (r *reader) boolean(item *yaml.Node, key string, optional bool, kind, name string) (bool, bool, error) {
	s, v, err := r.str(item, key, optional, kind, name)
	if err != nil || v == nil {
		return false, false, err
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on", "y":
		return true, true, nil
	case "false", "no", "off", "n":
		return false, true, nil
	}
	return false, false, r.errAt(codeYAMLValidate, v, kind, name, "Can't decode YAML scalar value")
}

// strSeq decodes a sequence of scalars (list items, tags).
func (r *reader) strSeq(item *yaml.Node, key string, optional bool, kind, name string) ([]string, bool, error) {
	v := get(item, key)
	if v == nil {
		if optional {
			return nil, false, nil
		}
		return nil, false, r.errAt(codeYAMLValidate, item, kind, name, fmt.Sprintf("Item has no mapping for key '%s'", key))
	}
	if v.Kind != yaml.SequenceNode {
		return nil, false, r.errAt(codeYAMLValidate, v, kind, name, "Value is not a sequence")
	}
	out := make([]string, 0, len(v.Content))
	for _, e := range v.Content {
		e = deref(e)
		if e.Kind != yaml.ScalarNode {
			return nil, false, r.errAt(codeYAMLValidate, e, kind, name, "sequence value is not scalar")
		}
		out = append(out, e.Value)
	}
	return out, true, nil
}

func (r *reader) readItem(it *yaml.Node) error {
	if it.Kind != yaml.MappingNode {
		return r.errAt(codeYAMLValidate, it, "", "", "Unexpected element type. Each element should be a yaml associative array.")
	}
	switch {
	case get(it, "required_engine_version") != nil:
		if err := r.checkDuplicates(it, "", "", 0); err != nil {
			return err
		}
		r.warnUnknownKeys(it, engineKeys, "", "")
		return r.readEngineVersion(it)
	case get(it, "required_plugin_versions") != nil:
		if err := r.checkDuplicates(it, "", "", 0); err != nil {
			return err
		}
		r.warnUnknownKeys(it, pluginsKeys, "", "")
		return r.readPluginVersions(it)
	case get(it, "list") != nil:
		return r.readList(it)
	case get(it, "macro") != nil:
		return r.readMacro(it)
	case get(it, "rule") != nil:
		return r.readRule(it)
	}
	r.warn(codeUnknownItem, it, "", "", "Unknown top level item")
	return nil
}

func (r *reader) readEngineVersion(it *yaml.Node) error {
	s, v, err := r.str(it, "required_engine_version", false, "", "")
	if err != nil {
		return err
	}
	var req semver
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		// An integer N is the old engine numbering: engine 0.N.0.
		req = semver{0, n, 0}
	} else {
		var ok bool
		if req, ok = parseSemver(s); !ok {
			return r.errAt(codeYAMLValidate, it, "", "",
				fmt.Sprintf("Unable to parse engine version '%s' as a semver string. Expected \"x.y.z\" semver format.", s))
		}
	}
	have, _ := parseSemver(EngineVersion)
	if !have.compatibleWith(req) {
		return r.errAt(codeValidate, v, "", "",
			fmt.Sprintf("Rules require engine version %s, but engine version is %s", req, have))
	}
	if !r.c.hasEngineVersion || r.c.engineVersion.less(req) {
		r.c.engineVersion, r.c.hasEngineVersion = req, true
	}
	return nil
}

func (r *reader) readPluginVersions(it *yaml.Node) error {
	seq := get(it, "required_plugin_versions")
	if seq.Kind != yaml.SequenceNode {
		return r.errAt(codeYAMLValidate, seq, "", "", "Value of required_plugin_versions must be a sequence")
	}
	for _, p := range seq.Content {
		p = deref(p)
		if p.Kind != yaml.MappingNode {
			return r.errAt(codeYAMLValidate, p, "", "", "Plugin version must be a mapping")
		}
		r.warnUnknownKeys(p, pluginKeys, "", "")
		req := PluginRequirement{Pos: r.pos(p)}
		name, _, err := r.str(p, "name", false, "", "")
		if err != nil {
			return err
		}
		ver, _, err := r.str(p, "version", false, "", "")
		if err != nil {
			return err
		}
		req.Alternatives = append(req.Alternatives, PluginVersion{name, ver})
		if alts := get(p, "alternatives"); alts != nil {
			if alts.Kind != yaml.SequenceNode {
				return r.errAt(codeYAMLValidate, alts, "", "", "Value of plugin version alternatives must be a sequence")
			}
			for _, a := range alts.Content {
				a = deref(a)
				if a.Kind != yaml.MappingNode {
					return r.errAt(codeYAMLValidate, a, "", "", "Plugin version alternative must be a mapping")
				}
				r.warnUnknownKeys(a, altKeys, "", "")
				an, _, err := r.str(a, "name", false, "", "")
				if err != nil {
					return err
				}
				av, _, err := r.str(a, "version", false, "", "")
				if err != nil {
					return err
				}
				req.Alternatives = append(req.Alternatives, PluginVersion{an, av})
			}
		}
		seen := map[string]bool{}
		for _, a := range req.Alternatives {
			if _, ok := parseSemver(a.Version); !ok {
				return r.errAt(codeValidate, p, "", "", fmt.Sprintf("Invalid required version '%s' for plugin '%s'", a.Version, a.Name))
			}
			if seen[a.Name] {
				return r.errAt(codeValidate, p, "", "", fmt.Sprintf("Defined multiple alternative version requirements for plugin '%s'", a.Name))
			}
			seen[a.Name] = true
			if !req.Satisfied && builtinPlugins[a.Name] {
				req.Satisfied, req.By = true, a.Name
			}
		}
		r.c.plugins = append(r.c.plugins, req)
	}
	return nil
}

// overrides decodes an item's `override` mapping into the keys to append and to replace.
func (r *reader) overrides(it *yaml.Node, appendable, replaceable map[string]bool, kind, name string) (app, rep []string, err error) {
	ov := get(it, "override")
	if ov == nil {
		return nil, nil, nil
	}
	if ov.Kind != yaml.MappingNode {
		return nil, nil, r.errAt(codeYAMLValidate, ov, kind, name, "Value of override must be a mapping")
	}
	for i := 0; i+1 < len(ov.Content); i += 2 {
		k, v := ov.Content[i], deref(ov.Content[i+1])
		if v.Kind != yaml.ScalarNode {
			return nil, nil, r.errAt(codeYAMLValidate, v, kind, name, fmt.Sprintf("Invalid override operation for key '%s'", k.Value))
		}
		switch v.Value {
		case "append":
			if !appendable[k.Value] {
				return nil, nil, r.errAt(codeYAMLValidate, k, kind, name, fmt.Sprintf("Key '%s' cannot be appended to, use 'replace' instead", k.Value))
			}
			app = append(app, k.Value)
		case "replace":
			if !replaceable[k.Value] {
				return nil, nil, r.errAt(codeYAMLValidate, k, kind, name, fmt.Sprintf("Key '%s' cannot be replaced", k.Value))
			}
			rep = append(rep, k.Value)
		default:
			allowed := ""
			if appendable[k.Value] {
				allowed += "append "
			}
			if replaceable[k.Value] {
				allowed += "replace "
			}
			return nil, nil, r.errAt(codeYAMLValidate, v, kind, name,
				fmt.Sprintf("Invalid override operation for key '%s': '%s'. Allowed values are: %s", k.Value, v.Value, allowed))
		}
	}
	return app, rep, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (r *reader) readList(it *yaml.Node) error {
	name, _, err := r.str(it, "list", false, "list", "")
	if err != nil {
		return err
	}
	if err := r.checkDuplicates(it, "list", name, 0); err != nil {
		return err
	}
	r.warnUnknownKeys(it, listKeys, "list", name)
	if !bareStrRe.MatchString(name) {
		r.warn(codeInvalidList, it, "list", name, `List has an invalid name. List names should match a regular expression: ([^()"'[:space:]=,]+)`)
	}
	items, _, err := r.strSeq(it, "items", false, "list", name)
	if err != nil {
		return err
	}
	app, _, err := r.boolean(it, "append", true, "list", name)
	if err != nil {
		return err
	}
	if app {
		r.warn(codeDeprecated, it, "list", name, warnAppend)
	}
	oa, or, err := r.overrides(it, singleKeyItemSet, singleKeyItemSet, "list", name)
	if err != nil {
		return err
	}
	if app && len(oa)+len(or) > 0 {
		return r.errAt(codeYAMLValidate, it, "list", name, errOverrideApp)
	}
	l := &listInfo{name: name, pos: r.pos(it), items: items}
	if app || contains(oa, "items") {
		return r.c.appendList(l)
	}
	r.c.defineList(l)
	return nil
}

func (r *reader) readMacro(it *yaml.Node) error {
	name, _, err := r.str(it, "macro", false, "macro", "")
	if err != nil {
		return err
	}
	if err := r.checkDuplicates(it, "macro", name, 0); err != nil {
		return err
	}
	r.warnUnknownKeys(it, macroKeys, "macro", name)
	if !identRe.MatchString(name) {
		r.warn(codeInvalidMacro, it, "macro", name, "Macro has an invalid name. Macro names should match a regular expression: ([a-zA-Z]+[a-zA-Z0-9_]*)")
	}
	_, cn, err := r.str(it, "condition", false, "macro", name)
	if err != nil {
		return err
	}
	app, _, err := r.boolean(it, "append", true, "macro", name)
	if err != nil {
		return err
	}
	if app {
		r.warn(codeDeprecated, it, "macro", name, warnAppend)
	}
	oa, or, err := r.overrides(it, condKeySet, condKeySet, "macro", name)
	if err != nil {
		return err
	}
	if app && len(oa)+len(or) > 0 {
		return r.errAt(codeYAMLValidate, it, "macro", name, errOverrideApp)
	}
	m := &macroInfo{name: name, pos: r.pos(it), cond: scalarText(r.file, r.lines, cn)}
	if app || contains(oa, "condition") {
		return r.c.appendMacro(m)
	}
	r.c.defineMacro(m)
	return nil
}

func (r *reader) readRule(it *yaml.Node) error {
	name, _, err := r.str(it, "rule", false, "rule", "")
	if err != nil {
		return err
	}
	if err := r.checkDuplicates(it, "rule", name, 0); err != nil {
		return err
	}
	r.warnUnknownKeys(it, ruleKeys, "rule", name)
	app, _, err := r.boolean(it, "append", true, "rule", name)
	if err != nil {
		return err
	}
	if app {
		r.warn(codeDeprecated, it, "rule", name, warnAppend)
	}
	oa, or, err := r.overrides(it, ruleAppendSet, ruleReplaceSet, "rule", name)
	if err != nil {
		return err
	}
	if app && len(oa)+len(or) > 0 {
		return r.errAt(codeYAMLValidate, it, "rule", name, errOverrideApp)
	}
	switch {
	case len(oa)+len(or) > 0:
		return r.readRuleOverride(it, name, oa, or)
	case app:
		u := &ruleUpdate{name: name, pos: r.pos(it)}
		if cn := get(it, "condition"); cn != nil {
			_, cn, err := r.str(it, "condition", false, "rule", name)
			if err != nil {
				return err
			}
			t := scalarText(r.file, r.lines, cn)
			u.cond = &t
		}
		if get(it, "exceptions") != nil {
			if u.exceptions, err = r.exceptions(it, name, true); err != nil {
				return err
			}
			u.hasExcept = true
		}
		return r.c.appendRule(u)
	}
	if get(it, "condition") == nil && get(it, "output") == nil && get(it, "desc") == nil && get(it, "priority") == nil {
		en, _, err := r.boolean(it, "enabled", false, "rule", name)
		if err != nil {
			return err
		}
		r.warn(codeDeprecated, it, "rule", name, warnEnabled)
		return r.c.enableRule(name, r.pos(it), en)
	}
	ri := &ruleInfo{name: name, pos: r.pos(it), enabled: true, warnEvttypes: true, source: "syscall", tags: map[string]struct{}{}}
	_, cn, err := r.str(it, "condition", false, "rule", name)
	if err != nil {
		return err
	}
	ri.cond = scalarText(r.file, r.lines, cn)
	out, on, err := r.str(it, "output", false, "rule", name)
	if err != nil {
		return err
	}
	ri.output, ri.outputPos = strings.TrimSpace(out), r.pos(on)
	if ri.desc, _, err = r.str(it, "desc", false, "rule", name); err != nil {
		return err
	}
	if ri.priority, err = r.priority(it, name); err != nil {
		return err
	}
	if sn := get(it, "source"); sn != nil {
		// Falco lets source be empty: it then names no known source and the rule is skipped.
		if sn.Kind != yaml.ScalarNode {
			return r.errAt(codeYAMLValidate, sn, "rule", name, "Value is not a scalar value")
		}
		ri.source = sn.Value
	}
	if err := r.ruleOptionals(it, name, ri); err != nil {
		return err
	}
	tags, _, err := r.strSeq(it, "tags", true, "rule", name)
	if err != nil {
		return err
	}
	for _, t := range tags {
		ri.tags[t] = struct{}{}
	}
	if ri.exceptions, err = r.exceptions(it, name, false); err != nil {
		return err
	}
	return r.c.defineRule(ri, r.res)
}

func (r *reader) ruleOptionals(it *yaml.Node, name string, ri *ruleInfo) error {
	for _, b := range []struct {
		key string
		dst *bool
	}{{"enabled", &ri.enabled}, {"warn_evttypes", &ri.warnEvttypes}, {"skip-if-unknown-filter", &ri.skipUnknown}, {"capture", &ri.capture}} {
		v, ok, err := r.boolean(it, b.key, true, "rule", name)
		if err != nil {
			return err
		}
		if ok {
			*b.dst = v
		}
	}
	d, ok, err := r.duration(it, name, true)
	if err != nil {
		return err
	}
	if ok {
		ri.captureDur = d
	}
	return nil
}

func (r *reader) duration(it *yaml.Node, name string, optional bool) (int64, bool, error) {
	s, v, err := r.str(it, "capture_duration", optional, "rule", name)
	if err != nil || v == nil {
		return 0, false, err
	}
	d, perr := strconv.ParseUint(s, 10, 64)
	if perr != nil {
		return 0, false, r.errAt(codeYAMLValidate, v, "rule", name, "Can't decode YAML scalar value")
	}
	return int64(d), true, nil
}

func (r *reader) priority(it *yaml.Node, name string) (alert.Priority, error) {
	s, v, err := r.str(it, "priority", false, "rule", name)
	if err != nil {
		return 0, err
	}
	p, perr := alert.ParsePriority(s)
	if perr != nil {
		// Falco says only "Invalid priority"; we keep its words first and add the accepted names.
		return 0, r.errAt(codeYAMLValidate, v, "rule", name, fmt.Sprintf("Invalid priority %q: use one of emergency, alert, critical, error, warning, notice, informational (info), debug", s))
	}
	return p, nil
}

// readRuleOverride handles an item with an `override` mapping. Every overridable key present in
// the item must be listed under override and every listed key must be present.
func (r *reader) readRuleOverride(it *yaml.Node, name string, oa, or []string) error {
	expected := map[string]bool{}
	for _, k := range ruleReplaceable {
		if get(it, k) != nil {
			expected[k] = true
		}
	}
	check := func(ops []string, kind, key string) (bool, error) {
		if !contains(ops, key) {
			return false, nil
		}
		if !expected[key] {
			return false, r.errAt(codeYAMLValidate, it, "rule", name,
				fmt.Sprintf("An %s override for '%s' was specified but '%s' is not defined", kind, key, key))
		}
		delete(expected, key)
		return true, nil
	}
	fill := func(ops []string, kind string, u *ruleUpdate, keys []string) error {
		for _, key := range keys {
			ok, err := check(ops, kind, key)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			switch key {
			case "condition":
				_, cn, err := r.str(it, "condition", false, "rule", name)
				if err != nil {
					return err
				}
				t := scalarText(r.file, r.lines, cn)
				u.cond = &t
			case "exceptions":
				if u.exceptions, err = r.exceptions(it, name, kind == "append"); err != nil {
					return err
				}
				u.hasExcept = true
			case "output", "desc":
				s, _, err := r.str(it, key, false, "rule", name)
				if err != nil {
					return err
				}
				if key == "output" {
					u.output = &s
				} else {
					u.desc = &s
				}
			case "tags":
				tags, _, err := r.strSeq(it, "tags", false, "rule", name)
				if err != nil {
					return err
				}
				u.tags, u.hasTags = map[string]struct{}{}, true
				for _, t := range tags {
					u.tags[t] = struct{}{}
				}
			case "priority":
				p, err := r.priority(it, name)
				if err != nil {
					return err
				}
				u.priority = &p
			case "enabled", "warn_evttypes", "skip-if-unknown-filter", "capture":
				b, _, err := r.boolean(it, key, false, "rule", name)
				if err != nil {
					return err
				}
				switch key {
				case "enabled":
					u.enabled = &b
				case "warn_evttypes":
					u.warnEvt = &b
				case "skip-if-unknown-filter":
					u.skipUnknown = &b
				default:
					u.capture = &b
				}
			case "capture_duration":
				d, _, err := r.duration(it, name, false)
				if err != nil {
					return err
				}
				u.captureDur = &d
			}
		}
		return nil
	}
	if len(oa) > 0 {
		u := &ruleUpdate{name: name, pos: r.pos(it)}
		if err := fill(oa, "append", u, ruleAppendable); err != nil {
			return err
		}
		if err := r.c.appendRule(u); err != nil {
			return err
		}
	}
	if len(or) > 0 {
		u := &ruleUpdate{name: name, pos: r.pos(it)}
		if err := fill(or, "replace", u, ruleReplaceable); err != nil {
			return err
		}
		if err := r.c.replaceRule(u); err != nil {
			return err
		}
	}
	for _, k := range ruleReplaceable {
		if expected[k] {
			return r.errAt(codeYAMLValidate, getKey(it, k), "rule", name,
				fmt.Sprintf("Unexpected key '%s': no corresponding entry under 'override' is defined.", k))
		}
	}
	return nil
}

// exceptions reads a rule's `exceptions` sequence (Falco's read_rule_exceptions).
func (r *reader) exceptions(it *yaml.Node, name string, appending bool) ([]exceptionInfo, error) {
	exs := get(it, "exceptions")
	if exs == nil || isNull(exs) {
		return nil, nil
	}
	if exs.Kind != yaml.SequenceNode {
		return nil, r.errAt(codeYAMLValidate, exs, "rule", name, "Rule exceptions must be a sequence")
	}
	var out []exceptionInfo
	for _, ex := range exs.Content {
		ex = deref(ex)
		if ex.Kind != yaml.MappingNode {
			return nil, r.errAt(codeYAMLValidate, ex, "rule", name, "Rule exception must be a mapping")
		}
		r.warnUnknownKeys(ex, exceptionKeys, "rule", name)
		exName, _, err := r.str(ex, "name", false, "rule", name)
		if err != nil {
			return nil, err
		}
		info := exceptionInfo{name: exName, pos: r.pos(ex)}
		for _, prev := range out {
			if prev.name == exName {
				r.warn(codeExceptionName, ex, "rule", name, fmt.Sprintf("Multiple definitions of exception '%s' in the same rule", exName))
			}
		}
		if info.fields, err = r.entry(ex, "fields", appending, name); err != nil {
			return nil, err
		}
		if info.comps, err = r.entry(ex, "comps", true, name); err != nil {
			return nil, err
		}
		if vals := get(ex, "values"); vals != nil {
			if vals.Kind != yaml.SequenceNode {
				return nil, r.errAt(codeYAMLValidate, vals, "rule", name, "Rule exception values must be a sequence")
			}
			for _, v := range vals.Content {
				e, err := r.entryNode(deref(v), name)
				if err != nil {
					return nil, err
				}
				info.values = append(info.values, e)
			}
		} else if appending {
			r.warn(codeAppendNoValues, ex, "rule", name, "Overriding/appending exception with no values")
		}
		out = append(out, info)
	}
	return out, nil
}

func (r *reader) entry(ex *yaml.Node, key string, optional bool, name string) (entry, error) {
	v := get(ex, key)
	if v == nil {
		if optional {
			return entry{}, nil
		}
		return entry{}, r.errAt(codeYAMLValidate, ex, "rule", name, fmt.Sprintf("Item has no mapping for key '%s'", key))
	}
	return r.entryNode(v, name)
}

// entryNode decodes a scalar or a sequence of (nested) entries.
func (r *reader) entryNode(v *yaml.Node, name string) (entry, error) {
	e := entry{set: true, pos: r.pos(v)}
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Value == "" {
			return entry{}, r.errAt(codeYAMLValidate, v, "rule", name, "Value must be non-empty")
		}
		e.item = v.Value
	case yaml.SequenceNode:
		e.isList = true
		for _, ch := range v.Content {
			ce, err := r.entryNode(deref(ch), name)
			if err != nil {
				return entry{}, err
			}
			e.items = append(e.items, ce)
		}
	default:
		return entry{}, r.errAt(codeYAMLValidate, v, "rule", name, "Value is not a scalar or a sequence")
	}
	return e, nil
}
