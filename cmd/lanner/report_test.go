package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReportFormat(t *testing.T) {
	for _, c := range []struct {
		format, out, want string
		bad               bool
	}{
		{"", "r.html", "html", false},
		{"", "R.HTM", "html", false},
		{"", "weekly.pdf", "pdf", false},
		{"PDF", "r.html", "pdf", false}, // --format wins over the extension
		{"", "report", "", true},
		{"", "-", "", true},
		{"html", "-", "html", false},
		{"docx", "r.docx", "", true},
	} {
		got, err := reportFormat(c.format, c.out)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("reportFormat(%q, %q) = %q, %v", c.format, c.out, got, err)
		}
	}
}

func TestRunReportBadFlags(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	env := func(string) string { return "" }
	for name, c := range map[string]struct {
		fl   reportFlags
		want string
	}{
		"no out":          {reportFlags{since: "7d"}, "--out is required"},
		"no format":       {reportFlags{since: "7d", out: "x.txt"}, "cannot tell the format"},
		"bad since":       {reportFlags{since: "last week", out: "x.html"}, "--since"},
		"bad until":       {reportFlags{since: "7d", until: "soon", out: "x.html"}, "--until"},
		"reversed":        {reportFlags{since: "2026-11-20", until: "2026-11-19", out: "x.html"}, "must be before"},
		"future since":    {reportFlags{since: "2026-12-01", out: "x.html"}, "must be before"},
		"index and ds":    {reportFlags{since: "7d", out: "x.html", index: "a", dataStream: "logs-a-b"}, "exclusive"},
		"bad data stream": {reportFlags{since: "7d", out: "x.html", dataStream: "Alerts"}, "data_stream"},
		"bad url":         {reportFlags{since: "7d", out: "x.html", addresses: []string{"es:9200"}}, "not an http(s) URL"},
		"negative top":    {reportFlags{since: "7d", out: "x.html", top: -1}, "must not be negative"},
		"missing config":  {reportFlags{since: "7d", out: "x.html", config: "/nonexistent/lanner.yaml"}, "/nonexistent/lanner.yaml"},
	} {
		err := runReport(context.Background(), io.Discard, io.Discard, c.fl, env, now, nil)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a usage error containing %q", name, err, c.want)
		}
	}
}

// fakeES answers every search with an empty result, as a node with an empty data stream does,
// and records what it was asked.
type fakeES struct {
	mu    sync.Mutex
	paths []string
	auth  []string
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	f.mu.Lock()
	f.paths = append(f.paths, r.Method+" "+r.URL.Path)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"hits":{"total":{"value":0},"hits":[]},"aggregations":{}}`)
}

func TestRunReportWritesFile(t *testing.T) {
	fake := &fakeES{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	env := map[string]string{envESAPIKey: "aWQ6c2VjcmV0"}
	for _, out := range []string{"week.html", "week.pdf"} {
		var stderr bytes.Buffer
		fl := reportFlags{since: "7d", out: filepath.Join(dir, out), addresses: []string{srv.URL},
			dataStream: "logs-lanner.alerts-prod", timeout: time.Minute, noVerify: true}
		if err := runReport(context.Background(), io.Discard, &stderr, fl, func(k string) string { return env[k] }, now, nil); err != nil {
			t.Fatalf("%s: %v (%s)", out, err, stderr.String())
		}
		b, err := os.ReadFile(fl.out)
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(out) {
		case ".html":
			for _, want := range []string{"<!DOCTYPE html>", "logs-lanner.alerts-prod", "2026-11-19 12:00:00 UTC", "None in this period.", "not verified"} {
				if !bytes.Contains(b, []byte(want)) {
					t.Errorf("%s lacks %q", out, want)
				}
			}
		case ".pdf":
			if !bytes.HasPrefix(b, []byte("%PDF-")) {
				t.Errorf("%s is not a PDF", out)
			}
		}
		if !strings.Contains(stderr.String(), "wrote "+fl.out) {
			t.Errorf("stderr: %q", stderr.String())
		}
	}
	// Every request went to the data stream's _search, with the API key from the environment.
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.paths) == 0 {
		t.Fatal("no request reached the server")
	}
	for i, p := range fake.paths {
		scheme, token, _ := strings.Cut(fake.auth[i], " ")
		if p != "POST /logs-lanner.alerts-prod/_search" || !strings.EqualFold(scheme, "ApiKey") || token != "aWQ6c2VjcmV0" {
			t.Errorf("request %d: %s with Authorization %q", i, p, fake.auth[i])
		}
	}
	// No temporary file is left beside the reports.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files in the output directory: %v", names)
	}
}

func TestRunReportServerErrorLeavesNoFile(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"type":"index_not_found_exception"},"status":404}`)
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "r.html")
	fl := reportFlags{since: "24h", out: out, addresses: []string{srv.URL}, timeout: time.Minute}
	err := runReport(context.Background(), io.Discard, io.Discard, fl, func(string) string { return "" }, time.Now(), nil)
	if err == nil || !strings.Contains(err.Error(), `no index or data stream "logs-lanner.alerts-default"`) {
		t.Fatalf("error %v, want one naming the default data stream", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a report was written despite the failure: %v", err)
	}
}
