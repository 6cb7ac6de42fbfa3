package efk

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/lannersec/lanner/collector/config"
	"github.com/lannersec/lanner/deploy/helm"
)

// stack is every object of the example's manifests, decoded strictly.
type stack struct {
	services     []*corev1.Service
	statefulSets []*appsv1.StatefulSet
	deployments  []*appsv1.Deployment
	jobs         []*batchv1.Job
	pvcs         []*corev1.PersistentVolumeClaim
	policies     []*networkingv1.NetworkPolicy
	namespaces   []*corev1.Namespace
}

type kustomization struct {
	APIVersion         string   `json:"apiVersion"`
	Kind               string   `json:"kind"`
	Resources          []string `json:"resources"`
	ConfigMapGenerator []struct {
		Name      string   `json:"name"`
		Namespace string   `json:"namespace"`
		Files     []string `json:"files"`
	} `json:"configMapGenerator"`
}

func readKustomization(t *testing.T) kustomization {
	t.Helper()
	data, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	return k
}

// load decodes every document of the files kustomization.yaml lists into its API type, strictly.
func load(t *testing.T) *stack {
	t.Helper()
	k := readKustomization(t)
	s := &stack{}
	for _, file := range k.Resources {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("kustomization.yaml lists %s: %v", file, err)
		}
		for i, doc := range strings.Split(string(data), "\n---\n") {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s document %d: %v", file, i, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "v1 Service":
				x := &corev1.Service{}
				s.services, obj = append(s.services, x), x
			case "apps/v1 StatefulSet":
				x := &appsv1.StatefulSet{}
				s.statefulSets, obj = append(s.statefulSets, x), x
			case "apps/v1 Deployment":
				x := &appsv1.Deployment{}
				s.deployments, obj = append(s.deployments, x), x
			case "batch/v1 Job":
				x := &batchv1.Job{}
				s.jobs, obj = append(s.jobs, x), x
			case "v1 PersistentVolumeClaim":
				x := &corev1.PersistentVolumeClaim{}
				s.pvcs, obj = append(s.pvcs, x), x
			case "networking.k8s.io/v1 NetworkPolicy":
				x := &networkingv1.NetworkPolicy{}
				s.policies, obj = append(s.policies, x), x
			case "v1 Namespace":
				x := &corev1.Namespace{}
				s.namespaces, obj = append(s.namespaces, x), x
			default:
				t.Fatalf("%s document %d: unexpected %s %s", file, i, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s document %d (%s) does not decode strictly: %v", file, i, tm.Kind, err)
			}
		}
	}
	return s
}

// named returns the object of kind called name among items, or fails the test.
func named[T interface{ GetName() string }](t *testing.T, kind string, items []T, name string) T {
	t.Helper()
	for _, x := range items {
		if x.GetName() == name {
			return x
		}
	}
	t.Fatalf("no %s %s", kind, name)
	var zero T
	return zero
}

func (s *stack) service(t *testing.T, name string) *corev1.Service {
	t.Helper()
	return named(t, "Service", s.services, name)
}

func (s *stack) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	return named(t, "Deployment", s.deployments, name)
}

// directive returns the values of every line "name value" in conf (comments left out).
func directive(conf, name string) []string {
	var out []string
	for _, line := range strings.Split(conf, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

func TestManifestsAreValidAndComplete(t *testing.T) {
	s := load(t)
	// Every manifest of the directory is applied by kubectl apply -k.
	k := readKustomization(t)
	files, _ := filepath.Glob("*.yaml")
	for _, f := range files {
		if f != "kustomization.yaml" && f != "lanner-values.yaml" && !slices.Contains(k.Resources, f) {
			t.Errorf("%s is not in kustomization.yaml's resources", f)
		}
	}
	// Every Service selects the pods of a workload of the example.
	for _, svc := range s.services {
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		var found bool
		for _, d := range s.deployments {
			found = found || sel.Matches(labels.Set(d.Spec.Template.Labels))
		}
		for _, st := range s.statefulSets {
			found = found || sel.Matches(labels.Set(st.Spec.Template.Labels))
		}
		if !found {
			t.Errorf("Service %s selects no pods", svc.Name)
		}
	}
	// Every Secret key the example reads is created by the README's command.
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var pods []corev1.PodSpec
	for _, d := range s.deployments {
		pods = append(pods, d.Spec.Template.Spec)
	}
	for _, st := range s.statefulSets {
		pods = append(pods, st.Spec.Template.Spec)
	}
	for _, j := range s.jobs {
		pods = append(pods, j.Spec.Template.Spec)
	}
	keys := map[string]bool{}
	for _, p := range pods {
		for _, c := range p.Containers {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					if ref := e.ValueFrom.SecretKeyRef; ref.Name == "elastic-credentials" {
						keys[ref.Key] = true
					} else {
						t.Errorf("env %s reads Secret %s, which the README does not create", e.Name, ref.Name)
					}
				}
			}
		}
	}
	for key := range keys {
		if !strings.Contains(string(readme), "--from-literal="+key+"=") {
			t.Errorf("the README's Secret lacks key %s", key)
		}
	}
	if len(keys) != 4 {
		t.Errorf("Secret keys used %v", keys)
	}
}

