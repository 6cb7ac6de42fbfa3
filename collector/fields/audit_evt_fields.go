package fields

import (
	"github.com/lannersec/lanner/collector/event"
)

// auditGenericEvt names the evt.* fields that Falco offers for every plugin source, k8s_audit
// included. They read only what every event has (number, time, source, host), so the k8s_audit
// source uses the syscall source's definitions: outputs print them identically for both sources.
// Falco's alert formatter prefixes every output with %evt.time, so that one at least must exist.
var auditGenericEvt = map[string]bool{
	"evt.num": true, "evt.time": true, "evt.time.s": true, "evt.time.iso8601": true,
	"evt.datetime": true, "evt.datetime.s": true, "evt.rawtime": true, "evt.rawtime.s": true,
	"evt.rawtime.ns": true, "evt.source": true, "evt.hostname": true,
}

// auditEvtFields returns the generic evt.* fields of the k8s_audit source.
func auditEvtFields(c *config) []*Field {
	var out []*Field
	for _, f := range evtFields(c) {
		if !auditGenericEvt[f.Name] {
			continue
		}
		f.Source = event.SourceK8sAudit
		if f.Name == "evt.source" {
			f.Desc = "Name of the source of the event (k8s_audit)."
		}
		out = append(out, f)
	}
	out = append(out, &Field{
		Name: "evt.pluginname", Source: event.SourceK8sAudit, Type: TypeCharBuf,
		Desc: "Name of the plugin that produces the event in Falco (k8saudit).",
		Build: noArg(func() *Extractor {
			return &Extractor{Str: func(*event.Event) (string, bool) { return "k8saudit", true }}
		}),
	})
	return out
}
