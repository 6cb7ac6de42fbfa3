package helm

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart/loader"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/lannersec/lanner/collector/config"
	"github.com/lannersec/lanner/collector/respond"
	"github.com/lannersec/lanner/collector/respond/playbook"
)

var update = flag.Bool("update", false, "rewrite deploy/manifests/lanner.yaml from the chart")

const (
	chartDir      = "lanner"
	manifestsFile = "../manifests/lanner.yaml"
)

// testRelease is the release the tests render: names and namespace differ from the defaults so
// that a hard-coded "lanner" in a template shows.
var testRelease = Release{Name: "sec", Namespace: "security"}

// objects is one rendering of the chart, every object decoded strictly into its API type.
type objects struct {
	serviceAccounts     []*corev1.ServiceAccount
	configMaps          []*corev1.ConfigMap
	services            []*corev1.Service
	clusterRoles        []*rbacv1.ClusterRole
	clusterRoleBindings []*rbacv1.ClusterRoleBinding
	daemonSets          []*appsv1.DaemonSet
	deployments         []*appsv1.Deployment
	serviceMonitors     []*monitoringv1.ServiceMonitor
}

// render renders the chart with values (a YAML document merged over values.yaml) and decodes
// every object strictly: a field the API type does not have (a typo, a wrong indentation) fails
// the test, as the API server's strict field validation would refuse it.
func render(t *testing.T, values string) *objects {
	t.Helper()
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(values), &vals); err != nil {
		t.Fatalf("test values: %v", err)
	}
	ms, err := Render(chartDir, vals, testRelease)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("the chart rendered nothing")
	}
	return decodeAll(t, ms, testRelease)
}

func decodeAll(t *testing.T, ms []Manifest, rel Release) *objects {
	t.Helper()
	o := &objects{}
	seen := map[string]bool{}
	for _, m := range ms {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(m.Content), &tm); err != nil {
			t.Fatalf("%s: %v", m.Source, err)
		}
		var obj any
		var wantAPI string
		switch tm.Kind {
		case "ServiceAccount":
			x := &corev1.ServiceAccount{}
			o.serviceAccounts, obj, wantAPI = append(o.serviceAccounts, x), x, "v1"
		case "ConfigMap":
			x := &corev1.ConfigMap{}
			o.configMaps, obj, wantAPI = append(o.configMaps, x), x, "v1"
		case "Service":
			x := &corev1.Service{}
			o.services, obj, wantAPI = append(o.services, x), x, "v1"
		case "ClusterRole":
			x := &rbacv1.ClusterRole{}
			o.clusterRoles, obj, wantAPI = append(o.clusterRoles, x), x, "rbac.authorization.k8s.io/v1"
		case "ClusterRoleBinding":
			x := &rbacv1.ClusterRoleBinding{}
			o.clusterRoleBindings, obj, wantAPI = append(o.clusterRoleBindings, x), x, "rbac.authorization.k8s.io/v1"
		case "DaemonSet":
			x := &appsv1.DaemonSet{}
			o.daemonSets, obj, wantAPI = append(o.daemonSets, x), x, "apps/v1"
		case "Deployment":
			x := &appsv1.Deployment{}
			o.deployments, obj, wantAPI = append(o.deployments, x), x, "apps/v1"
		case "ServiceMonitor":
			x := &monitoringv1.ServiceMonitor{}
			o.serviceMonitors, obj, wantAPI = append(o.serviceMonitors, x), x, "monitoring.coreos.com/v1"
		default:
			t.Fatalf("%s: kind %q: the test knows no type for it", m.Source, tm.Kind)
		}
		if tm.APIVersion != wantAPI {
			t.Errorf("%s: %s has apiVersion %q, want %q", m.Source, tm.Kind, tm.APIVersion, wantAPI)
		}
		if err := yaml.UnmarshalStrict([]byte(m.Content), obj); err != nil {
			t.Fatalf("%s: %s %s does not decode strictly: %v\n%s", m.Source, tm.Kind, m.Name, err, m.Content)
		}
		meta := reflect.ValueOf(obj).Elem().FieldByName("ObjectMeta").Interface().(metav1.ObjectMeta)
		key := tm.Kind + "/" + meta.Name
		if seen[key] {
			t.Errorf("%s rendered twice", key)
		}
		seen[key] = true
		clusterScoped := tm.Kind == "ClusterRole" || tm.Kind == "ClusterRoleBinding"
		if !clusterScoped && meta.Namespace != rel.Namespace {
			t.Errorf("%s is in namespace %q, want the release's %q", key, meta.Namespace, rel.Namespace)
		}
		if meta.Labels["app.kubernetes.io/instance"] != rel.Name {
			t.Errorf("%s lacks the instance label", key)
		}
	}
	return o
}

func (o *objects) collector(t *testing.T) (*appsv1.DaemonSet, *corev1.Container) {
	t.Helper()
	if len(o.daemonSets) != 1 {
		t.Fatalf("%d DaemonSets, want 1", len(o.daemonSets))
	}
	ds := o.daemonSets[0]
	if n := len(ds.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("DaemonSet has %d containers, want 1", n)
	}
	return ds, &ds.Spec.Template.Spec.Containers[0]
}

