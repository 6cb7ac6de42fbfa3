package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/lannersec/lanner/collector/alert"
)

//go:embed report.html.tmpl
var htmlTemplate string

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"num":   num,
	"share": share,
	"time":  fmtTime,
	"day":   fmtDay,
	"prio":  func(p alert.Priority) string { return p.String() },
	"prioClass": func(p alert.Priority) string {
		return "p-" + strings.ToLower(p.String())
	},
	"prioColor": func(p alert.Priority) template.CSS {
		c := priorityColor(p)
		return template.CSS(fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B))
	},
	"dayCount": func(d Day, p alert.Priority) int64 { return d.ByPriority[p] },
	"join":     func(s []string) string { return strings.Join(s, ", ") },
	"lower":    strings.ToLower,
	"plural":   pluralWord,
}).Parse(htmlTemplate))

// htmlView is what the template reads: the report and what is derived from it.
type htmlView struct {
	*Report
	Window                       string
	Summary                      string
	TrailWord, TrailDetail       string
	TrailClass                   string
	AtLeastWarn                  int64
	Present                      []alert.Priority
	DaysSVG, RulesSVG, NSSVG     template.HTML
	Intro                        map[string]string
	None                         string
	WorkloadsCut, AuditCut       bool
	NamespaceCount, ActiveDays   int
	DayPriorities                []alert.Priority
	NoNamespaceShare, OtherShare string
}

// WriteHTML writes r as one self-contained HTML document: the charts are inline SVG and the
// style sheet is in the page, so the file can be mailed, archived or printed as it is.
func WriteHTML(w io.Writer, r *Report) error {
	cs, err := BuildCharts(r)
	if err != nil {
		return err
	}
	v := htmlView{Report: r, Window: windowText(r.Since, r.Until), Summary: r.summaryText(),
		AtLeastWarn: r.AtLeastWarning(), Present: r.presentPriorities(), None: noneInPeriod,
		WorkloadsCut: r.WorkloadsTotal > len(r.Workloads), AuditCut: r.AuditTotal > int64(len(r.Audit)),
		NamespaceCount: len(r.ByNamespace),
		Intro: map[string]string{"summary": introSummary, "trail": introTrail, "priority": introPriority,
			"days": introDays, "rules": introRules, "namespaces": introNamespaces, "workloads": introWorkloads,
			"audit": introAudit, "about": introAbout}}
	v.TrailWord, v.TrailDetail = r.trailStatus()
	switch v.TrailWord {
	case "intact":
		v.TrailClass = "ok"
	case "BROKEN", "verification failed":
		v.TrailClass = "bad"
	default:
		v.TrailClass = "unknown"
	}
	for _, d := range r.Days {
		if d.Total > 0 {
			v.ActiveDays++
		}
	}
	v.DayPriorities = v.Present
	for _, c := range []struct {
		ch  *Chart
		dst *template.HTML
	}{{cs.Days, &v.DaysSVG}, {cs.Rules, &v.RulesSVG}, {cs.Namespaces, &v.NSSVG}} {
		if c.ch == nil {
			continue
		}
		svg, err := c.ch.SVG()
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		// The SVG comes from gonum's writer, which escapes the text it draws; it is trusted.
		*c.dst = template.HTML(svg)
	}
	if err := htmlTmpl.Execute(w, v); err != nil {
		return fmt.Errorf("report: writing HTML: %w", err)
	}
	return nil
}
