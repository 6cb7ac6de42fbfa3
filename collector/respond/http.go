package respond

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// AlertHandler takes Falco JSON alerts POSTed one per request, as Falco's http_output, lanner's
// http output and falcosidekick's webhook output send them, and answers with what the playbooks
// did: 200 and {"outcomes": [...]}. Bad input gets a 4xx with the reason: 405 for another
// method, 401 without the bearer token, 413 for a body over the bound, 400 for what is not an
// alert.
type AlertHandler struct {
	r       *Responder
	token   []byte
	maxBody int64
	log     *slog.Logger
}

// NewAlertHandler serves r. token is the bearer token requests must carry; empty accepts every
// request (the configuration allows that only with allow_unauthenticated). maxBody bounds the
// request body in bytes.
func NewAlertHandler(r *Responder, token string, maxBody int64, logger *slog.Logger) (*AlertHandler, error) {
	if r == nil {
		return nil, errors.New("alert handler: no responder")
	}
	if maxBody <= 0 {
		return nil, errors.New("alert handler: the body bound must be positive")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &AlertHandler{r: r, token: []byte(token), maxBody: maxBody, log: logger.With("component", "alert-endpoint")}, nil
}

func (h *AlertHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST a Falco JSON alert", http.StatusMethodNotAllowed)
		return
	}
	if len(h.token) > 0 {
		got, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), h.token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lanner-respond"`)
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "body larger than the responder's max_body_bytes", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		http.Error(w, "empty body: POST a Falco JSON alert", http.StatusBadRequest)
		return
	}
	// A client that hangs up must not cut a playbook in the middle: the alert is handled to the
	// end, within alertTimeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), alertTimeout)
	defer cancel()
	outcomes, err := h.r.Receive(ctx, "http", body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if outcomes == nil {
		outcomes = []Outcome{}
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(map[string]any{"outcomes": outcomes}); err != nil {
		h.log.Debug("writing the answer", "err", err)
	}
}
