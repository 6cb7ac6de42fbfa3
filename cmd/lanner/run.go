package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/audit"
	"github.com/lannersec/lanner/collector/capture"
	"github.com/lannersec/lanner/collector/config"
	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
	"github.com/lannersec/lanner/collector/state"
	"github.com/lannersec/lanner/enrich"
)

func newRunCmd() *cobra.Command {
	var cfgPath string
	var ov *config.Overrides
	c := &cobra.Command{
		Use:   "run [-c CONFIG] [flags]",
		Short: "Run the node collector: live syscall capture and the Kubernetes audit webhook",
		Long: `Run the collector: load the rules, capture syscalls with eBPF (with a /proc scan so processes
that started before lanner are known), evaluate the rules on every event, and write each alert to
the configured outputs (standard output as Falco JSON or text lines; Elasticsearch through a
durable spool). Optionally serve the Kubernetes audit webhook, enrich alerts with pod metadata,
and serve /metrics, /healthz and /readyz.

Settings come from the YAML file given with -c (docs/configuration.md lists every key), then from
flags: every key is also a flag, e.g. capture.poll_interval is --capture.poll-interval.

Loading eBPF needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE), kernel BTF
(/sys/kernel/btf/vmlinux) and a binary built with eBPF support (make build).

Shutdown on SIGINT or SIGTERM, in this order: capture and the audit webhook stop taking events;
the engine finishes the events already received; outputs flush (alerts not yet delivered stay in
their spool for the next start); then the probe, outputs, Kubernetes watches and the metrics
server are closed. Exit status: 0 after a clean shutdown, 2 for a configuration or rules error,
1 when something fails at run time (such as eBPF that cannot be loaded).`,
		Example: `  sudo lanner run -c deploy/local/lanner.yaml
  sudo lanner run -r /etc/falco/falco_rules.yaml -r rules/lanner_rules.yaml --json-output=false
  sudo lanner run -c lanner.yaml --elasticsearch.enabled --elasticsearch.addresses https://es:9200
  lanner run --capture.enabled=false --audit.enabled --audit.plaintext --audit.allow-unauthenticated`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath, ov)
			if err != nil {
				return &usageError{msg: "run: invalid configuration:\n" + err.Error()}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runCollector(ctx, cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	c.Flags().StringVarP(&cfgPath, "config", "c", "", "YAML configuration file (docs/configuration.md)")
	ov = config.BindFlags(c.Flags())
	c.Flags().SortFlags = false
	return c
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	lvl, _ := config.ParseLevel(c.Level)
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// loadRules reads and compiles the configured rules files; a problem is a usage error (exit 2)
// printed as `lanner rules validate` prints it.
func loadRules(cfg *config.Config, reg *fields.Registry, log *slog.Logger, stderr io.Writer) (*engine.Ruleset, error) {
	files := make([]engine.File, 0, len(cfg.RulesFiles))
	for _, name := range cfg.RulesFiles {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, &usageError{msg: fmt.Sprintf("%s: cannot read rules file: %v", name, err)}
		}
		files = append(files, engine.File{Name: name, Data: data})
	}
	matching, _ := engine.ParseRuleMatching(cfg.RuleMatching)
	rs, res := engine.Load(files, engine.Options{Registry: reg, RuleMatching: matching, Logger: log})
	for _, w := range res.Warnings {
		log.Warn("rules: " + w.String())
	}
	if rs == nil || !res.OK() {
		for _, e := range res.Errors {
			fmt.Fprintln(stderr, e.String())
		}
		return nil, &usageError{msg: "run: the rules do not load"}
	}
	prio, _ := alert.ParsePriority(cfg.Priority)
	rs.SetMinPriority(prio)
	return rs, nil
}

// syscallTypes returns the syscall event types the running rules can match.
func syscallTypes(rs *engine.Ruleset, minPrio alert.Priority) (types []uint16, all bool) {
	for _, r := range rs.Rules() {
		if r.Source != event.SourceSyscall || !rs.IsEnabled(r.Name) || !r.Priority.AtLeast(minPrio) {
			continue
		}
		types = append(types, r.EventTypes...)
		all = all || r.AllTypes
	}
	return types, all
}

// captureError turns a failure to load the eBPF capture into one message that says what is
// missing and what to do.
func captureError(err error) error {
	var why string
	switch {
	case errors.Is(err, capture.ErrNoBPF):
		why = "this lanner binary was built without eBPF support. Build it with `make build` " +
			"(it compiles the eBPF object and builds with -tags lannerbpf), or run with " +
			"--capture.enabled=false to serve only the Kubernetes audit source"
	case os.Geteuid() != 0:
		why = fmt.Sprintf("loading eBPF needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE); "+
			"run it with sudo. (%v)", err)
	default:
		if _, serr := os.Stat("/sys/kernel/btf/vmlinux"); serr != nil {
			why = fmt.Sprintf("the kernel has no BTF (/sys/kernel/btf/vmlinux): lanner needs a kernel built "+
				"with CONFIG_DEBUG_INFO_BTF. (%v)", err)
		} else {
			why = fmt.Sprintf("%v. Run with --log.level debug for libbpf's log (a verifier "+
				"rejection shows there)", err)
		}
	}
	return fmt.Errorf("cannot start live capture: %s", why)
}

// collector is one `lanner run`: what it opened, in the order it must be closed.
type collector struct {
	cfg     *config.Config
	log     *slog.Logger
	rs      *engine.Ruleset
	builder *alert.Builder
	router  *alertRouter
	metrics *runMetrics
	health  *health

	probe   *capture.Probe
	st      *state.State
	drops   *capture.DropMonitor
	k8s     *enrich.Cache
	annot   *enrich.Annotator
	auditCh chan audit.Batch
	auditSv *audit.Server
	httpSv  *httpServer

	// decodeErrs is the state's decode-error table as last published by the capture goroutine
	// (the State is single-goroutine; scrapes read this copy).
	decodeErrs atomic.Pointer[map[capture.ErrKind]uint64]
	capturing  atomic.Bool
	stopping   atomic.Bool
}

func runCollector(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) (err error) {
	log := newLogger(cfg.Log, stderr)
	hostname := resolveHostname(os.Getenv, os.Hostname)
	reg := fields.NewRegistry(fields.WithHostname(hostname))
	rs, err := loadRules(cfg, reg, log, stderr)
	if err != nil {
		return err
	}
	var bopts []alert.BuilderOption
	if cfg.TimeISO8601 {
		bopts = append(bopts, alert.WithISO8601Time())
	}
	builder, err := alert.NewBuilder(reg, hostname, bopts...)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	m, err := newRunMetrics()
	if err != nil {
		return err
	}
	c := &collector{cfg: cfg, log: log, rs: rs, builder: builder, metrics: m, health: &health{},
		router: &alertRouter{log: log, alerts: m.alerts, failed: m.failed}}
	// Everything opened below is closed by c.close, also when a later step fails.
	defer func() {
		if cerr := c.close(); cerr != nil {
			log.Error("shutdown", "err", cerr)
			if err == nil {
				err = cerr
			}
		}
	}()
	if err := c.open(stdout); err != nil {
		return err
	}
	return c.run(ctx)
}

// open builds every component; nothing runs yet.
func (c *collector) open(stdout io.Writer) error {
	cfg, log := c.cfg, c.log
	if cfg.Stdout.Enabled {
		s, err := newStdoutSink(stdout, cfg.Stdout, cfg.JSONOutput, cfg.ShutdownTimeout, log, c.metrics.reg)
		if err != nil {
			return fmt.Errorf("run: stdout: %w", err)
		}
		c.router.sinks = append(c.router.sinks, s)
	}
	fan, failed, err := newShipperOutputs(cfg, log, c.metrics.reg)
	if err != nil {
		return fmt.Errorf("run: outputs: %w", err)
	}
	for _, d := range cfg.DisabledOutputs {
		failed = append(failed, failedOutput{d.Name, fmt.Errorf("invalid configuration: %w", d.Problems)})
	}
	for _, f := range failed {
		// Left out, loudly: the log says why and /readyz keeps saying it until a restart with a
		// fixed configuration, while the other outputs deliver.
		log.Error("output left out; the other outputs run", "output", f.name, "err", f.err)
		err := f.err
		c.health.add("output "+f.name, func() error { return fmt.Errorf("not running: %w", err) })
	}
	if fan == nil && !cfg.Stdout.Enabled {
		return fmt.Errorf("run: no output could be started (%d failed)", len(failed))
	}
	if fan != nil {
		fan.startCommitter(commitQueue, c.router.failed.WithLabelValues(fan.Name()))
		if err := registerCommitQueue(c.metrics.reg, fan.queued); err != nil {
			return fmt.Errorf("run: metrics: %w", err)
		}
		c.router.sinks = append(c.router.sinks, fan)
		for _, o := range fan.f.Outputs() {
			// /readyz reflects an output once package shippers says how it is doing (a
			// Healthy method); until then outputs do not take part in readiness.
			if h, ok := any(o).(interface{ Healthy() error }); ok {
				c.health.add("output "+o.Name(), h.Healthy)
			}
		}
	}
	if cfg.HTTP.Enabled {
		c.httpSv, err = listenHTTP(cfg.HTTP.Listen, newHTTPHandler(c.metrics, c.health, cfg.HTTP.Pprof), log)
		if err != nil {
			return err
		}
	}
	c.health.add("shutdown", func() error {
		if c.stopping.Load() {
			return errors.New("shutting down")
		}
		return nil
	})
	if k := cfg.Kubernetes; k.Enabled {
		node := k.NodeName
		if node == "" && !k.AllNodes {
			node = os.Getenv("NODE_NAME")
			if node == "" {
				return &usageError{msg: "run: kubernetes.enabled needs kubernetes.node_name or $NODE_NAME (or kubernetes.all_nodes)"}
			}
		}
		// client-go logs through klog; send it to lanner's log, in its format
		klog.SetSlogLogger(log.With("component", "client-go"))
		client, err := enrich.NewClient(k.Kubeconfig)
		if err != nil {
			return fmt.Errorf("run: kubernetes: %w", err)
		}
		c.k8s, err = enrich.New(client, enrich.Config{NodeName: node, AllNodes: k.AllNodes}, log, c.metrics.reg)
		if err != nil {
			return fmt.Errorf("run: kubernetes: %w", err)
		}
		c.annot = c.k8s.NewAnnotator()
		c.health.add("kubernetes", func() error {
			if !c.k8s.HasSynced() {
				return errors.New("pod cache not synced yet")
			}
			return nil
		})
	}
	if a := cfg.Audit; a.Enabled {
		c.auditCh = make(chan audit.Batch, a.QueueBatches)
		wh, err := audit.NewWebhook(audit.WebhookConfig{Path: a.Path, MaxBodyBytes: a.MaxBodyBytes,
			BearerTokenFile: a.BearerTokenFile, ClientCertAuth: a.ClientCertAuth,
			AllowUnauthenticated: a.AllowUnauthenticated, RetryAfter: a.RetryAfter}, c.auditCh, log, c.metrics.reg)
		if err != nil {
			return &usageError{msg: "run: audit: " + err.Error()}
		}
		mux := http.NewServeMux()
		mux.Handle(wh.Path(), wh)
		c.auditSv, err = audit.NewServer(audit.ServerConfig{Addr: a.Listen, CertFile: a.CertFile, KeyFile: a.KeyFile,
			ClientCAFile: a.ClientCAFile, Plaintext: a.Plaintext}, mux, log)
		if err != nil {
			return &usageError{msg: "run: audit: " + err.Error()}
		}
	}
	if cfg.Capture.Enabled {
		if err := c.openCapture(); err != nil {
			return err
		}
	}
	return nil
}

func (c *collector) openCapture() error {
	cfg := c.cfg.Capture
	prio, _ := alert.ParsePriority(c.cfg.Priority)
	types, all := syscallTypes(c.rs, prio)
	sc := capture.InterestingSyscalls(types, all)
	// The opens no running rule can match (most of them: reads of ordinary files) are dropped in
	// the kernel. rs has the minimum priority set, so OpenScope sees the running rules.
	var openFilter *capture.OpenFilter
	switch s := c.rs.OpenScope(); {
	case s.Any:
		c.log.Info("every open is reported: a running rule can match any open")
	case capture.NeedsEveryOpen(sc):
		c.log.Info("every open is reported: a running rule matches close, whose file only the opens tell")
	case len(s.Prefixes) > capture.MaxOpenPrefixes:
		c.log.Info("every open is reported: the rules test more path prefixes than the kernel filter holds",
			"prefixes", len(s.Prefixes), "max", capture.MaxOpenPrefixes)
	default:
		openFilter = &capture.OpenFilter{Writes: s.Writes, Paths: s.Odd, Prefixes: s.Prefixes}
		c.log.Info("opens filtered in the kernel", "writes", s.Writes, "odd_paths", s.Odd, "prefixes", len(s.Prefixes))
	}
	p, err := capture.Open(capture.Config{Syscalls: sc, RingBytesPerCPU: cfg.RingBytesPerCPU,
		PollInterval: cfg.PollInterval, OpenFilter: openFilter, Logger: c.log})
	if err != nil {
		return captureError(err)
	}
	c.probe = p
	if _, err := capture.NewMetrics(p.Stats, c.metrics.reg); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	c.st, err = state.New(state.Config{ProcRoot: cfg.ProcRoot, HostRoot: cfg.HostRoot, MaxThreads: cfg.MaxThreads,
		MaxFDsPerProcess: cfg.MaxFDsPerProcess, BootTime: p.BootTime(), Logger: c.log})
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if err := c.st.Scan(); err != nil {
		return fmt.Errorf("run: scanning %s: %w", cfg.ProcRoot, err)
	}
	c.log.Info("capture started", "syscalls", len(sc), "threads", c.st.Stats().Threads)
	c.drops = capture.NewDropMonitor(c.cfg.Drops.Threshold, c.cfg.Drops.Rate, c.log)
	c.metrics.setCapture(p.Stats, func() map[capture.ErrKind]uint64 {
		if m := c.decodeErrs.Load(); m != nil {
			return *m
		}
		return nil
	})
	c.health.add("capture", func() error {
		if !c.capturing.Load() {
			return errors.New("not capturing")
		}
		return nil
	})
	return nil
}

// emit builds the alert of a match and hands it to the outputs.
func (c *collector) emit(ctx context.Context, r *engine.Rule, e *event.Event) {
	a := c.builder.Build(e, r.Name, r.Priority, r.Tags, r.Formatter)
	if c.k8s != nil && e.Source == event.SourceSyscall {
		c.k8s.Enrich(a, enrich.ContainerIDOf(e))
	}
	c.router.emit(ctx, a, r)
}

// run starts everything and waits for a signal or a failure, then shuts down in order.
func (c *collector) run(ctx context.Context) error {
	// bg outlives the sources: outputs, watches and servers stop only after the sources did.
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	runCtx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	// alertCtx bounds how long handing an alert to an output may block (a full spool under the
	// block policy): forever while running, shutdown_timeout once the shutdown has begun, so a
	// stuck output cannot keep the sources from stopping.
	alertCtx, stopAlerts := context.WithCancel(bg)
	defer stopAlerts()
	var bgWG sync.WaitGroup
	goBG := func(name string, fn func() error) {
		bgWG.Go(func() {
			if err := fn(); err != nil && bg.Err() == nil {
				fail(fmt.Errorf("%s: %w", name, err))
			}
		})
	}
	for _, s := range c.router.sinks {
		goBG(s.Name(), func() error { return s.Run(bg) })
	}
	if c.httpSv != nil {
		// not in bgWG: it serves until close, after everything else stopped
		go func() {
			if err := c.httpSv.serve(); err != nil {
				fail(err)
			}
		}()
	}
	if c.k8s != nil {
		goBG("kubernetes", func() error { return c.k8s.Run(bg) })
	}

	// Sources.
	var srcWG sync.WaitGroup
	var auditDone chan struct{}
	auditCtx, stopAudit := context.WithCancel(context.Background())
	defer stopAudit()
	if c.auditSv != nil {
		auditDone = make(chan struct{})
		go func() {
			defer close(auditDone)
			c.consumeAudit(alertCtx)
		}()
		srcWG.Go(func() {
			if err := c.auditSv.Run(auditCtx); err != nil {
				fail(fmt.Errorf("audit webhook: %w", err))
			}
		})
	}
	captureDone := make(chan struct{})
	if c.probe != nil {
		c.capturing.Store(true)
		srcWG.Go(func() {
			defer close(captureDone)
			defer c.capturing.Store(false)
			if err := c.captureLoop(runCtx, alertCtx); err != nil && runCtx.Err() == nil {
				fail(fmt.Errorf("capture: %w", err))
			}
		})
		go c.watchDrops(runCtx, captureDone)
	} else {
		close(captureDone)
	}
	c.log.Info("lanner running", "rules", len(c.rs.Rules()), "outputs", len(c.router.sinks),
		"capture", c.probe != nil, "audit", c.auditSv != nil, "kubernetes", c.k8s != nil)

	<-runCtx.Done()
	cause := context.Cause(runCtx)
	c.stopping.Store(true)
	c.log.Info("shutting down", "reason", cause)
	timeout := c.cfg.ShutdownTimeout
	abandon := time.AfterFunc(timeout, stopAlerts)
	defer abandon.Stop()

	// 1. Sources stop: the capture loop returns once its context ends (the ring is read no more);
	// the audit webhook finishes the requests in flight and takes no more.
	stopAudit()
	srcWG.Wait()
	// 2. The engine drains: syscall events were evaluated synchronously in the capture loop;
	// the audit batches already accepted are evaluated now.
	if c.auditCh != nil {
		close(c.auditCh)
		select {
		case <-auditDone:
		case <-time.After(timeout):
			c.log.Warn("audit queue not drained in time", "timeout", timeout)
		}
	}
	// 3. Outputs flush: buffered lines are written; shipper workers stop (their spools keep
	// what they have not delivered).
	var errs []error
	c.router.mu.Lock()
	for _, s := range c.router.sinks {
		if err := s.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Name(), err))
		}
	}
	c.router.mu.Unlock()
	stopBG()
	waited := make(chan struct{})
	go func() { bgWG.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(timeout):
		c.log.Warn("outputs did not stop in time", "timeout", timeout)
	}
	// A signal cancels with context.Canceled; anything else is a component's failure.
	if cause != nil && !errors.Is(cause, context.Canceled) {
		errs = append(errs, cause)
	}
	if c.probe != nil {
		if s, err := c.probe.Stats(); err == nil {
			c.log.Info("capture stopped", "events", s.Events, "drops_buffer", s.DropsBuffer, "drops_size", s.DropsSize)
		}
	}
	return errors.Join(errs...)
}

