package elasticsearch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/shippers"
)

// ecsVersion is the ECS release the documents and template follow.
const ecsVersion = "8.11.0"

// severity maps a Falco priority to event.severity as Elastic's Falco integration does:
// emergency 7 down to debug 0.
func severity(p alert.Priority) int { return int(alert.Debug - p) }

// obj is a JSON object (used for values such as falco.*).
type obj map[string]any

// withoutNulls is an object whose null members are left out when encoded: Falco writes null
// for a field with no value, and a flattened field has nothing to index for it.
type withoutNulls map[string]any

// doc is an ECS document under construction: dotted paths and their values, written out as
// nested objects by appendTo. A flat list sorted once costs a fraction of a tree of maps, and
// this runs once per alert.
//
// Paths sorted segment by segment make appendTo write every object's members in byte order of
// their keys: together with the sorted maps of appendValue, the document comes out in the
// canonical form of shippers/chain (see CanonicalDocument).
type doc struct {
	kv []kv
	// notCanonical is set when a value could not be written in canonical form (a type
	// appendValue hands to encoding/json, a map key that is not UTF-8, a path that is also
	// an object).
	notCanonical bool
	// The plan of the last sequence of paths (see plan).
	lastPaths []string
	lits      []byte
	steps     []step
	tail      int
	conflict  bool
	// text holds the values the document formats itself (timestamps, numeric ids), so that
	// they take no string allocation each; kindText members point into it.
	text []byte
	// rules keeps what depends only on a rule and its tags (rule.id, threat.*), computed once
	// per rule rather than per alert.
	rules map[string]*ruleInfo
}

// kv is one member. Its value is in s, n or v according to kind: most values are strings or
// numbers, which then cost no interface allocation.
type kv struct {
	path string
	s    string
	v    any
	n    int64
	kind kvKind
}

type kvKind uint8

const (
	kindAny      kvKind = iota // v
	kindStr                    // s
	kindStrList1               // [s]
	kindInt                    // n
	kindText                   // text[n>>32 : n&0xffffffff], a string that needs no escaping
	kindArgs                   // process.args: [s (unless empty), then the fields of v's string]
)

// set records path = v; a later set of the same path wins.
func (d *doc) set(path string, v any) { d.kv = append(d.kv, kv{path: path, v: v}) }

// str records path = s.
func (d *doc) str(path, s string) { d.kv = append(d.kv, kv{path: path, s: s, kind: kindStr}) }

// strList1 records path = [s].
func (d *doc) strList1(path, s string) {
	d.kv = append(d.kv, kv{path: path, s: s, kind: kindStrList1})
}

// num records path = n.
func (d *doc) num(path string, n int64) { d.kv = append(d.kv, kv{path: path, n: n, kind: kindInt}) }

// text records path = the string appended to d.text since from. Only text that JSON writes as
// it is (digits, letters, '-', ':', '.', '+') may go this way: it is not escaped.
func (d *doc) textFrom(path string, from int) {
	d.kv = append(d.kv, kv{path: path, n: int64(from)<<32 | int64(len(d.text)), kind: kindText})
}

// The layout of a document -- its objects, keys and punctuation -- depends only on the sequence
// of paths set, which alerts of one kind share. A builder that is reused (the shipper keeps a
// pool of them) lays out a sequence once, as a plan: literal bytes, then a value, and so on.
// Writing a document is then copying literals and encoding values.

// step is one value of a plan: the literal bytes before it (lits[from:to]) and its member.
type step struct {
	from, to int32
	kv       int32
}

