package respond

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/shippers"
)

var ctx = context.Background()

func playbookYAML(actions string) string {
	return "playbooks:\n  - name: shells\n    match: {rule: Lanner Interactive Shell in Container}\n    actions:\n" + actions
}

func TestDeletePod(t *testing.T) {
	f := newFixture(t, playbookYAML("      - delete_pod: {grace_period: 5s}\n"), testPod("shop", "web-1"))
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "web-1")), ResultDone)
	wantCalls(t, f.cs, "get pods shop/web-1", "delete pods shop/web-1")
	del := f.cs.Actions()[1].(k8stesting.DeleteAction).GetDeleteOptions()
	if del.GracePeriodSeconds == nil || *del.GracePeriodSeconds != 5 || del.Preconditions == nil || *del.Preconditions.UID != "uid-web-1" {
		t.Errorf("delete options: %+v", del)
	}
	if _, err := f.cs.CoreV1().Pods("shop").Get(ctx, "web-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod still there: %v", err)
	}

	// The same response to a second alert finds the pod gone: a read, no delete.
	f.cs.ClearActions()
	out := f.r.Handle(ctx, shellAlert("shop", "web-1"))
	wantResults(t, out, ResultUnchanged)
	wantCalls(t, f.cs, "get pods shop/web-1")
	if !strings.Contains(out[0].Detail, "already gone") {
		t.Errorf("detail %q", out[0].Detail)
	}
}

func TestDeletePodTerminating(t *testing.T) {
	p := testPod("shop", "web-1")
	now := metav1.Now()
	p.DeletionTimestamp = &now
	f := newFixture(t, playbookYAML("      - delete_pod\n"), p)
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "web-1")), ResultUnchanged)
	wantCalls(t, f.cs, "get pods shop/web-1")
}

func TestLabelPod(t *testing.T) {
	f := newFixture(t, playbookYAML("      - label_pod: {labels: {lanner.dev/suspicious: \"true\", app: web}}\n"), testPod("shop", "web-1"))
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "web-1")), ResultDone)
	wantCalls(t, f.cs, "get pods shop/web-1", "patch pods shop/web-1")
	// Only the missing label is written (app=web is there already).
	if p := patches(f.cs); len(p) != 1 || p[0] != `application/merge-patch+json {"metadata":{"labels":{"lanner.dev/suspicious":"true"}}}` {
		t.Errorf("patches: %q", p)
	}
	pod, _ := f.cs.CoreV1().Pods("shop").Get(ctx, "web-1", metav1.GetOptions{})
	if pod.Labels["lanner.dev/suspicious"] != "true" || pod.Labels["app"] != "web" {
		t.Errorf("labels: %v", pod.Labels)
	}
	f.cs.ClearActions()
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "web-1")), ResultUnchanged)
	wantCalls(t, f.cs, "get pods shop/web-1")
}

func TestIsolatePod(t *testing.T) {
	f := newFixture(t, playbookYAML("      - isolate_pod\n"), testPod("shop", "web-1"))
	out := f.r.Handle(ctx, shellAlert("shop", "web-1"))
	wantResults(t, out, ResultDone)
	wantCalls(t, f.cs, "get pods shop/web-1", "list networkpolicies shop", "create networkpolicies shop/lanner-quarantine", "patch pods shop/web-1")
	np, err := f.cs.NetworkingV1().NetworkPolicies("shop").Get(ctx, "lanner-quarantine", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if np.Spec.PodSelector.MatchLabels["lanner.dev/quarantine"] != "true" || len(np.Spec.PolicyTypes) != 2 ||
		len(np.Spec.Ingress) != 0 || len(np.Spec.Egress) != 0 || np.Labels[ManagedByLabel] != "lanner" {
		t.Errorf("policy is not deny-all on the quarantine label: %+v", np)
	}
	pod, _ := f.cs.CoreV1().Pods("shop").Get(ctx, "web-1", metav1.GetOptions{})
	if pod.Labels["lanner.dev/quarantine"] != "true" {
		t.Errorf("pod labels: %v", pod.Labels)
	}

	// Repeated: the policy is listed, not recreated; the label is there.
	f.cs.ClearActions()
	out = f.r.Handle(ctx, shellAlert("shop", "web-1"))
	wantResults(t, out, ResultUnchanged)
	wantCalls(t, f.cs, "get pods shop/web-1", "list networkpolicies shop")

	// Another pod of the namespace: the policy is shared, only the label is written.
	if _, err := f.cs.CoreV1().Pods("shop").Create(ctx, testPod("shop", "web-2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.cs.ClearActions()
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "web-2")), ResultDone)
	wantCalls(t, f.cs, "get pods shop/web-2", "list networkpolicies shop", "patch pods shop/web-2")
}

