package respond

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/lannersec/lanner/collector/respond/playbook"
)

// ManagedByLabel marks the objects the responder creates (the quarantine NetworkPolicy).
const ManagedByLabel = "app.kubernetes.io/managed-by"

// cluster runs a Kubernetes action. Each one reads first and writes only what is missing, so a
// repeated alert makes no write (ResultUnchanged). The error is the API server's answer when a
// call failed.
func (ar *alertRun) cluster(ctx context.Context, act playbook.Action) (Result, string, string, error) {
	obj := ar.t.podRef()
	pod, err := ar.getPod(ctx)
	if apierrors.IsNotFound(err) {
		if act.Kind == playbook.DeletePod {
			return ResultUnchanged, "the pod is already gone", obj, nil
		}
		return ResultSkipped, "the pod does not exist (any more)", obj, nil
	}
	if err != nil {
		return ResultFailed, "", obj, fmt.Errorf("reading the pod: %w", err)
	}
	switch act.Kind {
	case playbook.DeletePod:
		res, detail, err := ar.deletePod(ctx, pod, act)
		return res, detail, obj, err
	case playbook.LabelPod:
		res, detail, err := ar.labelPod(ctx, pod, act.Labels)
		return res, detail, obj, err
	case playbook.IsolatePod:
		res, detail, err := ar.isolatePod(ctx, pod)
		return res, detail, obj, err
	case playbook.CordonNode, playbook.TaintNode:
		if pod.Spec.NodeName == "" {
			return ResultSkipped, "the pod is not scheduled on a node", obj, nil
		}
		obj = "node " + pod.Spec.NodeName
		var res Result
		var detail string
		if act.Kind == playbook.CordonNode {
			res, detail, err = ar.cordon(ctx, pod.Spec.NodeName)
		} else {
			res, detail, err = ar.taint(ctx, pod.Spec.NodeName, act.Taint)
		}
		return res, detail, obj, err
	case playbook.ScaleToZero:
		return ar.scaleToZero(ctx, pod)
	}
	return ResultFailed, "", obj, fmt.Errorf("action %q is not a cluster action", act.Kind)
}

func (ar *alertRun) deletePod(ctx context.Context, pod *corev1.Pod, act playbook.Action) (Result, string, error) {
	if pod.DeletionTimestamp != nil {
		return ResultUnchanged, "the pod is already terminating", nil
	}
	// The UID precondition deletes this pod only, never a successor that took its name (a
	// StatefulSet's next pod) since it was read.
	uid := pod.UID
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
	grace := "its own grace period"
	if act.GracePeriod != nil {
		s := int64(act.GracePeriod.Seconds())
		opts.GracePeriodSeconds = &s
		grace = fmt.Sprintf("grace period %ds", s)
	}
	err := ar.r.kube.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, opts)
	switch {
	case apierrors.IsNotFound(err):
		ar.deleted = true
		return ResultUnchanged, "the pod is already gone", nil
	case apierrors.IsConflict(err):
		return ResultUnchanged, "the pod was already replaced by another of the same name", nil
	case err != nil:
		return ResultFailed, "", fmt.Errorf("deleting the pod: %w", err)
	}
	ar.deleted = true
	return ResultDone, "deleted the pod (" + grace + ")", nil
}