// plan lays out the current paths, unless they are the ones laid out last.
func (d *doc) plan() {
	if len(d.kv) == len(d.lastPaths) {
		same := true
		for i := range d.kv {
			if d.kv[i].path != d.lastPaths[i] {
				same = false
				break
			}
		}
		if same {
			return
		}
	}
	d.lastPaths = d.lastPaths[:0]
	for i := range d.kv {
		d.lastPaths = append(d.lastPaths, d.kv[i].path)
	}
	// Sort indices, not the pairs: moving pointer-holding pairs costs a GC write barrier each.
	var idxBuf [128]int32
	idx := idxBuf[:0]
	for i := range d.kv {
		idx = append(idx, int32(i))
	}
	slices.SortFunc(idx, func(a, b int32) int {
		if c := compareSegments(d.kv[a].path, d.kv[b].path); c != 0 {
			return c
		}
		return int(a - b) // equal paths stay in set order, so the last set wins
	})
	lits := append(d.lits[:0], '{')
	steps := d.steps[:0]
	d.conflict = false
	var openBuf [8]string
	open := openBuf[:0] // the object path currently open
	first := true
	prev := ""
	from := 0
	for n, i := range idx {
		path := d.kv[i].path
		if n+1 < len(idx) && d.kv[idx[n+1]].path == path {
			continue // a later set of the same path wins
		}
		if prev != "" && len(path) > len(prev) && path[len(prev)] == '.' && strings.HasPrefix(path, prev) {
			d.conflict = true // prev was written as a value and is now an object too
		}
		prev = path
		// Walk the parent segments of path.
		rest := path
		depth := 0
		for {
			j := strings.IndexByte(rest, '.')
			if j < 0 {
				break
			}
			seg := rest[:j]
			if depth < len(open) && open[depth] == seg {
				depth++
				rest = rest[j+1:]
				continue
			}
			break
		}
		for len(open) > depth {
			lits = append(lits, '}')
			open = open[:len(open)-1]
			first = false
		}
		for {
			j := strings.IndexByte(rest, '.')
			if j < 0 {
				break
			}
			if !first {
				lits = append(lits, ',')
			}
			lits = appendString(lits, rest[:j])
			lits = append(lits, ':', '{')
			open = append(open, rest[:j])
			rest = rest[j+1:]
			first = true
		}
		if !first {
			lits = append(lits, ',')
		}
		lits = appendString(lits, rest)
		lits = append(lits, ':')
		steps = append(steps, step{from: int32(from), to: int32(len(lits)), kv: i})
		from = len(lits)
		first = false
	}
	for range open {
		lits = append(lits, '}')
	}
	lits = append(lits, '}')
	d.tail = from
	d.lits, d.steps = lits, steps
}

// appendTo writes the document as nested JSON objects: the paths sorted keep every object's
// members together, so each object is opened and closed once.
func (d *doc) appendTo(dst []byte) []byte {
	d.plan()
	d.notCanonical = d.notCanonical || d.conflict
	for _, st := range d.steps {
		dst = append(dst, d.lits[st.from:st.to]...)
		e := &d.kv[st.kv]
		switch e.kind {
		case kindStr:
			dst = appendString(dst, e.s)
		case kindStrList1:
			dst = append(appendString(append(dst, '['), e.s), ']')
		case kindInt:
			dst = strconv.AppendInt(dst, e.n, 10)
		case kindText:
			dst = append(dst, '"')
			dst = append(dst, d.text[e.n>>32:e.n&0xffffffff]...)
			dst = append(dst, '"')
		case kindArgs:
			dst = appendArgs(dst, e.s, e.v.(string))
		default:
			dst = d.appendValue(dst, e.v)
		}
	}
	return append(dst, d.lits[d.tail:]...)
}

// appendArgs writes process.args: the executable (unless empty), then the fields of args (as
// strings.Fields splits them), without building the list.
func appendArgs(dst []byte, exe, args string) []byte {
	dst = append(dst, '[')
	first := true
	if exe != "" {
		dst = appendString(dst, exe)
		first = false
	}
	for f := range strings.FieldsSeq(args) {
		if !first {
			dst = append(dst, ',')
		}
		dst = appendString(dst, f)
		first = false
	}
	return append(dst, ']')
}

