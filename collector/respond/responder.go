package respond

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/respond/playbook"
	"github.com/lannersec/lanner/shippers"
)

// Sink takes the action records. Write is called from the goroutines that handle alerts,
// possibly at the same time; it must be safe for that and must not keep a past its return
// unless it copies it. An error is logged and counted: the action it records already happened.
type Sink interface {
	Write(ctx context.Context, a *alert.Alert) error
}

// Result is what became of one action.
type Result string

// Results, the values of the result label of lanner_respond_actions_total.
const (
	// ResultDone: the action changed the cluster (or posted its message).
	ResultDone Result = "done"
	// ResultUnchanged: the cluster already was as the action would make it; no write was made.
	ResultUnchanged Result = "unchanged"
	// ResultDryRun: the action would have run; nothing was called.
	ResultDryRun Result = "dry_run"
	// ResultRefused: the target is in a protected namespace.
	ResultRefused Result = "refused"
	// ResultRateLimited: the action's token bucket was empty.
	ResultRateLimited Result = "rate_limited"
	// ResultSkipped: the action does not apply (no pod in the alert, pod gone, nothing to scale).
	ResultSkipped Result = "skipped"
	// ResultFailed: the API server or the webhook refused or could not be reached.
	ResultFailed Result = "failed"
)

func results() []Result {
	return []Result{ResultDone, ResultUnchanged, ResultDryRun, ResultRefused, ResultRateLimited, ResultSkipped, ResultFailed}
}

