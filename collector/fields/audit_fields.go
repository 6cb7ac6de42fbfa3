package fields

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/lannersec/lanner/collector/event"
)

// The k8s_audit source has the fields of Falco's k8saudit plugin (ka.*), of its json plugin
// (json.*, with the jevt.* aliases) and the generic evt.* fields every plugin source has.
//
// Every ka.* field is a string or a list of strings read from the audit Event document, with the
// plugin's rules for what is missing: extraction that fails, finds nothing or yields an empty
// list makes the field unavailable, and every comparison on it is false. Several fields keep the
// plugin's surprising behaviour on purpose (k8saudit.md §7): rules written against Falco must
// decide the same way here. The one deliberate difference is ka.sourceips (see its description).

// auditFields returns the built-in fields of the k8s_audit source.
func auditFields(c *config) []*Field {
	var fs []*Field
	fs = append(fs, kaFields()...)
	fs = append(fs, kaContainerFields("containers", "containers", true)...)
	fs = append(fs, kaContainerFields("initContainers", "init containers", true)...)
	fs = append(fs, kaContainerFields("ephemeralContainers", "ephemeral containers", false)...)
	fs = append(fs, jsonFields()...)
	fs = append(fs, auditEvtFields(c)...)
	return fs
}

// kaArgKind is the argument a ka.* field takes.
type kaArgKind uint8

const (
	kaArgNone  kaArgKind = iota
	kaArgIndex           // optional decimal index
	kaArgKey             // required key
)

func (a kaArgKind) flags() Flags {
	switch a {
	case kaArgIndex:
		return ArgAllowed | ArgIndex
	case kaArgKey:
		return ArgRequired | ArgAllowed | ArgKey
	}
	return 0
}

// auditDoc returns the document of an audit event, or false when the event has none or is not an
// audit event at all: the k8saudit plugin refuses documents without a top-level auditID.
func auditDoc(e *event.Event) (map[string]any, bool) {
	if e.Audit == nil || e.Audit.Doc == nil {
		return nil, false
	}
	if _, ok := e.Audit.Doc["auditID"]; !ok {
		return nil, false
	}
	return e.Audit.Doc, true
}

// kaStrFn reads one string value; kaListFn appends values to dst. Both report availability.
type (
	kaStrFn  func(d *jDoc) (string, bool)
	kaListFn func(d *jDoc, idx int, dst []string) ([]string, bool)
)

// kaStr defines a single-valued field.
func kaStr(name, desc string, fn kaStrFn) *Field {
	return &Field{
		Name: name, Source: event.SourceK8sAudit, Type: TypeCharBuf, Desc: desc,
		Build: func(string, bool) (*Extractor, error) {
			d := &jDoc{}
			return &Extractor{Type: TypeCharBuf, Str: func(e *event.Event) (string, bool) {
				if !d.reset(e, true) {
					return "", false
				}
				return fn(d)
			}}, nil
		},
	}
}

// kaKeyStr defines a single-valued field that needs a key argument; check validates the key.
func kaKeyStr(name, desc, argDesc string, check func(key string) error, fn func(d *jDoc, key string) (string, bool)) *Field {
	return &Field{
		Name: name, Source: event.SourceK8sAudit, Type: TypeCharBuf, Flags: kaArgKey.flags(), Desc: desc, ArgDesc: argDesc,
		Build: func(arg string, _ bool) (*Extractor, error) {
			if check != nil {
				if err := check(arg); err != nil {
					return nil, err
				}
			}
			d := &jDoc{}
			return &Extractor{Type: TypeCharBuf, Str: func(e *event.Event) (string, bool) {
				if !d.reset(e, true) {
					return "", false
				}
				return fn(d, arg)
			}}, nil
		},
	}
}