func TestIsolatePodRestoresPolicyAndWarnsOfLeaks(t *testing.T) {
	tampered := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "lanner-quarantine", Namespace: "shop"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"lanner.dev/quarantine": "true"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
	allowWeb := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "allow-web", Namespace: "shop"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{}}}}
	f := newFixture(t, playbookYAML("      - isolate_pod\n"), testPod("shop", "web-1"), tampered, allowWeb)
	out := f.r.Handle(ctx, shellAlert("shop", "web-1"))
	wantResults(t, out, ResultDone)
	wantCalls(t, f.cs, "get pods shop/web-1", "list networkpolicies shop", "update networkpolicies shop/lanner-quarantine", "patch pods shop/web-1")
	np, _ := f.cs.NetworkingV1().NetworkPolicies("shop").Get(ctx, "lanner-quarantine", metav1.GetOptions{})
	if len(np.Spec.PolicyTypes) != 2 {
		t.Errorf("egress not restored: %v", np.Spec.PolicyTypes)
	}
	if !strings.Contains(out[0].Detail, "restored") || !strings.Contains(out[0].Detail, "WARNING: NetworkPolicies allow-web also select the pod") {
		t.Errorf("detail %q", out[0].Detail)
	}
}

func TestCordonNode(t *testing.T) {
	f := newFixture(t, playbookYAML("      - cordon_node\n"), testPod("shop", "web-1"), testNode())
	out := f.r.Handle(ctx, shellAlert("shop", "web-1"))
	wantResults(t, out, ResultDone)
	wantCalls(t, f.cs, "get pods shop/web-1", "get nodes node-a", "patch nodes node-a")
	if p := patches(f.cs); len(p) != 1 || p[0] != `application/strategic-merge-patch+json {"spec":{"unschedulable":true}}` {
		t.Errorf("patches: %q", p)
	}
	if out[0].Object != "node node-a" {
		t.Errorf("object %q", out[0].Object)
	}
	n, _ := f.cs.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
	if !n.Spec.Unschedulable {
		t.Error("node not cordoned")
	}
	f.cs.ClearActions()
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "web-1")), ResultUnchanged)
	wantCalls(t, f.cs, "get pods shop/web-1", "get nodes node-a")
}

func TestTaintNode(t *testing.T) {
	node := testNode()
	node.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule},
		{Key: "lanner.dev/compromised", Value: "old", Effect: corev1.TaintEffectNoExecute}}
	f := newFixture(t, playbookYAML("      - taint_node: {key: lanner.dev/compromised, value: \"yes\", effect: NoExecute}\n"),
		testPod("shop", "web-1"), node)
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "web-1")), ResultDone)
	wantCalls(t, f.cs, "get pods shop/web-1", "get nodes node-a", "update nodes node-a")
	n, _ := f.cs.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
	if len(n.Spec.Taints) != 2 || n.Spec.Taints[0].Key != "dedicated" || n.Spec.Taints[1].Value != "yes" || n.Spec.Taints[1].TimeAdded == nil {
		t.Errorf("taints: %+v", n.Spec.Taints)
	}
	f.cs.ClearActions()
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "web-1")), ResultUnchanged)
	wantCalls(t, f.cs, "get pods shop/web-1", "get nodes node-a")
}