// named returns the object of kind called name among items, or fails the test.
func named[T interface{ GetName() string }](t *testing.T, kind string, items []T, name string) T {
	t.Helper()
	for _, x := range items {
		if x.GetName() == name {
			return x
		}
	}
	t.Fatalf("no %s %q", kind, name)
	var zero T
	return zero
}

func (o *objects) configMap(t *testing.T, name string) *corev1.ConfigMap {
	t.Helper()
	return named(t, "ConfigMap", o.configMaps, name)
}

func (o *objects) clusterRole(t *testing.T, name string) *rbacv1.ClusterRole {
	t.Helper()
	return named(t, "ClusterRole", o.clusterRoles, name)
}

// loadConfig writes the collector's rendered configuration to a file and loads it with lanner's
// own loader (strict: an unknown key is an error), so the chart can only render real keys. files
// stand in for what the pod would have mounted (container path -> content): they are written to
// a temporary directory and the configuration's references to them rewritten, because the loader
// checks that such files exist. An output the loader would leave out fails the test.
func loadConfig(t *testing.T, o *objects, files map[string]string) (*config.Config, string) {
	t.Helper()
	text, ok := o.configMap(t, "sec-lanner-config").Data["lanner.yaml"]
	if !ok {
		t.Fatal("the config ConfigMap has no lanner.yaml")
	}
	dir := t.TempDir()
	loaded := text
	for i, p := range slices.Sorted(maps.Keys(files)) {
		if !strings.Contains(loaded, p) {
			t.Fatalf("the configuration does not refer to %s:\n%s", p, text)
		}
		local := filepath.Join(dir, strconv.Itoa(i)+"-"+filepath.Base(p))
		if err := os.WriteFile(local, []byte(files[p]), 0o600); err != nil {
			t.Fatal(err)
		}
		loaded = strings.ReplaceAll(loaded, p, local)
	}
	path := filepath.Join(dir, "lanner.yaml")
	if err := os.WriteFile(path, []byte(loaded), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatalf("lanner's loader refuses the chart's configuration: %v\n%s", err, text)
	}
	for _, d := range cfg.DisabledOutputs {
		t.Errorf("lanner would leave output %s out: %v", d.Name, d.Problems)
	}
	return cfg, text
}

// writable checks that every directory the collector writes (output spools, the audit trail's
// chain) is on a writable mount: the root filesystem is read-only.
func writable(t *testing.T, cfg *config.Config, c *corev1.Container) {
	t.Helper()
	dirs := map[string]string{
		"elasticsearch.spool_dir":  cfg.Elasticsearch.SpoolDir,
		"fluentd.spool_dir":        cfg.Fluentd.SpoolDir,
		"file_output.spool_dir":    cfg.FileOutput.SpoolDir,
		"http_output.spool_dir":    cfg.HTTPOutput.SpoolDir,
		"syslog_output.spool_dir":  cfg.SyslogOutput.SpoolDir,
		"program_output.spool_dir": cfg.ProgramOutput.SpoolDir,
		"nats_output.spool_dir":    cfg.NATSOutput.SpoolDir,
	}
	if d := cfg.TrailDir(); d != "" {
		dirs["audit_trail.dir"] = d
	}
	for key, dir := range dirs {
		if m, ok := mountFor(c, dir); !ok || m.ReadOnly {
			t.Errorf("%s %s is not on a writable mount", key, dir)
		}
	}
}

// mountFor returns the container's mount whose path holds p, and whether there is one.
func mountFor(c *corev1.Container, p string) (corev1.VolumeMount, bool) {
	var best corev1.VolumeMount
	found := false
	for _, m := range c.VolumeMounts {
		if (p == m.MountPath || strings.HasPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/")) && len(m.MountPath) >= len(best.MountPath) {
			best, found = m, true
		}
	}
	return best, found
}

func volume(ps corev1.PodSpec, name string) *corev1.Volume {
	for i := range ps.Volumes {
		if ps.Volumes[i].Name == name {
			return &ps.Volumes[i]
		}
	}
	return nil
}

func envVar(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func capNames(cs []corev1.Capability) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	sort.Strings(out)
	return out
}

// chartAppVersion reads appVersion from Chart.yaml.
func chartAppVersion(t *testing.T) string {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return c.Metadata.AppVersion
}