// compareSegments orders dotted paths segment by segment ('.' sorts before every other byte),
// so that "a.b.c" and "a.b.d" stay together even when another key is "a.b-x", and the members
// of each object come out in byte order of their keys.
func compareSegments(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	switch {
	case i == n:
		return len(a) - len(b)
	case a[i] == '.':
		return -1
	case b[i] == '.':
		return 1
	}
	return int(a[i]) - int(b[i])
}

// present reports whether an output field holds a value (Falco writes <NA> or null for missing).
func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != "" && v != "<NA>"
	}
	return true
}

// copyField sets path from output field key when it has a value.
func copyField(d *doc, f map[string]any, key, path string) {
	if v, ok := f[key]; ok && present(v) {
		d.set(path, v)
	}
}

// copyInt sets a long field: numbers as they are, numeric strings converted. Anything else is
// copied unchanged, so Elasticsearch's mapping -- not a silent drop here -- reports it (the
// document is then dead-lettered with the reason).
func copyInt(d *doc, f map[string]any, key, path string) {
	v, ok := f[key]
	if !ok || !present(v) {
		return
	}
	if s, isStr := v.(string); isStr {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			v = n
		}
	}
	d.set(path, v)
}

// copyIP sets an ip field only when the value parses as an address: fd.rip of a unix socket
// is not one, and that is not an error of the alert.
func copyIP(d *doc, f map[string]any, key, path string) {
	s, ok := f[key].(string)
	if !ok {
		return
	}
	if a, err := netip.ParseAddr(s); err == nil {
		d.set(path, a.String())
	}
}

func str(f map[string]any, key string) string {
	s, _ := f[key].(string)
	if s == "<NA>" {
		return ""
	}
	return s
}

// isTechnique reports whether t is a MITRE ATT&CK technique id: T and four digits, optionally
// a dot and three more (T1059, T1059.004).
func isTechnique(t string) bool {
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	switch len(t) {
	case 5:
		return t[0] == 'T' && digits(t[1:])
	case 9:
		return t[0] == 'T' && digits(t[1:5]) && t[5] == '.' && digits(t[6:])
	}
	return false
}

// ruleInfo is what a document takes from its rule alone: rule.id and the threat.* fields of
// its MITRE tags, with the list values boxed once (a slice in an interface is an allocation).
type ruleInfo struct {
	tags  []string // the tags it was computed from
	tagsV any      // tags, or nil without tags
	id    string
	// threat.tactic.name, threat.technique.id, threat.technique.subtechnique.id: []string,
	// or nil when there are none.
	tactics, techniques, subtechniques any
}

// maxRules bounds a builder's rule cache. Rules come from the loaded rule files (hundreds);
// the bound only guards against a spool of alerts from ever new rule names.
const maxRules = 4096

// rule returns the cached ruleInfo of a rule with these tags, computing it on first use or
// when the tags changed (a rules file reloaded with new tags).
func (d *doc) rule(name string, tags []string) *ruleInfo {
	if ri := d.rules[name]; ri != nil && slices.Equal(ri.tags, tags) {
		return ri
	}
	if d.rules == nil || len(d.rules) >= maxRules {
		d.rules = make(map[string]*ruleInfo)
	}
	ri := &ruleInfo{tags: slices.Clone(tags), id: ruleID(name)}
	if len(tags) > 0 {
		ri.tagsV = ri.tags
	}
	tactics, techniques, subtechniques := mitre(tags)
	if len(tactics) > 0 {
		ri.tactics = tactics
	}
	if len(techniques) > 0 {
		ri.techniques = techniques
	}
	if len(subtechniques) > 0 {
		ri.subtechniques = subtechniques
	}
	d.rules[name] = ri
	return ri
}

