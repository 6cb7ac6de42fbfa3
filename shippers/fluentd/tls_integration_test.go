//go:build integration

package fluentd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lannersec/lanner/shippers"
)

// tlsFront terminates TLS with a self-signed certificate and relays each connection to the
// Forward server, as a TLS-terminating proxy (or Fluentd's own <transport tls>) would: the
// local Forward server speaks no TLS itself.
func tlsFront(t *testing.T, backend string) int {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fluentd.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(b, c); b.Close() }()
			go func() { defer wg.Done(); io.Copy(c, b); c.Close() }()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

func TestTLS(t *testing.T) {
	srv := startForward(t, "0", filepath.Join(t.TempDir(), "records.jsonl"))
	port := tlsFront(t, net.JoinHostPort("127.0.0.1", srv.port))
	for _, tc := range []struct {
		name      string
		insecure  bool
		delivered bool
	}{
		{"self-signed certificate refused", false, false},
		{"insecure_skip_verify", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := runID()
			tag := "lanner.test." + run
			cfg := srv.config(tag)
			cfg.Network, cfg.Port, cfg.TLS.InsecureSkipVerify = NetworkTLS, port, tc.insecure
			s, err := New("fluentd", cfg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			b := alerts(run, 5)
			err = s.Send(context.Background(), b)
			got := countByID(records(t, srv.out, tag))
			if tc.delivered {
				if err != nil {
					t.Fatalf("Send over TLS: %v", err)
				}
				for _, r := range b {
					if got[r.ID] != 1 {
						t.Fatalf("record %s stored %d times over TLS, want 1", r.ID, got[r.ID])
					}
				}
				return
			}
			if err == nil || !shippers.IsRecoverable(err) {
				t.Fatalf("Send to an unverifiable certificate = %v, want a recoverable error", err)
			}
			if len(got) != 0 {
				t.Fatalf("%d records stored through an unverified connection", len(got))
			}
			t.Logf("refused: %v (port %s)", err, strconv.Itoa(port))
		})
	}
}