func TestCollectorLeastPrivilege(t *testing.T) {
	o := render(t, "")
	ds, c := o.collector(t)
	ps := ds.Spec.Template.Spec

	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("the collector has no securityContext")
	}
	if sc.Privileged == nil || *sc.Privileged {
		t.Errorf("privileged = %v, want explicitly false", sc.Privileged)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("allowPrivilegeEscalation = %v, want false", sc.AllowPrivilegeEscalation)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("readOnlyRootFilesystem = %v, want true", sc.ReadOnlyRootFilesystem)
	}
	// Added capabilities reach the effective set of uid 0 only.
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Errorf("runAsUser = %v, want 0", sc.RunAsUser)
	}
	if sc.Capabilities == nil {
		t.Fatal("no capabilities")
	}
	if got, want := capNames(sc.Capabilities.Add), []string{"BPF", "PERFMON", "SYS_PTRACE", "SYS_RESOURCE"}; !slices.Equal(got, want) {
		t.Errorf("capabilities.add = %v, want exactly %v", got, want)
	}
	if got := capNames(sc.Capabilities.Drop); !slices.Equal(got, []string{"ALL"}) {
		t.Errorf("capabilities.drop = %v, want [ALL]", got)
	}
	if pc := ps.SecurityContext; pc != nil && pc.RunAsUser != nil && *pc.RunAsUser != 0 {
		t.Errorf("the pod's runAsUser %d would override the container's root", *pc.RunAsUser)
	}

	if !ps.HostPID {
		t.Error("hostPID is off: alerts would carry container-namespace pids")
	}
	if ps.HostNetwork || ps.HostIPC {
		t.Errorf("hostNetwork=%v hostIPC=%v: the collector needs neither", ps.HostNetwork, ps.HostIPC)
	}

	// Host paths: exactly these, read-only except the spool.
	wantHost := map[string]struct {
		mountPath string
		readOnly  bool
	}{
		"/proc":           {"/host/proc", true},
		"/etc":            {"/host/etc", true},
		"/sys/kernel/btf": {"/sys/kernel/btf", true},
		"/var/lib/lanner": {"/var/lib/lanner", false},
	}
	gotHost := map[string]bool{}
	for _, v := range ps.Volumes {
		if v.HostPath == nil {
			continue
		}
		want, ok := wantHost[v.HostPath.Path]
		if !ok {
			t.Errorf("volume %s mounts host path %s, which the collector does not need", v.Name, v.HostPath.Path)
			continue
		}
		gotHost[v.HostPath.Path] = true
		var mounted bool
		for _, m := range c.VolumeMounts {
			if m.Name != v.Name {
				continue
			}
			mounted = true
			if m.MountPath != want.mountPath {
				t.Errorf("host %s mounted at %s, want %s", v.HostPath.Path, m.MountPath, want.mountPath)
			}
			if m.ReadOnly != want.readOnly {
				t.Errorf("host %s mounted readOnly=%v, want %v", v.HostPath.Path, m.ReadOnly, want.readOnly)
			}
		}
		if !mounted {
			t.Errorf("host path volume %s is not mounted", v.Name)
		}
	}
	for p := range wantHost {
		if !gotHost[p] {
			t.Errorf("host path %s is not mounted", p)
		}
	}

	nodeName := envVar(c, "NODE_NAME")
	if nodeName == nil || nodeName.ValueFrom == nil || nodeName.ValueFrom.FieldRef == nil ||
		nodeName.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("NODE_NAME = %+v, want the downward API's spec.nodeName", nodeName)
	}
	for _, e := range c.Env {
		if e.Value != "" && strings.Contains(strings.ToLower(e.Name), "password") {
			t.Errorf("env %s holds a literal password", e.Name)
		}
	}

	if !slices.ContainsFunc(ps.Tolerations, func(tl corev1.Toleration) bool {
		return tl.Operator == corev1.TolerationOpExists && tl.Key == "" && tl.Effect == ""
	}) {
		t.Errorf("tolerations %+v do not tolerate every taint", ps.Tolerations)
	}
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType {
		t.Errorf("updateStrategy %q, want RollingUpdate", ds.Spec.UpdateStrategy.Type)
	}
	if want := "ghcr.io/lannersec/lanner:" + chartAppVersion(t); c.Image != want {
		t.Errorf("image %q, want %q", c.Image, want)
	}
	if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("resources %+v: want requests and limits", c.Resources)
	}
	if !slices.Equal(c.Args, []string{"run", "--config=/etc/lanner/config/lanner.yaml"}) {
		t.Errorf("args %v", c.Args)
	}
	if len(o.deployments) != 0 || len(o.serviceMonitors) != 0 {
		t.Errorf("defaults rendered %d Deployments and %d ServiceMonitors, want none", len(o.deployments), len(o.serviceMonitors))
	}

	// The selector selects the pod template.
	for k, v := range ds.Spec.Selector.MatchLabels {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template", k, v)
		}
	}
}

func TestPrivilegedSwitch(t *testing.T) {
	_, c := render(t, "privileged: true").collector(t)
	sc := c.SecurityContext
	if sc == nil || sc.Privileged == nil || !*sc.Privileged {
		t.Fatalf("privileged: true rendered %+v", sc)
	}
	if sc.Capabilities != nil {
		t.Errorf("a privileged container with a capability list %+v: the list would mislead", sc.Capabilities)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("privileged dropped readOnlyRootFilesystem")
	}
}

var readVerbs = []string{"get", "list", "watch"}

