package respond

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lannersec/lanner/collector/respond/playbook"
)

// DefaultWebhookTimeout bounds one post to a webhook whose timeout is not set.
const DefaultWebhookTimeout = 5 * time.Second

// slackEscape escapes the three characters Slack's message format reserves.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// notifyText is the message of a notify action: the alert, the pod, and what the playbook's
// earlier actions did, so that putting notify last reports the whole response.
func notifyText(ar *alertRun, pb *playbook.Playbook, before []Outcome) string {
	a := ar.a
	var b strings.Builder
	fmt.Fprintf(&b, "*lanner response* — playbook `%s`", slackEscape.Replace(pb.Name))
	if ar.t.Pod != "" {
		fmt.Fprintf(&b, " on pod `%s/%s`", ar.t.Namespace, ar.t.Pod)
		if ar.pod != nil && ar.pod.Spec.NodeName != "" {
			fmt.Fprintf(&b, " (node `%s`)", ar.pod.Spec.NodeName)
		}
	}
	fmt.Fprintf(&b, "\n*%s* %s on host %s at %s", a.Priority, slackEscape.Replace(a.Rule),
		slackEscape.Replace(orNA(a.Hostname)), a.Time.UTC().Format(time.RFC3339))
	if len(before) > 0 {
		b.WriteString("\nActions:")
		for _, o := range before {
			fmt.Fprintf(&b, "\n• %s: %s — %s", o.Action, o.Result, slackEscape.Replace(o.Detail))
		}
	}
	if a.Output != "" {
		b.WriteString("\n> " + slackEscape.Replace(strings.ReplaceAll(a.Output, "\n", " ")))
	}
	return b.String()
}

// notify posts the Slack-compatible message {"text": ...} to the action's webhook. Errors never
// include the URL: for Slack it is the credential.
func (r *Responder) notify(ctx context.Context, act playbook.Action, ar *alertRun, pb *playbook.Playbook, before []Outcome) (Result, string, error) {
	wh := r.cfg.NotifyWebhooks[act.Webhook]
	timeout := wh.Timeout
	if timeout == 0 {
		timeout = DefaultWebhookTimeout
	}
	body, err := json.Marshal(map[string]string{"text": notifyText(ar, pb, before)})
	if err != nil {
		return ResultFailed, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.URL.Reveal(), bytes.NewReader(body))
	if err != nil {
		return ResultFailed, "", errors.New("webhook " + act.Webhook + ": invalid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.httpClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return ResultFailed, "", fmt.Errorf("posting to webhook %s: %w", act.Webhook, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return ResultFailed, "", fmt.Errorf("webhook %s answered %s", act.Webhook, resp.Status)
	}
	return ResultDone, "posted to webhook " + act.Webhook, nil
}
