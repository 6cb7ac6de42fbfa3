package audit_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/audit"
)

// FuzzWebhookBody sends arbitrary bodies to the webhook handler. It must never panic, answer
// only 200, 400 or 413, queue exactly what Decode accepts (200 whenever that is something), and
// give a reason with every 400.
func FuzzWebhookBody(f *testing.F) {
	f.Add([]byte(oneEvent))
	f.Add([]byte(`{"kind":"EventList","items":[]}`))
	f.Add([]byte(`{"kind":"EventList","items":[` + oneEvent + `,{"auditID":"bad"}]}`))
	f.Add([]byte(`[[` + oneEvent + `]]`))
	f.Add([]byte(`{"kind": 0}`))
	f.Add([]byte(`{"kind":"EventList","items":{}}`))
	f.Add([]byte("\x00\xff"))
	if fh, err := os.Open(corpusFile); err == nil {
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for i := 0; sc.Scan() && i < 20; i++ {
			f.Add(append([]byte(nil), sc.Bytes()...))
		}
		fh.Close()
	}
	q := make(chan audit.Batch, 4)
	wh, err := audit.NewWebhook(audit.WebhookConfig{AllowUnauthenticated: true, MaxBodyBytes: 64 << 10}, q, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, audit.DefaultPath, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		wh.ServeHTTP(rec, req)
		queued := 0
		for len(q) > 0 {
			queued += len((<-q).Events)
		}
		want, derr := audit.Decode(body)
		switch rec.Code {
		case http.StatusOK:
			if (derr != nil && len(want) == 0) || queued != len(want) {
				t.Fatalf("200 but Decode says %d events, %v; %d queued", len(want), derr, queued)
			}
		case http.StatusBadRequest:
			if derr == nil || len(want) != 0 || queued != 0 || strings.TrimSpace(rec.Body.String()) == "" {
				t.Fatalf("400 %q: Decode %d events, %v; %d queued", rec.Body.String(), len(want), derr, queued)
			}
		case http.StatusRequestEntityTooLarge:
			if len(body) <= 64<<10 || queued != 0 {
				t.Fatalf("413 for %d bytes", len(body))
			}
		default:
			t.Fatalf("unexpected %d %q", rec.Code, rec.Body.String())
		}
	})
}
