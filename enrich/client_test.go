package enrich

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRESTConfig(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: abc}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := RESTConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://127.0.0.1:6443" || cfg.BearerToken != "abc" || cfg.UserAgent != "lanner" ||
		cfg.ContentType != "application/vnd.kubernetes.protobuf" {
		t.Errorf("config %+v", cfg)
	}
	if _, err := NewClient(kc); err != nil {
		t.Errorf("NewClient: %v", err)
	}
	if _, err := RESTConfig(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "reading kubeconfig") {
		t.Errorf("missing kubeconfig: %v", err)
	}
	// Outside a pod (no service-account token, no KUBERNETES_SERVICE_HOST) the in-cluster
	// config fails with a hint.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := RESTConfig(""); err == nil || !strings.Contains(err.Error(), "in-cluster") {
		t.Errorf("in-cluster outside a pod: %v", err)
	}
}