func TestCollectorRBACReadOnly(t *testing.T) {
	for name, values := range map[string]string{
		"defaults":  "",
		"responder": "responder: {enabled: true, config: {nats: {url: \"nats://n:4222\"}}, rbac: {deletePod: true, labelPod: true, isolatePod: true, cordonNode: true, taintNode: true, scaleToZero: true}}",
	} {
		t.Run(name, func(t *testing.T) {
			o := render(t, values)
			role := o.clusterRole(t, "sec-lanner")
			granted := map[string]bool{}
			for _, r := range role.Rules {
				if len(r.NonResourceURLs) > 0 || len(r.ResourceNames) > 0 {
					t.Errorf("rule %+v: unexpected nonResourceURLs or resourceNames", r)
				}
				for _, v := range r.Verbs {
					if !slices.Contains(readVerbs, v) {
						t.Errorf("verb %q on %v: the collector only reads", v, r.Resources)
					}
				}
				for _, g := range r.APIGroups {
					for _, res := range r.Resources {
						if g == "*" || res == "*" || strings.Contains(res, "/") {
							t.Errorf("rule grants %q/%q", g, res)
						}
						if res == "secrets" || res == "configmaps" {
							t.Errorf("the collector may read %s", res)
						}
						if slices.Equal(r.Verbs, readVerbs) {
							granted[g+"/"+res] = true
						}
					}
				}
			}
			// What the pod cache's informers list and watch (enrich/doc.go), and nothing more.
			for _, need := range []string{"/pods", "/namespaces", "apps/replicasets", "batch/jobs"} {
				if !granted[need] {
					t.Errorf("%s is not granted get/list/watch", need)
				}
			}
			if len(granted) != 4 {
				t.Errorf("granted %v, want the 4 resources above only", granted)
			}

			var binding *rbacv1.ClusterRoleBinding
			for _, b := range o.clusterRoleBindings {
				if b.RoleRef.Name == role.Name {
					binding = b
				}
			}
			if binding == nil {
				t.Fatal("the collector's ClusterRole is not bound")
			}
			ds, _ := o.collector(t)
			want := rbacv1.Subject{Kind: "ServiceAccount", Name: ds.Spec.Template.Spec.ServiceAccountName, Namespace: testRelease.Namespace}
			if len(binding.Subjects) != 1 || binding.Subjects[0] != want {
				t.Errorf("binding subjects %+v, want [%+v]", binding.Subjects, want)
			}
			if !slices.ContainsFunc(o.serviceAccounts, func(sa *corev1.ServiceAccount) bool { return sa.Name == want.Name }) {
				t.Errorf("ServiceAccount %s is not rendered", want.Name)
			}
		})
	}
}

func TestConfigMapIsAcceptedByLannersLoader(t *testing.T) {
	o := render(t, "")
	cfg, _ := loadConfig(t, o, nil)
	_, c := o.collector(t)

	if cfg.Capture.ProcRoot != "/host/proc" || cfg.Capture.HostRoot != "/host" {
		t.Errorf("capture roots %q %q, want the host mounts /host/proc and /host", cfg.Capture.ProcRoot, cfg.Capture.HostRoot)
	}
	if !cfg.Kubernetes.Enabled || cfg.Kubernetes.NodeName != "" {
		t.Errorf("kubernetes %+v: want enabled with the node name from NODE_NAME", cfg.Kubernetes)
	}
	// The metrics server listens where the container port and the probes point.
	if !cfg.HTTP.Enabled {
		t.Fatal("http disabled: no metrics, and the probes would fail")
	}
	_, port, _ := strings.Cut(cfg.HTTP.Listen, ":")
	if strings.HasPrefix(cfg.HTTP.Listen, "127.") {
		t.Errorf("http.listen %q: unreachable for probes and Prometheus", cfg.HTTP.Listen)
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool {
		return p.Name == "metrics" && strconv.Itoa(int(p.ContainerPort)) == port
	}) {
		t.Errorf("http.listen %q does not match the metrics container port %+v", cfg.HTTP.Listen, c.Ports)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Port.String() != "metrics" {
		t.Errorf("readiness probe %+v, want /readyz on the metrics port", c.ReadinessProbe)
	}
	writable(t, cfg, c)
	if cfg.Audit.Enabled {
		t.Error("the audit webhook is on by default; it needs a certificate and a token")
	}
	if len(o.services) != 1 || len(o.services[0].Spec.Ports) != 1 || o.services[0].Spec.Ports[0].Name != "metrics" {
		t.Errorf("services %+v: want one with the metrics port only", o.services)
	}
}

func TestElasticsearchCredentialsFromSecret(t *testing.T) {
	const base = `
config:
  elasticsearch:
    enabled: true
    addresses: [https://es.example:9200]
%s
elasticsearch:
  existingSecret: es-creds
`
	for _, tc := range []struct {
		name, values  string
		env, key, ref string
	}{
		{"password", fmt.Sprintf(base, "    username: lanner") + "  passwordKey: pw\n  caSecret: es-ca\n", "ES_PASSWORD", "pw", "password: ${ES_PASSWORD}"},
		// An API key replaces the password: lanner takes one authentication method.
		{"api key", fmt.Sprintf(base, "") + "  apiKeyKey: apikey\n  caSecret: es-ca\n", "ES_API_KEY", "apikey", "api_key: ${ES_API_KEY}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := render(t, tc.values)
			_, c := o.collector(t)
			var secretEnv []string
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					secretEnv = append(secretEnv, e.Name)
					if ref := e.ValueFrom.SecretKeyRef; ref.Name != "es-creds" || ref.Key != tc.key {
						t.Errorf("%s from %s/%s, want es-creds/%s", e.Name, ref.Name, ref.Key, tc.key)
					}
				}
			}
			if !slices.Equal(secretEnv, []string{tc.env}) {
				t.Errorf("variables from Secrets %v, want [%s]", secretEnv, tc.env)
			}
			text := o.configMap(t, "sec-lanner-config").Data["lanner.yaml"]
			if !strings.Contains(text, tc.ref) {
				t.Errorf("the configuration lacks %q:\n%s", tc.ref, text)
			}

			// Without the variable lanner refuses the file: the reference is real.
			for _, name := range []string{"ES_PASSWORD", "ES_API_KEY"} {
				t.Setenv(name, "") // restored after the test
				os.Unsetenv(name)
			}
			path := filepath.Join(t.TempDir(), "lanner.yaml")
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := config.Load(path, nil); err == nil || !strings.Contains(err.Error(), tc.env) {
				t.Errorf("loading without $%s: err = %v, want it named", tc.env, err)
			}

			t.Setenv(tc.env, "value-from-secret")
			cfg, _ := loadConfig(t, o, map[string]string{"/etc/lanner/es-ca/ca.crt": "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"})
			es := cfg.Elasticsearch
			got := es.Password.Reveal()
			if tc.env == "ES_API_KEY" {
				got = es.APIKey.Reveal()
			}
			if !es.Enabled || got != "value-from-secret" || (tc.env == "ES_PASSWORD") != (es.Username == "lanner") {
				t.Errorf("elasticsearch: enabled %v, user %q, credential %q", es.Enabled, es.Username, got)
			}
			writable(t, cfg, c)
			if cfg.TrailDir() == "" {
				t.Error("no audit trail directory with an output on")
			}
			if m, ok := mountFor(c, "/etc/lanner/es-ca/ca.crt"); !ok || !m.ReadOnly || m.Name != "es-ca" {
				t.Errorf("the CA file is not on the es-ca read-only mount: %+v", m)
			}
			ds, _ := o.collector(t)
			if v := volume(ds.Spec.Template.Spec, "es-ca"); v == nil || v.Secret == nil || v.Secret.SecretName != "es-ca" {
				t.Errorf("es-ca volume %+v", v)
			}
		})
	}
}

