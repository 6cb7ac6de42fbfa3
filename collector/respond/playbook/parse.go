package playbook

import (
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/lannersec/lanner/collector/alert"
)

// ParseFile reads playbooks from data, the contents of file: either a YAML sequence of
// playbooks or a mapping whose playbooks key holds one (the responder's configuration file).
// Every problem is reported, each as an *Error naming file and line.
func ParseFile(file string, data []byte) ([]*Playbook, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(file, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := resolve(doc.Content[0])
	if root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "playbooks" {
				return Parse(file, root.Content[i+1])
			}
		}
		return nil, nil
	}
	return Parse(file, root)
}

// yamlLine is how yaml.v3 starts its syntax errors.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func yamlError(file string, err error) error {
	e := &Error{File: file, Msg: err.Error()}
	if g := yamlLine.FindStringSubmatch(e.Msg); g != nil {
		e.Line, _ = strconv.Atoi(g[1])
		e.Msg = g[2]
	}
	return Errors{e}
}

// Parse reads the playbooks of n, the value of a `playbooks:` key (a sequence). Every problem is
// reported, each as an *Error naming file and the line; the result is nil when there is one.
func Parse(file string, n *yaml.Node) ([]*Playbook, error) {
	p := &parser{file: file}
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errf(n, "playbooks: want a list of playbooks")
		return nil, p.errs
	}
	var out []*Playbook
	names := map[string]int{}
	for _, item := range n.Content {
		pb := p.playbook(resolve(item))
		if pb == nil {
			continue
		}
		if first, dup := names[pb.Name]; dup {
			p.errf(item, "playbook %q: defined twice (first at line %d)", pb.Name, first)
			continue
		}
		names[pb.Name] = pb.Line
		out = append(out, pb)
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return out, nil
}

type parser struct {
	file string
	errs Errors
}

func (p *parser) errf(n *yaml.Node, format string, a ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, a...)})
}

// resolve follows aliases (*anchor) to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.AliasNode {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	return n
}

// fields walks mapping n, calling each key's handler with its value; a key without a handler is
// an "unknown key" error at its line (like the configuration files, nothing is silently ignored).
func (p *parser) fields(what string, n *yaml.Node, handlers map[string]func(k, v *yaml.Node)) bool {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return true
	}
	if n.Kind != yaml.MappingNode {
		p.errf(n, "%s: want a mapping", what)
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		h, ok := handlers[k.Value]
		if !ok {
			known := make([]string, 0, len(handlers))
			for name := range handlers {
				known = append(known, name)
			}
			slices.Sort(known)
			p.errf(k, "%s: unknown key %q (known: %s)", what, k.Value, strings.Join(known, ", "))
			continue
		}
		if seen[k.Value] {
			p.errf(k, "%s: key %q given twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		h(k, v)
	}
	return true
}

func (p *parser) str(what string, n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, "%s: want a string", what)
		return "", false
	}
	return n.Value, true
}

func (p *parser) boolean(what string, n *yaml.Node) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		p.errf(n, "%s: want true or false, got %q", what, n.Value)
	}
	return b
}

// strs reads a string or a list of strings.
func (p *parser) strs(what string, n *yaml.Node) []string {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		p.errf(n, "%s: want a string or a list of strings", what)
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if s, ok := p.str(what, resolve(c)); ok {
			out = append(out, s)
		}
	}
	return out
}

// duration reads a Go duration ("30s", "1m") or a whole number of seconds.
func (p *parser) duration(what string, n *yaml.Node) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, "%s: want a duration such as 30s or 1m", what)
		return 0, false
	}
	if n.Tag == "!!int" {
		s, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || s < 0 || s > math.MaxInt64/int64(time.Second) {
			p.errf(n, "%s: %q is not a number of seconds", what, n.Value)
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		p.errf(n, "%s: %q is not a duration such as 30s or 1m", what, n.Value)
		return 0, false
	}
	if d < 0 {
		p.errf(n, "%s: must not be negative", what)
		return 0, false
	}
	return d, true
}