// Outcome is one action run for one alert.
type Outcome struct {
	Playbook string        `json:"playbook"`
	Action   playbook.Kind `json:"action"`
	Result   Result        `json:"result"`
	// Object is what the action acted on, or would have: "pod shop/web-1", "node n1",
	// "deployment shop/web", "webhook security".
	Object string `json:"object,omitempty"`
	Detail string `json:"detail"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// Option changes a Responder built by New.
type Option func(*Responder)

// WithClock makes the rate limiters and records read time from now (tests use a fake clock).
func WithClock(now func() time.Time) Option { return func(r *Responder) { r.now = now } }

// WithHostname names the responder in its records (who acted); default "lanner-respond".
func WithHostname(h string) Option { return func(r *Responder) { r.hostname = h } }

// WithHTTPClient sets the client notify actions post with (each webhook's timeout still applies).
func WithHTTPClient(c *http.Client) Option { return func(r *Responder) { r.httpClient = c } }

// Responder matches alerts against playbooks and runs their actions. It is safe for concurrent
// use: alerts about the same pod are handled one at a time, so two alerts never race to act on
// one pod.
type Responder struct {
	cfg        *Config
	kube       kubernetes.Interface
	sink       Sink
	log        *slog.Logger
	m          *metrics
	now        func() time.Time
	hostname   string
	httpClient *http.Client
	limits     *limiters
	seen       *dedupe
	protected  map[string]bool
	// stripes serialize alerts by target (namespace/pod); a fixed set keeps memory bounded.
	stripes [64]sync.Mutex
}

// New validates what the playbooks need and builds a Responder. kube may be nil only when no
// playbook calls the cluster (notify only, no pod_labels). logger and reg may be nil.
func New(cfg *Config, kube kubernetes.Interface, sink Sink, logger *slog.Logger, reg prometheus.Registerer, opts ...Option) (*Responder, error) {
	if cfg == nil {
		return nil, errors.New("responder: no configuration")
	}
	if sink == nil {
		return nil, errors.New("responder: no sink for the action records")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Responder{cfg: cfg, kube: kube, sink: sink, log: logger.With("component", "responder"), now: time.Now,
		hostname: "lanner-respond", httpClient: &http.Client{}, protected: map[string]bool{}}
	for _, o := range opts {
		o(r)
	}
	for _, ns := range cfg.ProtectedNamespaces {
		r.protected[ns] = true
	}
	if kube == nil && cfg.NeedsKubernetes() {
		return nil, errors.New("responder: the playbooks act on the cluster but no Kubernetes client was given")
	}
	for _, pb := range cfg.Playbooks {
		for _, a := range pb.Actions {
			if a.Kind == playbook.Notify {
				if _, ok := cfg.NotifyWebhooks[a.Webhook]; !ok {
					return nil, fmt.Errorf("responder: playbook %q: webhook %q is not defined", pb.Name, a.Webhook)
				}
			}
		}
	}
	r.limits = newLimiters(cfg, r.clock)
	r.seen = newDedupe(4096)
	m, err := newMetrics(reg, cfg)
	if err != nil {
		return nil, err
	}
	r.m = m
	return r, nil
}

func (r *Responder) clock() time.Time { return r.now() }

// NeedsKubernetes reports whether some playbook reads or writes the cluster (a notify-only
// responder runs without a Kubernetes client).
func (cfg *Config) NeedsKubernetes() bool {
	for _, pb := range cfg.Playbooks {
		if pb.Match.NeedsPod() {
			return true
		}
		for _, a := range pb.Actions {
			if a.Kind.Cluster() {
				return true
			}
		}
	}
	return false
}

// Close unregisters the metrics.
func (r *Responder) Close() { r.m.unregister() }

// ErrInvalidAlert wraps the reason an input is not a Falco JSON alert.
var ErrInvalidAlert = errors.New("not a Falco JSON alert")

// Receive handles one Falco JSON alert as it came from source ("nats", "http").
func (r *Responder) Receive(ctx context.Context, source string, data []byte) ([]Outcome, error) {
	r.m.received.WithLabelValues(source).Inc()
	a, err := shippers.ParseFalcoJSON(data)
	if err != nil {
		r.m.invalid.WithLabelValues(source).Inc()
		return nil, fmt.Errorf("%w: %w", ErrInvalidAlert, err)
	}
	return r.Handle(ctx, a), nil
}

// Handle runs every playbook that matches a, in configuration order, and returns what each
// action did. Every outcome has been recorded to the sink when it returns.
func (r *Responder) Handle(ctx context.Context, a *alert.Alert) []Outcome {
	if _, own := a.OutputFields[fieldAction]; own {
		// A record of this responder (or another) that came back through a subscription, such as
		// a NATS output publishing records on the subjects the responder reads: acting on it
		// could loop.
		r.m.ignored.WithLabelValues("response_record").Inc()
		return nil
	}
	id := shippers.AlertID(a)
	if !r.seen.add(id) {
		// At-least-once delivery (a NATS redelivery, an HTTP retry) brings the same alert twice.
		r.m.ignored.WithLabelValues("duplicate").Inc()
		r.log.Debug("duplicate alert ignored", "rule", a.Rule, "id", id)
		return nil
	}
	t := targetOf(a)
	mu := &r.stripes[stripe(t.Namespace+"/"+t.Pod)]
	mu.Lock()
	defer mu.Unlock()
	run := &alertRun{r: r, a: a, id: id, t: t}
	var out []Outcome
	for _, pb := range r.cfg.Playbooks {
		if !pb.Match.Alert(a, t.Namespace) || !run.podMatches(ctx, pb) {
			continue
		}
		r.m.matches.WithLabelValues(pb.Name).Inc()
		r.log.Info("playbook matched", "playbook", pb.Name, "rule", a.Rule, "namespace", t.Namespace, "pod", t.Pod)
		out = append(out, run.playbook(ctx, pb)...)
	}
	return out
}

func stripe(key string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % 64)
}

// target is what an alert is about.
type target struct {
	Namespace, Pod string
}

func (t target) podRef() string { return "pod " + t.Namespace + "/" + t.Pod }

// targetOf finds the pod an alert is about in its output fields: k8s.ns.name and k8s.pod.name
// (syscall alerts, which carry them as Falco's suggested fields), else for audit alerts about a
// pod (kubectl exec, attach, port-forward) ka.target.namespace and ka.target.name.
func targetOf(a *alert.Alert) target {
	f := a.OutputFields
	t := target{Namespace: field(f, "k8s.ns.name"), Pod: field(f, "k8s.pod.name")}
	if t.Namespace == "" && t.Pod == "" && field(f, "ka.target.resource") == "pods" {
		t = target{Namespace: field(f, "ka.target.namespace"), Pod: field(f, "ka.target.name")}
	}
	if t.Namespace == "" {
		t.Pod = "" // a pod name alone names nothing
	}
	return t
}

// field returns a string output field, "" when missing, empty or Falco's <NA>.
func field(f map[string]any, key string) string {
	s, _ := f[key].(string)
	if s == "<NA>" {
		return ""
	}
	return s
}

// alertRun is the handling of one alert: the pod is read at most once, when first needed, and
// kept up to date by the actions that change it.
type alertRun struct {
	r  *Responder
	a  *alert.Alert
	id string
	t  target

	fetched bool
	pod     *corev1.Pod
	podErr  error
	deleted bool
}

// getPod returns the alert's pod; an apierrors NotFound error when it does not exist.
func (ar *alertRun) getPod(ctx context.Context) (*corev1.Pod, error) {
	if ar.deleted {
		return nil, apierrors.NewNotFound(corev1.Resource("pods"), ar.t.Pod)
	}
	if !ar.fetched {
		ar.fetched = true
		ar.pod, ar.podErr = ar.r.kube.CoreV1().Pods(ar.t.Namespace).Get(ctx, ar.t.Pod, metav1.GetOptions{})
		if ar.podErr != nil && !apierrors.IsNotFound(ar.podErr) {
			ar.r.m.podErrors.Inc()
			// Not remembered: a later playbook may try again.
			ar.fetched = false
		}
	}
	return ar.pod, ar.podErr
}

func (ar *alertRun) podMatches(ctx context.Context, pb *playbook.Playbook) bool {
	if !pb.Match.NeedsPod() {
		return true
	}
	if ar.t.Pod == "" {
		return false
	}
	pod, err := ar.getPod(ctx)
	if err != nil {
		if !apierrors.IsNotFound(err) {
			ar.r.log.Error("reading the alert's pod to match pod_labels", "playbook", pb.Name, "pod", ar.t.podRef(), "err", err)
		}
		return false
	}
	return pb.Match.Pod(pod.Labels)
}

// playbook runs pb's actions in order. A failed action stops the playbook unless it says
// ignore_errors: later actions often build on earlier ones (label, then isolate).
func (ar *alertRun) playbook(ctx context.Context, pb *playbook.Playbook) []Outcome {
	var out []Outcome
	for i, act := range pb.Actions {
		o := ar.action(ctx, pb, i, act, out)
		if o.Result == ResultFailed && !act.IgnoreErrors {
			if rest := len(pb.Actions) - i - 1; rest > 0 {
				o.Detail += fmt.Sprintf("; playbook stopped, %d later action(s) not run", rest)
			}
		}
		ar.r.emit(ctx, ar, pb, o)
		out = append(out, o)
		if o.Result == ResultFailed && !act.IgnoreErrors {
			break
		}
	}
	return out
}

// action applies the safety rules in order -- protected namespace, rate limit, dry run -- then
// runs the action.
func (ar *alertRun) action(ctx context.Context, pb *playbook.Playbook, i int, act playbook.Action, before []Outcome) Outcome {
	r := ar.r
	o := Outcome{Playbook: pb.Name, Action: act.Kind, DryRun: r.cfg.DryRun || pb.DryRun}
	if act.Kind.Cluster() {
		o.Object = ar.t.podRef()
		switch {
		case ar.t.Namespace != "" && r.protected[ar.t.Namespace]:
			o.Result, o.Detail = ResultRefused, fmt.Sprintf("namespace %s is protected: the responder never acts on it", ar.t.Namespace)
			return o
		case ar.t.Pod == "":
			o.Object = ""
			o.Result, o.Detail = ResultSkipped, "the alert names no pod (no k8s.ns.name and k8s.pod.name in its output fields)"
			return o
		}
	} else {
		o.Object = "webhook " + act.Webhook
	}
	if !r.limits.allow(pb.Name, i) {
		o.Result, o.Detail = ResultRateLimited, "rate limit reached for this action of the playbook"
		return o
	}
	if o.DryRun {
		o.Result, o.Detail = ResultDryRun, "would "+describe(act, r.cfg)
		return o
	}
	var err error
	switch act.Kind {
	case playbook.Notify:
		o.Result, o.Detail, err = r.notify(ctx, act, ar, pb, before)
	default:
		o.Result, o.Detail, o.Object, err = ar.cluster(ctx, act)
	}
	if err != nil {
		// What was done before the failure stays in the record (a policy created, then the
		// label refused).
		if o.Detail != "" {
			o.Detail += "; then " + err.Error()
		} else {
			o.Detail = err.Error()
		}
		o.Result = ResultFailed
	}
	return o
}

// describe says what an action does, for dry-run records.
func describe(act playbook.Action, cfg *Config) string {
	switch act.Kind {
	case playbook.DeletePod:
		if act.GracePeriod != nil {
			return fmt.Sprintf("delete the pod (grace period %v)", *act.GracePeriod)
		}
		return "delete the pod (its own grace period)"
	case playbook.LabelPod:
		return "label the pod " + labelList(act.Labels)
	case playbook.IsolatePod:
		return fmt.Sprintf("isolate the pod: label it %s=%s, selected by the deny-all NetworkPolicy %s",
			cfg.Isolation.LabelKey, cfg.Isolation.LabelValue, cfg.Isolation.PolicyName)
	case playbook.CordonNode:
		return "cordon the pod's node"
	case playbook.TaintNode:
		return fmt.Sprintf("taint the pod's node %s=%s:%s", act.Taint.Key, act.Taint.Value, act.Taint.Effect)
	case playbook.ScaleToZero:
		return "scale the pod's Deployment or StatefulSet to zero replicas"
	case playbook.Notify:
		return "post a message to webhook " + act.Webhook
	}
	return string(act.Kind)
}

func labelList(l map[string]string) string {
	parts := make([]string, 0, len(l))
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// emit records o: a log line, a counter, and the action record to the sink.
func (r *Responder) emit(ctx context.Context, ar *alertRun, pb *playbook.Playbook, o Outcome) {
	r.m.actions.WithLabelValues(string(o.Action), string(o.Result)).Inc()
	lvl := slog.LevelInfo
	switch o.Result {
	case ResultFailed:
		lvl = slog.LevelError
	case ResultRefused, ResultRateLimited:
		lvl = slog.LevelWarn
	}
	r.log.Log(ctx, lvl, "response action", "playbook", o.Playbook, "action", o.Action, "result", o.Result,
		"object", o.Object, "detail", o.Detail, "rule", ar.a.Rule, "alert_id", ar.id)
	rec := r.record(ar, pb, o)
	if err := r.sink.Write(ctx, rec); err != nil {
		r.m.recordErrors.Inc()
		r.log.Error("writing the action record", "playbook", o.Playbook, "action", o.Action, "err", err)
	}
}
