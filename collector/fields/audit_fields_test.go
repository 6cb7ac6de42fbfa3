package fields

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/event"
)

// auditEvent builds an audit event from JSON text the way the audit decoder does: Doc decoded
// into generic values, Raw the bytes as given.
func auditEvent(t testing.TB, doc string) *event.Event {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("bad test document: %v\n%s", err, doc)
	}
	return &event.Event{Source: event.SourceK8sAudit, Type: event.AuditEventType, Num: 7,
		Time: 1763632801123456789, Audit: &event.Audit{Doc: m, Raw: []byte(doc)}}
}

// podCreate is a pod creation with three containers that exercise the list rules: container 0 sets
// nothing, container 1 is privileged, container 2 has a registry with a port.
const podCreate = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse",
 "auditID":"0c3e6a4e-1111-4a1b-9b1a-000000000001","stage":"ResponseComplete",
 "requestURI":"/api/v1/namespaces/default/pods?fieldManager=kubectl-client-side-apply&dryRun=All&x=%2Fa%20b",
 "verb":"create",
 "user":{"username":"kubernetes-admin","groups":["system:masters","system:authenticated"]},
 "impersonatedUser":{"username":"bob"},
 "sourceIPs":["172.18.0.1","10.0.0.9"],"userAgent":"kubectl/v1.31.0 (linux/amd64) kubernetes/abc",
 "objectRef":{"resource":"pods","namespace":"default","name":"web","apiVersion":"v1"},
 "responseStatus":{"metadata":{},"code":201},
 "requestObject":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web","namespace":"default"},
  "spec":{"hostNetwork":true,"hostPID":false,
   "securityContext":{"runAsUser":1000,"runAsGroup":3000,"fsGroup":2000,"supplementalGroups":[4000,5000]},
   "volumes":[{"name":"sock","hostPath":{"path":"/var/run/docker.sock","type":"Socket"}},
              {"name":"cfg","configMap":{"name":"cfg"}},
              {"name":"flex","flexVolume":{"driver":"example/lvm"}},
              {"name":"root","hostPath":{"path":"/"}}],
   "containers":[
    {"name":"app","image":"nginx:1.25","command":["sh","-c","sleep 1"],"ports":[{"containerPort":80}]},
    {"name":"priv","image":"docker.io/library/busybox@sha256:abcd","args":["--verbose"],
     "securityContext":{"privileged":true,"allowPrivilegeEscalation":true,"readOnlyRootFilesystem":false,
      "runAsUser":0,"runAsGroup":0,"procMount":"Unmasked","capabilities":{"add":["NET_ADMIN","SYS_TIME"]}},
     "ports":[{"containerPort":8080,"hostPort":18080},{"containerPort":9090}]},
    {"name":"reg","image":"myreg:5000/team/app:1.0","securityContext":{"privileged":false}}],
   "initContainers":[{"name":"init","image":"alpine:3.20","securityContext":{"privileged":true}}]}},
 "responseObject":{"kind":"Pod","metadata":{"name":"web-generated","namespace":"default"}},
 "requestReceivedTimestamp":"2026-11-20T10:00:01.000000Z","stageTimestamp":"2026-11-20T10:00:01.123456Z",
 "annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"admin\"",
  "pod-security.kubernetes.io/audit-violations":"privileged (container \"priv\" must not set securityContext.privileged=true)",
  "cluster_name":"prod-1"}}`

// bindingCreate carries subjects whose keys are not in sorted order, so rendering must keep input order.
const bindingCreate = `{"kind":"Event","auditID":"b1","stage":"ResponseComplete","verb":"create",
 "requestURI":"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
 "user":{"username":"kubernetes-admin"},
 "objectRef":{"resource":"clusterrolebindings","name":"pwn","apiGroup":"rbac.authorization.k8s.io"},
 "responseStatus":{"code":201},
 "requestObject":{"kind":"ClusterRoleBinding","metadata":{"name":"pwn"},
  "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},
  "subjects":[{"kind":"User","name":"mallory","apiGroup":"rbac.authorization.k8s.io"},
              {"kind":"ServiceAccount","name":"builder","namespace":"ci"},
              {"kind":"ServiceAccount","name":"orphan"},
              {"kind":"Group","name":"devs","apiGroup":"rbac.authorization.k8s.io"}]},
 "stageTimestamp":"2026-11-20T10:00:02Z"}`

const roleCreate = `{"kind":"Event","auditID":"r1","stage":"ResponseComplete","verb":"create",
 "user":{"username":"kubernetes-admin"},
 "objectRef":{"resource":"clusterroles","name":"ops"},
 "requestObject":{"kind":"ClusterRole","metadata":{"name":"ops"},
  "rules":[{"verbs":["get","list"],"apiGroups":[""],"resources":["pods","pods/exec"]},
           {"verbs":["get","*"],"apiGroups":["apps"],"resources":["deployments"]},
           {"verbs":["get"],"nonResourceURLs":["/metrics"]}]},
 "stageTimestamp":"2026-11-20T10:00:03Z"}`

const execPod = `{"kind":"Event","auditID":"e1","stage":"ResponseStarted","verb":"create",
 "requestURI":"/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=id%3Bls&container=app&stdin=true",
 "user":{"username":"kubernetes-admin","groups":[]},
 "objectRef":{"resource":"pods","namespace":"default","name":"web","subresource":"exec"},
 "responseObject":{"metadata":{"name":"web"}},
 "responseStatus":{"code":101},
 "requestObject":{"spec":{"ports":[{"port":80,"protocol":"TCP","nodePort":30080}],"type":"NodePort"},"data":{"b":"password=1","a":"<x>"}},
 "stageTimestamp":"2026-11-20T10:00:04Z"}`

const notAudit = `{"kind":"Event","stage":"ResponseComplete","user":{"username":"x"},"objectRef":{"resource":"pods"},
 "a/b":{"c~d":["zero","one",{"k":true}]}}`

type fieldCase struct {
	doc, field, arg string
	hasArg          bool
	want            []string // nil: not available; one element for scalar fields
}

func resolveValue(t *testing.T, r *Registry, e *event.Event, name, arg string, hasArg bool) ([]string, bool, *Extractor) {
	t.Helper()
	x, err := r.Resolve(event.SourceK8sAudit, name, arg, hasArg)
	if err != nil {
		t.Fatalf("resolve %s[%s]: %v", name, arg, err)
	}
	switch {
	case x.List:
		vs, ok := x.Strs(e, nil)
		return vs, ok, x
	case x.Str != nil:
		s, ok := x.Str(e)
		return []string{s}, ok, x
	}
	t.Fatalf("%s: no string extractor", name)
	return nil, false, nil
}

func TestAuditFieldValues(t *testing.T) {
	r := NewRegistry()
	cases := []fieldCase{
		{podCreate, "ka.auditid", "", false, []string{"0c3e6a4e-1111-4a1b-9b1a-000000000001"}},
		{podCreate, "ka.stage", "", false, []string{"ResponseComplete"}},
		{podCreate, "ka.auth.decision", "", false, []string{"allow"}},
		{podCreate, "ka.auth.reason", "", false, []string{`RBAC: allowed by ClusterRoleBinding "admin"`}},
		{podCreate, "ka.auth.openshift.decision", "", false, nil},
		{podCreate, "ka.auth.openshift.username", "", false, nil},
		{podCreate, "ka.validations.admission.policy.failure", "", false, nil},
		{podCreate, "ka.security.pod.violations", "", false, []string{`privileged (container "priv" must not set securityContext.privileged=true)`}},
		{podCreate, "ka.cluster.name", "", false, []string{"prod-1"}},
		{podCreate, "ka.user.name", "", false, []string{"kubernetes-admin"}},
		{podCreate, "ka.user.groups", "", false, []string{"system:masters", "system:authenticated"}},
		{execPod, "ka.user.groups", "", false, nil}, // empty list: not available
		{podCreate, "ka.impuser.name", "", false, []string{"bob"}},
		{execPod, "ka.impuser.name", "", false, nil},
		{podCreate, "ka.verb", "", false, []string{"create"}},
		{podCreate, "ka.uri", "", false, []string{"/api/v1/namespaces/default/pods?fieldManager=kubectl-client-side-apply&dryRun=All&x=%2Fa%20b"}},
		{podCreate, "ka.uri.param", "dryRun", true, []string{"All"}},
		{podCreate, "ka.uri.param", "x", true, []string{"/a b"}},
		{podCreate, "ka.uri.param", "nope", true, nil},
		{execPod, "ka.uri.param", "command", true, []string{"sh"}},
		{execPod, "ka.uri.param", "container", true, []string{"app"}},
		{podCreate, "ka.target.name", "", false, []string{"web"}},
		{podCreate, "ka.target.namespace", "", false, []string{"default"}},
		{bindingCreate, "ka.target.namespace", "", false, nil},
		{podCreate, "ka.target.resource", "", false, []string{"pods"}},
		{podCreate, "ka.target.subresource", "", false, nil},
		{execPod, "ka.target.subresource", "", false, []string{"exec"}},
		{podCreate, "ka.target.pod.name", "", false, []string{"web-generated"}},
		{execPod, "ka.target.pod.name", "", false, nil}, // subresource set
		{bindingCreate, "ka.target.pod.name", "", false, nil},
		{bindingCreate, "ka.req.binding.subjects", "", false, []string{
			`{"kind":"User","name":"mallory","apiGroup":"rbac.authorization.k8s.io"}`,
			`{"kind":"ServiceAccount","name":"builder","namespace":"ci"}`,
			`{"kind":"ServiceAccount","name":"orphan"}`,
			`{"kind":"Group","name":"devs","apiGroup":"rbac.authorization.k8s.io"}`}},
		{bindingCreate, "ka.req.binding.subjects.user_names", "", false, []string{"mallory"}},
		{bindingCreate, "ka.req.binding.subjects.serviceaccount_names", "", false, []string{"builder", "orphan"}},
		{bindingCreate, "ka.req.binding.subjects.serviceaccount_ns_names", "", false, []string{"ci:builder"}},
		{bindingCreate, "ka.req.binding.subjects.group_names", "", false, []string{"devs"}},
		{podCreate, "ka.req.binding.subjects.group_names", "", false, nil},
		{bindingCreate, "ka.req.binding.role", "", false, []string{"cluster-admin"}},
		{podCreate, "ka.req.binding.role", "", false, nil},
		{podCreate, "ka.req.binding.subject.has_name", "anything", true, []string{"true"}},
		{bindingCreate, "ka.req.configmap.name", "", false, []string{"pwn"}},
		{execPod, "ka.req.configmap.obj", "", false, []string{`{"b":"password=1","a":"<x>"}`}},
		{podCreate, "ka.req.configmap.obj", "", false, nil},

		// Containers.
		{podCreate, "ka.req.pod.containers.name", "", false, []string{"app", "priv", "reg"}},
		{podCreate, "ka.req.pod.containers.name", "1", true, []string{"priv"}},
		{podCreate, "ka.req.pod.containers.name", "3", true, nil},
		{podCreate, "ka.req.pod.containers.image", "", false, []string{"nginx:1.25", "docker.io/library/busybox@sha256:abcd", "myreg:5000/team/app:1.0"}},
		{podCreate, "ka.req.pod.containers.image.repository", "", false, []string{"nginx", "docker.io/library/busybox", "myreg"}},
		{podCreate, "ka.req.pod.containers.image.repository", "2", true, []string{"myreg"}},
		{podCreate, "ka.req.container.image", "", false, []string{"nginx:1.25"}},
		{podCreate, "ka.req.container.image.repository", "", false, []string{"nginx"}},
		{execPod, "ka.req.container.image", "", false, nil},
		{podCreate, "ka.req.pod.containers.command", "", false, []string{"sh -c sleep 1"}},
		{podCreate, "ka.req.pod.containers.args", "", false, []string{"--verbose"}},
		{podCreate, "ka.req.pod.containers.args", "0", true, nil},
		{podCreate, "ka.req.pod.containers.privileged", "", false, []string{"true", "false"}},
		{podCreate, "ka.req.pod.containers.privileged", "0", true, nil},
		{podCreate, "ka.req.pod.containers.privileged", "1", true, []string{"true"}},
		{podCreate, "ka.req.container.privileged", "", false, []string{"true"}},
		{bindingCreate, "ka.req.container.privileged", "", false, nil},
		{podCreate, "ka.req.pod.containers.allow_privilege_escalation", "", false, []string{"true"}},
		{podCreate, "ka.req.pod.containers.read_only_fs", "", false, []string{"false"}},
		{podCreate, "ka.req.pod.containers.run_as_user", "", false, []string{"0"}},
		{podCreate, "ka.req.pod.containers.run_as_group", "", false, []string{"0"}},
		{podCreate, "ka.req.pod.containers.eff_run_as_user", "", false, []string{"0", "0", "0"}},
		{podCreate, "ka.req.pod.containers.eff_run_as_group", "", false, []string{"0", "0", "0"}},
		// With an index the plugin walks straight to the (missing) key and gives up.
		{podCreate, "ka.req.pod.containers.eff_run_as_user", "1", true, nil},
		{podCreate, "ka.req.pod.containers.proc_mount", "", false, []string{"Unmasked"}},
		{podCreate, "ka.req.pod.containers.add_capabilities", "", false, []string{`["NET_ADMIN","SYS_TIME"]`}},
		{podCreate, "ka.req.pod.containers.host_port", "", false, []string{"80", "18080", "9090"}},
		{podCreate, "ka.req.pod.containers.host_port", "1", true, []string{"18080", "9090"}},
		{podCreate, "ka.req.pod.initContainers.name", "", false, []string{"init"}},
		{podCreate, "ka.req.pod.initContainers.image.repository", "", false, []string{"alpine"}},
		{podCreate, "ka.req.pod.initContainers.privileged", "", false, []string{"true"}},
		{podCreate, "ka.req.pod.initContainers.host_port", "", false, nil},
		{podCreate, "ka.req.pod.ephemeralContainers.privileged", "", false, nil},
		{podCreate, "ka.req.pod.ephemeralContainers.image", "", false, nil},

		// Pod level.
		{podCreate, "ka.req.pod.host_network", "", false, []string{"true"}},
		{podCreate, "ka.req.container.host_network", "", false, []string{"true"}},
		{podCreate, "ka.req.pod.host_pid", "", false, []string{"false"}},
		{podCreate, "ka.req.pod.host_ipc", "", false, nil},
		{podCreate, "ka.req.pod.run_as_user", "", false, []string{"1000"}},
		{podCreate, "ka.req.pod.run_as_group", "", false, []string{"3000"}},
		{podCreate, "ka.req.pod.fs_group", "", false, []string{"2000"}},
		{podCreate, "ka.req.pod.supplemental_groups", "", false, []string{"4000", "5000"}},
		{podCreate, "ka.req.pod.volumes.hostpath", "", false, []string{"/var/run/docker.sock", "/"}},
		{podCreate, "ka.req.pod.volumes.hostpath", "1", true, nil},
		{podCreate, "ka.req.pod.volumes.hostpath", "3", true, []string{"/"}},
		{podCreate, "ka.req.volume.hostpath", "/var/run/docker.sock", true, []string{"true"}},
		{podCreate, "ka.req.volume.hostpath", "/var/run/*", true, []string{"true"}},
		{podCreate, "ka.req.volume.hostpath", "/", true, []string{"false"}}, // only volumes[0] is examined
		{podCreate, "ka.req.pod.volumes.flexvolume_driver", "", false, []string{"example/lvm"}},
		{podCreate, "ka.req.pod.volumes.volume_type", "", false, []string{"hostPath", "configMap", "flexVolume", "hostPath"}},
		{podCreate, "ka.req.pod.volumes.volume_type", "2", true, []string{"flexVolume"}},

		// Services, RBAC.
		{execPod, "ka.req.service.type", "", false, []string{"NodePort"}},
		{execPod, "ka.req.service.ports", "", false, []string{`[{"port":80,"protocol":"TCP","nodePort":30080}]`}},
		{execPod, "ka.req.service.ports", "5", true, []string{`[{"port":80,"protocol":"TCP","nodePort":30080}]`}},
		{roleCreate, "ka.req.role.rules", "", false, []string{
			`{"verbs":["get","list"],"apiGroups":[""],"resources":["pods","pods/exec"]}`,
			`{"verbs":["get","*"],"apiGroups":["apps"],"resources":["deployments"]}`,
			`{"verbs":["get"],"nonResourceURLs":["/metrics"]}`}},
		{roleCreate, "ka.req.role.rules.verbs", "", false, []string{"get", "list", "get", "*", "get"}},
		{roleCreate, "ka.req.role.rules.verbs", "1", true, []string{"get", "*"}},
		{roleCreate, "ka.req.role.rules.verbs", "3", true, nil},
		{roleCreate, "ka.req.role.rules.resources", "", false, []string{"pods", "pods/exec", "deployments"}},
		{roleCreate, "ka.req.role.rules.apiGroups", "", false, []string{"", "apps"}},
		{roleCreate, "ka.req.role.rules.nonResourceURLs", "", false, []string{"/metrics"}},
		{roleCreate, "ka.req.role.rules.nonResourceURLs", "0", true, nil},

		// Response and client.
		{podCreate, "ka.resp.name", "", false, []string{"web-generated"}},
		{podCreate, "ka.response.code", "", false, []string{"201"}},
		{podCreate, "ka.response.reason", "", false, nil},
		{podCreate, "ka.useragent", "", false, []string{"kubectl/v1.31.0 (linux/amd64) kubernetes/abc"}},
		{podCreate, "ka.sourceips", "", false, []string{"172.18.0.1", "10.0.0.9"}},
		{podCreate, "ka.sourceips", "1", true, []string{"10.0.0.9"}},

		// Documents without auditID are not k8s audit events to the ka.* fields.
		{notAudit, "ka.user.name", "", false, nil},
		{notAudit, "ka.target.resource", "", false, nil},

		// json.* / jevt.*.
		{podCreate, "jevt.value", "/stage", true, []string{"ResponseComplete"}},
		{podCreate, "json.value", "stage", true, []string{"ResponseComplete"}},
		{podCreate, "jevt.value", "/responseStatus/code", true, []string{"201"}},
		{podCreate, "jevt.value", "/requestObject/spec/hostNetwork", true, []string{"true"}},
		{podCreate, "jevt.value", "/requestObject/spec/containers/1/name", true, []string{"priv"}},
		{podCreate, "jevt.value", "/requestObject/spec/containers/9/name", true, nil},
		{podCreate, "jevt.value", "/requestObject/spec/tls", true, nil},
		{podCreate, "jevt.value", "/annotations/authorization.k8s.io~1decision", true, []string{"allow"}},
		{podCreate, "jevt.value", "/responseStatus", true, []string{`{"metadata":{},"code":201}`}},
		{podCreate, "jevt.value", "/requestObject/spec/volumes/0", true, []string{`{"name":"sock","hostPath":{"path":"/var/run/docker.sock","type":"Socket"}}`}},
		{notAudit, "jevt.value", "/a~1b/c~0d/2/k", true, []string{"true"}},
		{notAudit, "jevt.value", "/a~1b/c~0d/1", true, []string{"one"}},
		{notAudit, "jevt.value", "/a~1b/c~0d/-1", true, nil},
		{notAudit, "jevt.value", "/user", true, []string{`{"username":"x"}`}},
		{podCreate, "jevt.rawtime", "", false, []string{"1763632801123456789"}},
		{podCreate, "json.rawtime", "", false, []string{"1763632801123456789"}},
		{podCreate, "jevt.time.iso8601", "", false, []string{"2025-11-20T10:00:01.123456789+0000"}},
		{podCreate, "evt.source", "", false, []string{"k8s_audit"}},
		{podCreate, "evt.pluginname", "", false, []string{"k8saudit"}},
	}
	for _, tc := range cases {
		name := tc.field
		if tc.hasArg {
			name += "[" + tc.arg + "]"
		}
		t.Run(name, func(t *testing.T) {
			e := auditEvent(t, tc.doc)
			got, ok, _ := resolveValue(t, r, e, tc.field, tc.arg, tc.hasArg)
			if tc.want == nil {
				if ok {
					t.Fatalf("got %q, want not available", got)
				}
				return
			}
			if !ok {
				t.Fatalf("not available, want %q", tc.want)
			}
			if strings.Join(got, "\x00") != strings.Join(tc.want, "\x00") || len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAuditFieldsBuild resolves every field of the source with a typical argument and checks the
// inventory: the 100 ka.* fields of k8saudit 0.18, the json plugin's 6 and the generic evt.* ones.
func TestAuditFieldsBuild(t *testing.T) {
	r := NewRegistry()
	e := auditEvent(t, podCreate)
	empty := &event.Event{Source: event.SourceK8sAudit}
	var ka, js, lists int
	for _, f := range r.Fields(event.SourceK8sAudit) {
		arg, hasArg := "", false
		switch {
		case f.Has(ArgRequired):
			arg, hasArg = "/stage", true
		case f.Has(ArgIndex):
			arg, hasArg = "0", true
		}
		for _, withArg := range []bool{false, true} {
			if withArg && !hasArg || !withArg && f.Has(ArgRequired) {
				continue
			}
			a := ""
			if withArg {
				a = arg
			}
			x, err := r.Resolve(event.SourceK8sAudit, f.Name, a, withArg)
			if err != nil {
				t.Errorf("%s: %v", f.Name, err)
				continue
			}
			if x.List != f.Has(IsList) {
				t.Errorf("%s: extractor List=%v but field IsList=%v", f.Name, x.List, f.Has(IsList))
			}
			// Every extractor must cope with a full event and with an event without a document.
			for _, ev := range []*event.Event{e, empty} {
				switch {
				case x.List:
					_, _ = x.Strs(ev, nil)
				case x.Str != nil:
					_, _ = x.Str(ev)
				case x.Num != nil:
					_, _ = x.Num(ev)
				default:
					t.Errorf("%s: no extractor function", f.Name)
				}
			}
		}
		if f.Desc == "" {
			t.Errorf("%s: no description", f.Name)
		}
		switch {
		case strings.HasPrefix(f.Name, "ka."):
			ka++
			if f.Type != TypeCharBuf {
				t.Errorf("%s: type %s, want CHARBUF", f.Name, f.Type)
			}
		case strings.HasPrefix(f.Name, "json."), strings.HasPrefix(f.Name, "jevt."):
			js++
		}
		if f.Has(IsList) {
			lists++
		}
	}
	if ka != 100 {
		t.Errorf("%d ka.* fields, want 100", ka)
	}
	if js != 8 { // json.{value,obj,rawtime}, jevt.{value,obj,rawtime,time,time.iso8601}
		t.Errorf("%d json./jevt. fields, want 8", js)
	}
	if lists != 61 {
		t.Errorf("%d list fields, want 61", lists)
	}
}

func TestAuditFieldArgs(t *testing.T) {
	r := NewRegistry()
	cases := []struct {
		name, arg string
		hasArg    bool
		wantErr   string // empty: must resolve
	}{
		{"ka.req.pod.containers.image", "0", true, ""},
		{"ka.req.pod.containers.image", "12", true, ""},
		{"ka.req.pod.containers.image", "01", true, "leading zeros"},
		{"ka.req.pod.containers.image", "-1", true, "decimal"},
		{"ka.req.pod.containers.image", "x", true, "decimal"},
		{"ka.req.pod.containers.image", "", true, "decimal"},
		{"ka.user.name", "0", true, "does not take an argument"},
		{"ka.user.groups", "0", true, "does not take an argument"},
		{"ka.uri.param", "", false, "requires an argument"},
		{"ka.uri.param", "command", true, ""},
		{"ka.uri.param.command", "", false, ""}, // dotted key form
		{"jevt.value", "", false, "requires an argument"},
		{"jevt.value", "/objectRef/resource", true, ""},
		{"ka.req.volume.hostpath", "", true, "host path"},
		{"ka.req.volume.hostpath", "/etc*", true, ""},
		{"ka.no.such.field", "", false, "unknown field"},
		{"jevt.obj", "x", true, "does not take an argument"},
	}
	for _, tc := range cases {
		_, err := r.Resolve(event.SourceK8sAudit, tc.name, tc.arg, tc.hasArg)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s[%s]: unexpected error %v", tc.name, tc.arg, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s[%s]: error %v, want one containing %q", tc.name, tc.arg, err, tc.wantErr)
		}
	}
}

func TestAuditFieldRendering(t *testing.T) {
	r := NewRegistry(WithLocation(time.UTC), WithHostname("node-1"))
	e := auditEvent(t, bindingCreate)
	cases := []struct {
		name, arg string
		hasArg    bool
		text      string
		json      any
	}{
		{"ka.req.binding.subjects.serviceaccount_names", "", false, "(builder,orphan)", []any{"builder", "orphan"}},
		{"ka.req.binding.role", "", false, "cluster-admin", "cluster-admin"},
		{"jevt.rawtime", "", false, "1763632801123456789", "1763632801123456789"},
		{"evt.rawtime", "", false, "1763632801123456789", int64(1763632801123456789)},
		// evt.time.iso8601 is the syscall source's definition, shared.
		{"evt.time.iso8601", "", false, FormatISO8601(1763632801123456789), int64(1763632801123456789)},
		{"evt.num", "", false, "7", uint64(7)},
		{"evt.time", "", false, "10:00:01.123456789", int64(1763632801123456789)},
		{"evt.hostname", "", false, "node-1", "node-1"},
		{"evt.source", "", false, "k8s_audit", "k8s_audit"},
	}
	for _, tc := range cases {
		x, err := r.Resolve(event.SourceK8sAudit, tc.name, tc.arg, tc.hasArg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		text, ok := x.Render(e)
		if !ok || text != tc.text {
			t.Errorf("%s text = %q (%v), want %q", tc.name, text, ok, tc.text)
		}
		j, ok := x.RenderJSON(e)
		gotJ, _ := json.Marshal(j)
		wantJ, _ := json.Marshal(tc.json)
		if !ok || string(gotJ) != string(wantJ) {
			t.Errorf("%s json = %s (%v), want %s", tc.name, gotJ, ok, wantJ)
		}
	}
	// A missing value renders as not available; the formatter prints <NA>.
	x, err := r.Resolve(event.SourceK8sAudit, "ka.req.pod.containers.image", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := x.Render(e); ok {
		t.Errorf("images of a binding rendered as %q, want not available", s)
	}
}

func TestJevtObj(t *testing.T) {
	r := NewRegistry()
	x, err := r.Resolve(event.SourceK8sAudit, "jevt.obj", "", false)
	if err != nil {
		t.Fatal(err)
	}
	e := auditEvent(t, `{"kind":"Event", "auditID":"a","z":[1,{"y":null}]}`)
	got, ok := x.Str(e)
	want := "{\n  \"kind\": \"Event\",\n  \"auditID\": \"a\",\n  \"z\": [\n    1,\n    {\n      \"y\": null\n    }\n  ]\n}"
	if !ok || got != want {
		t.Errorf("jevt.obj = %q, want %q", got, want)
	}
	// Without the raw bytes the document is rendered from Doc (keys sorted).
	e.Audit.Raw = nil
	got, ok = x.Str(e)
	want = "{\n  \"auditID\": \"a\",\n  \"kind\": \"Event\",\n  \"z\": [\n    1,\n    {\n      \"y\": null\n    }\n  ]\n}"
	if !ok || got != want {
		t.Errorf("jevt.obj without Raw = %q, want %q", got, want)
	}
}

func TestRawIndex(t *testing.T) {
	raw := ` {"a" : {"b":[1, "x\"]", {"c":2}], "b2":true}, "e\u0041":3, "a":{"b":[9]}} `
	e := &event.Event{Num: 1, Audit: &event.Audit{Raw: []byte(raw)}}
	cases := []struct {
		path jPath
		want string
		ok   bool
	}{
		{jPath{"a", "b", 0}, "9", true}, // duplicate key: the last one, as encoding/json keeps
		{jPath{"eA"}, "3", true},
		{jPath{"nope"}, "", false},
		{jPath{"a", "b", 1}, "", false},
		{jPath{"a", 0}, "", false},
		{jPath{}, raw[1 : len(raw)-1], true},
	}
	var x jRawIndex
	for _, tc := range cases {
		got, ok := x.span(e, tc.path)
		if ok != tc.ok || string(got) != tc.want {
			t.Errorf("span(%v) = %q, %v; want %q, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
	keys, ok := x.keys(e, jPath{})
	if !ok || strings.Join(keys, ",") != "a,eA" {
		t.Errorf("keys = %q, %v", keys, ok)
	}
	// A new event in the same buffer position must not reuse the old index.
	e2 := &event.Event{Num: 2, Audit: &event.Audit{Raw: []byte(`{"eA":"new"}`)}}
	if got, ok := x.span(e2, jPath{"eA"}); !ok || string(got) != `"new"` {
		t.Errorf("after a new event span = %q, %v", got, ok)
	}
}

// FuzzAuditFields runs every k8s_audit extractor over arbitrary JSON objects: whatever shape a
// webhook body has, extraction must answer (value or not available), never panic.
func FuzzAuditFields(f *testing.F) {
	for _, s := range []string{podCreate, bindingCreate, roleCreate, execPod, notAudit,
		`{"auditID":1,"requestObject":{"spec":{"containers":{"image":3},"volumes":[[{"hostPath":{"path":"/"}}]]},"rules":[[["*"]]],"subjects":[1,{"kind":"User"}]}}`,
		`{"auditID":null,"requestObject":[{"op":"add"}],"user":{"groups":"x"},"requestURI":"%zz?a=%zz"}`} {
		f.Add([]byte(s))
	}
	r := NewRegistry()
	type ex struct{ x *Extractor }
	var xs []ex
	for _, fl := range r.Fields(event.SourceK8sAudit) {
		args := []struct {
			a string
			h bool
		}{{"", false}}
		switch {
		case fl.Has(ArgRequired):
			args = []struct {
				a string
				h bool
			}{{"/requestObject/spec/containers/0", true}, {"", true}, {"command", true}, {"/*", true}}
		case fl.Has(ArgIndex):
			args = append(args, struct {
				a string
				h bool
			}{"0", true}, struct {
				a string
				h bool
			}{"1", true})
		}
		for _, a := range args {
			if x, err := r.Resolve(event.SourceK8sAudit, fl.Name, a.a, a.h); err == nil {
				xs = append(xs, ex{x})
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m map[string]any
		if json.Unmarshal(data, &m) != nil || m == nil {
			return
		}
		e := &event.Event{Source: event.SourceK8sAudit, Num: 1, Time: 1, Audit: &event.Audit{Doc: m, Raw: data}}
		for _, x := range xs {
			if x.x.List {
				_, _ = x.x.Strs(e, nil)
			} else if x.x.Str != nil {
				_, _ = x.x.Str(e)
			}
			_, _ = x.x.Render(e)
			_, _ = x.x.RenderJSON(e)
		}
	})
}