// kaList defines a list field. With arg == kaArgIndex an optional [i] restricts the walk to element
// i of the arrays it crosses; fn receives -1 without an index.
func kaList(name, desc string, arg kaArgKind, fn kaListFn) *Field {
	argDesc := ""
	if arg == kaArgIndex {
		argDesc = "optional index: only element i of the array walked"
	}
	return &Field{
		Name: name, Source: event.SourceK8sAudit, Type: TypeCharBuf, Flags: IsList | arg.flags(), Desc: desc, ArgDesc: argDesc,
		Build: func(a string, hasArg bool) (*Extractor, error) {
			idx := -1
			if hasArg {
				n, err := kaParseIndex(a)
				if err != nil {
					return nil, err
				}
				idx = n
			}
			d := &jDoc{}
			strs := func(e *event.Event, dst []string) ([]string, bool) {
				if !d.reset(e, true) {
					return dst, false
				}
				n := len(dst)
				var ok bool
				dst, ok = fn(d, idx, dst)
				// An empty list is "not available" to Falco: no comparison can hold on it.
				return dst, ok && len(dst) > n
			}
			return listExtractor(strs), nil
		},
	}
}

// listExtractor makes the extractor of a list field. Rendering is the registry's generic list
// rendering, "(a,b,c)" in text and an array in JSON, which is how Falco prints plugin lists.
func listExtractor(strs func(e *event.Event, dst []string) ([]string, bool)) *Extractor {
	return &Extractor{Type: TypeCharBuf, List: true, Strs: strs}
}

var errKaBadIndex = errors.New("index must be a decimal number without leading zeros")

// kaParseIndex accepts what libsinsp accepts as an index argument: decimal digits, no sign, no
// leading zero.
func kaParseIndex(s string) (int, error) {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%q: %w", s, errKaBadIndex)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q: %w", s, errKaBadIndex)
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, nil
}

// pathStr reads the value at keys as a field string (raw text for strings, compact JSON otherwise).
func pathStr(keys ...string) kaStrFn {
	path := make(jPath, len(keys))
	for i, k := range keys {
		path[i] = k
	}
	return func(d *jDoc) (string, bool) {
		v, ok := jLookup(d.doc, keys...)
		if !ok {
			return "", false
		}
		return d.text(v, path), true
	}
}

// pathList reads the array at keys, one value per element. Anything but an array is an extraction
// error in the plugin, so the field is unavailable.
func pathList(keys ...string) kaListFn {
	path := make(jPath, len(keys))
	for i, k := range keys {
		path[i] = k
	}
	return func(d *jDoc, _ int, dst []string) ([]string, bool) {
		v, ok := jLookup(d.doc, keys...)
		if !ok {
			return dst, false
		}
		arr, ok := v.([]any)
		if !ok {
			return dst, false
		}
		for i, el := range arr {
			dst = append(dst, d.text(el, path.with(i)))
		}
		return dst, true
	}
}

// leavesSkipMissing walks keys (see jWalk) and keeps the leaves that exist.
func leavesSkipMissing(keys ...string) kaListFn {
	return func(d *jDoc, idx int, dst []string) ([]string, bool) {
		leaves, ok := jWalk(d.doc, idx, keys, nil, nil)
		if !ok {
			return dst, false
		}
		for _, l := range leaves {
			if l.ok {
				dst = append(dst, d.text(l.v, l.path))
			}
		}
		return dst, true
	}
}

// leavesStrict walks keys and fails when an element lacks the jLeaf (container names and images:
// the plugin errors out on a container without one).
func leavesStrict(keys ...string) kaListFn {
	return func(d *jDoc, idx int, dst []string) ([]string, bool) {
		leaves, ok := jWalk(d.doc, idx, keys, nil, nil)
		if !ok {
			return dst, false
		}
		n := len(dst)
		for _, l := range leaves {
			if !l.ok {
				return dst[:n], false
			}
			dst = append(dst, d.text(l.v, l.path))
		}
		return dst, true
	}
}

// kaImageRepository cuts an image reference the plugin's way: at the first ':' and then at the
// first '@'. "myreg:5000/app:1" gives "myreg"; compatibility wins over correctness here.
func kaImageRepository(image string) string {
	if i := strings.IndexByte(image, ':'); i >= 0 {
		image = image[:i]
	}
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	return image
}

