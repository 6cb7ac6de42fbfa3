package audit_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// auditPolicy mirrors audit.k8s.io/v1 Policy, enough to read deploy/k8s-audit/audit-policy.yaml
// strictly (an unknown or misspelt key is an error, as the API server would report).
type auditPolicy struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	OmitStages []string     `json:"omitStages"`
	Rules      []policyRule `json:"rules"`
}

type policyRule struct {
	Level           string          `json:"level"`
	Users           []string        `json:"users"`
	UserGroups      []string        `json:"userGroups"`
	Verbs           []string        `json:"verbs"`
	Resources       []groupResource `json:"resources"`
	Namespaces      []string        `json:"namespaces"`
	NonResourceURLs []string        `json:"nonResourceURLs"`
	OmitStages      []string        `json:"omitStages"`
}

type groupResource struct {
	Group         string   `json:"group"`
	Resources     []string `json:"resources"`
	ResourceNames []string `json:"resourceNames"`
}

// request is what a policy rule is matched against.
type request struct {
	user, verb, group, resource, ns, name string
}

// matches follows the API server's policy checker for resource requests: every set criterion
// must hold; a resource list entry "pods" does not match "pods/exec".
func (r *policyRule) matches(q request) bool {
	if len(r.NonResourceURLs) > 0 {
		return false
	}
	if len(r.Users) > 0 && !slices.Contains(r.Users, q.user) {
		return false
	}
	if len(r.UserGroups) > 0 && !slices.Contains(r.UserGroups, "system:authenticated") {
		return false
	}
	if len(r.Verbs) > 0 && !slices.Contains(r.Verbs, q.verb) {
		return false
	}
	if len(r.Namespaces) > 0 && !slices.Contains(r.Namespaces, q.ns) {
		return false
	}
	if len(r.Resources) == 0 {
		return true
	}
	for _, gr := range r.Resources {
		if gr.Group != q.group {
			continue
		}
		if len(gr.Resources) > 0 && !slices.Contains(gr.Resources, q.resource) {
			continue
		}
		if len(gr.ResourceNames) > 0 && !slices.Contains(gr.ResourceNames, q.name) {
			continue
		}
		return true
	}
	return false
}

var levels = map[string]int{"None": 0, "Metadata": 1, "Request": 2, "RequestResponse": 3}