func TestAuditWebhook(t *testing.T) {
	o := render(t, `
auditWebhook: {enabled: true, tlsSecret: audit-tls, tokenSecret: audit-token, clientCASecret: apiserver-ca}
service: {clusterIP: 10.96.0.97}
`)
	cfg, _ := loadConfig(t, o, nil)
	ds, c := o.collector(t)
	a := cfg.Audit
	if !a.Enabled || a.Listen != ":9765" || a.Plaintext || !a.ClientCertAuth {
		t.Errorf("audit = %+v", a)
	}
	for key, file := range map[string]string{"cert_file": a.CertFile, "key_file": a.KeyFile, "bearer_token_file": a.BearerTokenFile, "client_ca_file": a.ClientCAFile} {
		m, ok := mountFor(c, file)
		if !ok || !m.ReadOnly {
			t.Errorf("audit.%s %q is not on a read-only mount", key, file)
			continue
		}
		v := volume(ds.Spec.Template.Spec, m.Name)
		if v == nil || v.Secret == nil {
			t.Errorf("audit.%s: volume %s is not a Secret", key, m.Name)
		}
	}
	if len(o.services) != 1 {
		t.Fatalf("%d Services", len(o.services))
	}
	svc := o.services[0]
	if svc.Spec.ClusterIP != "10.96.0.97" {
		t.Errorf("clusterIP %q", svc.Spec.ClusterIP)
	}
	// /readyz fails while an output is down; the webhook must still receive audit batches then.
	if !svc.Spec.PublishNotReadyAddresses {
		t.Error("the audit Service does not publish not-ready collectors")
	}
	var audit *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Name == "k8s-audit" {
			audit = &svc.Spec.Ports[i]
		}
	}
	if audit == nil || audit.Port != 9765 || audit.TargetPort.String() != "k8s-audit" {
		t.Fatalf("audit service port %+v", audit)
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "k8s-audit" && p.ContainerPort == 9765 }) {
		t.Errorf("no k8s-audit container port: %+v", c.Ports)
	}
	for k, v := range svc.Spec.Selector {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the collector pods lack", k, v)
		}
	}

	for values, want := range map[string]string{
		"auditWebhook: {enabled: true, tokenSecret: t}": "auditWebhook.tlsSecret",
		"auditWebhook: {enabled: true, tlsSecret: tls}": "auditWebhook.tokenSecret or auditWebhook.clientCASecret",
	} {
		vals := map[string]any{}
		if err := yaml.Unmarshal([]byte(values), &vals); err != nil {
			t.Fatal(err)
		}
		if _, err := Render(chartDir, vals, testRelease); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want one naming %s", values, err, want)
		}
	}
}