// mitre maps Falco's MITRE tags ("mitre_privilege_escalation", "T1611", "T1059.004") to the
// values of ECS threat.* fields: tactic names, technique ids (deduplicated) and subtechniques.
func mitre(tags []string) (tactics, techniques, subtechniques []string) {
	for _, t := range tags {
		switch {
		case strings.HasPrefix(t, "mitre_"):
			words := strings.Split(strings.TrimPrefix(t, "mitre_"), "_")
			for i, w := range words {
				if w != "and" && w != "" {
					words[i] = strings.ToUpper(w[:1]) + w[1:]
				}
			}
			tactics = append(tactics, strings.Join(words, " "))
		case isTechnique(t):
			if base, _, sub := strings.Cut(t, "."); sub {
				subtechniques = append(subtechniques, t)
				techniques = append(techniques, base)
			} else {
				techniques = append(techniques, t)
			}
		}
	}
	return tactics, dedupe(techniques), subtechniques
}

// threat writes the threat.* fields of a rule's MITRE tags.
func threat(d *doc, ri *ruleInfo) {
	if ri.tactics == nil && ri.techniques == nil {
		return
	}
	d.set("threat.framework", "MITRE ATT&CK")
	if ri.tactics != nil {
		d.set("threat.tactic.name", ri.tactics)
	}
	if ri.techniques != nil {
		d.set("threat.technique.id", ri.techniques)
	}
	if ri.subtechniques != nil {
		d.set("threat.technique.subtechnique.id", ri.subtechniques)
	}
}

func dedupe(s []string) []string {
	if len(s) < 2 {
		return s
	}
	out := s[:0]
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// syscallCategory gives event.category and event.type for a syscall name, after the table of
// Elastic's Falco integration (simplified to the families lanner captures).
func syscallCategory(evtType string, f map[string]any) (category, typ string) {
	switch evtType {
	case "execve", "execveat":
		return "process", "start"
	case "clone", "clone3", "fork", "vfork":
		return "process", "creation"
	case "exit", "exit_group", "kill", "tkill", "tgkill":
		return "process", "end"
	case "setuid", "setgid", "setresuid", "setresgid", "capset", "prctl", "ptrace":
		return "process", "change"
	case "open", "openat", "openat2", "creat":
		if strings.Contains(str(f, "evt.arg.flags"), "O_CREAT") {
			return "file", "creation"
		}
		return "file", "access"
	case "unlink", "unlinkat", "rmdir":
		return "file", "deletion"
	case "mkdir", "mkdirat", "symlink", "symlinkat", "link", "linkat":
		return "file", "creation"
	case "rename", "renameat", "renameat2", "chmod", "fchmod", "fchmodat", "chown", "fchown", "fchownat", "truncate", "ftruncate", "write", "pwrite64":
		return "file", "change"
	case "connect", "accept", "accept4", "listen", "bind", "socket", "sendto", "recvfrom":
		return "network", "connection"
	}
	if strings.HasPrefix(str(f, "fd.type"), "ipv") {
		return "network", "info"
	}
	return "process", "info"
}

// ruleID is a stable id of a rule name (rule.id): the same rule has the same id on every host.
func ruleID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:8])
}

// dedot replaces dots in label keys, as Beats does for kubernetes.labels.*, so that
// app.kubernetes.io/name does not become an object path.
func dedot(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ReplaceAll(k, ".", "_")] = v
	}
	return out
}

// Document returns the ECS document of r, as JSON.
func Document(r *shippers.Record) ([]byte, error) {
	b, _ := CanonicalDocument(r)
	return b, nil
}

// CanonicalDocument returns the ECS document of r and whether it is in the canonical form of
// shippers/chain (members sorted by key at every level, no whitespace, strings escaped by
// shippers.AppendJSONString, numbers as written): the audit trail then hashes the document's
// bytes as they are instead of parsing and rewriting them. It is false only for alerts with
// values of unusual types or keys that are not UTF-8; hash those through chain.Canonical.
func CanonicalDocument(r *shippers.Record) ([]byte, bool) {
	var b Builder
	return b.AppendDocument(make([]byte, 0, 1536), r)
}

// Builder builds ECS documents, keeping its storage and the layout of the last document
// between calls: alerts of one kind share a layout, so a reused Builder writes the next one
// mostly by copying. The zero value is ready; a Builder is not safe for concurrent use.
type Builder struct{ d doc }

