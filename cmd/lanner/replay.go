package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
	"github.com/lannersec/lanner/collector/replay"
)

type replayFlags struct {
	rules    []string
	source   string
	matching string
	timezone string
	resolve  []string
}

func newReplayCmd() *cobra.Command {
	var fl replayFlags
	c := &cobra.Command{
		Use:   "replay -r RULES [-r RULES...] FILE...",
		Short: "Evaluate rules over recorded events and print Falco JSON alerts",
		Long: `Read recorded events and print one Falco JSON alert per line on stdout for every rule that
matches, exactly as Falco writes them with json_output: true.

Each input line is one JSON document: a Kubernetes audit Event or EventList (k8s_audit), or a
syscall event in lanner's JSON event form (docs/replay-format.md). The source of each line is
detected unless --source forces one. A line that is not a valid event is reported on stderr as
FILE:LINE and skipped.

Exit status: 0 when every line was read, 1 when some line or file was skipped, 2 when the rules
do not load (one FILE:LINE:COL line per problem, as 'lanner rules validate' prints them) or a
flag is wrong.

The alert hostname is $LANNER_HOSTNAME, else $FALCO_HOSTNAME, else the machine's host name.

Replay does no DNS: fields such as fd.sip.name find a name only for the addresses given with
--resolve NAME=ADDR, standing in for the lookups Falco makes of the names rules mention.`,
		Example: `  lanner replay -r rules/k8s_audit_rules.yaml collector/audit/testdata/k8s_audit_events.jsonl
  lanner replay -r falco_rules.yaml -r my_overrides.yaml --rule-matching all events.jsonl
  lanner replay -r falco_rules.yaml --source syscall --timezone UTC events.jsonl | jq .rule
  lanner replay -r falco_rules.yaml --resolve kubernetes.default.svc.cluster.local=10.96.0.1 events.jsonl`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &usageError{msg: "replay: no event files given\n" + c.UsageString()}
			}
			if len(fl.rules) == 0 {
				return &usageError{msg: "replay: no rules files given (-r FILE)\n" + c.UsageString()}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReplay(cmd.OutOrStdout(), cmd.ErrOrStderr(), fl, args, resolveHostname(os.Getenv, os.Hostname))
		},
	}
	c.Flags().StringArrayVarP(&fl.rules, "rules", "r", nil, "rules file, in load order (repeatable)")
	c.Flags().StringVar(&fl.source, "source", "auto", "event source of the input lines: auto, syscall or k8s_audit")
	c.Flags().StringVar(&fl.matching, "rule-matching", "first", "first: one alert per event (Falco's default); all: every matching rule")
	c.Flags().StringArrayVar(&fl.resolve, "resolve", nil, "NAME=ADDR: the address NAME resolves to, for fd.*ip.name fields (repeatable)")
	c.Flags().StringVar(&fl.timezone, "timezone", "Local", "time zone of clock-time fields such as evt.time in outputs (Falco uses the local zone)")
	return c
}

// errSkipped makes the command exit 1 after it has processed every input.
var errSkipped = errors.New("some input was skipped")

func runReplay(stdout, stderr io.Writer, fl replayFlags, inputs []string, hostname string) error {
	var src event.Source
	switch fl.source {
	case "auto", "":
		src = event.SourceUnknown
	default:
		s, ok := event.ParseSource(fl.source)
		if !ok {
			return &usageError{msg: fmt.Sprintf("replay: invalid --source %q: want auto, syscall or k8s_audit", fl.source)}
		}
		src = s
	}
	matching, err := engine.ParseRuleMatching(fl.matching)
	if err != nil {
		return &usageError{msg: "replay: --rule-matching: " + err.Error()}
	}
	loc, err := time.LoadLocation(fl.timezone)
	if err != nil {
		return &usageError{msg: fmt.Sprintf("replay: invalid --timezone %q: %v", fl.timezone, err)}
	}

	hosts, err := parseResolve(fl.resolve)
	if err != nil {
		return &usageError{msg: "replay: " + err.Error()}
	}

	files := make([]engine.File, 0, len(fl.rules))
	for _, name := range fl.rules {
		data, err := os.ReadFile(name)
		if err != nil {
			return &usageError{msg: fmt.Sprintf("%s: cannot read rules file: %v", name, err)}
		}
		files = append(files, engine.File{Name: name, Data: data})
	}
	reg := fields.NewRegistry(fields.WithLocation(loc), fields.WithHostname(hostname),
		fields.WithHostResolver(fields.NewStaticHosts(hosts)))
	rs, res := engine.Load(files, engine.Options{Registry: reg, RuleMatching: matching})
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, w.String())
	}
	if !res.OK() || rs == nil {
		for _, e := range res.Errors {
			fmt.Fprintln(stderr, e.String())
		}
		return &usageError{}
	}
	builder, err := alert.NewBuilder(reg, hostname)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}

	out := bufio.NewWriterSize(stdout, 64<<10)
	var line []byte
	var writeErr error
	emit := func(r *engine.Rule, e *event.Event) {
		if writeErr != nil {
			return
		}
		a := builder.Build(e, r.Name, r.Priority, r.Tags, r.Formatter)
		line = a.AppendJSON(line[:0])
		line = append(line, '\n')
		_, writeErr = out.Write(line)
	}

	rd := replay.Open(inputs, replay.Options{Source: src})
	defer rd.Close()
	skipped := false
	for {
		e, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// A bad line or an unreadable file: say where, skip it, keep going.
			fmt.Fprintln(stderr, err)
			skipped = true
			continue
		}
		rs.Process(e, emit)
		if writeErr != nil {
			break
		}
	}
	if writeErr == nil {
		writeErr = out.Flush()
	}
	if writeErr != nil {
		return fmt.Errorf("replay: writing alerts: %w", writeErr)
	}
	if skipped {
		return errSkipped
	}
	return nil
}

// parseResolve reads --resolve NAME=ADDR flags into a name -> addresses table.
func parseResolve(flags []string) (map[string][]netip.Addr, error) {
	hosts := make(map[string][]netip.Addr, len(flags))
	for _, f := range flags {
		name, addr, ok := strings.Cut(f, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("invalid --resolve %q: want NAME=ADDR", f)
		}
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return nil, fmt.Errorf("invalid --resolve %q: %v", f, err)
		}
		hosts[name] = append(hosts[name], a)
	}
	return hosts, nil
}

// resolveHostname picks the hostname written into alerts: $LANNER_HOSTNAME, else
// $FALCO_HOSTNAME (what Falco reads, so DaemonSets configured for Falco keep working), else the
// kernel's host name.
func resolveHostname(getenv func(string) string, osHostname func() (string, error)) string {
	for _, k := range []string{"LANNER_HOSTNAME", "FALCO_HOSTNAME"} {
		if h := getenv(k); h != "" {
			return h
		}
	}
	if h, err := osHostname(); err == nil {
		return h
	}
	return ""
}
