package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/dashboards"
)

// importRecorder answers like Kibana's import route and keeps what it was sent.
type importRecorder struct {
	status int
	answer string
	path   string
	query  string
	xsrf   string
	auth   string
	file   []byte
	name   string
}

func (k *importRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.path, k.query, k.xsrf, k.auth = r.URL.Path, r.URL.RawQuery, r.Header.Get("kbn-xsrf"), r.Header.Get("Authorization")
	if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil {
		mr := multipart.NewReader(r.Body, params["boundary"])
		if p, err := mr.NextPart(); err == nil && p.FormName() == "file" {
			k.name = p.FileName()
			k.file, _ = io.ReadAll(p)
		}
	}
	w.WriteHeader(k.status)
	io.WriteString(w, k.answer)
}

func TestDashboardsInstallCommand(t *testing.T) {
	k := &importRecorder{status: 200, answer: `{"success":true,"successCount":17}`}
	srv := httptest.NewServer(k)
	defer srv.Close()
	t.Setenv(envKibanaPassword, "pw-from-env")
	var out, errb bytes.Buffer
	c := newDashboardsCmd()
	c.SetArgs([]string{"install", "--kibana", srv.URL, "--space", "sec", "--username", "admin"})
	c.SetOut(&out)
	c.SetErr(&errb)
	if err := c.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if k.path != "/s/sec/api/saved_objects/_import" || k.query != "overwrite=true" || k.xsrf != "true" {
		t.Fatalf("request %s?%s kbn-xsrf=%q", k.path, k.query, k.xsrf)
	}
	if k.auth != "Basic "+base64.StdEncoding.EncodeToString([]byte("admin:pw-from-env")) {
		t.Fatalf("Authorization %q", k.auth)
	}
	if k.name != "lanner.ndjson" || !bytes.Equal(k.file, dashboards.NDJSON()) {
		t.Fatalf("file %q, %d bytes", k.name, len(k.file))
	}
	if !strings.Contains(out.String(), "imported 17 saved objects into Kibana space sec") ||
		!strings.Contains(out.String(), srv.URL+"/s/sec/app/dashboards#/view/lanner-runtime-security-overview") {
		t.Fatalf("output: %s", out.String())
	}
	if strings.Contains(errb.String()+out.String(), "pw-from-env") {
		t.Fatal("the password was printed")
	}
}

func TestDashboardsInstallFailures(t *testing.T) {
	refused := &importRecorder{status: 200, answer: `{"success":false,"successCount":16,"errors":[{"id":"lanner-top-rules","type":"lens","meta":{"title":"Top rules"},"error":{"type":"unsupported_type"}}]}`}
	srv := httptest.NewServer(refused)
	defer srv.Close()
	none := func(string) string { return "" }

	// Kibana refused an object: exit 1 (not a usage error) naming the object.
	err := runDashboardsInstall(context.Background(), io.Discard, io.Discard,
		dashboardsInstallFlags{kibana: srv.URL, overwrite: true, timeout: time.Minute}, none)
	var ue *usageError
	if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), `lens lanner-top-rules ("Top rules"): unsupported_type`) {
		t.Fatalf("refused object: %v", err)
	}
	// Bad input: exit 2.
	for _, fl := range []dashboardsInstallFlags{
		{timeout: time.Minute},
		{kibana: srv.URL, space: "Not A Space", timeout: time.Minute},
		{kibana: srv.URL, apiKey: "k", username: "u", password: "p", timeout: time.Minute},
		{kibana: srv.URL, file: filepath.Join(t.TempDir(), "missing.ndjson"), timeout: time.Minute},
		{kibana: srv.URL},
	} {
		err := runDashboardsInstall(context.Background(), io.Discard, io.Discard, fl, none)
		if !errors.As(err, &ue) {
			t.Errorf("%+v: %v, want a usage error", fl, err)
		}
	}
	// --overwrite=false leaves the query out; --file sends that file.
	ok := &importRecorder{status: 200, answer: `{"success":true,"successCount":1}`}
	srv2 := httptest.NewServer(ok)
	defer srv2.Close()
	custom := filepath.Join(t.TempDir(), "mine.ndjson")
	os.WriteFile(custom, []byte(`{"id":"x","type":"index-pattern","attributes":{"title":"x-*"},"references":[]}`+"\n"), 0o600)
	if err := runDashboardsInstall(context.Background(), io.Discard, io.Discard,
		dashboardsInstallFlags{kibana: srv2.URL, file: custom, timeout: time.Minute}, none); err != nil {
		t.Fatal(err)
	}
	if ok.query != "" || !strings.HasPrefix(string(ok.file), `{"id":"x"`) {
		t.Fatalf("query %q, file %q", ok.query, ok.file)
	}
}

func TestDashboardsExport(t *testing.T) {
	var out bytes.Buffer
	c := newDashboardsCmd()
	c.SetArgs([]string{"export"})
	c.SetOut(&out)
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), dashboards.NDJSON()) {
		t.Fatal("export to stdout differs from the NDJSON")
	}
	path := filepath.Join(t.TempDir(), "lanner.ndjson")
	c = newDashboardsCmd()
	c.SetArgs([]string{"export", "--out", path})
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(b, dashboards.NDJSON()) {
		t.Fatalf("export --out: %v (%d bytes)", err, len(b))
	}
}