func repoFile(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestAuditPolicy checks that deploy/k8s-audit/audit-policy.yaml is a well-formed policy and
// logs each kind of request at the level the k8s_audit rules need to see it.
func TestAuditPolicy(t *testing.T) {
	var p auditPolicy
	if err := yaml.UnmarshalStrict(repoFile(t, "deploy/k8s-audit/audit-policy.yaml"), &p); err != nil {
		t.Fatal(err)
	}
	if p.APIVersion != "audit.k8s.io/v1" || p.Kind != "Policy" {
		t.Errorf("apiVersion/kind %s/%s", p.APIVersion, p.Kind)
	}
	if !slices.Contains(p.OmitStages, "RequestReceived") || slices.Contains(p.OmitStages, "ResponseStarted") {
		t.Errorf("omitStages %v: want RequestReceived omitted and ResponseStarted kept (Attach/Exec Pod)", p.OmitStages)
	}
	for i, r := range p.Rules {
		if _, ok := levels[r.Level]; !ok {
			t.Errorf("rule %d: level %q", i, r.Level)
		}
		if slices.Contains(r.OmitStages, "ResponseStarted") {
			t.Errorf("rule %d omits ResponseStarted", i)
		}
	}
	level := func(q request) string {
		for _, r := range p.Rules {
			if r.matches(q) {
				return r.Level
			}
		}
		return "None"
	}
	for _, tc := range []struct {
		why  string
		q    request
		want string // minimum level
		max  string // maximum level, "" for any
	}{
		{"privileged/hostPath pod rules read requestObject", request{"alice", "create", "", "pods", "default", "p"}, "Request", ""},
		{"ka.target.pod.name reads responseObject", request{"alice", "create", "", "pods", "default", "p"}, "RequestResponse", ""},
		{"Attach/Exec Pod reads the URI", request{"alice", "create", "", "pods/exec", "default", "p"}, "Metadata", ""},
		{"ephemeral containers", request{"alice", "patch", "", "pods/ephemeralcontainers", "default", "p"}, "Request", ""},
		{"ClusterRole rules", request{"alice", "create", "rbac.authorization.k8s.io", "clusterroles", "", "r"}, "Request", ""},
		{"namespaced Role rules (upstream blind spot)", request{"alice", "create", "rbac.authorization.k8s.io", "roles", "default", "r"}, "Request", ""},
		{"binding subjects", request{"alice", "create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "b"}, "Request", ""},
		{"configmap credentials", request{"alice", "create", "", "configmaps", "default", "c"}, "Request", ""},
		{"configmap credentials in kube-system", request{"alice", "update", "", "configmaps", "kube-system", "c"}, "Request", ""},
		{"NodePort service", request{"alice", "create", "", "services", "default", "s"}, "Request", ""},
		{"deployment images", request{"alice", "create", "apps", "deployments", "default", "d"}, "Request", ""},
		{"daemonset host network", request{"alice", "create", "apps", "daemonsets", "default", "d"}, "Request", ""},
		{"ingress TLS", request{"alice", "create", "networking.k8s.io", "ingresses", "default", "i"}, "Request", ""},
		{"secret get rules", request{"alice", "get", "", "secrets", "default", "s"}, "Metadata", "Metadata"},
		{"secret content never logged", request{"alice", "create", "", "secrets", "default", "s"}, "Metadata", "Metadata"},
		{"namespace rules", request{"alice", "create", "", "namespaces", "", "n"}, "Metadata", ""},
		{"node join rules", request{"system:node:n1", "create", "", "nodes", "", "n1"}, "Metadata", ""},
		{"service account rules", request{"alice", "create", "", "serviceaccounts", "default", "sa"}, "Metadata", ""},
		{"catch-all", request{"alice", "create", "example.com", "widgets", "default", "w"}, "Metadata", ""},
		{"leases are noise", request{"system:kube-scheduler", "update", "coordination.k8s.io", "leases", "kube-system", "l"}, "None", "None"},
		{"kube-proxy watches are noise", request{"system:kube-proxy", "watch", "", "endpoints", "", ""}, "None", "None"},
	} {
		got := level(tc.q)
		if levels[got] < levels[tc.want] || (tc.max != "" && levels[got] > levels[tc.max]) {
			t.Errorf("%s: %+v logged at %s, want at least %s (at most %q)", tc.why, tc.q, got, tc.want, tc.max)
		}
	}
}

// TestWebhookKubeconfig loads deploy/k8s-audit/webhook-kubeconfig.yaml with client-go's loader,
// as kube-apiserver does, and checks it points at the webhook path over HTTPS with credentials.
func TestWebhookKubeconfig(t *testing.T) {
	cfg, err := clientcmd.Load(repoFile(t, "deploy/k8s-audit/webhook-kubeconfig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := clientcmd.Validate(*cfg); err != nil {
		// The CA and token files do not exist here; only structural errors count.
		if !strings.Contains(err.Error(), "no such file") && !strings.Contains(err.Error(), "unable to read") {
			t.Fatal(err)
		}
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil {
		t.Fatalf("current context %q missing", cfg.CurrentContext)
	}
	cl, user := cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo]
	if cl == nil || user == nil {
		t.Fatalf("context %q names a missing cluster or user", cfg.CurrentContext)
	}
	if !strings.HasPrefix(cl.Server, "https://") || !strings.HasSuffix(cl.Server, "/k8s-audit") || cl.CertificateAuthority == "" || cl.InsecureSkipTLSVerify {
		t.Errorf("cluster %+v: want https to /k8s-audit with a CA", cl)
	}
	if user.TokenFile == "" && user.ClientCertificate == "" {
		t.Error("the API server would send no credentials")
	}
}
