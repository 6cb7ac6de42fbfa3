package respond

import (
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/lannersec/lanner/collector/respond/playbook"
)

// resourceVerbs is one (API group, resource) and the verbs needed on it.
type resourceVerbs struct {
	group, resource string
	verbs           []string
}

// ActionRules returns the RBAC rules one action needs when it runs for real. Reading the pod is
// part of every cluster action; notify needs none.
func ActionRules(k playbook.Kind) []rbacv1.PolicyRule {
	return toRules(actionNeeds(k))
}

func actionNeeds(k playbook.Kind) []resourceVerbs {
	pods := func(verbs ...string) resourceVerbs {
		return resourceVerbs{"", "pods", append([]string{"get"}, verbs...)}
	}
	switch k {
	case playbook.DeletePod:
		return []resourceVerbs{pods("delete")}
	case playbook.LabelPod:
		return []resourceVerbs{pods("patch")}
	case playbook.IsolatePod:
		return []resourceVerbs{pods("patch"), {"networking.k8s.io", "networkpolicies", []string{"list", "create", "update"}}}
	case playbook.CordonNode:
		return []resourceVerbs{pods(), {"", "nodes", []string{"get", "patch"}}}
	case playbook.TaintNode:
		return []resourceVerbs{pods(), {"", "nodes", []string{"get", "update"}}}
	case playbook.ScaleToZero:
		return []resourceVerbs{pods(),
			{"apps", "replicasets", []string{"get"}}, {"apps", "replicasets/scale", []string{"patch"}},
			{"apps", "deployments", []string{"get"}}, {"apps", "deployments/scale", []string{"patch"}},
			{"apps", "statefulsets", []string{"get"}}, {"apps", "statefulsets/scale", []string{"patch"}}}
	}
	return nil
}

// Rules returns the RBAC rules cfg needs: those of each action that runs for real (not dry-run,
// globally or by its playbook), plus reading pods where a playbook matches on pod labels. A
// configuration whose playbooks are all dry-run needs no write verb at all.
func Rules(cfg *Config) []rbacv1.PolicyRule {
	var needs []resourceVerbs
	for _, pb := range cfg.Playbooks {
		if pb.Match.NeedsPod() {
			needs = append(needs, resourceVerbs{"", "pods", []string{"get"}})
		}
		if cfg.DryRun || pb.DryRun {
			continue
		}
		for _, a := range pb.Actions {
			needs = append(needs, actionNeeds(a.Kind)...)
		}
	}
	return toRules(needs)
}

// toRules merges needs into one rule per (group, resource), verbs and rules sorted, so the
// output is stable and reviewable.
func toRules(needs []resourceVerbs) []rbacv1.PolicyRule {
	type key struct{ group, resource string }
	verbs := map[key][]string{}
	var keys []key
	for _, n := range needs {
		k := key{n.group, n.resource}
		if _, ok := verbs[k]; !ok {
			keys = append(keys, k)
		}
		for _, v := range n.verbs {
			if !slices.Contains(verbs[k], v) {
				verbs[k] = append(verbs[k], v)
			}
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.group != b.group {
			if a.group < b.group {
				return -1
			}
			return 1
		}
		if a.resource < b.resource {
			return -1
		}
		if a.resource > b.resource {
			return 1
		}
		return 0
	})
	rules := make([]rbacv1.PolicyRule, 0, len(keys))
	for _, k := range keys {
		v := verbs[k]
		slices.Sort(v)
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{k.group}, Resources: []string{k.resource}, Verbs: v})
	}
	return rules
}

// ClusterRole returns the ClusterRole named name that grants cfg's Rules.
func ClusterRole(cfg *Config, name string) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{ManagedByLabel: "lanner",
			"app.kubernetes.io/component": "respond"}},
		Rules: Rules(cfg),
	}
}

// ClusterRoleYAML returns ClusterRole(cfg, name) as a YAML manifest.
func ClusterRoleYAML(cfg *Config, name string) ([]byte, error) {
	cr := ClusterRole(cfg, name)
	if cr.Rules == nil {
		cr.Rules = []rbacv1.PolicyRule{}
	}
	return yaml.Marshal(cr)
}
