package engine

import (
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/event"
)

// rc is what a compiled rule must look like; empty strings are not checked.
type rc struct {
	rule     string
	expanded string // text handed to the parser (exceptions appended, lists substituted)
	canon    string // canonical form of the resolved condition
	enabled  string // "on" / "off"
	prio     string
	tags     string // comma-joined; "-" for none
	output   string
	desc     string
}

// ev is an event and the rules that must fire for it.
type ev struct {
	e    *event.Event
	all  bool // rule_matching: all
	want string
}

// sem is one rules-file semantics case: the files, and what Falco does with them.
type sem struct {
	name  string
	files []string
	errs  []string // exact diagnostics, in order
	warns []string // each must appear in some warning
	quiet bool     // no warning at all
	rules string   // compiled rules in order ("-": none)
	check []rc
	evs   []ev
}

var shells = list("shells", "bash", "sh")

func runSem(t *testing.T, cases []sem) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rsFirst, res := load(tc.files...)
			if len(tc.errs) > 0 || !res.OK() {
				got := strings.Join(diagStrings(res.Errors), "\n")
				if want := strings.Join(tc.errs, "\n"); got != want {
					t.Fatalf("errors:\n got: %s\nwant: %s", got, want)
				}
				if rsFirst != nil {
					t.Fatalf("ruleset returned despite errors")
				}
				return
			}
			warns := strings.Join(diagStrings(res.Warnings), "\n")
			if tc.quiet && warns != "" {
				t.Errorf("unexpected warnings:\n%s", warns)
			}
			for _, w := range tc.warns {
				if !strings.Contains(warns, w) {
					t.Errorf("missing warning %q in:\n%s", w, warns)
				}
			}
			if tc.rules != "" {
				want := tc.rules
				if want == "-" {
					want = ""
				}
				if got := names(rsFirst.Rules()); got != want {
					t.Errorf("rules = %q, want %q", got, want)
				}
			}
			for _, c := range tc.check {
				r, ok := rsFirst.Rule(c.rule)
				if !ok {
					t.Errorf("rule %q not loaded", c.rule)
					continue
				}
				if c.expanded != "" && r.Expanded != c.expanded {
					t.Errorf("%s expanded:\n got: %q\nwant: %q", c.rule, r.Expanded, c.expanded)
				}
				if c.canon != "" && canon(r) != c.canon {
					t.Errorf("%s canonical:\n got: %s\nwant: %s", c.rule, canon(r), c.canon)
				}
				if c.enabled != "" && (r.Enabled != (c.enabled == "on")) {
					t.Errorf("%s enabled = %v, want %s", c.rule, r.Enabled, c.enabled)
				}
				if c.prio != "" && r.Priority.String() != c.prio {
					t.Errorf("%s priority = %s, want %s", c.rule, r.Priority, c.prio)
				}
				if c.tags != "" {
					got := strings.Join(r.Tags, ",")
					if got == "" {
						got = "-"
					}
					if got != c.tags {
						t.Errorf("%s tags = %q, want %q", c.rule, got, c.tags)
					}
				}
				if c.output != "" && r.Output != c.output {
					t.Errorf("%s output = %q, want %q", c.rule, r.Output, c.output)
				}
				if c.desc != "" && r.Desc != c.desc {
					t.Errorf("%s desc = %q, want %q", c.rule, r.Desc, c.desc)
				}
			}
			if len(tc.evs) > 0 {
				rsAll, res := loadMode(MatchAll, tc.files...)
				fatalDiags(t, res)
				for i, e := range tc.evs {
					rs := rsFirst
					if e.all {
						rs = rsAll
					}
					if got := matched(rs, e.e); got != e.want {
						t.Errorf("event %d: fired %q, want %q", i, got, e.want)
					}
				}
			}
		})
	}
}