// patchPodLabels sets want on pod with a merge patch naming only the labels that differ.
func (ar *alertRun) patchPodLabels(ctx context.Context, pod *corev1.Pod, want map[string]string) (map[string]string, error) {
	missing := map[string]string{}
	for k, v := range want {
		if cur, ok := pod.Labels[k]; !ok || cur != v {
			missing[k] = v
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": missing}})
	if err != nil {
		return nil, err
	}
	updated, err := ar.r.kube.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return nil, fmt.Errorf("labeling the pod: %w", err)
	}
	ar.pod = updated
	return missing, nil
}

func (ar *alertRun) labelPod(ctx context.Context, pod *corev1.Pod, want map[string]string) (Result, string, error) {
	set, err := ar.patchPodLabels(ctx, pod, want)
	if err != nil {
		return ResultFailed, "", err
	}
	if len(set) == 0 {
		return ResultUnchanged, "the pod already has " + labelList(want), nil
	}
	return ResultDone, "labeled the pod " + labelList(set), nil
}

// quarantinePolicy is the deny-all NetworkPolicy of a namespace: it selects the quarantine label
// and, with both policy types and no rule, allows no traffic in or out of the pods it selects.
func (r *Responder) quarantinePolicy(ns string) *networkingv1.NetworkPolicy {
	iso := r.cfg.Isolation
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: iso.PolicyName, Namespace: ns,
			Labels: map[string]string{ManagedByLabel: "lanner"},
			Annotations: map[string]string{"lanner.dev/description": "Denies all traffic to and from pods labeled " +
				iso.LabelKey + "=" + iso.LabelValue + " by lanner respond's isolate_pod action."}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{iso.LabelKey: iso.LabelValue}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
}

// isDenyAll reports whether spec is the quarantine policy's.
func isDenyAll(spec networkingv1.NetworkPolicySpec, want networkingv1.NetworkPolicySpec) bool {
	return maps.Equal(spec.PodSelector.MatchLabels, want.PodSelector.MatchLabels) && len(spec.PodSelector.MatchExpressions) == 0 &&
		slices.Contains(spec.PolicyTypes, networkingv1.PolicyTypeIngress) && slices.Contains(spec.PolicyTypes, networkingv1.PolicyTypeEgress) &&
		len(spec.Ingress) == 0 && len(spec.Egress) == 0
}

// isolatePod makes sure the namespace's quarantine policy exists as it should, then labels the
// pod so the policy selects it. The policy comes first: should labeling fail, a policy
// selecting nobody is harmless, whereas the label alone would isolate nothing and look done.
func (ar *alertRun) isolatePod(ctx context.Context, pod *corev1.Pod) (Result, string, error) {
	r := ar.r
	want := r.quarantinePolicy(pod.Namespace)
	api := r.kube.NetworkingV1().NetworkPolicies(pod.Namespace)
	list, err := api.List(ctx, metav1.ListOptions{})
	if err != nil {
		return ResultFailed, "", fmt.Errorf("listing NetworkPolicies: %w", err)
	}
	var did []string
	var ours *networkingv1.NetworkPolicy
	for i := range list.Items {
		if list.Items[i].Name == want.Name {
			ours = &list.Items[i]
		}
	}
	switch {
	case ours == nil:
		_, err := api.Create(ctx, want, metav1.CreateOptions{})
		switch {
		case apierrors.IsAlreadyExists(err): // created meanwhile by another replica
		case err != nil:
			return ResultFailed, "", fmt.Errorf("creating NetworkPolicy %s: %w", want.Name, err)
		default:
			did = append(did, "created NetworkPolicy "+want.Name)
		}
	case !isDenyAll(ours.Spec, want.Spec):
		// Someone changed it: put back what isolation relies on.
		upd := ours.DeepCopy()
		upd.Spec = want.Spec
		if _, err := api.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return ResultFailed, "", fmt.Errorf("restoring NetworkPolicy %s: %w", want.Name, err)
		}
		did = append(did, "restored the deny-all spec of NetworkPolicy "+want.Name)
	}
	set, err := ar.patchPodLabels(ctx, pod, want.Spec.PodSelector.MatchLabels)
	if err != nil {
		return ResultFailed, strings.Join(did, "; "), err
	}
	if len(set) > 0 {
		did = append(did, "labeled the pod "+labelList(set))
	}
	// NetworkPolicies add up: another policy that selects the pod and allows traffic still
	// allows it. Say so rather than claim an isolation that does not hold.
	var leaks []string
	podLabels := labels.Set(ar.pod.Labels)
	for _, p := range list.Items {
		if p.Name == want.Name || (len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0) {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err == nil && sel.Matches(podLabels) {
			leaks = append(leaks, p.Name)
		}
	}
	detail := "the pod is already isolated"
	res := ResultUnchanged
	if len(did) > 0 {
		detail, res = strings.Join(did, "; "), ResultDone
	}
	if len(leaks) > 0 {
		slices.Sort(leaks)
		detail += "; WARNING: NetworkPolicies " + strings.Join(leaks, ", ") +
			" also select the pod and allow some traffic, which the deny-all policy does not take away"
		r.log.Warn("isolated pod still selected by allowing NetworkPolicies", "pod", ar.t.podRef(), "policies", leaks)
	}
	return res, detail, nil
}

func (ar *alertRun) cordon(ctx context.Context, nodeName string) (Result, string, error) {
	nodes := ar.r.kube.CoreV1().Nodes()
	node, err := nodes.Get(ctx, nodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ResultSkipped, "the node does not exist", nil
	}
	if err != nil {
		return ResultFailed, "", fmt.Errorf("reading the node: %w", err)
	}
	if node.Spec.Unschedulable {
		return ResultUnchanged, "the node is already cordoned", nil
	}
	if _, err := nodes.Patch(ctx, nodeName, types.StrategicMergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{}); err != nil {
		return ResultFailed, "", fmt.Errorf("cordoning the node: %w", err)
	}
	return ResultDone, "cordoned the node", nil
}

func (ar *alertRun) taint(ctx context.Context, nodeName string, want corev1.Taint) (Result, string, error) {
	nodes := ar.r.kube.CoreV1().Nodes()
	desc := want.Key + "=" + want.Value + ":" + string(want.Effect)
	res, detail := ResultUnchanged, "the node already has the taint "+desc
	// The taint list is replaced whole by an update, so a concurrent change of the node makes
	// the update fail with a conflict; read again and retry rather than overwrite it.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := nodes.Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		taints := slices.Clone(node.Spec.Taints)
		i := slices.IndexFunc(taints, func(t corev1.Taint) bool { return t.Key == want.Key && t.Effect == want.Effect })
		if i >= 0 && taints[i].Value == want.Value {
			res, detail = ResultUnchanged, "the node already has the taint "+desc
			return nil
		}
		t := want
		if t.Effect == corev1.TaintEffectNoExecute {
			now := metav1.NewTime(ar.r.now())
			t.TimeAdded = &now
		}
		if i >= 0 {
			taints[i] = t
		} else {
			taints = append(taints, t)
		}
		node.Spec.Taints = taints
		if _, err := nodes.Update(ctx, node, metav1.UpdateOptions{}); err != nil {
			return err
		}
		res, detail = ResultDone, "tainted the node "+desc
		return nil
	})
	if apierrors.IsNotFound(err) {
		return ResultSkipped, "the node does not exist", nil
	}
	if err != nil {
		return ResultFailed, "", fmt.Errorf("tainting the node: %w", err)
	}
	return res, detail, nil
}