func TestCustomRules(t *testing.T) {
	o := render(t, `
customRules:
  b-local.yaml: |-
    - list: lanner_package_manager_binaries
      items: [conda]
      override: {items: append}
  a-first.yaml: "- macro: my_macro\n  condition: evt.type = open\n"
`)
	cfg, _ := loadConfig(t, o, nil)
	want := []string{"/usr/share/lanner/rules/lanner_rules.yaml", "/etc/lanner/rules.d/a-first.yaml", "/etc/lanner/rules.d/b-local.yaml"}
	if !slices.Equal(cfg.RulesFiles, want) {
		t.Errorf("rules_files = %v, want %v", cfg.RulesFiles, want)
	}
	cm := o.configMap(t, "sec-lanner-rules")
	if !strings.Contains(cm.Data["b-local.yaml"], "override: {items: append}") || len(cm.Data) != 2 {
		t.Errorf("rules ConfigMap data %v", cm.Data)
	}
	ds, c := o.collector(t)
	m, ok := mountFor(c, "/etc/lanner/rules.d/a-first.yaml")
	if !ok || !m.ReadOnly {
		t.Fatal("custom rules are not mounted read-only")
	}
	if v := volume(ds.Spec.Template.Spec, m.Name); v == nil || v.ConfigMap == nil || v.ConfigMap.Name != cm.Name {
		t.Errorf("rules volume %+v, want ConfigMap %s", v, cm.Name)
	}
	// A changed rules file changes the pod template, so the pods roll.
	other := render(t, "customRules: {a-first.yaml: \"- list: x\\n  items: []\\n\"}")
	ods, _ := other.collector(t)
	if ods.Spec.Template.Annotations["checksum/rules"] == ds.Spec.Template.Annotations["checksum/rules"] {
		t.Error("different rules, same checksum/rules annotation")
	}
}

func TestServiceMonitor(t *testing.T) {
	o := render(t, "serviceMonitor: {enabled: true, labels: {release: kube-prometheus-stack}, interval: 15s}")
	if len(o.serviceMonitors) != 1 {
		t.Fatalf("%d ServiceMonitors, want 1", len(o.serviceMonitors))
	}
	sm := o.serviceMonitors[0]
	if sm.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("labels %v lack serviceMonitor.labels", sm.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("endpoints %+v", sm.Spec.Endpoints)
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Port != "metrics" || ep.Path != "/metrics" || ep.Interval != "15s" {
		t.Errorf("endpoint %+v", ep)
	}
	svc := o.services[0]
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
		t.Errorf("the Service has no port named %s", ep.Port)
	}
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s, which the Service lacks", k, v)
		}
	}
	if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{testRelease.Namespace}) {
		t.Errorf("namespaceSelector %+v", sm.Spec.NamespaceSelector)
	}
}

// grants flattens RBAC rules to "group/resource" -> sorted verbs.
func grants(rules []rbacv1.PolicyRule) map[string][]string {
	out := map[string][]string{}
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				k := g + "/" + res
				out[k] = append(out[k], r.Verbs...)
				sort.Strings(out[k])
				out[k] = slices.Compact(out[k])
			}
		}
	}
	return out
}

// responderSwitches maps the chart's responder.rbac switches to the action each one is for.
var responderSwitches = []struct {
	value  string
	kind   playbook.Kind
	action string // the action as a playbook writes it
}{
	{"deletePod", playbook.DeletePod, "delete_pod"},
	{"labelPod", playbook.LabelPod, "{label_pod: {labels: {lanner.dev/suspect: \"true\"}}}"},
	{"isolatePod", playbook.IsolatePod, "isolate_pod"},
	{"cordonNode", playbook.CordonNode, "cordon_node"},
	{"taintNode", playbook.TaintNode, "{taint_node: {key: lanner.dev/compromised}}"},
	{"scaleToZero", playbook.ScaleToZero, "scale_to_zero"},
}

