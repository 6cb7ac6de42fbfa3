package config

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// KeyLines maps every key of a YAML document, dotted ("elasticsearch.tls.ca_file"), to its line:
// the place of a FILE:LINE message about a setting that only validation, after decoding, finds
// wrong. Both lanner run's and lanner respond's configurations use it.
type KeyLines map[string]int

// CollectKeyLines records the line of every mapping key under n (a document's root mapping).
func CollectKeyLines(n *yaml.Node) KeyLines {
	lines := KeyLines{}
	lines.collect(n, "")
	return lines
}

func (l KeyLines) collect(n *yaml.Node, prefix string) {
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		key := k.Value
		if prefix != "" {
			key = prefix + "." + key
		}
		l[key] = k.Line
		l.collect(n.Content[i+1], key)
	}
}

// Line returns the line of key, or of its closest enclosing block written in the file; 0 when
// the file sets none of them.
func (l KeyLines) Line(key string) int {
	for k := key; k != ""; {
		if n, ok := l[k]; ok {
			return n
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

// YAMLProblem is one problem yaml.v3 reported, with its line (0 when it gave none).
type YAMLProblem struct {
	Line int
	Msg  string
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// YAMLProblems splits a yaml.v3 error ("line 7: field colour not found in type config.Log")
// into its problems, each with its line and an unknown key named as the user wrote it.
func YAMLProblems(err error) []YAMLProblem {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := make([]YAMLProblem, 0, len(msgs))
	for _, m := range msgs {
		p := YAMLProblem{Msg: m}
		if g := yamlLine.FindStringSubmatch(m); g != nil {
			p.Line, _ = strconv.Atoi(g[1])
			p.Msg = g[2]
			if f, ok := strings.CutPrefix(p.Msg, "field "); ok {
				if name, _, ok := strings.Cut(f, " not found in type"); ok {
					p.Msg = "unknown key " + strconv.Quote(name)
				}
			}
		}
		out = append(out, p)
	}
	return out
}