// scaleZero is the patch of a scale subresource to zero replicas. Going through the subresource
// lets RBAC grant scaling alone, not the right to change the workload's spec (its image).
var scaleZero = []byte(`{"spec":{"replicas":0}}`)

// scaleToZero follows the pod's controller: a ReplicaSet owned by a Deployment scales the
// Deployment (scaling the ReplicaSet would be undone by it), a bare ReplicaSet itself, a
// StatefulSet itself. Other owners (DaemonSet, Job) have nothing to scale.
func (ar *alertRun) scaleToZero(ctx context.Context, pod *corev1.Pod) (Result, string, string, error) {
	apps := ar.r.kube.AppsV1()
	ns := pod.Namespace
	owner := metav1.GetControllerOf(pod)
	if owner == nil {
		return ResultSkipped, "the pod has no controller to scale", ar.t.podRef(), nil
	}
	if !strings.HasPrefix(owner.APIVersion, "apps/") {
		return ResultSkipped, fmt.Sprintf("the pod's controller %s %s cannot be scaled", owner.Kind, owner.Name), ar.t.podRef(), nil
	}
	zero := func(kind, name string, replicas *int32, patch func() error) (Result, string, string, error) {
		obj := kind + " " + ns + "/" + name
		if replicas != nil && *replicas == 0 {
			return ResultUnchanged, "already scaled to zero", obj, nil
		}
		if err := patch(); err != nil {
			return ResultFailed, "", obj, fmt.Errorf("scaling %s %s to zero: %w", kind, name, err)
		}
		was := int32(1) // an unset replicas field means one
		if replicas != nil {
			was = *replicas
		}
		return ResultDone, fmt.Sprintf("scaled to zero replicas (from %d)", was), obj, nil
	}
	switch owner.Kind {
	case "ReplicaSet":
		rs, err := apps.ReplicaSets(ns).Get(ctx, owner.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return ResultSkipped, "the pod's ReplicaSet " + owner.Name + " does not exist", "replicaset " + ns + "/" + owner.Name, nil
		}
		if err != nil {
			return ResultFailed, "", "replicaset " + ns + "/" + owner.Name, fmt.Errorf("reading ReplicaSet %s: %w", owner.Name, err)
		}
		if d := metav1.GetControllerOf(rs); d != nil && d.Kind == "Deployment" {
			dep, err := apps.Deployments(ns).Get(ctx, d.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return ResultSkipped, "the pod's Deployment " + d.Name + " does not exist", "deployment " + ns + "/" + d.Name, nil
			}
			if err != nil {
				return ResultFailed, "", "deployment " + ns + "/" + d.Name, fmt.Errorf("reading Deployment %s: %w", d.Name, err)
			}
			return zero("deployment", dep.Name, dep.Spec.Replicas, func() error {
				_, err := apps.Deployments(ns).Patch(ctx, dep.Name, types.MergePatchType, scaleZero, metav1.PatchOptions{}, "scale")
				return err
			})
		}
		return zero("replicaset", rs.Name, rs.Spec.Replicas, func() error {
			_, err := apps.ReplicaSets(ns).Patch(ctx, rs.Name, types.MergePatchType, scaleZero, metav1.PatchOptions{}, "scale")
			return err
		})
	case "StatefulSet":
		var sts *appsv1.StatefulSet
		sts, err := apps.StatefulSets(ns).Get(ctx, owner.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return ResultSkipped, "the pod's StatefulSet " + owner.Name + " does not exist", "statefulset " + ns + "/" + owner.Name, nil
		}
		if err != nil {
			return ResultFailed, "", "statefulset " + ns + "/" + owner.Name, fmt.Errorf("reading StatefulSet %s: %w", owner.Name, err)
		}
		return zero("statefulset", sts.Name, sts.Spec.Replicas, func() error {
			_, err := apps.StatefulSets(ns).Patch(ctx, sts.Name, types.MergePatchType, scaleZero, metav1.PatchOptions{}, "scale")
			return err
		})
	}
	return ResultSkipped, fmt.Sprintf("the pod's controller %s %s cannot be scaled", owner.Kind, owner.Name), ar.t.podRef(), nil
}
