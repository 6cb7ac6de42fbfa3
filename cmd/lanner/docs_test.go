package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lannersec/lanner/collector/config"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// The user docs that are generated from the code, in part, like docs/configuration.md is from
// collector/config (collector/config/docs_test.go): a marked section of each file is rewritten
// with LANNER_UPDATE_DOCS=1, and the tests fail while a section differs from the code.
const (
	docsUpdateEnv  = "LANNER_UPDATE_DOCS"
	cliDocPath     = "../../docs/cli.md"
	fieldsDocPath  = "../../docs/fields.md"
	configDocPath  = "../../docs/configuration.md"
	cliSection     = "CLI commands"
	fieldsSection  = "fields"
	docsRegenerate = docsUpdateEnv + "=1 go test -run 'TestDocs' ./cmd/lanner/"
)

// TestDocsCLI fails when the generated section of docs/cli.md differs from the command tree.
func TestDocsCLI(t *testing.T) {
	checkGeneratedDoc(t, cliDocPath, cliSection, cliMarkdown(newRootCmd()))
}

// TestDocsFields fails when the generated section of docs/fields.md differs from the field
// registry (it is what `lanner rules fields --markdown` prints, without its title).
func TestDocsFields(t *testing.T) {
	checkGeneratedDoc(t, fieldsDocPath, fieldsSection, fieldsMarkdown(t))
}

// TestDocsCoverCLIAndConfig checks, independently of the generated text, that every command,
// every flag of every command and every configuration key is in the docs: a command or key added
// without regenerating the docs fails here with its name.
func TestDocsCoverCLIAndConfig(t *testing.T) {
	cli := readDoc(t, cliDocPath)
	keys := config.Keys()
	if len(keys) < 50 {
		t.Fatalf("config.Keys() returned %d keys; the configuration has far more", len(keys))
	}
	cfgFlags := configFlagNames()
	cmds := visibleCommands(newRootCmd())
	if len(cmds) < 10 {
		t.Fatalf("the command tree has %d commands; expected every subcommand of lanner", len(cmds))
	}
	for _, c := range cmds {
		path := c.CommandPath()
		sec, ok := docSection(cli, "### `"+path+"`\n")
		if !ok {
			t.Errorf("command %q has no section (### `%s`) in %s; run %s", path, path, cliDocPath, docsRegenerate)
			continue
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" || (c.Name() == "run" && cfgFlags[f.Name]) {
				return
			}
			if !strings.Contains(sec, "`--"+f.Name+"`") {
				t.Errorf("flag --%s of %q is not documented in %s", f.Name, path, cliDocPath)
			}
		})
	}

	cfgDoc := readDoc(t, configDocPath)
	for _, k := range keys {
		if !strings.Contains(cfgDoc, "`"+k.Path+"`") {
			t.Errorf("configuration key %s is not in %s", k.Path, configDocPath)
		}
		if !strings.Contains(cfgDoc, "`--"+k.Flag+"`") {
			t.Errorf("flag --%s (key %s) is not in %s", k.Flag, k.Path, configDocPath)
		}
	}
	// lanner run binds one flag per key: a key without its flag would be undocumented on the CLI.
	run, _, err := newRootCmd().Find([]string{"run"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if run.Flags().Lookup(k.Flag) == nil {
			t.Errorf("configuration key %s has no flag --%s on lanner run", k.Path, k.Flag)
		}
	}
}

// checkGeneratedDoc compares the marked section of path with want, or rewrites it when
// LANNER_UPDATE_DOCS is set.
func checkGeneratedDoc(t *testing.T, path, section, want string) {
	t.Helper()
	begin := "<!-- BEGIN GENERATED: " + section + " -->\n"
	end := "<!-- END GENERATED: " + section + " -->"
	doc := readDoc(t, path)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the markers %q and %q", path, strings.TrimSpace(begin), end)
	}
	got := doc[i+len(begin) : j]
	if got == want {
		return
	}
	if os.Getenv(docsUpdateEnv) != "" {
		doc = doc[:i+len(begin)] + want + doc[j:]
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the %s section of %s", section, path)
		return
	}
	t.Errorf("the %s section of %s is out of date: run %s\n%s", section, path, docsRegenerate, firstDifference(got, want))
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// firstDifference shows the first line where the documented text and the generated one part.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("first difference at line %d of the section:\n  doc:  %q\n  code: %q", i+1, gl, wl)
		}
	}
	return ""
}