// A concurrent change of the node makes the update conflict: the taint is read again and
// retried, not written over the other change.
func TestTaintNodeRetriesConflicts(t *testing.T) {
	f := newFixture(t, playbookYAML("      - taint_node: {key: k}\n"), testPod("shop", "web-1"), testNode())
	conflicts := 1
	f.cs.PrependReactor("update", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts > 0 {
			conflicts--
			return true, nil, apierrors.NewConflict(corev1.Resource("nodes"), "node-a", errors.New("changed"))
		}
		return false, nil, nil
	})
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "web-1")), ResultDone)
	wantCalls(t, f.cs, "get pods shop/web-1", "get nodes node-a", "update nodes node-a", "get nodes node-a", "update nodes node-a")
}

func TestScaleToZeroDeployment(t *testing.T) {
	f := newFixture(t, playbookYAML("      - scale_to_zero\n"), testPod("shop", "web-1"), testReplicaSet("shop"), testDeployment("shop"))
	out := f.r.Handle(ctx, shellAlert("shop", "web-1"))
	wantResults(t, out, ResultDone)
	wantCalls(t, f.cs, "get pods shop/web-1", "get replicasets shop/web-7d9f8c6b5", "get deployments shop/web", "patch deployments/scale shop/web")
	if p := patches(f.cs); len(p) != 1 || p[0] != `application/merge-patch+json {"spec":{"replicas":0}}` {
		t.Errorf("patches: %q", p)
	}
	if out[0].Object != "deployment shop/web" || !strings.Contains(out[0].Detail, "from 3") {
		t.Errorf("outcome %+v", out[0])
	}
	// The fake applies a scale patch to the object itself (the API server would go through the
	// subresource); either way the Deployment now has zero replicas.
	d, _ := f.cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if *d.Spec.Replicas != 0 {
		t.Errorf("replicas %d", *d.Spec.Replicas)
	}
	f.cs.ClearActions()
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "web-1")), ResultUnchanged)
	wantCalls(t, f.cs, "get pods shop/web-1", "get replicasets shop/web-7d9f8c6b5", "get deployments shop/web")
}

func TestScaleToZeroStatefulSetAndOthers(t *testing.T) {
	db := testPod("shop", "db-0")
	db.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", Controller: boolp(true)}}
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"}, Spec: appsv1.StatefulSetSpec{Replicas: int32p(2)}}
	agent := testPod("shop", "agent-x")
	agent.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", Controller: boolp(true)}}
	bare := testPod("shop", "bare")
	bare.OwnerReferences = nil
	f := newFixture(t, playbookYAML("      - scale_to_zero\n"), db, sts, agent, bare)

	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "db-0")), ResultDone)
	wantCalls(t, f.cs, "get pods shop/db-0", "get statefulsets shop/db", "patch statefulsets/scale shop/db")

	f.cs.ClearActions()
	out := f.r.Handle(ctx, shellAlert("shop", "agent-x"))
	wantResults(t, out, ResultSkipped)
	wantCalls(t, f.cs, "get pods shop/agent-x")
	if !strings.Contains(out[0].Detail, "DaemonSet agent cannot be scaled") {
		t.Errorf("detail %q", out[0].Detail)
	}
	f.cs.ClearActions()
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "bare")), ResultSkipped)
	wantCalls(t, f.cs, "get pods shop/bare")
}

