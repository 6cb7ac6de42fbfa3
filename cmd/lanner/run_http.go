package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lannersec/lanner/collector/capture"
)

// runMetrics are the collector's own counters. Events and drops of the syscall source are the
// kernel's counters, read at scrape time (the capture loop pays nothing); decode failures and
// audit events are counted here.
type runMetrics struct {
	reg    *prometheus.Registry
	alerts *prometheus.CounterVec
	failed *prometheus.CounterVec

	auditEvents atomic.Uint64

	mu       sync.Mutex
	stats    func() (capture.Stats, error)
	decodeFn func() map[capture.ErrKind]uint64

	eventsDesc, droppedDesc *prometheus.Desc
}

func newRunMetrics() (*runMetrics, error) {
	reg := prometheus.NewRegistry()
	m := &runMetrics{
		reg: reg,
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lanner_alerts_total",
			Help: "Alerts raised, by rule, priority and source (bounded by the loaded rules)."},
			[]string{"rule", "priority", "source"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lanner_alert_output_errors_total",
			Help: "Alerts an output could not take (the alert still went to the other outputs)."},
			[]string{"output"}),
		eventsDesc: prometheus.NewDesc("lanner_events_total",
			"Events received, by source (syscall: records the kernel delivered; k8s_audit: audit events the webhook accepted).",
			[]string{"source"}, nil),
		droppedDesc: prometheus.NewDesc("lanner_events_dropped_total",
			"Events lost, by reason: buffer (kernel ring full), size (record too large), decode_<kind> (a record userspace could not decode).",
			[]string{"reason"}, nil),
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.alerts, m.failed, m,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return m, nil
}

// registerCommitQueue exports the depth of the fan-out's group-commit queue.
func registerCommitQueue(reg prometheus.Registerer, depth func() float64) error {
	return reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "lanner_alert_commit_queue",
		Help: "Alerts matched and waiting to be spooled by the group commit (at most 4096); a queue that stays full means the spools' disk cannot keep up and the rule engine waits.",
	}, depth))
}

// setCapture makes the syscall counters scrape the probe and the state's decode errors. decode
// must be safe to call from the scrape goroutine.
func (m *runMetrics) setCapture(stats func() (capture.Stats, error), decode func() map[capture.ErrKind]uint64) {
	m.mu.Lock()
	m.stats, m.decodeFn = stats, decode
	m.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (m *runMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.eventsDesc
	ch <- m.droppedDesc
}

// Collect implements prometheus.Collector.
func (m *runMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	stats, decode := m.stats, m.decodeFn
	m.mu.Unlock()
	var s capture.Stats
	if stats != nil {
		s, _ = stats()
	}
	ch <- prometheus.MustNewConstMetric(m.eventsDesc, prometheus.CounterValue, float64(s.Events), "syscall")
	ch <- prometheus.MustNewConstMetric(m.eventsDesc, prometheus.CounterValue, float64(m.auditEvents.Load()), "k8s_audit")
	ch <- prometheus.MustNewConstMetric(m.droppedDesc, prometheus.CounterValue, float64(s.DropsBuffer), "buffer")
	ch <- prometheus.MustNewConstMetric(m.droppedDesc, prometheus.CounterValue, float64(s.DropsSize), "size")
	if decode != nil {
		errs := decode()
		kinds := make([]string, 0, len(errs))
		for k := range errs {
			kinds = append(kinds, string(k))
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			ch <- prometheus.MustNewConstMetric(m.droppedDesc, prometheus.CounterValue,
				float64(errs[capture.ErrKind(k)]), "decode_"+k)
		}
	}
}

// health is what /readyz reports: each named check is ready or says why not. /healthz only
// says the process serves (a liveness probe must not restart a collector whose Elasticsearch
// is down).
type health struct {
	mu     sync.Mutex
	checks map[string]func() error
}

func (h *health) add(name string, check func() error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.checks == nil {
		h.checks = map[string]func() error{}
	}
	h.checks[name] = check
}

func (h *health) ready() (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.checks))
	for n := range h.checks {
		names = append(names, n)
	}
	sort.Strings(names)
	ok := true
	var b strings.Builder
	for _, n := range names {
		if err := h.checks[n](); err != nil {
			ok = false
			fmt.Fprintf(&b, "%s: %v\n", n, err)
		} else {
			fmt.Fprintf(&b, "%s: ok\n", n)
		}
	}
	return ok, b.String()
}

// newOpsMux serves what every lanner process serves for its operators: /metrics from reg,
// /healthz (alive) and /readyz (h's checks, 503 while one fails). lanner run and lanner
// respond add their own paths.
func newOpsMux(reg *prometheus.Registry, h *health) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, body := h.ready()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(body))
	})
	return mux
}

// newHTTPHandler serves /metrics, /healthz, /readyz and, when asked, /debug/pprof/.
func newHTTPHandler(m *runMetrics, h *health, withPprof bool) http.Handler {
	mux := newOpsMux(m.reg, h)
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// httpServer is the metrics and health listener, opened before anything starts so that a busy
// port fails the start rather than the first scrape.
type httpServer struct {
	srv *http.Server
	ln  net.Listener
	log *slog.Logger
}

func listenHTTP(addr string, h http.Handler, log *slog.Logger) (*httpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics server: listen on %s: %w", addr, err)
	}
	return &httpServer{ln: ln, log: log, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}}, nil
}

func (s *httpServer) serve() error {
	s.log.Info("metrics and health server listening", "addr", s.ln.Addr().String())
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics server: %w", err)
	}
	return nil
}

func (s *httpServer) shutdown(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
