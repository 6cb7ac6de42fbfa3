package enrich

import (
	"os"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/kubernetes/scheme"
)

// TestRBACReadOnly decodes deploy/k8s-audit/rbac.yaml with client-go's scheme and checks that
// the ClusterRole grants exactly what the informers need, read-only.
func TestRBACReadOnly(t *testing.T) {
	data, err := os.ReadFile("../deploy/k8s-audit/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role *rbacv1.ClusterRole
	for _, doc := range strings.Split(string(data), "\n---\n") {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("decoding %q...: %v", doc[:min(len(doc), 60)], err)
		}
		if r, ok := obj.(*rbacv1.ClusterRole); ok {
			role = r
		}
	}
	if role == nil {
		t.Fatal("no ClusterRole")
	}
	granted := map[string]bool{}
	for _, r := range role.Rules {
		for _, v := range r.Verbs {
			if !slices.Contains([]string{"get", "list", "watch"}, v) {
				t.Errorf("verb %q on %v: the cache only reads", v, r.Resources)
			}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				if res == "*" || g == "*" {
					t.Errorf("wildcard in %v/%v", r.APIGroups, r.Resources)
				}
				if slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch") {
					granted[g+"/"+res] = true
				}
			}
		}
	}
	for _, need := range []string{"/pods", "/namespaces", "apps/replicasets", "batch/jobs"} {
		if !granted[need] {
			t.Errorf("%s not granted list+watch: the informer would fail", need)
		}
	}
	if len(granted) != 4 {
		t.Errorf("grants %v: more than the cache watches", granted)
	}
}