func (p *parser) playbook(n *yaml.Node) *Playbook {
	pb := &Playbook{Line: n.Line}
	var matchNode, actionsNode *yaml.Node
	ok := p.fields("playbook", n, map[string]func(k, v *yaml.Node){
		"name":        func(_, v *yaml.Node) { pb.Name, _ = p.str("name", v) },
		"description": func(_, v *yaml.Node) { pb.Description, _ = p.str("description", v) },
		"dry_run":     func(_, v *yaml.Node) { pb.DryRun = p.boolean("dry_run", v) },
		"match":       func(_, v *yaml.Node) { matchNode = v },
		"rate_limit":  func(_, v *yaml.Node) { pb.RateLimit = p.rateLimit("rate_limit", v) },
		"actions":     func(_, v *yaml.Node) { actionsNode = v },
	})
	if !ok {
		return nil
	}
	what := "playbook"
	switch {
	case pb.Name == "":
		p.errf(n, "playbook: no name")
	case len(pb.Name) > 128 || strings.ContainsFunc(pb.Name, unicode.IsControl):
		p.errf(n, "playbook %q: a name is at most 128 characters, without control characters", pb.Name)
	default:
		what = fmt.Sprintf("playbook %q", pb.Name)
	}
	if matchNode == nil {
		p.errf(n, "%s: no match (write at least one of rule, rule_regex, priority, tags, namespaces, pod_labels)", what)
	} else {
		p.match(what, matchNode, &pb.Match)
	}
	if actionsNode == nil {
		p.errf(n, "%s: no actions", what)
	} else {
		pb.Actions = p.actions(what, actionsNode)
	}
	return pb
}

func (p *parser) rateLimit(what string, n *yaml.Node) *RateLimit {
	rl := &RateLimit{}
	burstSet := false
	p.fields(what, n, map[string]func(k, v *yaml.Node){
		"burst": func(_, v *yaml.Node) {
			b, err := strconv.Atoi(v.Value)
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || err != nil || b < 1 {
				p.errf(v, "%s.burst: want a whole number of at least 1, got %q", what, v.Value)
				return
			}
			rl.Burst, burstSet = b, true
		},
		"every": func(_, v *yaml.Node) { rl.Every, _ = p.duration(what+".every", v) },
	})
	if !burstSet && n.Kind == yaml.MappingNode {
		p.errf(n, "%s: no burst", what)
	}
	return rl
}

func (p *parser) match(what string, n *yaml.Node, m *Match) {
	what += ": match"
	criteria := 0
	p.fields(what, n, map[string]func(k, v *yaml.Node){
		"rule": func(_, v *yaml.Node) {
			m.Rules = p.strs(what+".rule", v)
			criteria++
		},
		"rule_regex": func(_, v *yaml.Node) {
			criteria++
			s, ok := p.str(what+".rule_regex", v)
			if !ok {
				return
			}
			re, err := regexp.Compile(s)
			if err != nil {
				p.errf(v, "%s.rule_regex: %v", what, err)
				return
			}
			m.RuleRegex = re
		},
		"priority": func(_, v *yaml.Node) {
			criteria++
			s, ok := p.str(what+".priority", v)
			if !ok {
				return
			}
			pr, err := alert.ParsePriority(s)
			if err != nil {
				p.errf(v, "%s.priority: %v", what, err)
				return
			}
			m.MinPriority, m.HasPriority = pr, true
		},
		"tags": func(_, v *yaml.Node) {
			m.Tags = p.strs(what+".tags", v)
			criteria++
		},
		"namespaces": func(_, v *yaml.Node) {
			m.Namespaces = p.namespaces(what+".namespaces", v)
			criteria++
		},
		"exclude_namespaces": func(_, v *yaml.Node) {
			m.ExcludeNamespaces = p.namespaces(what+".exclude_namespaces", v)
		},
		"pod_labels": func(_, v *yaml.Node) {
			criteria++
			s, ok := p.str(what+".pod_labels", v)
			if !ok {
				return
			}
			sel, err := labels.Parse(s)
			if err != nil {
				p.errf(v, "%s.pod_labels: bad label selector %q: %v", what, s, err)
				return
			}
			m.PodLabels = sel
		},
	})
	if criteria == 0 && n.Kind == yaml.MappingNode {
		// A playbook acting on every alert is almost always a mistake; `priority: debug` says
		// it on purpose.
		p.errf(n, "%s: no criterion (write at least one of rule, rule_regex, priority, tags, namespaces, pod_labels; priority: debug matches every alert)", what)
	}
}

func (p *parser) namespaces(what string, n *yaml.Node) []string {
	ns := p.strs(what, n)
	for _, s := range ns {
		if errs := content.IsDNS1123Label(s); len(errs) > 0 {
			p.errf(n, "%s: %q is not a namespace name: %s", what, s, strings.Join(errs, "; "))
		}
	}
	return ns
}