// subjectsOfKind lists binding subjects of one kind, rendered by render.
func subjectsOfKind(kind string, render func(subj map[string]any) (string, bool)) kaListFn {
	return func(d *jDoc, _ int, dst []string) ([]string, bool) {
		v, ok := jLookup(d.doc, "requestObject", "subjects")
		if !ok {
			return dst, false
		}
		arr, ok := v.([]any)
		if !ok {
			return dst, false
		}
		for _, el := range arr {
			subj, ok := el.(map[string]any)
			if !ok {
				continue
			}
			if k, _ := subj["kind"].(string); k != kind {
				continue
			}
			if s, ok := render(subj); ok {
				dst = append(dst, s)
			}
		}
		return dst, true
	}
}

func subjectName(subj map[string]any) (string, bool) {
	s, ok := subj["name"].(string)
	return s, ok
}

// roleRulesField flattens one array member of every RBAC rule (verbs, resources...).
func roleRulesField(key string) kaListFn {
	return func(d *jDoc, idx int, dst []string) ([]string, bool) {
		leaves, ok := jWalk(d.doc, idx, []string{"requestObject", "rules", key}, nil, nil)
		if !ok {
			return dst, false
		}
		for _, l := range leaves {
			arr, isArr := l.v.([]any)
			if !l.ok || !isArr {
				continue
			}
			for i, el := range arr {
				dst = append(dst, d.text(el, l.path.with(i)))
			}
		}
		return dst, true
	}
}

