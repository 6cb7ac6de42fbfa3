//go:build integration

package chain

// Against a real Elasticsearch node (deploy/local, `make stack-up`): alerts linked by a
// Chainer, shipped by the real Elasticsearch shipper, verified from the index; then the test
// tampers with the index the way an attacker with write access could and checks that the
// verifier names exactly the sequence numbers touched. Skips without a node, except in CI.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/elasticsearch"
)

func esURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("LANNER_ES_URL")
	if url == "" {
		url = "http://127.0.0.1:9200"
	}
	res, err := http.Get(url + "/_cluster/health")
	if err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			return url
		}
		err = fmt.Errorf("status %s", res.Status)
	}
	msg := fmt.Sprintf("no Elasticsearch at %s (%v): run `make stack-up`", url, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func esCall(t *testing.T, method, url, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		t.Fatalf("%s %s: %s: %s", method, url, res.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

type storedHit struct {
	Index   string         `json:"_index"`
	ID      string         `json:"_id"`
	SeqNo   int64          `json:"_seq_no"`
	Primary int64          `json:"_primary_term"`
	Source  map[string]any `json:"_source"`
}

// bySeq returns the stored documents of ds by chain sequence number.
func bySeq(t *testing.T, url, ds string) map[uint64]storedHit {
	t.Helper()
	esCall(t, "POST", url+"/"+ds+"/_refresh", "", nil)
	var out struct {
		Hits struct{ Hits []storedHit } `json:"hits"`
	}
	esCall(t, "POST", url+"/"+ds+"/_search?seq_no_primary_term=true", `{"size":1000,"sort":[{"lanner.chain.seq":"asc"}]}`, &out)
	m := map[uint64]storedHit{}
	for _, h := range out.Hits.Hits {
		seq := h.Source["lanner"].(map[string]any)["chain"].(map[string]any)["seq"].(float64)
		m[uint64(seq)] = h
	}
	return m
}

func TestIntegrationVerifyFromElasticsearch(t *testing.T) {
	url := esURL(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	run := hex.EncodeToString(b)
	ds := "logs-lanner.alerts-chain" + run
	node := "chain-node-" + run
	t.Cleanup(func() {
		req, _ := http.NewRequest("DELETE", url+"/_data_stream/"+ds, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	})

	c, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 40
	recs := records(n, node)
	// Make the documents as varied as real ones: Kubernetes metadata with dotted labels, a
	// unicode output, a float and a null output field, an unknown-container lookup.
	recs[3].Alert.K8s, recs[3].Alert.K8sLookup = &alert.K8sMeta{Namespace: "shop", PodName: "web-1", PodUID: "u1",
		Labels: map[string]string{"app.kubernetes.io/name": "web"}, Image: "nginx:1.25", Deployment: "web"}, alert.K8sFound
	recs[4].Alert.Output += " — café <script>"
	recs[5].Alert.K8sLookup = alert.K8sUnknownContainer
	for _, r := range recs {
		if err := c.Link(r); err != nil {
			t.Fatal(err)
		}
	}
	cfg := elasticsearch.Config{Addresses: []string{url}, DataStream: ds}
	s, err := elasticsearch.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// Two batches, shipped in reverse order: the chain does not depend on arrival order.
	if err := s.Send(ctx, shippers.Batch(recs[n/2:])); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, shippers.Batch(recs[:n/2])); err != nil {
		t.Fatal(err)
	}
	docs := bySeq(t, url, ds)
	if len(docs) != n {
		t.Fatalf("%d documents stored, want %d", len(docs), n)
	}
	client, err := elasticsearch.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(nil)
	verifyNow := func(scope Scope) *Report {
		t.Helper()
		rep, err := v.VerifyES(ctx, client, scope)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := verifyNow(Scope{Index: ds, Node: node, PageSize: 7}) // several pages
	if !rep.Intact() || rep.Documents != n || len(rep.Chains) != 1 || rep.Chains[0].Last != n || rep.Unlinked != 0 {
		t.Fatalf("intact index: %+v, problems %v", rep, problems(rep))
	}

	// Tamper: delete seq 7, edit the message of seq 13, swap the timestamps of seq 20 and 31.
	put := func(h storedHit) {
		b, _ := json.Marshal(h.Source)
		esCall(t, "PUT", fmt.Sprintf("%s/%s/_doc/%s?if_seq_no=%d&if_primary_term=%d", url, h.Index, h.ID, h.SeqNo, h.Primary), string(b), nil)
	}
	esCall(t, "DELETE", url+"/"+docs[7].Index+"/_doc/"+docs[7].ID, "", nil)
	d13 := docs[13]
	d13.Source["message"] = "routine maintenance"
	put(d13)
	d20, d31 := docs[20], docs[31]
	d20.Source["@timestamp"], d31.Source["@timestamp"] = d31.Source["@timestamp"], d20.Source["@timestamp"]
	put(d20)
	put(d31)
	esCall(t, "POST", url+"/"+ds+"/_refresh", "", nil)

	rep = verifyNow(Scope{Index: ds, Node: node})
	got := strings.Join(problems(rep), ", ")
	want := "gap 7, modified 13, reordered 20, modified 20, reordered 31, modified 31"
	if got != want {
		t.Fatalf("problems after tampering: %s\nwant: %s\n%+v", got, want, rep.Problems)
	}
	if rep.Intact() || rep.Documents != n-1 {
		t.Fatalf("tampered index: intact %v, %d documents", rep.Intact(), rep.Documents)
	}

	// A window that starts after the tampering sees an intact chain.
	since := recs[32].Alert.Time
	rep = verifyNow(Scope{Index: ds, Node: node, Since: since})
	if !rep.Intact() || rep.Documents != n-32 {
		t.Fatalf("window from seq 33: %v, %d documents", problems(rep), rep.Documents)
	}
	// Another node's scope is empty.
	if rep = verifyNow(Scope{Index: ds, Node: "nobody-" + run}); rep.Documents != 0 || !rep.Intact() {
		t.Fatalf("other node: %+v", rep)
	}
}
