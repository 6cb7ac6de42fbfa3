package replaytest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// CompatDir finds the upstream rules files: $LANNER_COMPAT_DIR, else ../shared/compat next to
// the repository root (the directory holding go.mod).
func CompatDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("LANNER_COMPAT_DIR"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "compat")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// LoadUpstream loads the named upstream rules file from CompatDir with reg and rule_matching m.
// The test is skipped when the file is not there (the compat files live outside the module), and
// fails when it does not load cleanly.
func LoadUpstream(t testing.TB, name string, reg *fields.Registry, m engine.RuleMatching) *engine.Ruleset {
	t.Helper()
	path := filepath.Join(CompatDir(t), name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("upstream rules not available (set LANNER_COMPAT_DIR): %v", err)
	}
	rs, res := engine.Load([]engine.File{{Name: path, Data: data}}, engine.Options{Registry: reg, RuleMatching: m})
	if !res.OK() {
		t.Fatalf("loading %s: %v", path, res.Err())
	}
	return rs
}

// Expectation is what one corpus event must make fire.
type Expectation struct {
	First string   // the rule under rule_matching first; "" for none
	All   []string // the rules under rule_matching all, in rules-file order
	Why   string   // the author's reason, printed when the expectation fails
}

// ReadExpectations reads an expectations file: one `id | first | all | why` line per event,
// `-` for none, rule names in `all` separated by "; ", blank lines and #-comments ignored. It
// returns the expectations by id and the ids in file order; a malformed line or a repeated id
// fails the test.
func ReadExpectations(t testing.TB, path string) (map[string]Expectation, []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	exp := map[string]Expectation{}
	var order []string
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, " | ")
		if len(parts) != 4 {
			t.Fatalf("%s:%d: want 4 fields separated by ' | ', got %d", path, i+1, len(parts))
		}
		id := parts[0]
		if _, dup := exp[id]; dup {
			t.Fatalf("%s:%d: id %s listed twice", path, i+1, id)
		}
		e := Expectation{Why: parts[3]}
		if parts[1] != "-" {
			e.First = parts[1]
		}
		if parts[2] != "-" {
			e.All = strings.Split(parts[2], "; ")
		}
		exp[id] = e
		order = append(order, id)
	}
	return exp, order
}

// Case is one replayed corpus event.
type Case struct {
	ID    string       // the event's id in the expectations file
	Where string       // where the event is, for messages: "events.jsonl:12", "evt.num 7"
	Event *event.Event // the decoded event
}

// CheckExpectations processes every case with first (rule_matching first) and all
// (rule_matching all), reports each case whose fired rules differ from its expectation, and
// returns how many cases agreed.
func CheckExpectations(t testing.TB, cases []Case, exp map[string]Expectation, first, all *engine.Ruleset) int {
	t.Helper()
	agree := 0
	for _, c := range cases {
		want := exp[c.ID]
		var gotFirst, gotAll []string
		first.Process(c.Event, func(rule *engine.Rule, _ *event.Event) { gotFirst = append(gotFirst, rule.Name) })
		all.Process(c.Event, func(rule *engine.Rule, _ *event.Event) { gotAll = append(gotAll, rule.Name) })
		wantFirst := []string{}
		if want.First != "" {
			wantFirst = []string{want.First}
		}
		ok := true
		if strings.Join(gotFirst, "|") != strings.Join(wantFirst, "|") {
			t.Errorf("%s (%s; %s): rule_matching first fired %q, want %q", c.ID, c.Where, want.Why, gotFirst, wantFirst)
			ok = false
		}
		if strings.Join(gotAll, "|") != strings.Join(want.All, "|") {
			t.Errorf("%s (%s; %s): rule_matching all fired %q, want %q", c.ID, c.Where, want.Why, gotAll, want.All)
			ok = false
		}
		if ok {
			agree++
		}
	}
	return agree
}

// RenderAlerts processes every event with rs and returns the Falco JSON alerts b builds for the
// matches, one per line.
func RenderAlerts(rs *engine.Ruleset, b *alert.Builder, evs []*event.Event) []byte {
	var out bytes.Buffer
	for _, ev := range evs {
		rs.Process(ev, func(rule *engine.Rule, e *event.Event) {
			a := b.Build(e, rule.Name, rule.Priority, rule.Tags, rule.Formatter)
			out.Write(a.AppendJSON(nil))
			out.WriteByte('\n')
		})
	}
	return out.Bytes()
}

// CompareGolden reports every line of got that differs from the golden file at path. With
// update it rewrites the file instead, which must then be reviewed by hand.
func CompareGolden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it, then review it)", err)
	}
	gotLines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	wantLines := strings.Split(strings.TrimSuffix(string(want), "\n"), "\n")
	for i := 0; i < len(gotLines) || i < len(wantLines); i++ {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Errorf("alert %d differs:\n got: %s\nwant: %s", i+1, g, w)
		}
	}
}