// docSection returns the text of doc from heading to the next heading of any level 2 or 3.
func docSection(doc, heading string) (string, bool) {
	i := strings.Index(doc, heading)
	if i < 0 {
		return "", false
	}
	rest := doc[i+len(heading):]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	if j := strings.Index(rest, "\n### "); j >= 0 {
		rest = rest[:j]
	}
	return rest, true
}

// fieldsMarkdown is `lanner rules fields --markdown` without its title and introduction, which
// docs/fields.md writes itself.
func fieldsMarkdown(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	if err := writeFieldsMarkdown(&b, fields.NewRegistry(), event.Sources()); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	i := strings.Index(s, "\n## Source ")
	if i < 0 {
		t.Fatalf("lanner rules fields --markdown has no \"## Source\" heading:\n%s", s)
	}
	return s[i+1:]
}

// visibleCommands returns every command under root (root excluded) that a user can run or
// that groups others, depth first, in the order --help lists them.
func visibleCommands(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			out = append(out, sub)
			walk(sub)
		}
	}
	walk(root)
	return out
}

// configFlagNames are the flags lanner run takes for configuration keys.
func configFlagNames() map[string]bool {
	m := map[string]bool{}
	for _, k := range config.Keys() {
		m[k.Flag] = true
	}
	return m
}

// cliMarkdown renders the command tree: an index, then one section per command with its
// synopsis, its help text as --help prints it, its flags and its examples.
func cliMarkdown(root *cobra.Command) string {
	cmds := visibleCommands(root)
	cfgFlags := configFlagNames()
	var b strings.Builder
	b.WriteString("| Command | What it does |\n|---|---|\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s |\n", c.CommandPath(), anchor(c.CommandPath()), mdCell(c.Short))
	}
	for _, c := range cmds {
		fmt.Fprintf(&b, "\n### `%s`\n\n", c.CommandPath())
		fmt.Fprintf(&b, "%s.\n\n", strings.TrimSuffix(c.Short, "."))
		use := c.UseLine()
		if !c.Runnable() {
			use = c.CommandPath() + " COMMAND" // a group: it only holds subcommands
		}
		fmt.Fprintf(&b, "```text\n%s\n```\n", use)
		if long := strings.TrimSpace(c.Long); long != "" {
			fmt.Fprintf(&b, "\n```text\n%s\n```\n", long)
		}
		if subs := runnableChildren(c); len(subs) > 0 {
			b.WriteString("\nSubcommands:")
			for i, s := range subs {
				sep := ","
				if i == 0 {
					sep = ""
				}
				fmt.Fprintf(&b, "%s [`%s`](#%s)", sep, s.Name(), anchor(s.CommandPath()))
			}
			b.WriteString(".\n")
		}
		var rows []string
		nConfig := 0
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			if c.Name() == "run" && cfgFlags[f.Name] {
				nConfig++
				return
			}
			rows = append(rows, flagRow(f))
		})
		if len(rows) > 0 {
			b.WriteString("\n| Flag | Type | Default | Description |\n|---|---|---|---|\n")
			for _, r := range rows {
				b.WriteString(r)
			}
		}
		if nConfig > 0 {
			// No count here: a new configuration key must not make this page stale.
			b.WriteString("\nAnd one flag per configuration key: the dotted key with `-` for `_`, " +
				"e.g. `--capture.poll-interval`; [configuration.md](configuration.md) lists every key with its flag and default.\n")
		}
		if ex := strings.TrimRight(c.Example, "\n"); ex != "" {
			lines := strings.Split(ex, "\n")
			for i, l := range lines {
				lines[i] = strings.TrimPrefix(l, "  ")
			}
			fmt.Fprintf(&b, "\nExamples:\n\n```sh\n%s\n```\n", strings.Join(lines, "\n"))
		}
	}
	return b.String()
}