// Dry run, global or per playbook, records what would happen and calls nothing.
func TestDryRunMakesNoCall(t *testing.T) {
	all := "      - label_pod: {labels: {a: b}}\n      - isolate_pod\n      - delete_pod\n      - cordon_node\n      - taint_node: {key: k}\n      - scale_to_zero\n"
	objs := []runtime.Object{testPod("shop", "web-1"), testNode(), testReplicaSet("shop"), testDeployment("shop")}
	for _, tc := range []struct{ name, cfg string }{
		{"global", "dry_run: true\n" + playbookYAML(all)},
		{"playbook", "playbooks:\n  - name: shells\n    dry_run: true\n    match: {priority: debug}\n    actions:\n" + all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cfg, objs...)
			out := f.r.Handle(ctx, shellAlert("shop", "web-1"))
			wantResults(t, out, ResultDryRun, ResultDryRun, ResultDryRun, ResultDryRun, ResultDryRun, ResultDryRun)
			wantCalls(t, f.cs)
			recs := f.sink.records()
			if len(recs) != 6 {
				t.Fatalf("%d records", len(recs))
			}
			if recs[2].OutputFields[fieldDryRun] != true || !strings.Contains(recs[2].Output, "would delete the pod") {
				t.Errorf("record %s", recs[2].Output)
			}
		})
	}
}

// Protected namespaces are refused before anything is called; notify still reports it.
func TestProtectedNamespaceRefused(t *testing.T) {
	hook := newHookServer(t, 200)
	cfg := "notify_webhooks: {sec: {url: " + hook.URL + "}}\n" +
		playbookYAML("      - delete_pod\n      - isolate_pod\n      - cordon_node\n      - notify: {webhook: sec}\n")
	f := newFixture(t, cfg, testPod("kube-system", "coredns-1"), testNode())
	out := f.r.Handle(ctx, shellAlert("kube-system", "coredns-1"))
	wantResults(t, out, ResultRefused, ResultRefused, ResultRefused, ResultDone)
	wantCalls(t, f.cs)
	if !strings.Contains(out[0].Detail, "namespace kube-system is protected") {
		t.Errorf("detail %q", out[0].Detail)
	}
	if msgs := hook.messages(); len(msgs) != 1 || !strings.Contains(msgs[0], "delete_pod: refused") {
		t.Errorf("notification %q", msgs)
	}

	// protected_namespaces replaces the default list.
	f = newFixture(t, "protected_namespaces: [prod]\n"+playbookYAML("      - label_pod: {labels: {a: b}}\n"),
		testPod("kube-system", "x"), testPod("prod", "y"))
	wantResults(t, f.r.Handle(ctx, shellAlert("prod", "y")), ResultRefused)
	wantResults(t, f.r.Handle(ctx, shellAlert("kube-system", "x")), ResultDone)
}

// The token bucket of each playbook action holds: burst 2 then one per minute, counted in API
// calls, with a clock the test moves.
func TestRateLimitHolds(t *testing.T) {
	var objs []runtime.Object
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		objs = append(objs, testPod("shop", n))
	}
	f := newFixture(t, "rate_limit: {burst: 2, every: 1m}\n"+playbookYAML("      - label_pod: {labels: {x: y}}\n"), objs...)
	var got []Result
	for _, n := range []string{"a", "b", "c", "d"} {
		for _, o := range f.r.Handle(ctx, shellAlert("shop", n)) {
			got = append(got, o.Result)
		}
	}
	wantResults(t, outcomes(got), ResultDone, ResultDone, ResultRateLimited, ResultRateLimited)
	if n := len(patches(f.cs)); n != 2 {
		t.Errorf("%d patches, want 2", n)
	}
	// 59 s later the bucket is still empty; at one minute it holds one token.
	f.clock.advance(59 * time.Second)
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "d")), ResultRateLimited)
	f.clock.advance(time.Second)
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "d")), ResultDone)
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "e")), ResultRateLimited)
	if n := len(patches(f.cs)); n != 3 {
		t.Errorf("%d patches, want 3", n)
	}
	recs := f.sink.records()
	if last := recs[len(recs)-1]; last.OutputFields[fieldResult] != "rate_limited" {
		t.Errorf("last record %v", last.OutputFields)
	}
}

