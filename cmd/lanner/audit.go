package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
	"github.com/spf13/cobra"

	"github.com/lannersec/lanner/dashboards/report"
	"github.com/lannersec/lanner/shippers/chain"
	"github.com/lannersec/lanner/shippers/elasticsearch"
)

type auditVerifyFlags struct {
	config    string
	addresses []string
	index     string
	node      string
	since     string
	until     string
	keyFile   string
	maxSkew   time.Duration
	json      bool
	timeout   time.Duration
}

// keyEnv names the environment variable that may hold the audit trail's HMAC key, so that the
// key need not be on the command line (visible in ps) or in a file.
const keyEnv = "LANNER_AUDIT_TRAIL_KEY"

func newAuditCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Check the tamper-evident audit trail of shipped alerts",
	}
	c.AddCommand(newAuditVerifyCmd())
	return c
}

func newAuditVerifyCmd() *cobra.Command {
	var fl auditVerifyFlags
	c := &cobra.Command{
		Use:   "verify",
		Short: "Verify the alerts' hash chains in Elasticsearch: gaps, reordering, modified documents",
		Long: `Read every chained alert (lanner.chain.*) from Elasticsearch, per node and chain epoch in
sequence order, hash each document again and check the chain. It reports, by sequence number:

  gap          sequence numbers with no document (deleted, or not delivered yet)
  modified     a document that no longer matches its hash (any field edited)
  reordered    a document linked to another than its predecessor, or whose @timestamp does
               not fit the sequence order (beyond --max-skew)
  broken_link  a document whose predecessor hash matches no document
  duplicate    two documents with one sequence number
  unverifiable the chain uses an HMAC key and none was given (links still checked)

The exit status is 0 when every chain is intact, 1 when a problem was found, 2 for bad flags.
With --since the check starts at the first document of the window (no gap is reported before
it). A node's collector exports lanner_audit_trail_last_seq: a chain shorter than that in the
index has lost its tail (or has alerts still in the spool).`,
		Example: `  lanner audit verify
  lanner audit verify --es https://es.example:9200 --config lanner.yaml --node worker-3 --since 7d
  LANNER_AUDIT_TRAIL_KEY=... lanner audit verify --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuditVerify(cmd.Context(), cmd.OutOrStdout(), fl)
		},
	}
	f := c.Flags()
	f.StringVar(&fl.config, "config", "", "YAML file with an elasticsearch: block (connection, credentials, data stream) and audit_trail: (key)")
	f.StringArrayVar(&fl.addresses, "es", nil, "Elasticsearch URL (repeatable; overrides the file)")
	f.StringVar(&fl.index, "index", "", "data stream, index or pattern to read (default: the configured data stream or index pattern)")
	f.StringVar(&fl.node, "node", "", "check this node's chain only (host.name)")
	f.StringVar(&fl.since, "since", "", "only documents from this time: an age (7d, 24h) or an RFC 3339 time")
	f.StringVar(&fl.until, "until", "", "only documents before this time")
	f.StringVar(&fl.keyFile, "key-file", "", "file holding the HMAC key of the chain (default: $"+keyEnv+", else audit_trail.key of --config)")
	f.DurationVar(&fl.maxSkew, "max-skew", chain.DefaultMaxSkew, "how far back a timestamp may go in sequence order before it counts as reordered (0 disables)")
	f.BoolVar(&fl.json, "json", false, "print the report as JSON")
	f.DurationVar(&fl.timeout, "timeout", 10*time.Minute, "give up after this long")
	return c
}

func runAuditVerify(ctx context.Context, stdout io.Writer, fl auditVerifyFlags) error {
	esCfg, key, err := loadAuditConfig(fl.config)
	if err != nil {
		return err
	}
	if len(fl.addresses) > 0 {
		esCfg.Addresses = fl.addresses
	}
	esCfg = esCfg.WithDefaults()
	if err := esCfg.Validate(); err != nil {
		return &usageError{msg: "audit verify: " + err.Error()}
	}
	if key, err = trailKey(key, fl.keyFile, os.Getenv); err != nil {
		return &usageError{msg: "audit verify: " + err.Error()}
	}
	now := time.Now()
	since, err := parseTimeFlag(fl.since, now)
	if err != nil {
		return &usageError{msg: "audit verify: --since " + err.Error()}
	}
	until, err := parseTimeFlag(fl.until, now)
	if err != nil {
		return &usageError{msg: "audit verify: --until " + err.Error()}
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return &usageError{msg: "audit verify: --since must be before --until"}
	}
	if fl.maxSkew < 0 {
		return &usageError{msg: "audit verify: --max-skew must not be negative"}
	}
	index := fl.index
	if index == "" {
		index = esCfg.IndexPatternForDocs()
	}
	client, err := elasticsearch.NewClient(esCfg)
	if err != nil {
		return &usageError{msg: "audit verify: " + err.Error()}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, fl.timeout)
	defer cancel()
	v := chain.NewVerifier(key)
	v.MaxSkew = fl.maxSkew
	rep, err := v.VerifyES(ctx, client, chain.Scope{Index: index, Node: fl.node, Since: since, Until: until})
	if err != nil {
		return err
	}
	if fl.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		out := struct {
			Index  string `json:"index"`
			Intact bool   `json:"intact"`
			*chain.Report
		}{index, rep.Intact(), rep}
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printAuditReport(stdout, index, rep)
	}
	if !rep.Intact() {
		return errors.New("audit trail broken")
	}
	if rep.Documents == 0 {
		// Nothing to check is not a proof of anything; say so, but it is not a failure.
		fmt.Fprintln(stdout, "no chained alerts in this scope")
	}
	return nil
}

// trailKey picks the audit trail's HMAC key: --key-file, else $LANNER_AUDIT_TRAIL_KEY, else the
// key of the configuration file (fromConfig).
func trailKey(fromConfig []byte, keyFile string, getenv func(string) string) ([]byte, error) {
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("--key-file: %w", err)
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	}
	if k := getenv(keyEnv); k != "" {
		return []byte(k), nil
	}
	return fromConfig, nil
}

// chainTrail is the report's TrailVerifier: audit verify's check of the window's documents.
type chainTrail struct {
	client *es.Client
	index  string
	key    []byte
}

func (c chainTrail) VerifyTrail(ctx context.Context, since, until time.Time) (report.TrailResult, error) {
	rep, err := chain.NewVerifier(c.key).VerifyES(ctx, c.client, chain.Scope{Index: c.index, Since: since, Until: until})
	if err != nil {
		return report.TrailResult{}, err
	}
	nodes := map[string]bool{}
	for _, ch := range rep.Chains {
		nodes[ch.Node] = true
	}
	res := report.TrailResult{Nodes: len(nodes), Checked: rep.Documents, Intact: rep.Intact()}
	for _, p := range rep.Problems {
		res.Problems = append(res.Problems, p.String())
	}
	if rep.Unlinked > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d alert(s) in the window carry no chain link (shipped while the trail was off, or by an older lanner)", rep.Unlinked))
	}
	return res, nil
}

// loadAuditConfig reads the elasticsearch: and audit_trail: blocks of a lanner configuration
// file, strictly (the same reader as lanner run).
func loadAuditConfig(path string) (elasticsearch.Config, []byte, error) {
	if path == "" {
		return elasticsearch.Config{}, nil, nil
	}
	cfg, err := readRunConfigFile(path)
	if err != nil {
		return elasticsearch.Config{}, nil, err
	}
	return cfg.Elasticsearch.Config, []byte(cfg.AuditTrail.Key.Reveal()), nil
}

func printAuditReport(w io.Writer, index string, rep *chain.Report) {
	state := "INTACT"
	if !rep.Intact() {
		state = "BROKEN"
	}
	fmt.Fprintf(w, "audit trail of %s: %s: %d document(s) in %d chain(s), %d problem(s), %d unlinked document(s)\n",
		index, state, rep.Documents, len(rep.Chains), countReal(rep), rep.Unlinked)
	for _, c := range rep.Chains {
		fmt.Fprintf(w, "  node %s epoch %s: seq %d to %d, %d document(s), %s to %s\n", c.Node, c.Epoch, c.First, c.Last,
			c.Documents, c.From.UTC().Format(time.RFC3339), c.To.UTC().Format(time.RFC3339))
	}
	if len(rep.Problems) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  KIND\tNODE\tSEQ\tDOCUMENT\tDETAIL")
	for _, p := range rep.Problems {
		seq := fmt.Sprint(p.Seq)
		if p.SeqEnd > p.Seq {
			seq = fmt.Sprintf("%d-%d", p.Seq, p.SeqEnd)
		}
		doc := p.DocID
		if doc == "" {
			doc = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", p.Kind, p.Node, seq, doc, p.Detail)
	}
	tw.Flush()
}

func countReal(rep *chain.Report) int {
	n := 0
	for _, p := range rep.Problems {
		if p.Kind != chain.Unverifiable {
			n++
		}
	}
	return n
}