func kaFields() []*Field {
	ann := func(key string) kaStrFn { return pathStr("annotations", key) }
	return []*Field{
		kaStr("ka.auditid", "The unique id of the audit event (auditID).", pathStr("auditID")),
		kaStr("ka.stage", "The stage of the request: RequestReceived, ResponseStarted, ResponseComplete or Panic.", pathStr("stage")),
		kaStr("ka.auth.decision", "The authorizer's decision, allow or forbid (annotation authorization.k8s.io/decision).", ann("authorization.k8s.io/decision")),
		kaStr("ka.auth.reason", "Why the authorizer decided so (annotation authorization.k8s.io/reason).", ann("authorization.k8s.io/reason")),
		kaStr("ka.auth.openshift.decision", "OpenShift's authentication decision (annotation authentication.openshift.io/decision).", ann("authentication.openshift.io/decision")),
		kaStr("ka.validations.admission.policy.failure", "The ValidatingAdmissionPolicy failures, as JSON text (annotation validation.policy.admission.k8s.io/validation_failure).", ann("validation.policy.admission.k8s.io/validation_failure")),
		kaStr("ka.security.pod.violations", "The Pod Security admission violations (annotation pod-security.kubernetes.io/audit-violations).", ann("pod-security.kubernetes.io/audit-violations")),
		kaStr("ka.auth.openshift.username", "The user name OpenShift authenticated (annotation authentication.openshift.io/username).", ann("authentication.openshift.io/username")),
		kaStr("ka.user.name", "The name of the user who made the request.", pathStr("user", "username")),
		kaList("ka.user.groups", "The groups of the user who made the request.", kaArgNone, pathList("user", "groups")),
		kaStr("ka.impuser.name", "The name of the user the request impersonates.", pathStr("impersonatedUser", "username")),
		kaStr("ka.verb", "The request verb: get, list, watch, create, update, patch, delete, deletecollection.", pathStr("verb")),
		kaStr("ka.uri", "The request URI as the client sent it, query included.", pathStr("requestURI")),
		kaKeyStr("ka.uri.param", "The first value of a query parameter of the request URI, decoded (ka.uri.param[command] of .../exec?command=sh&command=-c is sh).",
			"query parameter name", nil, uriParam),
		kaStr("ka.target.name", "The name of the object the request is about.", pathStr("objectRef", "name")),
		kaStr("ka.target.namespace", "The namespace of the object the request is about; missing for cluster-scoped objects.", pathStr("objectRef", "namespace")),
		kaStr("ka.target.resource", "The resource the request is about, plural (pods, secrets, clusterrolebindings...).", pathStr("objectRef", "resource")),
		kaStr("ka.target.subresource", "The subresource the request is about (exec, attach, portforward, log, status...).", pathStr("objectRef", "subresource")),
		kaStr("ka.target.pod.name", "For a request on a pod itself (no subresource), the pod name from the response object.", targetPodName),
		kaList("ka.req.binding.subjects", "For a role binding, each subject as compact JSON.", kaArgNone, pathList("requestObject", "subjects")),
		kaList("ka.req.binding.subjects.user_names", "For a role binding, the names of its User subjects.", kaArgNone, subjectsOfKind("User", subjectName)),
		kaList("ka.req.binding.subjects.serviceaccount_names", "For a role binding, the names of its ServiceAccount subjects.", kaArgNone, subjectsOfKind("ServiceAccount", subjectName)),
		kaList("ka.req.binding.subjects.serviceaccount_ns_names", "For a role binding, its ServiceAccount subjects as namespace:name (subjects without namespace are left out).", kaArgNone,
			subjectsOfKind("ServiceAccount", func(s map[string]any) (string, bool) {
				ns, ok1 := s["namespace"].(string)
				name, ok2 := s["name"].(string)
				return ns + ":" + name, ok1 && ok2
			})),
		kaList("ka.req.binding.subjects.group_names", "For a role binding, the names of its Group subjects.", kaArgNone, subjectsOfKind("Group", subjectName)),
		kaStr("ka.req.binding.role", "For a role binding, the name of the role it binds.", pathStr("requestObject", "roleRef", "name")),
		kaKeyStr("ka.req.binding.subject.has_name", "Deprecated, kept for old rules: always true, whatever the argument.", "subject name (ignored)", nil,
			func(*jDoc, string) (string, bool) { return "true", true }),
		kaStr("ka.req.configmap.name", "The name of the object the request is about (meant for configmaps, set for any resource).", pathStr("objectRef", "name")),
		kaStr("ka.req.configmap.obj", "For a configmap, its data map as compact JSON.", pathStr("requestObject", "data")),
		kaStr("ka.req.container.image", "Deprecated: the image of the pod's first container.", firstContainer(func(img string) string { return img })),
		kaStr("ka.req.container.image.repository", "Deprecated: the image repository of the pod's first container.", firstContainer(kaImageRepository)),
		kaStr("ka.req.pod.host_ipc", "For a pod, its hostIPC setting (true/false); missing unless set.", pathStr("requestObject", "spec", "hostIPC")),
		kaStr("ka.req.pod.host_network", "For a pod, its hostNetwork setting (true/false); missing unless set.", pathStr("requestObject", "spec", "hostNetwork")),
		kaStr("ka.req.container.host_network", "Deprecated alias of ka.req.pod.host_network.", pathStr("requestObject", "spec", "hostNetwork")),
		kaStr("ka.req.pod.host_pid", "For a pod, its hostPID setting (true/false); missing unless set.", pathStr("requestObject", "spec", "hostPID")),
		kaStr("ka.req.container.privileged", "Deprecated: true if any container of the pod is privileged, else false.", anyContainerPrivileged),
		kaStr("ka.req.pod.run_as_user", "For a pod, the runAsUser of its security context.", pathStr("requestObject", "spec", "securityContext", "runAsUser")),
		kaStr("ka.req.pod.run_as_group", "For a pod, the runAsGroup of its security context.", pathStr("requestObject", "spec", "securityContext", "runAsGroup")),
		kaList("ka.req.role.rules", "For a role or cluster role, each of its rules as compact JSON.", kaArgNone, pathList("requestObject", "rules")),
		kaList("ka.req.role.rules.apiGroups", "For a role or cluster role, the API groups of all its rules (of rule i with an index).", kaArgIndex, roleRulesField("apiGroups")),
		kaList("ka.req.role.rules.nonResourceURLs", "For a role or cluster role, the non-resource URLs of all its rules (of rule i with an index).", kaArgIndex, roleRulesField("nonResourceURLs")),
		kaList("ka.req.role.rules.verbs", "For a role or cluster role, the verbs of all its rules, duplicates kept (of rule i with an index).", kaArgIndex, roleRulesField("verbs")),
		kaList("ka.req.role.rules.resources", "For a role or cluster role, the resources of all its rules (of rule i with an index).", kaArgIndex, roleRulesField("resources")),
		kaStr("ka.req.pod.fs_group", "For a pod, the fsGroup of its security context.", pathStr("requestObject", "spec", "securityContext", "fsGroup")),
		kaList("ka.req.pod.supplemental_groups", "For a pod, the supplementalGroups of its security context.", kaArgNone, pathList("requestObject", "spec", "securityContext", "supplementalGroups")),
		kaStr("ka.req.service.type", "For a service, its type (ClusterIP, NodePort, LoadBalancer...).", pathStr("requestObject", "spec", "type")),
		kaList("ka.req.service.ports", "For a service, its whole ports array as one JSON value (an index changes nothing, as in the plugin).", kaArgIndex,
			leavesSkipMissing("requestObject", "spec", "ports")),
		kaList("ka.req.pod.volumes.hostpath", "For a pod, the hostPath paths of its volumes.", kaArgIndex, leavesSkipMissing("requestObject", "spec", "volumes", "hostPath", "path")),
		kaKeyStr("ka.req.volume.hostpath", "Deprecated: true if the pod's first volume is a hostPath at the given path (a trailing * makes it a prefix), else false; missing when the first volume is not a hostPath. Only volume 0 is examined, as in the plugin.",
			"host path, a trailing * matches a prefix", func(k string) error {
				if k == "" {
					return errors.New("needs a host path argument")
				}
				return nil
			}, volumeHostPath),
		kaList("ka.req.pod.volumes.flexvolume_driver", "For a pod, the flexVolume drivers of its volumes.", kaArgIndex, leavesSkipMissing("requestObject", "spec", "volumes", "flexVolume", "driver")),
		kaList("ka.req.pod.volumes.volume_type", "For a pod, the type of each volume: every key of the volume except name (hostPath, configMap, secret, emptyDir...).", kaArgIndex, volumeTypes),
		kaStr("ka.resp.name", "The name of the response object (needs the RequestResponse audit level).", pathStr("responseObject", "metadata", "name")),
		kaStr("ka.response.code", "The HTTP response code, as text (\"201\").", pathStr("responseStatus", "code")),
		kaStr("ka.response.reason", "The reason of the response status, usually set only on failures.", pathStr("responseStatus", "reason")),
		kaStr("ka.useragent", "The user agent of the client.", pathStr("userAgent")),
		// The plugin reads requestObject/rules/*/sourceIPs here and so never has a value (upstream
		// issue falcosecurity/plugins#236). No upstream rule uses the field; lanner returns what
		// its description promises.
		kaList("ka.sourceips", "The client IP addresses (sourceIPs). Differs from the k8saudit plugin, whose field is never set.", kaArgIndex, leavesSkipMissing("sourceIPs", "")),
		kaStr("ka.cluster.name", "The cluster name, when something adds the cluster_name annotation.", ann("cluster_name")),
	}
}