func TestRateLimitPerPlaybookOverride(t *testing.T) {
	cfg := "rate_limit: {burst: 100}\nplaybooks:\n  - name: p\n    rate_limit: {burst: 1, every: 0s}\n    match: {priority: debug}\n    actions:\n      - label_pod: {labels: {x: y}}\n"
	f := newFixture(t, cfg, testPod("shop", "a"), testPod("shop", "b"))
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "a")), ResultDone)
	f.clock.advance(24 * time.Hour) // every 0: never refills
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "b")), ResultRateLimited)
}

func outcomes(rs []Result) []Outcome {
	out := make([]Outcome, len(rs))
	for i, r := range rs {
		out[i].Result = r
	}
	return out
}

// A failed action stops its playbook, unless it says ignore_errors.
func TestFailureStopsPlaybook(t *testing.T) {
	forbid := func(f *fixture) {
		f.cs.PrependReactor("patch", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(corev1.Resource("pods"), "web-1", errors.New("RBAC"))
		})
	}
	f := newFixture(t, playbookYAML("      - label_pod: {labels: {x: y}}\n      - delete_pod\n"), testPod("shop", "web-1"))
	forbid(f)
	out := f.r.Handle(ctx, shellAlert("shop", "web-1"))
	wantResults(t, out, ResultFailed)
	if !strings.Contains(out[0].Detail, "forbidden") || !strings.Contains(out[0].Detail, "1 later action(s) not run") {
		t.Errorf("detail %q", out[0].Detail)
	}
	wantCalls(t, f.cs, "get pods shop/web-1", "patch pods shop/web-1")

	f = newFixture(t, playbookYAML("      - label_pod: {labels: {x: y}, ignore_errors: true}\n      - delete_pod\n"), testPod("shop", "web-1"))
	forbid(f)
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "web-1")), ResultFailed, ResultDone)
}

func TestSkipsWithoutPod(t *testing.T) {
	f := newFixture(t, playbookYAML("      - isolate_pod\n      - delete_pod\n"))
	host := shellAlert("", "")
	host.OutputFields = map[string]any{"proc.name": "bash", "k8s.ns.name": nil, "k8s.pod.name": "<NA>"}
	wantResults(t, f.r.Handle(ctx, host), ResultSkipped, ResultSkipped)
	// A pod the cluster does not know: skipped (isolate) and already gone (delete).
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "ghost")), ResultSkipped, ResultUnchanged)
	wantCalls(t, f.cs, "get pods shop/ghost")
}

// Audit alerts about a pod (kubectl exec) name it in ka.target.*.
func TestAuditAlertTarget(t *testing.T) {
	f := newFixture(t, "playbooks:\n  - name: exec\n    match: {rule: Lanner Exec or Attach into Pod}\n    actions: [isolate_pod]\n", testPod("shop", "web-1"))
	a := &alert.Alert{Time: time.Now(), Rule: "Lanner Exec or Attach into Pod", Priority: alert.Notice,
		OutputFields: map[string]any{"ka.target.resource": "pods", "ka.target.namespace": "shop", "ka.target.name": "web-1", "ka.user.name": "eve"}}
	wantResults(t, f.r.Handle(ctx, a), ResultDone)
}

func TestMatchOnPodLabels(t *testing.T) {
	canary := testPod("shop", "canary")
	canary.Labels["track"] = "canary"
	f := newFixture(t, "playbooks:\n  - name: p\n    match: {priority: debug, pod_labels: \"track=canary\"}\n    actions: [delete_pod]\n",
		testPod("shop", "web-1"), canary)
	if out := f.r.Handle(ctx, shellAlert("shop", "web-1")); len(out) != 0 {
		t.Errorf("matched a pod without the label: %+v", out)
	}
	wantCalls(t, f.cs, "get pods shop/web-1")
	f.cs.ClearActions()
	wantResults(t, f.r.Handle(ctx, shellAlert("shop", "canary")), ResultDone)
	// The pod read for matching serves the action: one read.
	wantCalls(t, f.cs, "get pods shop/canary", "delete pods shop/canary")
}