// captureLoop reads the ring until ctx ends: state, Kubernetes annotation, engine, alerts.
func (c *collector) captureLoop(ctx, alertCtx context.Context) error {
	n := 0
	publish := func() {
		m := c.st.DecodeErrors()
		c.decodeErrs.Store(&m)
	}
	defer publish()
	handle := c.st.Handler(func(e *event.Event) {
		if c.annot != nil && e.Sys != nil && e.Sys.Thread != nil {
			c.annot.Annotate(e.Sys.Thread.Container)
		}
		c.rs.Process(e, func(r *engine.Rule, e *event.Event) { c.emit(alertCtx, r, e) })
	})
	return c.probe.Run(ctx, func(raw []byte) {
		handle(raw)
		if n++; n&4095 == 0 {
			publish()
		}
	})
}

// watchDrops compares the kernel counters every check_interval and logs Falco's
// syscall_event_drops line when too many records were lost. Records lost in userspace (they
// reached lanner but could not be decoded) are reported too, rate limited the same way.
func (c *collector) watchDrops(ctx context.Context, done <-chan struct{}) {
	t := time.NewTicker(c.cfg.Drops.CheckInterval)
	defer t.Stop()
	var every time.Duration
	if c.cfg.Drops.Rate > 0 {
		every = time.Duration(float64(time.Second) / c.cfg.Drops.Rate)
	}
	var lastDecode uint64
	var lastLog time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case now := <-t.C:
			s, err := c.probe.Stats()
			if err != nil {
				c.log.Warn("reading the capture counters", "err", err)
				continue
			}
			c.drops.Observe(now, s)
			var total uint64
			var kinds []any
			if m := c.decodeErrs.Load(); m != nil {
				for k, n := range *m {
					total += n
					kinds = append(kinds, "n_"+string(k), n)
				}
			}
			if total > lastDecode && (lastLog.IsZero() || now.Sub(lastLog) >= every) {
				c.log.Warn("syscall event drop: records lanner could not decode",
					append([]any{"n_drops_decode", total - lastDecode, "total_drops_decode", total}, kinds...)...)
				lastDecode, lastLog = total, now
			}
		}
	}
}

// consumeAudit evaluates the webhook's batches until the queue is closed.
func (c *collector) consumeAudit(alertCtx context.Context) {
	var num uint64
	for b := range c.auditCh {
		for _, e := range b.Events {
			num++
			e.Num = num
			c.metrics.auditEvents.Add(1)
			c.rs.Process(e, func(r *engine.Rule, e *event.Event) { c.emit(alertCtx, r, e) })
		}
	}
}

// close releases everything open: the probe, the outputs (spools), then the metrics server. It
// is safe after a partial open.
func (c *collector) close() error {
	var errs []error
	if c.probe != nil {
		if err := c.probe.Close(); err != nil {
			errs = append(errs, fmt.Errorf("capture: %w", err))
		}
	}
	if err := closeSinks(c.router.sinks); err != nil {
		errs = append(errs, err)
	}
	// The metrics server goes last, so the final counters can be scraped during the shutdown.
	if c.httpSv != nil {
		if err := c.httpSv.shutdown(c.cfg.ShutdownTimeout); err != nil {
			errs = append(errs, fmt.Errorf("metrics server: %w", err))
		}
		_ = c.httpSv.ln.Close() // when Serve never ran
	}
	return errors.Join(errs...)
}
