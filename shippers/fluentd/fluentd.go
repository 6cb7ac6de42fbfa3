package fluentd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/shippers"
)

// Shipper sends records to one Fluentd over one connection, each acknowledged before the next
// is sent. It implements shippers.Shipper: Send is never called concurrently (InFlight 1).
type Shipper struct {
	name   string
	cfg    Config
	f      *fluent.Fluent
	logger *slog.Logger
	m      *metrics
}

// New checks cfg (after WithDefaults) and builds the shipper. It tries to connect once: a
// Fluentd that is down at start is logged, not an error, because the output's spool keeps the
// alerts until it is up. name is the `output` label of the metrics. logger and reg may be nil.
func New(name string, cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Shipper, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if name == "" {
		name = "fluentd"
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "shipper", "output", name)
	fcfg := fluent.Config{
		FluentNetwork:         cfg.Network,
		FluentHost:            cfg.Host,
		FluentPort:            cfg.Port,
		FluentSocketPath:      cfg.SocketPath,
		Timeout:               cfg.DialTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		ReadTimeout:           cfg.AckTimeout,
		TlsInsecureSkipVerify: cfg.TLS.InsecureSkipVerify,
		// Synchronous, one connection attempt and one write attempt per Post: the library's own
		// retry loop (13 attempts, about 84 s) would hold Send far past its context; the
		// Output's backoff retries instead.
		Async:              false,
		MaxRetry:           1,
		RetryWait:          1,
		SubSecondPrecision: true,
		RequestAck:         true,
	}
	f, err := fluent.New(fcfg)
	if f == nil {
		return nil, fmt.Errorf("fluentd output: %w", err)
	}
	var unknown *fluent.ErrUnknownNetwork
	if errors.As(err, &unknown) {
		return nil, fmt.Errorf("fluentd output: %w", err)
	}
	if err != nil {
		// Sync mode keeps the logger and dials again on the next Post.
		logger.Warn("fluentd not reachable at start; alerts wait in the spool until it is", "address", cfg.address(), "err", err)
	}
	m, err := newMetrics(name, reg)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &Shipper{name: name, cfg: cfg, f: f, logger: logger, m: m}, nil
}

func (c Config) address() string {
	if c.Network == NetworkUnix {
		return "unix:" + c.SocketPath
	}
	return fmt.Sprintf("%s://%s:%d", c.Network, c.Host, c.Port)
}

// Send posts the batch's records in order, each waiting for its ack. It stops at the first
// failure: the records acknowledged so far are reported as accepted (they leave the spool), the
// rest are retried by the Output. A record that cannot be encoded is rejected for good.
//
// Send checks ctx between records; one record's post is bounded by dial_timeout, write_timeout
// and ack_timeout (the library takes no context), so Send returns at most that long after ctx
// ends.
func (s *Shipper) Send(ctx context.Context, batch shippers.Batch) error {
	var acked, rejected []int
	var rejErrs []error
	stop := func(i int, err error) error {
		if len(acked) == 0 && len(rejected) == 0 {
			return err
		}
		retry := make([]int, 0, len(batch)-i)
		for j := i; j < len(batch); j++ {
			retry = append(retry, j)
		}
		return &shippers.PartialError{Accepted: acked, Rejected: rejected, RejectErrs: rejErrs, Retry: retry}
	}
	for i, r := range batch {
		if err := ctx.Err(); err != nil {
			return stop(i, fmt.Errorf("fluentd output: %w", err))
		}
		start := time.Now()
		err := s.f.EncodeAndPostData(s.cfg.Tag, r.Alert.Time, Record(r))
		s.m.postSeconds.Observe(time.Since(start).Seconds())
		if err == nil {
			s.m.records.WithLabelValues("acked").Inc()
			acked = append(acked, i)
			continue
		}
		if strings.Contains(err.Error(), "can't convert") {
			s.m.records.WithLabelValues("rejected").Inc()
			rejected = append(rejected, i)
			rejErrs = append(rejErrs, fmt.Errorf("fluentd output: encoding: %w", err))
			continue
		}
		// Refused or broken connection, write timeout, or no (or the wrong) ack within
		// ack_timeout: the library has closed the connection; the next Post dials again.
		s.m.records.WithLabelValues("failed").Inc()
		return stop(i, &shippers.RecoverableError{Err: fmt.Errorf("fluentd output: %s: record %s not acknowledged: %w", s.cfg.address(), r.ID, err)})
	}
	if len(rejected) > 0 {
		return &shippers.PartialError{Accepted: acked, Rejected: rejected, RejectErrs: rejErrs}
	}
	return nil
}

// Close closes the connection. It does not wait for anything: in sync mode the library has no
// queue, and Send is never running when the Output closes its shipper.
func (s *Shipper) Close() error {
	s.m.unregister()
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("fluentd output: close: %w", err)
	}
	return nil
}