// TestResponderRBACFollowsActions: for every set of switches, the responder's ClusterRole grants
// exactly what collector/respond says the switched-on actions need (respond.ActionRules), plus
// reading pods, and respond's own loader accepts the rendered configuration, whose playbooks
// need no more than that (respond.Rules).
func TestResponderRBACFollowsActions(t *testing.T) {
	sets := [][]int{{}, {0}, {1}, {2}, {3}, {4}, {5}, {0, 2, 4}, {3, 4}, {0, 1, 2, 3, 4, 5}}
	for _, set := range sets {
		var names, actions []string
		rbac := map[string]bool{}
		want := map[string][]string{"/pods": {"get", "list", "watch"}}
		for _, i := range set {
			sw := responderSwitches[i]
			names = append(names, sw.value)
			actions = append(actions, sw.action)
			rbac[sw.value] = true
			for k, v := range grants(respond.ActionRules(sw.kind)) {
				want[k] = append(want[k], v...)
				sort.Strings(want[k])
				want[k] = slices.Compact(want[k])
			}
		}
		if len(actions) == 0 {
			actions = []string{"{notify: {webhook: security}}"}
		}
		t.Run(strings.Join(append([]string{"none"}, names...), "+"), func(t *testing.T) {
			var sw []string
			for _, x := range responderSwitches {
				sw = append(sw, fmt.Sprintf("%s: %v", x.value, rbac[x.value]))
			}
			values := fmt.Sprintf(`
responder:
  enabled: true
  config:
    nats: {url: "nats://nats.nats:4222", subjects: ["falco.critical.>"]}
    notify_webhooks:
      security: {url: "${SLACK_URL}"}
    playbooks:
      - name: contain
        match: {rule: ["Lanner Interactive Shell in Container"], priority: warning}
        actions: [%s]
  extraEnv:
    - name: SLACK_URL
      valueFrom: {secretKeyRef: {name: slack, key: url}}
  rbac: {%s}
`, strings.Join(actions, ", "), strings.Join(sw, ", "))
			o := render(t, values)

			role := o.clusterRole(t, "sec-lanner-responder")
			got := grants(role.Rules)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("responder grants\n got %v\nwant %v", got, want)
			}
			for _, r := range role.Rules {
				if slices.Contains(r.Resources, "secrets") || slices.Contains(r.Verbs, "*") || slices.Contains(r.Resources, "*") {
					t.Errorf("responder rule %+v", r)
				}
			}

			if len(o.deployments) != 1 {
				t.Fatalf("%d Deployments, want the responder", len(o.deployments))
			}
			d := o.deployments[0]
			ps := d.Spec.Template.Spec
			c := ps.Containers[0]
			if !slices.Equal(c.Args, []string{"respond", "--config=/etc/lanner/respond.yaml"}) {
				t.Errorf("responder args %v", c.Args)
			}
			if sc := c.SecurityContext; sc == nil || sc.Privileged == nil || *sc.Privileged ||
				sc.Capabilities == nil || len(sc.Capabilities.Add) != 0 || !slices.Equal(capNames(sc.Capabilities.Drop), []string{"ALL"}) {
				t.Errorf("responder securityContext %+v", c.SecurityContext)
			}
			if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
				t.Errorf("the responder may run as root: %+v", ps.SecurityContext)
			}
			if ps.HostPID || ps.HostNetwork || slices.ContainsFunc(ps.Volumes, func(v corev1.Volume) bool { return v.HostPath != nil }) {
				t.Error("the responder has host access")
			}
			collectorSA := o.daemonSets[0].Spec.Template.Spec.ServiceAccountName
			if ps.ServiceAccountName == collectorSA {
				t.Error("the responder shares the collector's ServiceAccount: the node agent would hold its write verbs")
			}
			var bound bool
			for _, b := range o.clusterRoleBindings {
				if b.RoleRef.Name == role.Name {
					bound = len(b.Subjects) == 1 && b.Subjects[0].Name == ps.ServiceAccountName && b.Subjects[0].Namespace == testRelease.Namespace
				}
			}
			if !bound {
				t.Error("the responder's ClusterRole is not bound to its ServiceAccount alone")
			}
			if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" ||
				!slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == c.ReadinessProbe.HTTPGet.Port.String() }) {
				t.Errorf("readiness probe %+v on ports %+v", c.ReadinessProbe, c.Ports)
			}

			// The file --config reads is the responder.config value, and respond's loader takes it.
			m, ok := mountFor(&c, "/etc/lanner/respond.yaml")
			if !ok || !m.ReadOnly {
				t.Fatal("/etc/lanner/respond.yaml is not mounted read-only")
			}
			v := volume(ps, m.Name)
			if v == nil || v.ConfigMap == nil {
				t.Fatalf("volume %s is not a ConfigMap", m.Name)
			}
			text := o.configMap(t, v.ConfigMap.Name).Data["respond.yaml"]
			env := map[string]string{"SLACK_URL": "https://hooks.example/services/x"}
			cfg, err := respond.Parse("respond.yaml", []byte(text), func(k string) (string, bool) { s, ok := env[k]; return s, ok })
			if err != nil {
				t.Fatalf("respond's loader refuses the rendered configuration: %v\n%s", err, text)
			}
			if len(cfg.Playbooks) != 1 || len(cfg.Playbooks[0].Actions) != len(actions) {
				t.Errorf("playbooks %+v", cfg.Playbooks)
			}
			// What the playbooks need (reading pods to match, the actions' verbs) is granted.
			for k, verbs := range grants(respond.Rules(cfg)) {
				for _, verb := range verbs {
					if !slices.Contains(got[k], verb) {
						t.Errorf("the playbooks need %s on %s, which the ClusterRole lacks", verb, k)
					}
				}
			}
			_, port, _ := strings.Cut(cfg.HTTP.Listen, ":")
			if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return strconv.Itoa(int(p.ContainerPort)) == port }) {
				t.Errorf("the responder listens on %q, not a container port (%+v)", cfg.HTTP.Listen, c.Ports)
			}
		})
	}

	if _, err := Render(chartDir, map[string]any{"responder": map[string]any{"enabled": true}}, testRelease); err == nil ||
		!strings.Contains(err.Error(), "responder.enabled needs responder.config") {
		t.Errorf("responder without config: err = %v", err)
	}
}

// TestManifestsUpToDate keeps deploy/manifests/lanner.yaml equal to the chart rendered with its
// defaults. After changing the chart: go run ./deploy/helm/render (or go test -update).
func TestManifestsUpToDate(t *testing.T) {
	want, err := PlainManifests(chartDir, DefaultRelease)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(manifestsFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(manifestsFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date with the chart: run `go run ./deploy/helm/render` from the repository root", manifestsFile)
	}
	// The plain manifests are themselves valid typed objects (the Namespace aside).
	docs := strings.Split(want, "\n---\n")
	var ms []Manifest
	for _, d := range docs[1:] {
		if strings.Contains(d, "\nkind: Namespace\n") {
			continue
		}
		ms = append(ms, Manifest{Source: manifestsFile, Content: d})
	}
	o := decodeAll(t, ms, DefaultRelease)
	if len(o.daemonSets) != 1 || len(o.configMaps) != 1 {
		t.Errorf("plain manifests: %d DaemonSets, %d ConfigMaps", len(o.daemonSets), len(o.configMaps))
	}
}

// TestAppVersionMatchesBinary: the chart installs the lanner version the code says it is.
func TestAppVersionMatchesBinary(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../../cmd/lanner/version.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var version string
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && vs.Names[0].Name == "version" && len(vs.Values) == 1 {
			if lit, ok := vs.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				version, _ = strconv.Unquote(lit.Value)
			}
		}
		return true
	})
	if version == "" {
		t.Fatal("no string literal `version` in cmd/lanner/version.go")
	}
	if got := chartAppVersion(t); got != version {
		t.Errorf("Chart.yaml appVersion %q, cmd/lanner/version.go version %q", got, version)
	}
}

