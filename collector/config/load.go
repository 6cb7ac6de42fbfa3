package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a configuration problem, located in the file when it came from one.
type Error struct {
	File string // "" when the value came from a flag or a default
	Line int    // 0 when unknown
	Key  string // dotted key, when known
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem of one configuration; Error prints one per line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// File is a parsed configuration file: where each key was written, for error messages.
type File struct {
	Name  string
	lines KeyLines
	// unknownOutputs are unknown top-level blocks named like outputs (Parse, for Load).
	unknownOutputs Errors
}

// Line returns the line of key (dotted) in the file, or of its closest enclosing block; 0 when
// the file does not set it.
func (f *File) Line(key string) int {
	if f == nil {
		return 0
	}
	return f.lines.Line(key)
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// ExpandEnv replaces ${NAME} with the environment variable NAME, as getenv reports it: how a
// Secret's value reaches a configuration file from a ConfigMap without being written in it.
// Values never hold a newline here (they would shift line numbers), and an unset variable is an
// error rather than "". The responder's configuration reads its file the same way.
func ExpandEnv(data []byte, getenv func(string) (string, bool)) ([]byte, error) {
	var missing []string
	out := envRef.ReplaceAllFunc(data, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := getenv(name)
		if !ok {
			missing = append(missing, name)
			return m
		}
		return []byte(strings.NewReplacer("\n", " ", "\r", " ").Replace(v))
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("environment variable ${%s} is not set", strings.Join(missing, "}, ${"))
	}
	return out, nil
}

// Parse decodes data (the contents of file name) over cfg, strictly: an unknown key or a value of
// the wrong type is an *Error with the file and line.
func Parse(name string, data []byte, cfg *Config, getenv func(string) (string, bool)) (*File, error) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	data, err := ExpandEnv(data, getenv)
	if err != nil {
		return nil, &Error{File: name, Msg: err.Error()}
	}
	f := &File{Name: name}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err)
	}
	if len(root.Content) == 0 { // empty file: the defaults
		return f, nil
	}
	f.lines = CollectKeyLines(root.Content[0])
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		err = yamlError(name, err)
		// An unknown top-level block named like an output (kafka_output) leaves that output out
		// (Load reports it as disabled); every other unknown key stays an error.
		var rest Errors
		for _, e := range asErrors(err) {
			if out, ok := f.unknownOutputBlock(e); ok {
				e.Key = out
				e.Msg = fmt.Sprintf("unknown output %q (lanner has elasticsearch, fluentd, file_output, http_output, syslog_output, program_output, nats_output)", out)
				f.unknownOutputs = append(f.unknownOutputs, e)
				continue
			}
			rest = append(rest, e)
		}
		if len(rest) > 0 {
			return nil, append(rest, f.unknownOutputs...)
		}
	}
	return f, nil
}

func asErrors(err error) Errors {
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	var e *Error
	if errors.As(err, &e) {
		return Errors{e}
	}
	return Errors{{Msg: err.Error()}}
}

// unknownOutputBlock says whether e is yaml's "unknown key" for a top-level block named like an
// output (NAME_output), and returns that name.
func (f *File) unknownOutputBlock(e *Error) (string, bool) {
	name, ok := strings.CutPrefix(e.Msg, "unknown key ")
	if !ok {
		return "", false
	}
	name, err := strconv.Unquote(name)
	// Top-level keys are recorded by their bare name.
	if err != nil || !strings.HasSuffix(name, "_output") || e.Line == 0 || f.lines[name] != e.Line {
		return "", false
	}
	return name, true
}

// yamlError turns yaml.v3's errors ("line 7: field colour not found in type config.Log") into
// FILE:LINE errors that name the key as the user wrote it.
func yamlError(file string, err error) error {
	var out Errors
	for _, p := range YAMLProblems(err) {
		out = append(out, &Error{File: file, Line: p.Line, Msg: p.Msg})
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}

// Load returns the configuration of file path (Default when path is ""), with the overrides
// applied and validated. Every problem is reported, each as FILE:LINE: key: what is wrong.
func Load(path string, ov *Overrides) (*Config, error) {
	cfg := Default()
	var f *File
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, &Error{File: path, Msg: err.Error()}
		}
		f, err = Parse(path, data, &cfg, nil)
		if err != nil {
			return nil, err
		}
	}
	if ov != nil {
		if err := ov.Apply(&cfg); err != nil {
			return nil, err
		}
	}
	var unknown Errors
	if f != nil {
		unknown = f.unknownOutputs
	}
	if err := cfg.disableBadOutputs(f, ov, unknown); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// disableBadOutputs validates c. Problems inside an enabled output's block disable that output
// (recorded in DisabledOutputs) instead of failing the start, as do unknown blocks named like
// outputs; any other problem, or no output left at all, is an error listing everything.
func (c *Config) disableBadOutputs(f *File, ov *Overrides, unknown Errors) error {
	ps := c.Validate()
	var rest []Problem
	bad := map[string][]Problem{}
	for _, p := range ps {
		matched := false
		for _, b := range c.SpooledOutputs() {
			if *b.Enabled && strings.HasPrefix(p.Key, b.Name+".") {
				bad[b.Name] = append(bad[b.Name], p)
				matched = true
				break
			}
		}
		if !matched {
			rest = append(rest, p)
		}
	}
	if len(rest) > 0 {
		all := locate(ps, f, ov)
		return append(unknown, all...)
	}
	for _, b := range c.SpooledOutputs() {
		if probs := bad[b.Name]; len(probs) > 0 {
			*b.Enabled = false
			c.DisabledOutputs = append(c.DisabledOutputs, DisabledOutput{Name: b.Name, Problems: locate(probs, f, ov)})
		}
	}
	for _, u := range unknown {
		c.DisabledOutputs = append(c.DisabledOutputs, DisabledOutput{Name: u.Key, Problems: Errors{u}})
	}
	if len(c.DisabledOutputs) > 0 {
		// With the bad outputs off, the rest must still make a configuration (an output left).
		if ps := c.Validate(); len(ps) > 0 {
			out := locate(ps, f, ov)
			for _, d := range c.DisabledOutputs {
				out = append(out, d.Problems...)
			}
			return out
		}
	}
	return nil
}

// locate places each problem: in the flag that set the key, else in the file, else plainly.
func locate(ps []Problem, f *File, ov *Overrides) Errors {
	var out Errors
	for _, p := range ps {
		e := &Error{Key: p.Key, Msg: p.Msg}
		if flag := ov.changedFlag(p.Key); flag != "" {
			e.Msg += " (set by --" + flag + ")"
		} else if f != nil {
			e.File, e.Line = f.Name, f.Line(p.Key)
		}
		out = append(out, e)
	}
	// in file order; problems without a line (flags, defaults) first
	slices.SortStableFunc(out, func(a, b *Error) int { return a.Line - b.Line })
	return out
}
