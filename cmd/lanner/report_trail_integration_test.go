//go:build integration

package main

// lanner report against the real local Elasticsearch (make stack-up): the audit-trail section
// is the verdict of the chain verifier on the window. Runs with `make test-bpf` (the stack is up
// there); skips without a node, except in CI.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/chain"
	"github.com/lannersec/lanner/shippers/elasticsearch"
)

func TestReportVerifiesTrail(t *testing.T) {
	url := os.Getenv("LANNER_ES_URL")
	if url == "" {
		url = "http://127.0.0.1:9200"
	}
	if res, err := http.Get(url + "/_cluster/health"); err != nil || res.StatusCode != 200 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Elasticsearch at %s: %v", url, err)
		}
		t.Skipf("no Elasticsearch at %s (%v): run `make stack-up`", url, err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	run := hex.EncodeToString(b)
	// Dated indices: this node cannot delete data streams.
	cfg := elasticsearch.Config{Addresses: []string{url}, Mode: elasticsearch.ModeIndex, IndexPrefix: "lanner-trail-" + run,
		TemplateName: "lanner-trail-" + run}
	t.Cleanup(func() {
		for _, p := range []string{"/lanner-trail-" + run + "-*", "/_index_template/lanner-trail-" + run} {
			req, _ := http.NewRequest("DELETE", url+p, nil)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}
	})
	c, err := chain.Open(chain.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	now := time.Now().UTC().Truncate(time.Second)
	var batch shippers.Batch
	for i := range 12 {
		a := &alert.Alert{Time: now.Add(time.Duration(i-12) * time.Minute), Rule: "Trail test", Priority: alert.Warning,
			Source: event.SourceSyscall, Hostname: "trail-" + run, Output: fmt.Sprintf("alert %d", i),
			OutputFields: map[string]any{"proc.name": "sh"}}
		r := shippers.NewRecord(a, "", "")
		if err := c.Link(r); err != nil {
			t.Fatal(err)
		}
		batch = append(batch, r)
	}
	s, err := elasticsearch.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	pattern := "lanner-trail-" + run + "-*"
	report := func() string {
		t.Helper()
		http.Post(url+"/"+pattern+"/_refresh", "application/json", nil)
		out := filepath.Join(t.TempDir(), "r.html")
		fl := reportFlags{since: "1h", out: out, addresses: []string{url}, index: pattern, timeout: time.Minute}
		var stderr bytes.Buffer
		if err := runReport(context.Background(), io.Discard, &stderr, fl, func(string) string { return "" }, time.Now(), nil); err != nil {
			t.Fatalf("report: %v (%s)", err, stderr.String())
		}
		html, _ := os.ReadFile(out)
		return string(html)
	}
	if h := report(); !strings.Contains(h, "Result: intact.") || !strings.Contains(h, "12 documents of 1 node checked") {
		t.Fatalf("intact trail not reported:\n%s", section(h))
	}
	// Edit the message of seq 5: the report must say BROKEN and name it.
	var found struct {
		Hits struct {
			Hits []struct {
				Index  string         `json:"_index"`
				ID     string         `json:"_id"`
				Source map[string]any `json:"_source"`
			}
		}
	}
	res, err := http.Post(url+"/"+pattern+"/_search", "application/json", strings.NewReader(`{"query":{"term":{"lanner.chain.seq":5}}}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(res.Body).Decode(&found)
	res.Body.Close()
	if len(found.Hits.Hits) != 1 {
		t.Fatalf("seq 5: %d hits", len(found.Hits.Hits))
	}
	h := found.Hits.Hits[0]
	h.Source["message"] = "nothing happened"
	body, _ := json.Marshal(h.Source)
	req, _ := http.NewRequest("PUT", url+"/"+h.Index+"/_doc/"+h.ID, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode >= 300 {
		t.Fatalf("edit: %v %v", err, res.Status)
	}
	if h := report(); !strings.Contains(h, "Result: BROKEN.") || !strings.Contains(h, "modified trail-"+run) || !strings.Contains(h, "seq 5: the document does not match its hash") {
		t.Fatalf("tampered trail not reported:\n%s", section(h))
	}
}

// section returns the report's audit-trail section, for failure messages.
func section(html string) string {
	i := strings.Index(html, `<section id="trail">`)
	if i < 0 {
		return html
	}
	j := strings.Index(html[i:], "</section>")
	if j < 0 {
		return html[i:]
	}
	return html[i : i+j]
}