// Record returns the Forward record of r: Falco's JSON alert fields (hostname, output,
// output_fields, priority, rule, source, tags, time), the record's id as lanner_id (to drop
// the duplicates an at-least-once protocol can make), and, when the alert has Kubernetes
// context, a `kubernetes` map named as fluent-plugin-kubernetes_metadata_filter names it, so
// EFK dashboards built on that plugin work on lanner's alerts too.
func Record(r *shippers.Record) map[string]any {
	a := r.Alert
	tags := make([]any, len(a.Tags))
	for i, t := range a.Tags {
		tags[i] = t
	}
	m := map[string]any{
		"hostname":      a.Hostname,
		"output":        a.Output,
		"output_fields": plain(a.OutputFields),
		"priority":      a.Priority.String(),
		"rule":          a.Rule,
		"source":        a.Source.String(),
		"tags":          tags,
		"time":          string(alert.AppendTime(nil, a.Time)),
		"lanner_id":     r.ID,
	}
	if k := a.K8s; k != nil {
		km := map[string]any{}
		set := func(key, v string) {
			if v != "" {
				km[key] = v
			}
		}
		setMap := func(key string, v map[string]string) {
			if len(v) > 0 {
				mm := make(map[string]any, len(v))
				for kk, vv := range v {
					mm[kk] = vv
				}
				km[key] = mm
			}
		}
		set("namespace_name", k.Namespace)
		set("pod_name", k.PodName)
		set("pod_id", k.PodUID)
		set("pod_ip", k.PodIP)
		set("host", k.NodeName)
		set("container_name", k.ContainerName)
		set("container_id", k.ContainerID)
		set("container_image", k.Image)
		set("container_image_id", k.ImageID)
		set("owner_kind", k.OwnerKind)
		set("owner_name", k.OwnerName)
		set("replicaset", k.ReplicaSet)
		set("deployment", k.Deployment)
		set("statefulset", k.StatefulSet)
		set("daemonset", k.DaemonSet)
		set("job", k.Job)
		set("cronjob", k.CronJob)
		setMap("labels", k.Labels)
		setMap("annotations", k.Annotations)
		setMap("namespace_labels", k.NamespaceLabels)
		m["kubernetes"] = km
	}
	if a.K8sLookup != alert.K8sNotLooked {
		m["k8s_lookup"] = a.K8sLookup.String()
	}
	// A Kubernetes audit alert's actor and object, whatever the rule printed.
	if t := a.Audit; t != nil {
		am := map[string]any{}
		for k, v := range map[string]string{"user": t.User, "resource": t.Resource, "subresource": t.Subresource,
			"namespace": t.Namespace, "name": t.Name, "api_group": t.APIGroup, "api_version": t.APIVersion, "source_ip": t.SourceIP} {
			if v != "" {
				am[k] = v
			}
		}
		m["k8s_audit"] = am
	}
	// The node's audit-trail link, as the Elasticsearch document carries it (lanner.chain.*), so
	// a record that reaches Elasticsearch through Fluentd can be placed in the chain too.
	if c := r.Chain; c != nil {
		m["lanner_chain"] = map[string]any{"epoch": c.Epoch, "seq": c.Seq, "prev": c.Prev, "hash": c.Hash}
	}
	return m
}

// plain returns v with only the types msgpack's generic encoder takes for sure (string,
// integers, floats, bool, nil, []any, map[string]any); anything else becomes its text, so an
// unexpected field value never stops an alert.
func plain(v any) any {
	switch v := v.(type) {
	case nil, string, bool, int64, uint64, float64, int, int32, uint32, float32:
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, vv := range v {
			out[k] = plain(vv)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, vv := range v {
			out[i] = plain(vv)
		}
		return out
	case []string:
		out := make([]any, len(v))
		for i, vv := range v {
			out[i] = vv
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(v))
		for k, vv := range v {
			out[k] = vv
		}
		return out
	case fmt.Stringer:
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}

type metrics struct {
	registration *shippers.Registration
	records      *prometheus.CounterVec
	postSeconds  prometheus.Histogram
}

func newMetrics(name string, reg prometheus.Registerer) (*metrics, error) {
	labels := prometheus.Labels{"output": name}
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "shipper",
			Name: "fluentd_records_total", Help: "Records posted to Fluentd, by result (acked, failed: not acknowledged, rejected: not encodable).",
			ConstLabels: labels}, []string{"result"}),
		postSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "lanner", Subsystem: "shipper",
			Name: "fluentd_post_duration_seconds", Help: "Time from writing one record to Fluentd's ack (or the failure).",
			ConstLabels: labels, Buckets: prometheus.ExponentialBuckets(0.0001, 3, 12)}),
	}
	r, err := shippers.RegisterAll(reg, "fluentd output", m.records, m.postSeconds)
	if err != nil {
		return nil, err
	}
	m.registration = r
	return m, nil
}

func (m *metrics) unregister() { m.registration.Unregister() }