// kaContainerFields defines the per-container list fields over spec.<list>.
func kaContainerFields(list, what string, hostPort bool) []*Field {
	p := "ka.req.pod." + list + "."
	keys := func(k ...string) []string { return append([]string{"requestObject", "spec", list}, k...) }
	fs := []*Field{
		kaList(p+"name", "For a pod, the names of its "+what+".", kaArgIndex, leavesStrict(keys("name")...)),
		kaList(p+"image", "For a pod, the images of its "+what+".", kaArgIndex, leavesStrict(keys("image")...)),
		kaList(p+"image.repository", "For a pod, the image repositories of its "+what+" (the image up to the first ':' or '@').", kaArgIndex,
			func(d *jDoc, idx int, dst []string) ([]string, bool) {
				n := len(dst)
				dst, ok := leavesStrict(keys("image")...)(d, idx, dst)
				for i := n; i < len(dst); i++ {
					dst[i] = kaImageRepository(dst[i])
				}
				return dst, ok
			}),
		kaList(p+"command", "For a pod, the command of each of its "+what+" that has one, words joined by spaces.", kaArgIndex, joinedWords(keys("command"))),
		kaList(p+"args", "For a pod, the args of each of its "+what+" that has them, joined by spaces.", kaArgIndex, joinedWords(keys("args"))),
		kaList(p+"privileged", "For a pod, the privileged flag of each of its "+what+" that sets it.", kaArgIndex, leavesSkipMissing(keys("securityContext", "privileged")...)),
		kaList(p+"allow_privilege_escalation", "For a pod, the allowPrivilegeEscalation flag of each of its "+what+" that sets it.", kaArgIndex, leavesSkipMissing(keys("securityContext", "allowPrivilegeEscalation")...)),
		kaList(p+"read_only_fs", "For a pod, the readOnlyRootFilesystem flag of each of its "+what+" that sets it.", kaArgIndex, leavesSkipMissing(keys("securityContext", "readOnlyRootFilesystem")...)),
		kaList(p+"run_as_user", "For a pod, the runAsUser of each of its "+what+" that sets it.", kaArgIndex, leavesSkipMissing(keys("securityContext", "runAsUser")...)),
		kaList(p+"eff_run_as_user", "For a pod, the uid each of its "+what+" starts with. As in the k8saudit plugin this reads spec.runAsUser and the container's runAsUser outside securityContext, so it is 0 for real pods.", kaArgIndex, effective(list, "runAsUser")),
		kaList(p+"run_as_group", "For a pod, the runAsGroup of each of its "+what+" that sets it.", kaArgIndex, leavesSkipMissing(keys("securityContext", "runAsGroup")...)),
		kaList(p+"eff_run_as_group", "For a pod, the gid each of its "+what+" starts with. As in the k8saudit plugin this reads spec.runAsGroup and the container's runAsGroup outside securityContext, so it is 0 for real pods.", kaArgIndex, effective(list, "runAsGroup")),
		kaList(p+"proc_mount", "For a pod, the procMount of each of its "+what+" that sets it.", kaArgIndex, leavesSkipMissing(keys("securityContext", "procMount")...)),
		kaList(p+"add_capabilities", "For a pod, the added capabilities of each of its "+what+", one JSON array text per container.", kaArgIndex, leavesSkipMissing(keys("securityContext", "capabilities", "add")...)),
	}
	if hostPort {
		fs = append(fs, kaList(p+"host_port", "For a pod, the host ports of all its "+what+" (the containerPort where no hostPort is set).", kaArgIndex, hostPorts(keys("ports"))))
	}
	return fs
}

