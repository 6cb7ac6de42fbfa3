package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/respond"
	"github.com/lannersec/lanner/enrich"
)

// respondShutdownTimeout bounds each shutdown step of the responder (draining the sources,
// flushing the record outputs).
const respondShutdownTimeout = 10 * time.Second

func newRespondCmd() *cobra.Command {
	var cfgPath, rbacName string
	var dryRun, printRBAC bool
	c := &cobra.Command{
		Use:   "respond --config FILE [--dry-run] [--print-rbac]",
		Short: "Act on alerts with playbooks: isolate, delete or label a pod, cordon or taint its node, scale it to zero, notify",
		Long: `Run the responder: take Falco JSON alerts from NATS subjects (those lanner's nats_output and
falcosidekick publish on) or POSTed to an HTTP endpoint, match them against the playbooks of the
configuration file, and run the actions of every matching playbook in order through the
Kubernetes API. Every action is idempotent, rate limited, refused in protected namespaces
(kube-system by default), and recorded as an alert of its own ("Response: <playbook>/<action>")
shipped to the configured outputs. docs/response.md describes the file, every action and the
RBAC each needs.

The responder runs as its own Deployment, apart from the node collector (lanner run), so the
DaemonSet never holds write access to the cluster.

--dry-run overrides the file's dry_run: every action is recorded as what it would do, and no
Kubernetes or webhook call is made (but reading a pod to match a playbook's pod_labels). --print-rbac prints the ClusterRole the configuration needs
(the verbs of the actions that run for real) and exits.

/metrics, /healthz and /readyz are served on http.listen. Exit status: 0 after a clean shutdown
(SIGINT or SIGTERM), 2 for a configuration error, 1 when something fails at run time.`,
		Example: `  lanner respond --config /etc/lanner/respond.yaml
  lanner respond --config respond.yaml --dry-run
  lanner respond --config respond.yaml --print-rbac | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return &usageError{msg: "respond: --config FILE is required\n" + cmd.UsageString()}
			}
			cfg, err := respond.Load(cfgPath)
			if err != nil {
				return &usageError{msg: "respond: invalid configuration:\n" + err.Error()}
			}
			if cmd.Flags().Changed("dry-run") {
				cfg.DryRun = dryRun
			}
			if printRBAC {
				y, err := respond.ClusterRoleYAML(cfg, rbacName)
				if err != nil {
					return fmt.Errorf("respond: %w", err)
				}
				_, err = cmd.OutOrStdout().Write(y)
				return err
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runResponder(ctx, cfg, nil, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	c.Flags().StringVarP(&cfgPath, "config", "c", "", "responder configuration file (docs/response.md)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "record what the playbooks would do without doing it (overrides the file's dry_run)")
	c.Flags().BoolVar(&printRBAC, "print-rbac", false, "print the ClusterRole the configuration's actions need, then exit")
	c.Flags().StringVar(&rbacName, "rbac-name", "lanner-respond", "name of the ClusterRole --print-rbac prints")
	return c
}

// recordSink hands the responder's action records to the outputs built as `lanner run` builds
// them. The lock serializes the responder's goroutines, as the alertRouter serializes run's
// sources.
type recordSink struct {
	mu     sync.Mutex
	sinks  []alertSink
	failed *prometheus.CounterVec
}

func (s *recordSink) Write(ctx context.Context, a *alert.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, o := range s.sinks {
		if err := o.Write(ctx, a, nil); err != nil {
			s.failed.WithLabelValues(o.Name()).Inc()
			errs = append(errs, fmt.Errorf("%s: %w", o.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// runResponder runs until ctx ends. kube nil builds the client from the configuration
// (kubernetes.kubeconfig, else in-cluster) when the playbooks need one.
func runResponder(ctx context.Context, cfg *respond.Config, kube kubernetes.Interface, stdout, stderr io.Writer) (err error) {
	log := newLogger(cfg.Log, stderr)
	reg := prometheus.NewRegistry()
	failedRecords := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lanner_respond_record_output_errors_total",
		Help: "Action records an output could not take (the record still went to the other outputs)."}, []string{"output"})
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), failedRecords} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("respond: metrics: %w", err)
		}
	}
	h := &health{}
	var stopping atomic.Bool
	h.add("shutdown", func() error {
		if stopping.Load() {
			return errors.New("shutting down")
		}
		return nil
	})

	// Outputs of the action records: run's own, from the same configuration blocks.
	rc := cfg.RunConfig()
	sink := &recordSink{failed: failedRecords}
	defer func() {
		if cerr := closeSinks(sink.sinks); cerr != nil {
			log.Error("closing the record outputs", "err", cerr)
			if err == nil {
				err = cerr
			}
		}
	}()
	if rc.Stdout.Enabled {
		s, err := newStdoutSink(stdout, rc.Stdout, true, respondShutdownTimeout, log, reg)
		if err != nil {
			return fmt.Errorf("respond: stdout: %w", err)
		}
		sink.sinks = append(sink.sinks, s)
	}
	fan, failed, err := newShipperOutputs(&rc, log, reg)
	if err != nil {
		return fmt.Errorf("respond: outputs: %w", err)
	}
	for _, f := range failed {
		log.Error("record output left out; the other outputs run", "output", f.name, "err", f.err)
		ferr := f.err
		h.add("output "+f.name, func() error { return fmt.Errorf("not running: %w", ferr) })
	}
	if fan != nil {
		sink.sinks = append(sink.sinks, fan)
		for _, o := range fan.f.Outputs() {
			h.add("output "+o.Name(), o.Healthy)
		}
	}
	if len(sink.sinks) == 0 {
		// Acting without an audit trail is not an option.
		return fmt.Errorf("respond: no output for the action records could be started (%d failed)", len(failed))
	}

	if kube == nil && cfg.NeedsKubernetes() {
		klog.SetSlogLogger(log.With("component", "client-go"))
		kube, err = enrich.NewClient(cfg.Kubernetes.Kubeconfig)
		if err != nil {
			return fmt.Errorf("respond: kubernetes: %w", err)
		}
	}
	hostname := resolveHostname(os.Getenv, os.Hostname)
	r, err := respond.New(cfg, kube, sink, log, reg, respond.WithHostname(hostname))
	if err != nil {
		return fmt.Errorf("respond: %w", err)
	}
	defer r.Close()

	var httpSv *httpServer
	if cfg.HTTP.Enabled {
		mux := newOpsMux(reg, h)
		if p := cfg.HTTP.AlertPath; p != "" {
			token := ""
			if f := cfg.HTTP.BearerTokenFile; f != "" {
				b, err := os.ReadFile(f)
				if err != nil {
					return &usageError{msg: "respond: http.bearer_token_file: " + err.Error()}
				}
				if token = strings.TrimSpace(string(b)); token == "" {
					return &usageError{msg: "respond: http.bearer_token_file: " + f + " is empty"}
				}
			}
			ah, err := respond.NewAlertHandler(r, token, cfg.HTTP.MaxBodyBytes, log)
			if err != nil {
				return fmt.Errorf("respond: %w", err)
			}
			mux.Handle(p, ah)
		}
		httpSv, err = listenHTTP(cfg.HTTP.Listen, mux, log)
		if err != nil {
			return fmt.Errorf("respond: %w", err)
		}
		defer func() { _ = httpSv.ln.Close() }()
	}

	var natsSrc *respond.NATSSource
	if cfg.NATS.URL != "" {
		natsSrc, err = respond.NewNATSSource(cfg.NATS, r, log)
		if err != nil {
			return fmt.Errorf("respond: %w", err)
		}
		h.add("nats", natsSrc.Healthy)
	}

	// Run: record outputs deliver from their goroutines; the sources feed the responder.
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	runCtx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	var outWG sync.WaitGroup
	for _, s := range sink.sinks {
		outWG.Go(func() {
			if err := s.Run(bg); err != nil && bg.Err() == nil {
				fail(fmt.Errorf("%s: %w", s.Name(), err))
			}
		})
	}
	var srcWG sync.WaitGroup
	srcCtx, stopSources := context.WithCancel(context.Background())
	defer stopSources()
	if natsSrc != nil {
		srcWG.Go(func() { _ = natsSrc.Run(srcCtx) })
	}
	if httpSv != nil {
		go func() {
			var err error
			if cfg.HTTP.CertFile != "" {
				httpSv.log.Info("responder listening (TLS)", "addr", httpSv.ln.Addr().String())
				err = httpSv.srv.ServeTLS(httpSv.ln, cfg.HTTP.CertFile, cfg.HTTP.KeyFile)
				if errors.Is(err, http.ErrServerClosed) {
					err = nil
				}
			} else {
				err = httpSv.serve()
			}
			if err != nil {
				fail(fmt.Errorf("http: %w", err))
			}
		}()
	}
	log.Info("lanner respond running", "playbooks", len(cfg.Playbooks), "dry_run", cfg.DryRun,
		"protected_namespaces", cfg.ProtectedNamespaces, "nats", natsSrc != nil, "http_alerts", cfg.HTTP.AlertPath != "",
		"record_outputs", len(sink.sinks))

	<-runCtx.Done()
	cause := context.Cause(runCtx)
	stopping.Store(true)
	log.Info("shutting down", "reason", cause)
	// 1. Sources stop taking alerts and finish those they hold (NATS drains; the HTTP server
	// waits for the requests in flight), so every action taken is recorded before 2.
	stopSources()
	srcWG.Wait()
	var errs []error
	if httpSv != nil {
		if err := httpSv.shutdown(respondShutdownTimeout); err != nil {
			errs = append(errs, fmt.Errorf("http: %w", err))
		}
	}
	// 2. Record outputs flush; what they did not deliver stays in their spools for the next start.
	for _, s := range sink.sinks {
		if err := s.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Name(), err))
		}
	}
	stopBG()
	waited := make(chan struct{})
	go func() { outWG.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(respondShutdownTimeout):
		log.Warn("record outputs did not stop in time", "timeout", respondShutdownTimeout)
	}
	if cause != nil && !errors.Is(cause, context.Canceled) {
		errs = append(errs, cause)
	}
	return errors.Join(errs...)
}