func TestFluentdAgreesWithLannerAndElasticsearch(t *testing.T) {
	s := load(t)
	confData, err := os.ReadFile("fluent.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(confData)

	// The ConfigMap made from fluent.conf is the one the Deployment mounts at /fluentd/etc.
	k := readKustomization(t)
	if len(k.ConfigMapGenerator) != 1 || !slices.Equal(k.ConfigMapGenerator[0].Files, []string{"fluent.conf"}) {
		t.Fatalf("configMapGenerator %+v", k.ConfigMapGenerator)
	}
	fd := s.deployment(t, "fluentd")
	c := fd.Spec.Template.Spec.Containers[0]
	var mounted bool
	for _, v := range fd.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == k.ConfigMapGenerator[0].Name {
			for _, m := range c.VolumeMounts {
				mounted = mounted || (m.Name == v.Name && m.MountPath == "/fluentd/etc")
			}
		}
	}
	if !mounted {
		t.Error("the Fluentd Deployment does not mount the generated config at /fluentd/etc")
	}
	// The file buffer sits on the persistent volume.
	buffers := directive(conf, "path")
	if len(buffers) != 1 {
		t.Fatalf("buffer paths %v", buffers)
	}
	var onPVC bool
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(buffers[0], m.MountPath+"/") {
			for _, v := range fd.Spec.Template.Spec.Volumes {
				onPVC = onPVC || (v.Name == m.Name && v.PersistentVolumeClaim != nil)
			}
		}
	}
	if !onPVC {
		t.Errorf("the buffer %s is not on the persistent volume", buffers[0])
	}
	// Every ENV the configuration reads is set.
	for _, m := range regexp.MustCompile(`ENV\['([A-Z_]+)'\]`).FindAllStringSubmatch(conf, -1) {
		if strings.Contains(m[0], "FLUENT_SHARED_KEY") {
			continue // in the commented-out <security> block
		}
		if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == m[1] }) {
			t.Errorf("fluent.conf reads $%s, which the Deployment does not set", m[1])
		}
	}

	// Lanner's values point at the Service, port and tag Fluentd serves.
	vals := lannerValues(t)
	fdv := vals["config"].(map[string]any)["fluentd"].(map[string]any)
	svc := s.service(t, "fluentd")
	port := strconv.Itoa(int(svc.Spec.Ports[0].Port))
	if got := directive(conf, "port"); !slices.Equal(got, []string{port}) {
		t.Errorf("forward port %v, Service port %s", got, port)
	}
	if strconv.Itoa(int(fdv["port"].(float64))) != port || fdv["host"] != svc.Name+"."+svc.Namespace+".svc" {
		t.Errorf("lanner sends to %v:%v, the Service is %s.%s:%s", fdv["host"], fdv["port"], svc.Name, svc.Namespace, port)
	}
	matches := regexp.MustCompile(`(?m)^<match ([^>]+)>`).FindAllStringSubmatch(conf, -1)
	if len(matches) != 1 {
		t.Fatalf("match sections %v", matches)
	}
	// Fluentd's ** matches zero or more tag parts.
	re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(matches[0][1]), `\.\*\*`, `(\..*)?`) + "$")
	if !re.MatchString(fdv["tag"].(string)) {
		t.Errorf("<match %s> does not take lanner's tag %v", matches[0][1], fdv["tag"])
	}

	// The data stream Fluentd writes has es-setup's template and the fluentd user's privileges.
	index := directive(conf, "index_name")
	setup := string(mustRead(t, "es-setup.yaml"))
	if len(index) != 1 {
		t.Fatalf("index_name %v", index)
	}
	for _, pattern := range []string{`"index_patterns": ["logs-lanner.fluentd-*"]`, `"names": ["logs-lanner.fluentd-*"]`} {
		if !strings.Contains(setup, pattern) {
			t.Errorf("es-setup.yaml lacks %s", pattern)
		}
	}
	if ok, _ := path.Match("logs-lanner.fluentd-*", index[0]); !ok {
		t.Errorf("Fluentd writes %s, outside logs-lanner.fluentd-*", index[0])
	}
	if !slices.Equal(directive(conf, "write_operation"), []string{"create"}) {
		t.Error("a data stream takes create operations only")
	}

	// Only lanner's collector pods may reach the forward port.
	if len(s.policies) != 1 {
		t.Fatalf("%d NetworkPolicies", len(s.policies))
	}
	np := s.policies[0]
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil || !sel.Matches(labels.Set(fd.Spec.Template.Labels)) {
		t.Errorf("the NetworkPolicy does not select Fluentd's pods")
	}
	ms, err := helm.Render("../helm/lanner", vals, helm.DefaultRelease)
	if err != nil {
		t.Fatal(err)
	}
	var collectorLabels map[string]string
	for _, m := range ms {
		if m.Kind == "DaemonSet" {
			var ds appsv1.DaemonSet
			if err := yaml.UnmarshalStrict([]byte(m.Content), &ds); err != nil {
				t.Fatal(err)
			}
			collectorLabels = ds.Spec.Template.Labels
		}
	}
	from := np.Spec.Ingress[0].From[0]
	podSel, _ := metav1.LabelSelectorAsSelector(from.PodSelector)
	nsSel, _ := metav1.LabelSelectorAsSelector(from.NamespaceSelector)
	if !podSel.Matches(labels.Set(collectorLabels)) || !nsSel.Matches(labels.Set{"kubernetes.io/metadata.name": helm.DefaultRelease.Namespace}) {
		t.Errorf("the NetworkPolicy does not let lanner's pods (%v, namespace %s) in", collectorLabels, helm.DefaultRelease.Namespace)
	}
	if np.Spec.Ingress[0].Ports[0].Port.String() != port {
		t.Errorf("the NetworkPolicy opens %s, not the forward port %s", np.Spec.Ingress[0].Ports[0].Port, port)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func lannerValues(t *testing.T) map[string]any {
	t.Helper()
	vals := map[string]any{}
	if err := yaml.Unmarshal(mustRead(t, "lanner-values.yaml"), &vals); err != nil {
		t.Fatal(err)
	}
	return vals
}

// TestLannerValuesLoad renders the chart with lanner-values.yaml and loads the configuration
// with lanner's loader: both outputs on, nothing left out, the password from the Secret.
func TestLannerValuesLoad(t *testing.T) {
	s := load(t)
	ms, err := helm.Render("../helm/lanner", lannerValues(t), helm.DefaultRelease)
	if err != nil {
		t.Fatal(err)
	}
	var text string
	var ds appsv1.DaemonSet
	for _, m := range ms {
		switch m.Kind {
		case "ConfigMap":
			var cm corev1.ConfigMap
			if err := yaml.UnmarshalStrict([]byte(m.Content), &cm); err != nil {
				t.Fatal(err)
			}
			if v, ok := cm.Data["lanner.yaml"]; ok {
				text = v
			}
		case "DaemonSet":
			if err := yaml.UnmarshalStrict([]byte(m.Content), &ds); err != nil {
				t.Fatal(err)
			}
		}
	}
	file := filepath.Join(t.TempDir(), "lanner.yaml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ES_PASSWORD", "from-secret")
	cfg, err := config.Load(file, nil)
	if err != nil {
		t.Fatalf("lanner refuses the example's configuration: %v\n%s", err, text)
	}
	for _, d := range cfg.DisabledOutputs {
		t.Errorf("output %s left out: %v", d.Name, d.Problems)
	}
	if !cfg.Elasticsearch.Enabled || !cfg.Fluentd.Enabled || cfg.Elasticsearch.Password.Reveal() != "from-secret" || cfg.Elasticsearch.Username != "lanner" {
		t.Errorf("outputs: elasticsearch %v (user %q), fluentd %v", cfg.Elasticsearch.Enabled, cfg.Elasticsearch.Username, cfg.Fluentd.Enabled)
	}
	// lanner reaches the example's Elasticsearch Service, and its user may write its data stream.
	es := s.service(t, "elasticsearch")
	want := "http://" + es.Name + "." + es.Namespace + ".svc:" + strconv.Itoa(int(es.Spec.Ports[0].Port))
	if !slices.Equal(cfg.Elasticsearch.Addresses, []string{want}) {
		t.Errorf("addresses %v, want [%s]", cfg.Elasticsearch.Addresses, want)
	}
	if ok, _ := path.Match("logs-lanner.alerts-*", cfg.Elasticsearch.DataStream); !ok {
		t.Errorf("lanner writes %s, outside the lanner_writer role's logs-lanner.alerts-*", cfg.Elasticsearch.DataStream)
	}
	c := ds.Spec.Template.Spec.Containers[0]
	var fromSecret bool
	for _, e := range c.Env {
		if e.Name == "ES_PASSWORD" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			fromSecret = e.ValueFrom.SecretKeyRef.Name == "lanner-es" && e.ValueFrom.SecretKeyRef.Key == "password"
		}
	}
	if !fromSecret {
		t.Error("ES_PASSWORD is not read from Secret lanner-es, key password (as the README creates it)")
	}
}
