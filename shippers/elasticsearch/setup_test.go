package elasticsearch

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestSetupWithAndWithoutILM uses a fake server for the ILM case only: the local node has no
// ILM to answer 200 (the no-ILM case is also run against the real node by `lanner es setup` in
// the integration tests' cluster).
func TestSetupWithAndWithoutILM(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ilmStatus  int
		wantPolicy bool
	}{
		{"cluster with ILM", 200, true},
		{"node without ILM (405)", 405, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			bodies := map[string]string{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Elastic-Product", "Elasticsearch")
				var body io.Reader = r.Body
				if r.Header.Get("Content-Encoding") == "gzip" {
					body, _ = gzip.NewReader(r.Body)
				}
				b, _ := io.ReadAll(body)
				mu.Lock()
				bodies[r.Method+" "+r.URL.Path] = string(b)
				mu.Unlock()
				if r.URL.Path == "/_ilm/status" {
					w.WriteHeader(tc.ilmStatus)
				}
				io.WriteString(w, `{"acknowledged":true}`)
			}))
			defer srv.Close()
			s, err := New(Config{Addresses: []string{srv.URL}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Setup(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			_, putPolicy := bodies["PUT /_ilm/policy/lanner-alerts"]
			tmpl := bodies["PUT /_index_template/lanner-alerts"]
			if putPolicy != tc.wantPolicy || (res.ILM != "") != tc.wantPolicy || (res.ILMSkipped == "") != tc.wantPolicy {
				t.Fatalf("policy installed %v, result %+v; want %v", putPolicy, res, tc.wantPolicy)
			}
			if strings.Contains(tmpl, "lifecycle") != tc.wantPolicy {
				t.Fatalf("template names a lifecycle policy: %v, want %v", strings.Contains(tmpl, "lifecycle"), tc.wantPolicy)
			}
			if !strings.Contains(tmpl, `"data_stream":{}`) {
				t.Fatal("template lacks data_stream")
			}
		})
	}
}
