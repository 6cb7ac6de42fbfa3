package dashboards

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// recorded is what the recording Kibana saw of one request.
type recorded struct {
	method, path, rawQuery string
	header                 http.Header
	formName, filename     string
	partType               string
	file                   []byte
	parts                  int
	err                    error
}

// kibana is a recording stand-in for Kibana's import route: it parses the multipart body the
// way Kibana does (a "file" field), records everything, and answers with status and body.
type kibana struct {
	mu     sync.Mutex
	reqs   []recorded
	status int
	answer string
}

func (k *kibana) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := recorded{method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery, header: r.Header.Clone()}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		rec.err = errors.New("content type " + r.Header.Get("Content-Type"))
	} else {
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				rec.err = err
				break
			}
			rec.parts++
			rec.formName, rec.filename, rec.partType = p.FormName(), p.FileName(), p.Header.Get("Content-Type")
			rec.file, _ = io.ReadAll(p)
		}
	}
	k.mu.Lock()
	k.reqs = append(k.reqs, rec)
	k.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(k.status)
	io.WriteString(w, k.answer)
}

func (k *kibana) last(t *testing.T) recorded {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(k.reqs))
	}
	return k.reqs[0]
}

const importOK = `{"success":true,"successCount":17,"successResults":[{"type":"index-pattern","id":"lanner-alerts"}]}`

func TestInstallRequest(t *testing.T) {
	body := NDJSON()
	for _, tc := range []struct {
		name     string
		basePath string
		cfg      InstallConfig
		path     string
		query    string
		auth     string
	}{
		{name: "default space, basic auth", cfg: InstallConfig{Username: "elastic", Password: "s3cret-pw", Overwrite: true},
			path: "/api/saved_objects/_import", query: "overwrite=true",
			auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("elastic:s3cret-pw"))},
		{name: "space, API key", cfg: InstallConfig{Space: "security-team", APIKey: "aWQ6a2V5LXNlY3JldA==", Overwrite: true},
			path: "/s/security-team/api/saved_objects/_import", query: "overwrite=true", auth: "ApiKey aWQ6a2V5LXNlY3JldA=="},
		{name: "explicit default space, no auth, base path, no overwrite", basePath: "/kibana/", cfg: InstallConfig{Space: "default"},
			path: "/kibana/api/saved_objects/_import", query: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := &kibana{status: 200, answer: importOK}
			srv := httptest.NewServer(k)
			defer srv.Close()
			var logs bytes.Buffer
			cfg := tc.cfg
			cfg.KibanaURL = srv.URL + tc.basePath
			in, err := NewInstaller(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			res, err := in.Install(context.Background(), body)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Success || res.SuccessCount != 17 {
				t.Fatalf("result %+v", res)
			}
			r := k.last(t)
			if r.err != nil {
				t.Fatalf("body is not multipart: %v", r.err)
			}
			if r.method != http.MethodPost || r.path != tc.path || r.rawQuery != tc.query {
				t.Fatalf("request %s %s?%s, want POST %s?%s", r.method, r.path, r.rawQuery, tc.path, tc.query)
			}
			if got := r.header.Get("kbn-xsrf"); got != "true" {
				t.Fatalf("kbn-xsrf %q", got)
			}
			if got := r.header.Get("Authorization"); got != tc.auth {
				t.Fatalf("Authorization %q, want %q", got, tc.auth)
			}
			if r.parts != 1 || r.formName != "file" || r.filename != "lanner.ndjson" || r.partType != "application/ndjson" {
				t.Fatalf("multipart: %d parts, field %q, filename %q, type %q", r.parts, r.formName, r.filename, r.partType)
			}
			if !bytes.Equal(r.file, body) {
				t.Fatalf("file part differs from the NDJSON (%d bytes, want %d)", len(r.file), len(body))
			}
			for _, secret := range []string{"s3cret-pw", "aWQ6a2V5LXNlY3JldA==", "a2V5LXNlY3JldA"} {
				if strings.Contains(logs.String(), secret) {
					t.Fatalf("a credential reached the log: %s", logs.String())
				}
			}
		})
	}
}

func TestInstallKibanaErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		answer  string
		check   func(t *testing.T, err error)
		success int
	}{
		{name: "object errors", status: 200,
			answer: `{"success":false,"successCount":15,"errors":[` +
				`{"id":"lanner-top-rules","type":"lens","meta":{"title":"Top rules"},"error":{"type":"missing_references","references":[{"type":"index-pattern","id":"lanner-alerts"}]}},` +
				`{"id":"lanner-kubernetes-audit","type":"dashboard","title":"Kubernetes audit","error":{"type":"conflict"}}]}`,
			success: 15,
			check: func(t *testing.T, err error) {
				var fe *ImportFailedError
				if !errors.As(err, &fe) || len(fe.Result.Errors) != 2 {
					t.Fatalf("error %v, want an ImportFailedError with 2 errors", err)
				}
				for _, want := range []string{"refused 2", `lens lanner-top-rules ("Top rules"): missing_references (index-pattern lanner-alerts)`,
					`dashboard lanner-kubernetes-audit ("Kubernetes audit"): conflict (the object exists: import with overwrite)`} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
			}},
		{name: "unauthorized", status: 401,
			answer: `{"statusCode":401,"error":"Unauthorized","message":"[security_exception] unable to authenticate user"}`,
			check: func(t *testing.T, err error) {
				var he *HTTPError
				if !errors.As(err, &he) || he.StatusCode != 401 {
					t.Fatalf("error %v, want an HTTPError 401", err)
				}
				if !strings.Contains(err.Error(), "unable to authenticate user") || !strings.Contains(err.Error(), "check the username/password or API key") {
					t.Fatalf("error %q", err)
				}
			}},
		{name: "bad file", status: 415,
			answer: `{"statusCode":415,"error":"Unsupported Media Type","message":"Invalid file extension .json"}`,
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "415") || !strings.Contains(err.Error(), "Invalid file extension") {
					t.Fatalf("error %v", err)
				}
			}},
		{name: "not kibana", status: 502, answer: "<html>bad gateway</html>",
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "<html>bad gateway</html>") {
					t.Fatalf("error %v", err)
				}
			}},
		{name: "200 but not JSON", status: 200, answer: "hello",
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "not an import result") {
					t.Fatalf("error %v", err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(&kibana{status: tc.status, answer: tc.answer})
			defer srv.Close()
			in, err := NewInstaller(InstallConfig{KibanaURL: srv.URL, Overwrite: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := in.Install(context.Background(), NDJSON())
			tc.check(t, err)
			if res.SuccessCount != tc.success {
				t.Fatalf("successCount %d, want %d", res.SuccessCount, tc.success)
			}
		})
	}
}

func TestInstallTLS(t *testing.T) {
	srv := httptest.NewTLSServer(&kibana{status: 200, answer: importOK})
	defer srv.Close()
	// The test server's self-signed certificate is refused without trust...
	in, err := NewInstaller(InstallConfig{KibanaURL: srv.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Install(context.Background(), NDJSON()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	// ...accepted with it as the CA...
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	cert := srv.Certificate()
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []InstallConfig{{KibanaURL: srv.URL, CACertFile: caFile}, {KibanaURL: srv.URL, InsecureSkipVerify: true}} {
		in, err := NewInstaller(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := in.Install(context.Background(), NDJSON()); err != nil {
			t.Fatalf("%+v: %v", cfg, err)
		}
	}
}

func TestNewInstallerRejects(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	for _, tc := range []struct {
		cfg  InstallConfig
		want string
	}{
		{InstallConfig{}, "no Kibana URL"},
		{InstallConfig{KibanaURL: "kibana:5601"}, "want http(s)://"},
		{InstallConfig{KibanaURL: "ftp://kibana"}, "want http(s)://"},
		{InstallConfig{KibanaURL: "http://elastic:pw@kibana:5601"}, "carries credentials"},
		{InstallConfig{KibanaURL: "http://kibana:5601", Space: "Team A"}, "space id"},
		{InstallConfig{KibanaURL: "http://kibana:5601", Username: "u", Password: "p", APIKey: "k"}, "exclusive"},
		{InstallConfig{KibanaURL: "http://kibana:5601", Password: "p"}, "without a username"},
		{InstallConfig{KibanaURL: "http://kibana:5601", Username: "u"}, "without a password"},
		{InstallConfig{KibanaURL: "https://kibana:5601", CACertFile: notPEM}, "no PEM certificate"},
		{InstallConfig{KibanaURL: "https://kibana:5601", CACertFile: filepath.Join(dir, "missing.pem")}, "CA certificate"},
		{InstallConfig{KibanaURL: "https://kibana:5601", CACertFile: notPEM, InsecureSkipVerify: true}, "exclusive"},
	} {
		_, err := NewInstaller(tc.cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error containing %q", tc.cfg, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), ":pw@") {
			t.Errorf("error shows the URL's password: %v", err)
		}
	}
}