// Every matching playbook runs, in order; a later playbook sees what an earlier one changed.
func TestPlaybooksInOrder(t *testing.T) {
	cfg := "playbooks:\n" +
		"  - name: first\n    match: {priority: notice}\n    actions: [isolate_pod]\n" +
		"  - name: never\n    match: {priority: critical}\n    actions: [delete_pod]\n" +
		"  - name: second\n    match: {tags: [shell]}\n    actions:\n      - label_pod: {labels: {lanner.dev/quarantine: \"true\"}}\n"
	f := newFixture(t, cfg, testPod("shop", "web-1"))
	out := f.r.Handle(ctx, shellAlert("shop", "web-1"))
	wantResults(t, out, ResultDone, ResultUnchanged)
	if out[0].Playbook != "first" || out[1].Playbook != "second" {
		t.Errorf("order: %+v", out)
	}
	wantCalls(t, f.cs, "get pods shop/web-1", "list networkpolicies shop", "create networkpolicies shop/lanner-quarantine", "patch pods shop/web-1")
}

func TestIgnoresDuplicatesAndRecords(t *testing.T) {
	f := newFixture(t, playbookYAML("      - label_pod: {labels: {x: y}}\n"), testPod("shop", "web-1"))
	a := shellAlert("shop", "web-1")
	wantResults(t, f.r.Handle(ctx, a), ResultDone)
	again := *a
	if out := f.r.Handle(ctx, &again); out != nil {
		t.Errorf("duplicate handled: %+v", out)
	}
	rec := f.sink.records()[0]
	rec.Rule = "Lanner Interactive Shell in Container" // even a record that looks like the rule
	if out := f.r.Handle(ctx, rec); out != nil {
		t.Errorf("record handled: %+v", out)
	}
	if n := len(patches(f.cs)); n != 1 {
		t.Errorf("%d patches", n)
	}
}

func TestRecord(t *testing.T) {
	f := newFixture(t, playbookYAML("      - isolate_pod\n"), testPod("shop", "web-1"))
	a := shellAlert("shop", "web-1")
	f.r.Handle(ctx, a)
	recs := f.sink.records()
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[0]
	if r.Rule != "Response: shells/isolate_pod" || r.Priority != alert.Notice || r.Hostname != "responder-1" || r.Action != "isolate_pod" ||
		!r.Time.Equal(f.clock.now()) {
		t.Errorf("record %+v", r)
	}
	for k, v := range map[string]any{fieldPlaybook: "shells", fieldAction: "isolate_pod", fieldResult: "done", fieldObject: "pod shop/web-1",
		fieldDryRun: false, fieldResponder: "responder-1", fieldRule: a.Rule, fieldPriority: "Notice", fieldHost: "node-a",
		"k8s.ns.name": "shop", "k8s.pod.name": "web-1", fieldID: shippers.AlertID(a)} {
		if r.OutputFields[k] != v {
			t.Errorf("%s = %v, want %v", k, r.OutputFields[k], v)
		}
	}
	if r.K8s == nil || r.K8s.NodeName != "node-a" || r.K8s.Labels["lanner.dev/quarantine"] != "true" {
		t.Errorf("k8s meta %+v", r.K8s)
	}
	want := `2026-11-26T12:00:00.000000000Z: Notice Response isolate_pod done: created NetworkPolicy lanner-quarantine; labeled the pod lanner.dev/quarantine=true (playbook=shells object=pod shop/web-1 trigger_rule="Lanner Interactive Shell in Container" trigger_host=node-a trigger_time=`
	if !strings.HasPrefix(r.Output, want) || !strings.HasSuffix(r.Output, "responder=responder-1 dry_run=false)") {
		t.Errorf("output\n%s\nwant prefix\n%s", r.Output, want)
	}
	if r.Tags[0] != RecordTag {
		t.Errorf("tags %v", r.Tags)
	}
	// The record survives Falco JSON: what outputs ship.
	js, _ := r.MarshalJSON()
	if !strings.Contains(string(js), `"lanner.response.result":"done"`) || !strings.Contains(string(js), `"rule":"Response: shells/isolate_pod"`) {
		t.Errorf("json %s", js)
	}
}

