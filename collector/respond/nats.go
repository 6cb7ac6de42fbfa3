package respond

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	natsgo "github.com/nats-io/nats.go"
)

// alertTimeout bounds the handling of one alert (its API calls and webhook posts).
const alertTimeout = time.Minute

// NATSSource subscribes to the configured subjects, in the configured queue group, and hands
// every message to the Responder as a Falco JSON alert.
//
// Core NATS delivers at most once: an alert published while the responder is down or
// disconnected is not seen. Where every alert must be acted on, put a JetStream stream on the
// subjects; the responder's duplicate detection then absorbs redeliveries.
type NATSSource struct {
	cfg  NATS
	r    *Responder
	log  *slog.Logger
	nc   *natsgo.Conn
	subs []*natsgo.Subscription

	// ctx is the handlers' context: it outlives Run's so that draining finishes the alerts
	// already received, each within alertTimeout. Drain waits for the handlers; only when it
	// gives up are they cancelled.
	ctx    context.Context
	cancel context.CancelFunc
}

// NewNATSSource connects and subscribes. A server that is down at start does not fail it: the
// connection keeps trying in the background (Healthy says so meanwhile). A credentials or TLS
// file that cannot be read does. logger may be nil.
func NewNATSSource(cfg NATS, r *Responder, logger *slog.Logger) (*NATSSource, error) {
	if cfg.URL == "" || len(cfg.Subjects) == 0 {
		return nil, errors.New("nats source: no url or no subjects")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("component", "nats-source")
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	opts := []natsgo.Option{natsgo.Name("lanner-respond"), natsgo.Timeout(cfg.Timeout),
		natsgo.RetryOnFailedConnect(true), natsgo.MaxReconnects(-1),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) { log.Warn("nats disconnected", "err", err) }),
		natsgo.ReconnectHandler(func(c *natsgo.Conn) { log.Info("nats reconnected", "server", c.ConnectedUrlRedacted()) }),
		// A subscriber too slow for its pending limits loses messages: say so loudly.
		natsgo.ErrorHandler(func(_ *natsgo.Conn, s *natsgo.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			log.Error("nats subscription error (alerts may have been lost)", "subject", subj, "err", err)
		}),
	}
	opts = append(opts, cfg.Auth.Options()...)
	nc, err := natsgo.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats source: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &NATSSource{cfg: cfg, r: r, log: log, nc: nc, ctx: ctx, cancel: cancel}
	for _, subj := range cfg.Subjects {
		sub, err := nc.QueueSubscribe(subj, cfg.Queue, s.handle)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("nats source: subscribe to %s: %w", subj, err)
		}
		s.subs = append(s.subs, sub)
	}
	if !nc.IsConnected() {
		log.Warn("nats server not reachable yet; retrying in the background", "url", nc.ConnectedUrlRedacted())
	}
	log.Info("subscribed", "subjects", cfg.Subjects, "queue", cfg.Queue)
	return s, nil
}

// handle runs in the subscription's goroutine: messages of one subscription are handled one at
// a time, in order.
func (s *NATSSource) handle(m *natsgo.Msg) {
	ctx, cancel := context.WithTimeout(s.ctx, alertTimeout)
	defer cancel()
	if _, err := s.r.Receive(ctx, "nats", m.Data); err != nil {
		s.log.Warn("message is not an alert; ignored", "subject", m.Subject, "err", err)
	}
}

// Healthy reports whether the connection is up.
func (s *NATSSource) Healthy() error {
	if !s.nc.IsConnected() {
		return fmt.Errorf("nats: %s", s.nc.Status())
	}
	return nil
}

// Run waits for ctx to end, then drains: no new message is taken, those already received are
// handled, and the connection closes.
func (s *NATSSource) Run(ctx context.Context) error {
	<-ctx.Done()
	closed := make(chan struct{})
	s.nc.SetClosedHandler(func(*natsgo.Conn) { close(closed) })
	if err := s.nc.Drain(); err != nil {
		s.close()
		return nil
	}
	select {
	case <-closed:
	case <-time.After(alertTimeout + 5*time.Second):
		s.log.Warn("nats drain did not finish; closing")
	}
	s.close()
	return nil
}

func (s *NATSSource) close() {
	s.cancel()
	s.nc.Close()
}