// AppendDocument appends the ECS document of r to dst, and reports whether it is in canonical
// form (see CanonicalDocument).
func (b *Builder) AppendDocument(dst []byte, r *shippers.Record) ([]byte, bool) {
	dst = b.d.appendDocument(dst, r)
	return dst, !b.d.notCanonical
}

// appendDocument appends the document of r to dst, reusing d's storage.
func (d *doc) appendDocument(dst []byte, r *shippers.Record) []byte {
	d.kv, d.notCanonical = d.kv[:0], false
	if d.kv == nil {
		d.kv = make([]kv, 0, 80)
	}
	document(d, r)
	dst = d.appendTo(dst)
	clear(d.kv) // drop references to the record's values
	return dst
}

func document(d *doc, r *shippers.Record) {
	a := r.Alert
	f := a.OutputFields
	d.text = a.Time.UTC().AppendFormat(d.text[:0], time.RFC3339Nano)
	d.textFrom("@timestamp", 0)
	d.str("ecs.version", ecsVersion)
	d.str("message", a.Output)
	d.set("event.kind", "alert")
	d.str("event.id", r.ID)
	d.num("event.severity", int64(severity(a.Priority)))
	d.str("event.provider", a.Source.String())
	d.set("event.module", "lanner")
	d.set("event.dataset", "lanner.alerts")
	d.textFrom("event.start", 0)

	ri := d.rule(a.Rule, a.Tags)
	d.str("rule.name", a.Rule)
	d.str("rule.id", ri.id)
	if r.RuleDescription != "" {
		d.str("rule.description", r.RuleDescription)
	}
	if r.Ruleset != "" {
		d.str("rule.ruleset", r.Ruleset)
	}
	if ri.tagsV != nil {
		d.set("tags", ri.tagsV)
	}
	threat(d, ri)

	d.str("host.name", a.Hostname)
	d.str("host.hostname", a.Hostname)
	d.str("observer.hostname", a.Hostname)
	d.set("observer.product", "lanner")
	d.set("observer.vendor", "lanner")
	d.set("observer.type", "runtime-security")

	switch a.Source {
	case event.SourceK8sAudit:
		d.strList1("event.category", "configuration")
		// The verb comes with the alert (Action) whatever the rule prints; ka.verb in the output
		// fields covers records spooled before Action existed.
		verb := a.Action
		if verb == "" {
			verb = str(f, "ka.verb")
		}
		typ := "info"
		switch verb {
		case "create":
			typ = "creation"
		case "update", "patch":
			typ = "change"
		case "delete", "deletecollection":
			typ = "deletion"
		case "get", "list", "watch":
			typ = "access"
		}
		d.strList1("event.type", typ)
		if verb != "" {
			d.str("event.action", verb)
		}
		copyField(d, f, "ka.user.name", "user.name")
		copyField(d, f, "ka.target.namespace", "orchestrator.namespace")
		copyField(d, f, "ka.uri", "url.original")
		// The audit event's actor and object, whatever the rule prints (records spooled before
		// Audit existed keep what the output fields gave).
		if t := a.Audit; t != nil {
			set := func(path, v string) {
				if v != "" {
					d.str(path, v)
				}
			}
			set("user.name", t.User)
			if t.Resource != "" {
				d.set("orchestrator.type", "kubernetes")
				typ := t.Resource
				if t.Subresource != "" {
					typ += "/" + t.Subresource
				}
				d.str("orchestrator.resource.type", typ)
			}
			set("orchestrator.namespace", t.Namespace)
			set("orchestrator.resource.name", t.Name)
			if v := t.APIVersion; v != "" && t.APIGroup != "" {
				d.set("orchestrator.api_version", t.APIGroup+"/"+v)
			} else {
				set("orchestrator.api_version", v)
			}
			if ip, err := netip.ParseAddr(t.SourceIP); err == nil {
				d.str("source.ip", ip.String())
			}
		}
	default:
		et := a.Action
		if et == "" {
			et = str(f, "evt.type")
		}
		cat, typ := syscallCategory(et, f)
		if c := str(f, "evt.category"); c == "net" {
			cat = "network"
		}
		d.strList1("event.category", cat)
		d.strList1("event.type", typ)
		if et != "" {
			d.str("event.action", et)
		}
	}

	// process.* (Elastic's Falco integration mapping).
	copyField(d, f, "proc.name", "process.name")
	copyField(d, f, "proc.exepath", "process.executable")
	if !present(f["proc.exepath"]) {
		copyField(d, f, "proc.exe", "process.executable")
	}
	copyField(d, f, "proc.cmdline", "process.command_line")
	copyInt(d, f, "proc.pid", "process.pid")
	copyField(d, f, "proc.cwd", "process.working_directory")
	if args := str(f, "proc.args"); args != "" || present(f["proc.exepath"]) {
		exe := str(f, "proc.exepath")
		n := 0
		if exe != "" {
			n++
		}
		for range strings.FieldsSeq(args) {
			n++
		}
		if n > 0 {
			// The output field's own interface value when it holds the fields: boxing args
			// again would allocate.
			var argsV any = ""
			if args != "" {
				argsV = f["proc.args"]
			}
			d.kv = append(d.kv, kv{path: "process.args", s: exe, v: argsV, kind: kindArgs})
			d.num("process.args_count", int64(n))
		}
	}
	copyField(d, f, "proc.pname", "process.parent.name")
	copyField(d, f, "proc.pexepath", "process.parent.executable")
	copyField(d, f, "proc.pcmdline", "process.parent.command_line")
	copyInt(d, f, "proc.ppid", "process.parent.pid")
	if v, ok := f["user.uid"]; ok && present(v) {
		if from, ok := d.appendID(v); ok {
			d.textFrom("user.id", from)
			d.textFrom("process.user.id", from)
		} else {
			id := strings.Trim(strings.TrimSpace(jsonScalar(v)), `"`)
			d.str("user.id", id)
			d.str("process.user.id", id)
		}
	}
	if n := str(f, "user.name"); n != "" {
		d.str("user.name", n)
		d.str("process.user.name", n)
	}
	copyField(d, f, "user.loginname", "process.session_leader.user.name")
	if v, ok := f["group.gid"]; ok && present(v) {
		if from, ok := d.appendID(v); ok {
			d.textFrom("process.group.id", from)
		} else {
			d.str("process.group.id", strings.Trim(jsonScalar(v), `"`))
		}
	}
	copyField(d, f, "group.name", "process.group.name")

	// file.*: fd.name is a path only for files and directories.
	switch ft := str(f, "fd.type"); {
	case ft == "file" || ft == "directory" || (ft == "" && strings.HasPrefix(str(f, "fd.name"), "/")):
		copyField(d, f, "fd.name", "file.path")
		copyField(d, f, "fd.filename", "file.name")
		copyField(d, f, "fd.directory", "file.directory")
	}
	copyField(d, f, "fs.path.name", "file.path")

	// Network endpoints: local/remote as source/destination, client/server as Falco sees them.
	copyIP(d, f, "fd.lip", "source.ip")
	copyInt(d, f, "fd.lport", "source.port")
	copyIP(d, f, "fd.rip", "destination.ip")
	copyInt(d, f, "fd.rport", "destination.port")
	copyIP(d, f, "fd.cip", "client.ip")
	copyInt(d, f, "fd.cport", "client.port")
	copyIP(d, f, "fd.sip", "server.ip")
	copyInt(d, f, "fd.sport", "server.port")
	if p := str(f, "fd.l4proto"); p != "" {
		d.set("network.transport", p)
	}

	// container.*
	copyField(d, f, "container.id", "container.id")
	copyField(d, f, "container.name", "container.name")
	if img := str(f, "container.image.repository"); img != "" {
		d.str("container.image.name", img)
	} else {
		copyField(d, f, "container.image", "container.image.name")
	}
	if tag := str(f, "container.image.tag"); tag != "" {
		d.strList1("container.image.tag", tag)
	}
	copyField(d, f, "container.type", "container.runtime")
	if p, ok := f["container.privileged"].(bool); ok {
		d.set("container.security_context.privileged", p)
	}

	// orchestrator.* from the alert's fields, then kubernetes.* and orchestrator.* from the
	// enricher (which wins: it read the API server, the fields only the container's labels).
	if ns := str(f, "k8s.ns.name"); ns != "" {
		d.set("orchestrator.type", "kubernetes")
		d.str("orchestrator.namespace", ns)
	}
	if pod := str(f, "k8s.pod.name"); pod != "" {
		d.set("orchestrator.type", "kubernetes")
		d.set("orchestrator.resource.type", "pod")
		d.str("orchestrator.resource.name", pod)
	}
	if k := a.K8s; k != nil {
		k8sFields(d, k)
	}
	// The lookup's outcome, whenever a lookup was made: an alert from a container the pod cache
	// does not know has no kubernetes.* at all, and this says why.
	if l := a.K8sLookup; l != alert.K8sNotLooked {
		d.set("lanner.k8s.lookup", l.String())
	}

	// The audit trail (shippers/chain): the hash covers this whole document but lanner.chain.hash
	// itself, so the chainer builds the document without it first.
	if c := r.Chain; c != nil {
		d.str("lanner.chain.epoch", c.Epoch)
		if c.Seq <= math.MaxInt64 {
			d.num("lanner.chain.seq", int64(c.Seq))
		} else {
			d.set("lanner.chain.seq", c.Seq)
		}
		d.str("lanner.chain.prev", c.Prev)
		if c.Hash != "" {
			d.str("lanner.chain.hash", c.Hash)
		}
	}

	// The original alert, so nothing is lost: output_fields keeps Falco's dotted keys in a
	// flattened field (one mapping, whatever fields a rule prints).
	d.str("falco.rule", a.Rule)
	d.str("falco.priority", a.Priority.String())
	d.str("falco.source", a.Source.String())
	d.str("falco.hostname", a.Hostname)
	d.str("falco.output", a.Output)
	from := len(d.text)
	d.text = alert.AppendTime(d.text, a.Time)
	d.textFrom("falco.time", from)
	if ri.tagsV != nil {
		d.set("falco.tags", ri.tagsV)
	}
	if len(f) > 0 {
		d.set("falco.output_fields", withoutNulls(f))
	}
}