func TestNewRefusesMissingDependencies(t *testing.T) {
	cfg := testConfig(t, playbookYAML("      - isolate_pod\n"))
	if _, err := New(cfg, nil, &memSink{}, nil, nil); err == nil || !strings.Contains(err.Error(), "no Kubernetes client") {
		t.Errorf("nil client: %v", err)
	}
	if _, err := New(cfg, newFixture(t, playbookYAML("      - isolate_pod\n")).cs, nil, nil, nil); err == nil {
		t.Error("nil sink accepted")
	}
}

// Alerts about one pod arriving together are handled one after the other: the first labels the
// pod, the others find it labeled; exactly one write.
func TestConcurrentAlertsOnePod(t *testing.T) {
	f := newFixture(t, "rate_limit: {burst: 100}\n"+playbookYAML("      - label_pod: {labels: {x: y}}\n"), testPod("shop", "web-1"))
	// A slow network: each read of the pod returns a moment after the API server answered, which
	// is when another alert would read the pod still unlabeled were alerts about it not handled
	// one at a time. (The fake serializes its own calls, so the delay is outside it.)
	r, err := New(f.r.cfg, slowClient{f.cs}, f.sink, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	alerts := make([]*alert.Alert, 20)
	for i := range alerts {
		alerts[i] = shellAlert("shop", "web-1")
	}
	results := make(chan Result, len(alerts))
	var wg sync.WaitGroup
	for _, a := range alerts {
		wg.Go(func() {
			for _, o := range f.r.Handle(ctx, a) {
				results <- o.Result
			}
		})
	}
	wg.Wait()
	close(results)
	count := map[Result]int{}
	for r := range results {
		count[r]++
	}
	if count[ResultDone] != 1 || count[ResultUnchanged] != 19 {
		t.Errorf("results %v, want 1 done and 19 unchanged", count)
	}
	if n := len(patches(f.cs)); n != 1 {
		t.Errorf("%d patches, want 1", n)
	}
}

func TestDedupeWindow(t *testing.T) {
	d := newDedupe(3)
	for _, id := range []string{"a", "b", "c"} {
		if !d.add(id) {
			t.Fatalf("%s taken for a duplicate", id)
		}
	}
	if d.add("a") || d.add("c") {
		t.Error("duplicate within the window accepted")
	}
	if !d.add("d") { // evicts a
		t.Error("d refused")
	}
	if !d.add("a") {
		t.Error("a is out of the window and new again")
	}
	if d.add("d") {
		t.Error("d accepted twice")
	}
}

type slowClient struct{ *fake.Clientset }

func (c slowClient) CoreV1() corev1client.CoreV1Interface { return slowCore{c.Clientset.CoreV1()} }

type slowCore struct{ corev1client.CoreV1Interface }

func (c slowCore) Pods(ns string) corev1client.PodInterface {
	return slowPods{c.CoreV1Interface.Pods(ns)}
}

type slowPods struct{ corev1client.PodInterface }

func (p slowPods) Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Pod, error) {
	pod, err := p.PodInterface.Get(ctx, name, opts)
	time.Sleep(2 * time.Millisecond)
	return pod, err
}

// A failure after a partial change says both: the policy was created, then labeling failed.
func TestIsolatePartialFailureRecordsBoth(t *testing.T) {
	f := newFixture(t, playbookYAML("      - isolate_pod\n"), testPod("shop", "web-1"))
	f.cs.PrependReactor("patch", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("pods"), "web-1", errors.New("RBAC"))
	})
	out := f.r.Handle(ctx, shellAlert("shop", "web-1"))
	wantResults(t, out, ResultFailed)
	if d := out[0].Detail; !strings.HasPrefix(d, "created NetworkPolicy lanner-quarantine; then labeling the pod: ") || !strings.Contains(d, "forbidden") {
		t.Errorf("detail %q", d)
	}
}