// actions reads the action list. An entry is the action's name alone (`- isolate_pod`) or a
// mapping of the name to its parameters (`- delete_pod: {grace_period: 10s}`).
func (p *parser) actions(what string, n *yaml.Node) []Action {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errf(n, "%s: actions: want a non-empty list", what)
		return nil
	}
	var out []Action
	for _, item := range n.Content {
		item = resolve(item)
		var name string
		var params *yaml.Node
		switch {
		case item.Kind == yaml.ScalarNode && item.Tag != "!!null":
			name, params = item.Value, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: item.Line}
		case item.Kind == yaml.MappingNode && len(item.Content) == 2:
			name, params = item.Content[0].Value, resolve(item.Content[1])
			if params.Kind == yaml.ScalarNode && params.Tag == "!!null" {
				params = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: item.Line}
			}
		default:
			p.errf(item, "%s: action: want an action name, or a mapping of one action name to its parameters", what)
			continue
		}
		a := Action{Kind: Kind(name), Line: item.Line}
		if !a.Kind.Valid() {
			known := make([]string, 0, len(Kinds()))
			for _, k := range Kinds() {
				known = append(known, string(k))
			}
			p.errf(item, "%s: unknown action %q (known: %s)", what, name, strings.Join(known, ", "))
			continue
		}
		if p.params(fmt.Sprintf("%s: %s", what, name), params, &a) {
			out = append(out, a)
		}
	}
	return out
}

// params reads an action's parameters into a; it reports whether they were all valid.
func (p *parser) params(what string, n *yaml.Node, a *Action) bool {
	before := len(p.errs)
	h := map[string]func(k, v *yaml.Node){
		"ignore_errors": func(_, v *yaml.Node) { a.IgnoreErrors = p.boolean(what+": ignore_errors", v) },
	}
	var labelsSet, keySet, webhookSet bool
	switch a.Kind {
	case DeletePod:
		h["grace_period"] = func(_, v *yaml.Node) {
			if d, ok := p.duration(what+": grace_period", v); ok {
				if d%time.Second != 0 {
					p.errf(v, "%s: grace_period: Kubernetes counts whole seconds, got %v", what, d)
					return
				}
				a.GracePeriod = &d
			}
		}
	case LabelPod:
		h["labels"] = func(_, v *yaml.Node) { a.Labels, labelsSet = p.labels(what+": labels", v), true }
	case TaintNode:
		a.Taint.Effect = corev1.TaintEffectNoSchedule
		h["key"] = func(_, v *yaml.Node) {
			s, ok := p.str(what+": key", v)
			if !ok {
				return
			}
			if errs := content.IsLabelKey(s); len(errs) > 0 {
				p.errf(v, "%s: key %q: %s", what, s, strings.Join(errs, "; "))
			}
			a.Taint.Key, keySet = s, true
		}
		h["value"] = func(_, v *yaml.Node) {
			s, ok := p.str(what+": value", v)
			if !ok {
				return
			}
			if errs := content.IsLabelValue(s); len(errs) > 0 {
				p.errf(v, "%s: value %q: %s", what, s, strings.Join(errs, "; "))
			}
			a.Taint.Value = s
		}
		h["effect"] = func(_, v *yaml.Node) {
			s, _ := p.str(what+": effect", v)
			switch e := corev1.TaintEffect(s); e {
			case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
				a.Taint.Effect = e
			default:
				p.errf(v, "%s: effect %q: want NoSchedule, PreferNoSchedule or NoExecute", what, s)
			}
		}
	case Notify:
		h["webhook"] = func(_, v *yaml.Node) {
			s, ok := p.str(what+": webhook", v)
			if ok && s != "" {
				a.Webhook, webhookSet = s, true
			}
		}
	}
	p.fields(what, n, h)
	switch {
	case a.Kind == LabelPod && !labelsSet:
		p.errf(n, "%s: no labels", what)
	case a.Kind == TaintNode && !keySet:
		p.errf(n, "%s: no key", what)
	case a.Kind == Notify && !webhookSet:
		p.errf(n, "%s: no webhook (a name under notify_webhooks)", what)
	}
	return len(p.errs) == before
}

func (p *parser) labels(what string, n *yaml.Node) map[string]string {
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		p.errf(n, "%s: want a non-empty mapping of label keys to values", what)
		return nil
	}
	out := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if errs := content.IsLabelKey(k.Value); len(errs) > 0 {
			p.errf(k, "%s: key %q: %s", what, k.Value, strings.Join(errs, "; "))
			continue
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			p.errf(v, "%s: %s: want a string value", what, k.Value)
			continue
		}
		if errs := content.IsLabelValue(v.Value); len(errs) > 0 {
			p.errf(v, "%s: %s: value %q: %s", what, k.Value, v.Value, strings.Join(errs, "; "))
			continue
		}
		out[k.Value] = v.Value
	}
	return out
}