func runnableChildren(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, s := range c.Commands() {
		if !s.Hidden && s.Name() != "help" && s.Name() != "completion" {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

func flagRow(f *pflag.Flag) string {
	name := "`--" + f.Name + "`"
	if f.Shorthand != "" {
		name = "`-" + f.Shorthand + "`, " + name
	}
	typ := f.Value.Type()
	switch typ {
	case "stringArray", "stringSlice":
		typ = "string, repeatable"
	}
	def := f.DefValue
	if def == "" || def == "[]" {
		def = ""
	} else {
		def = "`" + def + "`"
	}
	return fmt.Sprintf("| %s | %s | %s | %s |\n", name, typ, def, mdCell(f.Usage))
}

// anchor is the anchor GitHub gives a heading: lower case, spaces to dashes, punctuation other
// than - and _ dropped (a code span's backticks too).
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// TestDocsLinks checks that every relative link of the user docs (docs/, README.md) points at a
// file that exists and, with a #fragment, at a heading of that file, so that renaming a page or
// a heading cannot leave dead links behind.
func TestDocsLinks(t *testing.T) {
	var pages []string
	err := filepath.WalkDir("../../docs", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			pages = append(pages, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, "../../README.md")
	if len(pages) < 10 {
		t.Fatalf("found %d pages under docs/; expected the whole user documentation", len(pages))
	}
	headings := map[string]map[string]bool{}
	anchorsOf := func(p string) map[string]bool {
		if h, ok := headings[p]; ok {
			return h
		}
		h := headingAnchors(readDoc(t, p))
		headings[p] = h
		return h
	}
	checked := 0
	for _, page := range pages {
		for _, link := range relativeLinks(readDoc(t, page)) {
			checked++
			file, frag, _ := strings.Cut(link, "#")
			target := page
			if file != "" {
				target = filepath.Join(filepath.Dir(page), file)
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s: link %q: %v", page, link, err)
				continue
			}
			if frag != "" && strings.HasSuffix(target, ".md") && !anchorsOf(target)[frag] {
				t.Errorf("%s: link %q: %s has no heading with the anchor #%s", page, link, target, frag)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative links found: the link pattern is broken")
	}
}

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// relativeLinks returns the targets of the Markdown links of doc outside code blocks, except
// absolute URLs.
func relativeLinks(doc string) []string {
	var out []string
	for _, text := range outsideCodeBlocks(doc) {
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			l := m[1]
			if strings.Contains(l, "://") || strings.HasPrefix(l, "mailto:") {
				continue
			}
			out = append(out, l)
		}
	}
	return out
}

// outsideCodeBlocks returns the runs of doc's lines that are not in fenced code blocks.
func outsideCodeBlocks(doc string) []string {
	var out []string
	var b strings.Builder
	fenced := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			if !fenced {
				out = append(out, b.String())
				b.Reset()
			}
			fenced = !fenced
			continue
		}
		if !fenced {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return append(out, b.String())
}

// headingAnchors returns the anchors of doc's headings, with GitHub's -1, -2... for repeated
// headings.
func headingAnchors(doc string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, text := range outsideCodeBlocks(doc) {
		for _, line := range strings.Split(text, "\n") {
			if !strings.HasPrefix(line, "#") {
				continue
			}
			a := anchor(strings.TrimLeft(line, "#"))
			if n, dup := seen[a]; dup {
				seen[a] = n + 1
				a = fmt.Sprintf("%s-%d", a, n+1)
			} else {
				seen[a] = 0
			}
			out[a] = true
		}
	}
	return out
}