func TestNotes(t *testing.T) {
	notes, err := Notes(chartDir, map[string]any{"auditWebhook": map[string]any{"enabled": true, "tlsSecret": "x", "tokenSecret": "y"}}, testRelease)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"daemonset/sec-lanner", "port-forward svc/sec-lanner 8765", "webhook-kubeconfig.yaml"} {
		if !strings.Contains(notes, want) {
			t.Errorf("NOTES.txt lacks %q:\n%s", want, notes)
		}
	}
}

// TestDocsValuesExamples renders the chart with each values file docs/deploy.md shows (a yaml
// block whose first line names it, "# my-values.yaml") and loads the result with lanner's and
// the responder's own loaders, so the documented examples keep working.
func TestDocsValuesExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n# ([a-z-]+-values\\.yaml)\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 2 {
		t.Fatalf("found %d values examples in docs/deploy.md, want my-values.yaml and responder-values.yaml", len(blocks))
	}
	for _, b := range blocks {
		t.Run(b[1], func(t *testing.T) {
			t.Setenv("ES_PASSWORD", "from-secret")
			o := render(t, b[2])
			cfg, _ := loadConfig(t, o, nil)
			var want bool
			for _, cm := range o.configMaps {
				if text, ok := cm.Data["respond.yaml"]; ok {
					want = true
					rc, err := respond.Parse("respond.yaml", []byte(text), nil)
					if err != nil {
						t.Fatalf("respond refuses the documented configuration: %v", err)
					}
					// The collector publishes where the responder subscribes.
					if cfg.NATSOutput.Enabled && rc.NATS.URL != cfg.NATSOutput.URL {
						t.Errorf("collector publishes to %s, responder subscribes to %s", cfg.NATSOutput.URL, rc.NATS.URL)
					}
				}
			}
			if strings.Contains(b[2], "responder:") != want {
				t.Error("responder example without a rendered respond.yaml")
			}
		})
	}
}

// TestValuesSchemaRejectsTypos: values.schema.json makes Helm refuse a misspelt or mistyped
// chart value instead of silently ignoring it (lanner's own `config` is checked by lanner).
func TestValuesSchemaRejectsTypos(t *testing.T) {
	for values, want := range map[string]string{
		"privilegd: true":                           "privilegd",
		"responder: {rbac: {deletepod: true}}":      "deletepod",
		"ports: {metrics: http}":                    "metrics",
		"image: {digest: latest}":                   "digest",
		"auditWebhook: {enable: true}":              "enable",
		"customRules: {\"../evil\": \"- list: x\"}": "../evil",
	} {
		vals := map[string]any{}
		if err := yaml.Unmarshal([]byte(values), &vals); err != nil {
			t.Fatal(err)
		}
		_, err := Render(chartDir, vals, testRelease)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want a schema error naming %q", values, err, want)
		}
	}
	// lanner's configuration is lanner's to check: any key passes the chart.
	if _, err := Render(chartDir, map[string]any{"config": map[string]any{"not_a_key": 1}}, testRelease); err != nil {
		t.Errorf("config is free-form for the chart: %v", err)
	}
}

func TestImageAndNames(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	for values, want := range map[string]string{
		"image: {tag: v1.2.3}": "ghcr.io/lannersec/lanner:v1.2.3",
		"image: {repository: reg.example/lanner, digest: " + digest + "}": "reg.example/lanner@" + digest,
	} {
		o := render(t, values+"\nresponder: {enabled: true, config: {nats: {url: \"nats://n:4222\"}}}")
		_, c := o.collector(t)
		if c.Image != want {
			t.Errorf("%s: image %q, want %q", values, c.Image, want)
		}
		if r := o.deployments[0].Spec.Template.Spec.Containers[0].Image; r != want {
			t.Errorf("%s: the responder runs %q, not the collector's image %q", values, r, want)
		}
	}

	o := render(t, "fullnameOverride: sentinel\nresponder: {enabled: true, config: {nats: {url: \"nats://n:4222\"}}}\ncustomRules: {a.yaml: \"- list: x\\n  items: []\\n\"}")
	ds, _ := o.collector(t)
	names := []string{ds.Name, o.deployments[0].Name}
	for _, cm := range o.configMaps {
		names = append(names, cm.Name)
	}
	for _, r := range o.clusterRoles {
		names = append(names, r.Name)
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "sentinel") {
			t.Errorf("object %q ignores fullnameOverride", n)
		}
	}
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && !strings.HasPrefix(v.ConfigMap.Name, "sentinel-") {
			t.Errorf("volume %s refers to ConfigMap %s", v.Name, v.ConfigMap.Name)
		}
	}
}
