package respond

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// hookServer is an incoming webhook: it keeps the text of every Slack-style message posted.
type hookServer struct {
	*httptest.Server
	mu     sync.Mutex
	texts  []string
	status int
}

func newHookServer(t *testing.T, status int) *hookServer {
	h := &hookServer{status: status}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg map[string]any
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &msg) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		text, _ := msg["text"].(string)
		h.mu.Lock()
		h.texts = append(h.texts, text)
		h.mu.Unlock()
		w.WriteHeader(h.status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.texts...)
}

func TestNotify(t *testing.T) {
	hook := newHookServer(t, http.StatusOK)
	cfg := "notify_webhooks: {sec: {url: \"" + hook.URL + "/services/T000/B000/SECRET\"}}\n" +
		playbookYAML("      - isolate_pod\n      - notify: {webhook: sec}\n")
	f := newFixture(t, cfg, testPod("shop", "web-1"))
	a := shellAlert("shop", "web-1")
	a.Output += " <script>&"
	out := f.r.Handle(ctx, a)
	wantResults(t, out, ResultDone, ResultDone)
	msgs := hook.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	for _, want := range []string{"playbook `shells`", "pod `shop/web-1` (node `node-a`)", "*Notice* Lanner Interactive Shell in Container on host node-a",
		"• isolate_pod: done — created NetworkPolicy lanner-quarantine", "&lt;script&gt;&amp;"} {
		if !strings.Contains(msgs[0], want) {
			t.Errorf("message lacks %q:\n%s", want, msgs[0])
		}
	}
	if out[1].Object != "webhook sec" {
		t.Errorf("object %q", out[1].Object)
	}
}

// A webhook that fails is a failed action whose record never shows the URL (the credential).
func TestNotifyFailureHidesURL(t *testing.T) {
	hook := newHookServer(t, http.StatusInternalServerError)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	cfg := "notify_webhooks:\n  bad: {url: \"" + hook.URL + "/SECRET-1\"}\n  down: {url: \"" + downURL + "/SECRET-2\"}\n" +
		playbookYAML("      - notify: {webhook: bad, ignore_errors: true}\n      - notify: {webhook: down}\n")
	f := newFixture(t, cfg)
	out := f.r.Handle(ctx, shellAlert("shop", "web-1"))
	wantResults(t, out, ResultFailed, ResultFailed)
	if !strings.Contains(out[0].Detail, "webhook bad answered 500") {
		t.Errorf("detail %q", out[0].Detail)
	}
	for _, r := range f.sink.records() {
		js, _ := r.MarshalJSON()
		// The dial error names host and port, which are not secret; the path is (Slack's token).
		if strings.Contains(string(js), "SECRET") {
			t.Errorf("record reveals the webhook URL: %s", js)
		}
	}
}

func TestNotifyDryRun(t *testing.T) {
	hook := newHookServer(t, http.StatusOK)
	f := newFixture(t, "dry_run: true\nnotify_webhooks: {sec: {url: \""+hook.URL+"\"}}\n"+playbookYAML("      - notify: {webhook: sec}\n"))
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "web-1")), ResultDryRun)
	if n := len(hook.messages()); n != 0 {
		t.Errorf("%d messages posted in dry run", n)
	}
}
