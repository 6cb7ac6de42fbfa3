package audit_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/audit"
)

// rewrite replaces a file's content and moves its modification time forward, as a Secret
// update does (the test does not rely on the file system's time resolution).
func rewrite(t *testing.T, path string, data []byte, step int) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	when := time.Now().Add(time.Duration(step) * time.Minute)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

// TestTokenRotation: a new token in the file is accepted at the next request and the old one
// refused; a rotation that empties the file keeps the last good token.
func TestTokenRotation(t *testing.T) {
	env := startWebhook(t, audit.WebhookConfig{}, 16)
	post := func(tok string) int {
		rep := env.post(t, nil, http.MethodPost, env.url, map[string]string{"Authorization": "Bearer " + tok}, strings.NewReader(oneEvent))
		for len(env.queue) > 0 {
			<-env.queue
		}
		return rep.code
	}
	if c := post(testToken); c != 200 {
		t.Fatalf("initial token: %d", c)
	}
	rewrite(t, env.pki.token, []byte("rotated-token\n"), 1)
	if c := post("rotated-token"); c != 200 {
		t.Errorf("new token after rotation: %d", c)
	}
	if c := post(testToken); c != 403 {
		t.Errorf("old token after rotation: %d, want 403", c)
	}
	rewrite(t, env.pki.token, []byte("\n"), 2)
	if c := post("rotated-token"); c != 200 {
		t.Errorf("after an empty rotation the last good token must still work: %d", c)
	}
}

// TestCertificateRotation: a new serving certificate written over the file is served at the
// next handshake, without a restart.
func TestCertificateRotation(t *testing.T) {
	env := startWebhook(t, audit.WebhookConfig{}, 16)
	serial := func() string {
		c := env.tlsClient(nil)
		c.Transport.(*http.Transport).DisableKeepAlives = true
		req, _ := http.NewRequest(http.MethodPost, env.url, strings.NewReader(oneEvent))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for len(env.queue) > 0 {
			<-env.queue
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	first := serial()
	c, k := env.pki.ca.issue(t, "lanner-webhook-rotated", true)
	rewrite(t, env.pki.serverPEM, append(c, k...), 1)
	second := serial()
	if first == second {
		t.Fatalf("still serving serial %s after rotation", first)
	}
	// A half-written rotation (a certificate without its key) keeps the last good pair.
	rewrite(t, env.pki.serverPEM, c, 2)
	if third := serial(); third != second {
		t.Errorf("serial %s after a broken rotation, want %s", third, second)
	}
}