// joinedWords gives one value per container whose array at keys exists: its elements joined by a
// space. A non-string element is an extraction error.
func joinedWords(keys []string) kaListFn {
	return func(d *jDoc, idx int, dst []string) ([]string, bool) {
		leaves, ok := jWalk(d.doc, idx, keys, nil, nil)
		if !ok {
			return dst, false
		}
		n := len(dst)
		for _, l := range leaves {
			if !l.ok {
				continue
			}
			arr, isArr := l.v.([]any)
			if !isArr {
				return dst[:n], false
			}
			var b strings.Builder
			for i, w := range arr {
				s, isStr := w.(string)
				if !isStr {
					return dst[:n], false
				}
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(s)
			}
			dst = append(dst, b.String())
		}
		return dst, true
	}
}

// hostPorts flattens the ports of every container: hostPort when set, else containerPort.
func hostPorts(keys []string) kaListFn {
	return func(d *jDoc, idx int, dst []string) ([]string, bool) {
		leaves, ok := jWalk(d.doc, idx, keys, nil, nil)
		if !ok {
			return dst, false
		}
		n := len(dst)
		for _, l := range leaves {
			if !l.ok {
				continue
			}
			arr, isArr := l.v.([]any)
			if !isArr {
				return dst[:n], false
			}
			for i, port := range arr {
				if v, ok := jGet(port, "hostPort"); ok {
					dst = append(dst, d.text(v, l.path.with(i).with("hostPort")))
				} else if v, ok := jGet(port, "containerPort"); ok {
					dst = append(dst, d.text(v, l.path.with(i).with("containerPort")))
				}
			}
		}
		return dst, true
	}
}

