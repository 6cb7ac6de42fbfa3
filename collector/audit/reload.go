package audit

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// fileStamp identifies a version of a file: a Secret or cert-manager rotation replaces the file
// (a new modification time or size), and the next read picks the new content up.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.ModTime(), fi.Size()}, nil
}

// tokenFile is the bearer token read from a file and re-read when the file changes, so that
// rotating the Secret that holds it needs no restart. A rotation that leaves the file empty or
// unreadable keeps the previous token (and logs), rather than locking the API server out.
type tokenFile struct {
	path string
	log  *slog.Logger

	mu    sync.Mutex
	stamp fileStamp
	hash  [sha256.Size]byte
}

func newTokenFile(path string, log *slog.Logger) (*tokenFile, error) {
	t := &tokenFile{path: path, log: log}
	if err := t.load(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *tokenFile) load() error {
	st, err := stampOf(t.path)
	if err != nil {
		return fmt.Errorf("reading the bearer token: %w", err)
	}
	data, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("reading the bearer token: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return fmt.Errorf("bearer token file %s is empty", t.path)
	}
	// Comparing hashes keeps the comparison constant-time in the token's length too.
	t.hash, t.stamp = sha256.Sum256([]byte(tok)), st
	return nil
}

// current returns the hash of the token, reloading the file when it changed. One stat per
// request: the API server sends a batch every few seconds at most.
func (t *tokenFile) current() [sha256.Size]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st, err := stampOf(t.path); err == nil && st != t.stamp {
		if err := t.load(); err != nil {
			t.log.Warn("bearer token file changed but could not be loaded; keeping the previous token", "err", err)
			t.stamp = st // do not retry on every request until it changes again
		} else {
			t.log.Info("bearer token reloaded", "file", t.path)
		}
	}
	return t.hash
}

// certFile serves the certificate in certFile/keyFile and re-reads them when either changes,
// for certificates rotated by cert-manager or a Secret update.
type certFile struct {
	certPath, keyPath string
	log               *slog.Logger

	mu      sync.Mutex
	stamps  [2]fileStamp
	current *tls.Certificate
}

func newCertFile(certPath, keyPath string, log *slog.Logger) (*certFile, error) {
	c := &certFile{certPath: certPath, keyPath: keyPath, log: log}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certFile) stampsNow() ([2]fileStamp, error) {
	a, err1 := stampOf(c.certPath)
	b, err2 := stampOf(c.keyPath)
	return [2]fileStamp{a, b}, errors.Join(err1, err2)
}

func (c *certFile) load() error {
	st, err := c.stampsNow()
	if err != nil {
		return fmt.Errorf("loading the TLS certificate %s: %w", c.certPath, err)
	}
	cert, err := tls.LoadX509KeyPair(c.certPath, c.keyPath)
	if err != nil {
		return fmt.Errorf("loading the TLS certificate %s: %w", c.certPath, err)
	}
	c.current, c.stamps = &cert, st
	return nil
}

// get is the tls.Config GetCertificate hook: one stat of each file per handshake.
func (c *certFile) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, err := c.stampsNow(); err == nil && st != c.stamps {
		if err := c.load(); err != nil {
			// A rotation writes the two files one after the other: until both are there and
			// match, keep serving the previous pair.
			c.log.Debug("TLS certificate changed but could not be loaded yet; serving the previous one", "err", err)
		} else {
			c.log.Info("TLS certificate reloaded", "file", c.certPath)
		}
	}
	return c.current, nil
}
