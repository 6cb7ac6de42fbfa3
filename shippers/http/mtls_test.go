package http

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/shippers/shippertest"
)

// clientCert writes a self-signed client certificate and its key as PEM files.
func clientCert(t *testing.T) (cert *x509.Certificate, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lanner-client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}

// TestMutualTLS: a server that requires a client certificate accepts the configured one and
// refuses a client without it.
func TestMutualTLS(t *testing.T) {
	cert, certFile, keyFile := clientCert(t)
	p := &peer{}
	srv := httptest.NewUnstartedServer(p)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()
	ca := writeCAPEM(t, srv)
	with := newShipper(t, Config{URL: srv.URL, CACert: ca, ClientCert: certFile, ClientKey: keyFile})
	if err := with.Send(context.Background(), shippertest.Records("mtls", 1)); err != nil {
		t.Fatalf("Send with the client certificate = %v", err)
	}
	without := newShipper(t, Config{URL: srv.URL, CACert: ca})
	err := without.Send(context.Background(), shippertest.Records("mtls", 1))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Send without a client certificate = %v, want a TLS certificate error", err)
	}
	if len(p.received) != 1 || p.received[0].TLS == nil || len(p.received[0].TLS.PeerCertificates) != 1 ||
		p.received[0].TLS.PeerCertificates[0].Subject.CommonName != "lanner-client" {
		t.Fatalf("server saw %d requests, want one from lanner-client", len(p.received))
	}
}