// effective reproduces the plugin's eff_run_as_* fields: the container's value at
// spec.<list>[i].<key>, else spec.<key>, else "0". Both paths lack securityContext in the plugin,
// which is why the field is "0" for real pods; lanner keeps the same paths so rules agree.
func effective(list, key string) kaListFn {
	return func(d *jDoc, idx int, dst []string) ([]string, bool) {
		pod := "0"
		if v, ok := jLookup(d.doc, "requestObject", "spec", key); ok {
			pod = d.text(v, jPath{"requestObject", "spec", key})
		}
		leaves, ok := jWalk(d.doc, idx, []string{"requestObject", "spec", list, key}, nil, nil)
		if !ok {
			return dst, false
		}
		for _, l := range leaves {
			if l.ok {
				dst = append(dst, d.text(l.v, l.path))
			} else {
				dst = append(dst, pod)
			}
		}
		return dst, true
	}
}

func uriParam(d *jDoc, key string) (string, bool) {
	v, ok := d.doc["requestURI"]
	if !ok {
		return "", false
	}
	u, err := url.Parse(d.text(v, jPath{"requestURI"}))
	if err != nil {
		return "", false
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", false
	}
	vals := q[key]
	if len(vals) == 0 {
		return "", false
	}
	return vals[0], true
}

func targetPodName(d *jDoc) (string, bool) {
	if r, _ := jLookup(d.doc, "objectRef", "resource"); r != "pods" {
		return "", false
	}
	if sub, ok := jLookup(d.doc, "objectRef", "subresource"); ok && sub != "" {
		return "", false
	}
	return pathStr("responseObject", "metadata", "name")(d)
}

func firstContainer(conv func(string) string) kaStrFn {
	images := leavesStrict("requestObject", "spec", "containers", "image")
	return func(d *jDoc) (string, bool) {
		var buf [1]string
		vs, ok := images(d, 0, buf[:0])
		if !ok || len(vs) == 0 {
			return "", false
		}
		return conv(vs[0]), true
	}
}

func anyContainerPrivileged(d *jDoc) (string, bool) {
	leaves, ok := jWalk(d.doc, -1, []string{"requestObject", "spec", "containers", "securityContext", "privileged"}, nil, nil)
	if !ok {
		return "", false
	}
	for _, l := range leaves {
		if b, isBool := l.v.(bool); l.ok && isBool && b {
			return "true", true
		}
	}
	return "false", true
}

// volumeHostPath is the deprecated ka.req.volume.hostpath[path]. libsinsp hands key arguments to
// plugins with index 0 as well, and the plugin applies that index, so only volumes[0] counts.
func volumeHostPath(d *jDoc, key string) (string, bool) {
	leaves, ok := jWalk(d.doc, 0, []string{"requestObject", "spec", "volumes", "hostPath", "path"}, nil, nil)
	if !ok {
		return "", false
	}
	prefix, isPrefix := strings.CutSuffix(key, "*")
	for _, l := range leaves {
		if !l.ok {
			continue
		}
		v := d.text(l.v, l.path)
		if (isPrefix && strings.HasPrefix(v, prefix)) || v == key {
			return "true", true
		}
	}
	return "false", true
}

func volumeTypes(d *jDoc, idx int, dst []string) ([]string, bool) {
	leaves, ok := jWalk(d.doc, idx, []string{"requestObject", "spec", "volumes", ""}, nil, nil)
	if !ok {
		return dst, false
	}
	for _, l := range leaves {
		m, isObj := l.v.(map[string]any)
		if !l.ok || !isObj {
			continue
		}
		for _, k := range d.keys(m, l.path) {
			if k != "name" {
				dst = append(dst, k)
			}
		}
	}
	return dst, true
}
