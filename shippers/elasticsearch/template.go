package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// mappings returns the ECS types of every field Document writes. Only types the smallest
// Elasticsearch distribution knows are used (keyword, text, ip, date, long, boolean,
// flattened): ECS's wildcard and match_only_text come from x-pack modules a plain node lacks,
// and keyword/text serve the same queries.
func mappings() map[string]any {
	kw := map[string]any{"type": "keyword", "ignore_above": 1024}
	kwText := map[string]any{"type": "keyword", "ignore_above": 8192, "fields": map[string]any{"text": map[string]any{"type": "text"}}}
	long := map[string]any{"type": "long"}
	ip := map[string]any{"type": "ip"}
	date := map[string]any{"type": "date"}
	boolean := map[string]any{"type": "boolean"}
	flat := map[string]any{"type": "flattened", "ignore_above": 8192}
	props := map[string]any{}
	// set places a leaf mapping at a dotted path, building the object levels.
	set := func(path string, m map[string]any) {
		cur := props
		for {
			i := bytes.IndexByte([]byte(path), '.')
			if i < 0 {
				cur[path] = m
				return
			}
			k := path[:i]
			next, ok := cur[k].(map[string]any)
			if !ok {
				next = map[string]any{"properties": map[string]any{}}
				cur[k] = next
			}
			cur, path = next["properties"].(map[string]any), path[i+1:]
		}
	}
	set("@timestamp", date)
	set("message", map[string]any{"type": "text"})
	for _, p := range []string{"ecs.version", "event.kind", "event.id", "event.provider", "event.module", "event.dataset",
		"event.category", "event.type", "event.action", "rule.name", "rule.id", "rule.description", "rule.ruleset",
		"tags", "threat.framework", "threat.tactic.name", "threat.technique.id", "threat.technique.subtechnique.id",
		"host.name", "host.hostname", "observer.hostname", "observer.product", "observer.vendor", "observer.type",
		"process.name", "process.executable", "process.working_directory", "process.args",
		"process.parent.name", "process.parent.executable", "user.id", "user.name", "process.user.id", "process.user.name",
		"process.group.id", "process.group.name", "process.session_leader.user.name",
		"file.path", "file.name", "file.directory", "network.transport", "url.original",
		"container.id", "container.name", "container.image.name", "container.image.tag", "container.runtime",
		"orchestrator.type", "orchestrator.namespace", "orchestrator.resource.type", "orchestrator.resource.name",
		"orchestrator.resource.id", "orchestrator.resource.parent.type", "orchestrator.cluster.name", "orchestrator.api_version",
		"kubernetes.namespace", "kubernetes.pod.name", "kubernetes.pod.uid", "kubernetes.node.name",
		"kubernetes.container.name", "kubernetes.deployment.name", "kubernetes.replicaset.name",
		"kubernetes.statefulset.name", "kubernetes.daemonset.name", "kubernetes.job.name", "kubernetes.cronjob.name",
		"container.image.hash.all", "lanner.k8s.lookup",
		"falco.rule", "falco.priority", "falco.source", "falco.hostname", "falco.tags"} {
		set(p, kw)
	}
	set("process.command_line", kwText)
	set("process.parent.command_line", kwText)
	set("falco.output", kwText)
	for _, p := range []string{"event.severity", "process.pid", "process.parent.pid", "process.args_count",
		"source.port", "destination.port", "client.port", "server.port"} {
		set(p, long)
	}
	for _, p := range []string{"source.ip", "destination.ip", "client.ip", "server.ip", "orchestrator.resource.ip", "kubernetes.pod.ip"} {
		set(p, ip)
	}
	set("event.start", date)
	set("falco.time", date)
	set("container.security_context.privileged", boolean)
	set("falco.output_fields", flat)
	set("kubernetes.labels", flat)
	set("kubernetes.annotations", flat)
	set("kubernetes.namespace_labels", flat)
	// The tamper-evident audit trail: each node's alerts form a hash chain (seq, the previous
	// alert's hash, this alert's hash). Keywords, so that a verifier can look a hash up exactly.
	set("lanner.chain.epoch", kw)
	set("lanner.chain.seq", long)
	set("lanner.chain.prev", kw)
	set("lanner.chain.hash", kw)
	// dynamic false: a field lanner does not know is kept in _source but not indexed, so a
	// surprise can never turn into a mapping conflict that rejects alerts.
	return map[string]any{"dynamic": false, "properties": props, "runtime": runtimeFields()}
}

// runtimeFields are fields read from _source at search time. They have no script: a runtime
// field without one reads the _source value at its own path, which needs no scripting module,
// so it works on the smallest distribution too. They make output fields that only exist inside
// the flattened falco.output_fields typed and aggregatable for Kibana (a data view lists a
// flattened field, not its keys): the Kubernetes audit dashboard groups by the API resource,
// which a k8s_audit alert carries only as the output field ka.target.resource.
func runtimeFields() map[string]any {
	return map[string]any{
		"falco.output_fields.ka.target.resource": map[string]any{"type": "keyword"},
	}
}

