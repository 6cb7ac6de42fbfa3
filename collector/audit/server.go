package audit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

// DefaultAddr is the k8saudit plugin's listening address (Falco's Helm chart exposes 9765).
const DefaultAddr = ":9765"

// ServerConfig configures the listener of the audit webhook.
type ServerConfig struct {
	// Addr is the listening address. Default DefaultAddr.
	Addr string
	// CertFile and KeyFile are the server certificate and key (PEM). Both may name one file
	// holding both, as the k8saudit plugin's sslCertificate does.
	CertFile, KeyFile string
	// ClientCAFile, when set, makes the server verify client certificates signed by these CAs
	// (requested, not required: a request without one may still authenticate by token). Pair it
	// with WebhookConfig.ClientCertAuth.
	ClientCAFile string
	// Plaintext serves HTTP instead of HTTPS: for tests, or behind a proxy that terminates TLS.
	// It must be explicit; certificate settings are then an error.
	Plaintext bool
}

// Server is the HTTPS server of the audit webhook.
type Server struct {
	cfg  ServerConfig
	srv  *http.Server
	log  *slog.Logger
	tlsc *tls.Config
}

// NewServer validates cfg, loads the certificates and builds the server for h (a Webhook, or a
// mux holding it at its path). logger nil discards.
func NewServer(cfg ServerConfig, h http.Handler, logger *slog.Logger) (*Server, error) {
	if h == nil {
		return nil, errors.New("audit server: no handler")
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: logger.With("component", "audit-webhook")}
	if wh, ok := h.(*Webhook); ok && wh.cfg.ClientCertAuth && cfg.ClientCAFile == "" {
		return nil, errors.New("audit server: the webhook accepts client certificates but no client CA is set to verify them")
	}
	if cfg.Plaintext {
		if cfg.CertFile != "" || cfg.KeyFile != "" || cfg.ClientCAFile != "" {
			return nil, errors.New("audit server: certificates given for a plaintext listener")
		}
	} else {
		tc, err := serverTLSConfig(cfg.CertFile, cfg.KeyFile, cfg.ClientCAFile, s.log)
		if err != nil {
			return nil, fmt.Errorf("audit server: %w", err)
		}
		s.tlsc = tc
	}
	s.srv = &http.Server{
		Addr:      cfg.Addr,
		Handler:   h,
		TLSConfig: s.tlsc,
		// The API server sends whole batches at once; slow clients only hold a connection.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// ServerTLSConfig loads a server certificate and key (keyFile "" means certFile holds both) and,
// when clientCAFile is set, the CAs client certificates are verified against. The certificate
// is re-read when its files change (cert-manager or Secret rotation), at the next handshake.
func ServerTLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	return serverTLSConfig(certFile, keyFile, clientCAFile, slog.New(slog.DiscardHandler))
}

func serverTLSConfig(certFile, keyFile, clientCAFile string, log *slog.Logger) (*tls.Config, error) {
	if certFile == "" {
		return nil, errors.New("no TLS certificate: set CertFile (and KeyFile), or Plaintext explicitly")
	}
	if keyFile == "" {
		keyFile = certFile
	}
	cf, err := newCertFile(certFile, keyFile, log)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cf.get}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA file %s holds no PEM certificate", clientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// Run listens and serves until ctx is done, then shuts down gracefully (requests in flight
// finish, for at most 10 s). It returns the listener's error, or nil after ctx is done.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("audit webhook: listen on %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened (tests use 127.0.0.1:0).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.log.Info("audit webhook listening", "addr", ln.Addr().String(), "tls", s.tlsc != nil)
	errc := make(chan error, 1)
	go func() {
		if s.tlsc != nil {
			errc <- s.srv.ServeTLS(ln, "", "")
		} else {
			errc <- s.srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("audit webhook: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("audit webhook: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("audit webhook: %w", err)
	}
	return nil
}