// k8sFields writes the enricher's metadata as Elastic's Kubernetes integration (Beats'
// add_kubernetes_metadata) and ECS name it: kubernetes.* for the pod and its owners,
// orchestrator.* for the resource, container.* for the container. It runs after the fields
// from the alert's output and wins over them: the enricher read the API server, the output
// fields only what the runtime labels said.
func k8sFields(d *doc, k *alert.K8sMeta) {
	set := func(path, v string) {
		if v != "" {
			d.str(path, v)
		}
	}
	d.set("orchestrator.type", "kubernetes")
	set("orchestrator.namespace", k.Namespace)
	set("kubernetes.namespace", k.Namespace)
	if k.PodName != "" {
		d.set("orchestrator.resource.type", "pod")
	}
	set("orchestrator.resource.name", k.PodName)
	set("orchestrator.resource.id", k.PodUID)
	set("kubernetes.pod.name", k.PodName)
	set("kubernetes.pod.uid", k.PodUID)
	if ip, err := netip.ParseAddr(k.PodIP); err == nil {
		// ECS wants an array here (a pod has one IP in the field's own example).
		d.set("orchestrator.resource.ip", []string{ip.String()})
		d.str("kubernetes.pod.ip", ip.String())
	}
	set("kubernetes.node.name", k.NodeName)
	set("kubernetes.container.name", k.ContainerName)
	set("container.name", k.ContainerName)
	set("container.id", k.ContainerID)
	if k.Image != "" {
		name, tag := splitImage(k.Image)
		d.str("container.image.name", name)
		if tag != "" {
			d.strList1("container.image.tag", tag)
		}
	}
	if _, digest, ok := strings.Cut(k.ImageID, "@"); ok && digest != "" {
		d.set("container.image.hash.all", []string{digest})
	} else if strings.HasPrefix(k.ImageID, "sha256:") {
		d.set("container.image.hash.all", []string{k.ImageID})
	}
	// Every owner of the chain the enricher resolved, then the top owner when it is of a kind
	// the chain has no field for (a custom controller).
	set("kubernetes.replicaset.name", k.ReplicaSet)
	set("kubernetes.deployment.name", k.Deployment)
	set("kubernetes.statefulset.name", k.StatefulSet)
	set("kubernetes.daemonset.name", k.DaemonSet)
	set("kubernetes.job.name", k.Job)
	set("kubernetes.cronjob.name", k.CronJob)
	if k.OwnerKind != "" && k.OwnerName != "" {
		kind := strings.ToLower(k.OwnerKind)
		switch kind {
		case "replicaset", "deployment", "statefulset", "daemonset", "job", "cronjob":
			if !ownerSet(k, kind) {
				d.str("kubernetes."+kind+".name", k.OwnerName)
			}
		}
		// ECS: "the name of a built-in workload resource (e.g., Deployment, StatefulSet)".
		d.str("orchestrator.resource.parent.type", k.OwnerKind)
	}
	if l := dedot(k.Labels); l != nil {
		d.set("kubernetes.labels", l)
	}
	if an := dedot(k.Annotations); an != nil {
		d.set("kubernetes.annotations", an)
	}
	if nl := dedot(k.NamespaceLabels); nl != nil {
		d.set("kubernetes.namespace_labels", nl)
	}
}