// Fields returns every field the index template types, by dotted name, with its Elasticsearch
// type: mapped leaves, their multi-fields (process.command_line.text) and the runtime fields.
// It is read from the same mappings the template installs, so anything built on these names
// (the Kibana dashboards) can be checked against what Elasticsearch will actually index.
func Fields() map[string]string {
	m := mappings()
	out := map[string]string{}
	var walk func(prefix string, props map[string]any)
	walk = func(prefix string, props map[string]any) {
		for name, v := range props {
			def := v.(map[string]any)
			path := prefix + name
			if sub, ok := def["properties"].(map[string]any); ok {
				walk(path+".", sub)
				continue
			}
			typ, _ := def["type"].(string)
			out[path] = typ
			if multi, ok := def["fields"].(map[string]any); ok {
				for sub, sv := range multi {
					st, _ := sv.(map[string]any)["type"].(string)
					out[path+"."+sub] = st
				}
			}
		}
	}
	walk("", m["properties"].(map[string]any))
	for name, v := range m["runtime"].(map[string]any) {
		out[name], _ = v.(map[string]any)["type"].(string)
	}
	return out
}

// TemplateBody returns the composable index template for c (data_stream mode adds
// "data_stream": {}; ILM adds index.lifecycle.name when withILM).
func TemplateBody(c Config, withILM bool) ([]byte, error) {
	settings := map[string]any{"index.mapping.total_fields.limit": 2000}
	if withILM && c.ilm() {
		settings["index.lifecycle.name"] = c.ILMPolicy
	}
	t := map[string]any{
		"index_patterns": []string{c.pattern()},
		// Above the built-in logs-*-* template (priority 100), so these fields win.
		"priority": 200,
		"template": map[string]any{"settings": settings, "mappings": mappings()},
		"_meta":    map[string]any{"managed_by": "lanner", "ecs_version": ecsVersion},
	}
	if c.Mode == ModeDataStream {
		t["data_stream"] = map[string]any{}
	}
	return json.Marshal(t)
}

// ilmPolicy rolls the write index over at 30 days or 50 GB per primary shard and deletes
// indices older than ILMDeleteAfter.
func ilmPolicy(c Config) []byte {
	b, _ := json.Marshal(map[string]any{"policy": map[string]any{
		"_meta": map[string]any{"managed_by": "lanner"},
		"phases": map[string]any{
			"hot":    map[string]any{"actions": map[string]any{"rollover": map[string]any{"max_age": "30d", "max_primary_shard_size": "50gb"}}},
			"delete": map[string]any{"min_age": c.ILMDeleteAfter, "actions": map[string]any{"delete": map[string]any{}}},
		}}})
	return b
}

// SetupResult says what Setup installed.
type SetupResult struct {
	Template string
	// ILM is the policy installed, or "" when none was (ILMSkipped says why).
	ILM        string
	ILMSkipped string
}

// Setup installs the index template and, where the cluster has ILM, the lifecycle policy. It
// is idempotent: it overwrites lanner's own template and policy with the current ones.
func (s *Shipper) Setup(ctx context.Context) (SetupResult, error) {
	c := s.cfg
	res := SetupResult{Template: c.TemplateName}
	withILM := false
	if c.ilm() {
		has, why, err := s.hasILM(ctx)
		if err != nil {
			return res, err
		}
		if has {
			req := esapi.ILMPutLifecycleRequest{Policy: c.ILMPolicy, Body: bytes.NewReader(ilmPolicy(c))}
			if err := s.do(ctx, req, "install ILM policy "+c.ILMPolicy); err != nil {
				return res, err
			}
			res.ILM = c.ILMPolicy
			withILM = true
			s.logger.Info("installed ILM policy", "policy", c.ILMPolicy, "delete_after", c.ILMDeleteAfter)
		} else {
			res.ILMSkipped = why
			s.logger.Info("cluster has no ILM: no lifecycle policy installed", "reason", why)
		}
	}
	body, err := TemplateBody(c, withILM)
	if err != nil {
		return res, err
	}
	req := esapi.IndicesPutIndexTemplateRequest{Name: c.TemplateName, Body: bytes.NewReader(body)}
	if err := s.do(ctx, req, "install index template "+c.TemplateName); err != nil {
		return res, err
	}
	s.logger.Info("installed index template", "template", c.TemplateName, "pattern", c.pattern(), "mode", c.Mode)
	return res, nil
}

// hasILM asks the cluster whether it has the ILM API: a node without x-pack's ILM module (the
// integ-test distribution, a plain OSS build) answers 404/405/400 on _ilm/status.
func (s *Shipper) hasILM(ctx context.Context) (bool, string, error) {
	res, err := esapi.ILMGetStatusRequest{}.Do(ctx, s.client)
	if err != nil {
		return false, "", fmt.Errorf("elasticsearch: ask for ILM status: %w", err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	switch {
	case res.StatusCode == http.StatusOK:
		return true, "", nil
	case res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed || res.StatusCode == http.StatusBadRequest || res.StatusCode == http.StatusGone:
		return false, fmt.Sprintf("GET _ilm/status answered %d", res.StatusCode), nil
	default:
		return false, "", fmt.Errorf("elasticsearch: GET _ilm/status answered %s", res.Status())
	}
}

type requester interface {
	Do(ctx context.Context, t esapi.Transport) (*esapi.Response, error)
}

func (s *Shipper) do(ctx context.Context, req requester, what string) error {
	res, err := req.Do(ctx, s.client)
	if err != nil {
		return fmt.Errorf("elasticsearch: %s: %w", what, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.IsError() {
		return fmt.Errorf("elasticsearch: %s: %s: %s", what, res.Status(), bytes.TrimSpace(b))
	}
	return nil
}