// ownerSet reports whether the chain field of kind (lower case) is already filled.
func ownerSet(k *alert.K8sMeta, kind string) bool {
	switch kind {
	case "replicaset":
		return k.ReplicaSet != ""
	case "deployment":
		return k.Deployment != ""
	case "statefulset":
		return k.StatefulSet != ""
	case "daemonset":
		return k.DaemonSet != ""
	case "job":
		return k.Job != ""
	case "cronjob":
		return k.CronJob != ""
	}
	return false
}

// splitImage splits an image reference into its name and tag: "reg:5000/ns/app:1.2" gives
// "reg:5000/ns/app" and "1.2"; a digest reference ("app@sha256:...") has no tag, and the
// digest is left out of the name (container.image.hash.all carries digests).
func splitImage(ref string) (name, tag string) {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndexByte(ref, '/')
	if i := strings.LastIndexByte(ref, ':'); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

// appendID appends the text of a numeric id (user.uid, group.gid) to d.text and returns where
// it starts, for the common types; false sends the others through jsonScalar. A string is
// taken only when it is all digits: then it is what jsonScalar and the trims leave of it.
func (d *doc) appendID(v any) (int, bool) {
	from := len(d.text)
	switch v := v.(type) {
	case int64:
		d.text = strconv.AppendInt(d.text, v, 10)
	case int:
		d.text = strconv.AppendInt(d.text, int64(v), 10)
	case uint64:
		d.text = strconv.AppendUint(d.text, v, 10)
	case float64:
		// Whole numbers that encoding/json writes without an exponent or a fraction.
		if v != math.Trunc(v) || math.Abs(v) >= 1e15 || math.Signbit(v) && v == 0 {
			return 0, false
		}
		d.text = strconv.AppendInt(d.text, int64(v), 10)
	case string:
		if v == "" {
			return 0, false
		}
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return 0, false
			}
		}
		d.text = append(d.text, v...)
	default:
		return 0, false
	}
	return from, true
}

func jsonScalar(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
