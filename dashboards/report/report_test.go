package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/lannersec/lanner/collector/alert"
)

var day0 = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)

// sample is a report with a bit of everything, as Collect would fill it.
func sample() *Report {
	r := &Report{Title: "lanner compliance report", Target: "logs-lanner.alerts-default",
		Since: day0, Until: day0.AddDate(0, 0, 3), Generated: day0.AddDate(0, 0, 3).Add(time.Hour),
		Total: 240, Hosts: 2, RuleCount: 9,
		BySource: []Count{{"k8s_audit", 192}, {"syscall", 48}},
		ByRule: []RuleCount{{Rule: "Lanner Interactive Shell in Container", Description: "A shell with a terminal.", Highest: alert.Warning, Count: 30},
			{Rule: "Create Privileged Pod <script>alert(1)</script>", Highest: alert.Critical, Count: 12}},
		OtherRules:      198,
		ByNamespace:     []Count{{"shop", 100}, {"payments", 40}},
		OtherNamespaces: 20,
		NoNamespace:     80,
		Days:            []Day{{Day: day0, Total: 66}, {Day: day0.AddDate(0, 0, 1), Total: 80}, {Day: day0.AddDate(0, 0, 2), Total: 94}},
		Workloads: []Workload{{Namespace: "shop", Kind: "Deployment", Name: "web", Pods: []string{"web-1"}, Images: []string{"nginx"}, Count: 20, Highest: alert.Warning},
			{Count: 5, Highest: alert.Error}},
		WorkloadsTotal: 4,
		Audit: []AuditChange{{Time: day0.Add(9 * time.Hour), User: "jane", Verb: "create", Resource: "pods", Subresource: "exec",
			Namespace: "shop", Name: "web-1", Rule: "Attach/Exec Pod", Priority: alert.Notice}},
		AuditTotal: 192, AuditChanges: 150,
		AuditByUser: []AuditUser{{User: "jane", Alerts: 190, Changes: 149}, {User: "system:anonymous", Alerts: 2, Changes: 1}},
		Trail:       Trail{Verified: true, Result: TrailResult{Nodes: 2, Checked: 240, Intact: false, Problems: []string{"node a: seq 17 missing"}}},
	}
	r.ByPriority[alert.Critical] = 12
	r.ByPriority[alert.Warning] = 128
	r.ByPriority[alert.Notice] = 100
	for i := range r.Days {
		r.Days[i].ByPriority[alert.Critical] = 4
		r.Days[i].ByPriority[alert.Notice] = r.Days[i].Total - 4
	}
	return r
}

// sections parses doc and returns the text of each <section id=...>, by id, failing when the
// document does not parse.
func sections(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	root, err := html.Parse(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var text func(n *html.Node, b *strings.Builder)
	text = func(n *html.Node, b *strings.Builder) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			text(c, b)
		}
		if n.Type == html.ElementNode && (n.Data == "td" || n.Data == "th") {
			b.WriteByte(' ') // cells read apart
		}
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "section" {
			for _, a := range n.Attr {
				if a.Key == "id" {
					var b strings.Builder
					text(n, &b)
					out[a.Val] = strings.Join(strings.Fields(b.String()), " ")
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return out
}

func TestWriteHTML(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	doc := buf.Bytes()
	secs := sections(t, doc)
	for id, want := range map[string][]string{
		"summary":    {"240 alerts", "Warning or more severe", "140 ", "BROKEN", "k8s_audit 192"},
		"trail":      {"Result: BROKEN", "node a: seq 17 missing", "240 documents of 2 nodes checked; 1 problem found"},
		"priority":   {"Critical 12 5.0%", "Warning 128 53.3%", "Notice 100"},
		"days":       {"Sat 2026-11-21", "Mon 2026-11-23", "94"},
		"rules":      {"Lanner Interactive Shell in Container", "A shell with a terminal.", "other rules 198"},
		"namespaces": {"shop 100", "other namespaces 20", "no namespace 80"},
		"workloads":  {"deployment/web", "not in a known pod", "The 2 workloads with the most alerts of 4."},
		"audit":      {"jane 190 149", "system:anonymous 2 1", "pods/exec", "web-1", "Attach/Exec Pod", "The newest 1 of 192"},
		"about":      {"event.severity"},
	} {
		got, ok := secs[id]
		if !ok {
			t.Errorf("no section %q", id)
			continue
		}
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("section %s lacks %q:\n%s", id, w, got)
			}
		}
		if strings.Contains(got, noneInPeriod) {
			t.Errorf("section %s says %q though it has data", id, noneInPeriod)
		}
	}
	// Self-contained: three inline charts, no external resource.
	if n, ok := bytes.Count(doc, []byte("<svg")), len(inlineSVG.FindAll(doc, -1)); n != 3 || ok != 3 {
		t.Errorf("%d inline SVG charts (%d with a size and a viewBox), want 3", n, ok)
	}
	for _, ext := range []string{"<script", "<link", "src=\"http", "<img src=\"http"} {
		if bytes.Contains(doc, []byte(ext)) {
			t.Errorf("the page holds %q: not self-contained (or a rule name was not escaped)", ext)
		}
	}
	if !bytes.Contains(doc, []byte("Create Privileged Pod &lt;script&gt;")) {
		t.Error("the rule name with markup is not escaped in the table")
	}
}

func TestWriteHTMLEmpty(t *testing.T) {
	r := &Report{Title: "t", Target: "x", Since: day0, Until: day0.AddDate(0, 0, 1), Generated: day0}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	secs := sections(t, buf.Bytes())
	for _, id := range []string{"priority", "days", "rules", "namespaces", "workloads", "audit"} {
		if !strings.Contains(secs[id], noneInPeriod) {
			t.Errorf("empty section %s does not say %q: %s", id, noneInPeriod, secs[id])
		}
	}
	if !strings.Contains(secs["summary"], "No alert was recorded") || !strings.Contains(secs["trail"], "not verified") {
		t.Errorf("summary/trail of an empty, unverified report: %q / %q", secs["summary"], secs["trail"])
	}
	if bytes.Contains(buf.Bytes(), []byte("<svg")) {
		t.Error("an empty report has a chart")
	}
}

var pageRe = regexp.MustCompile(`/Type /Page[^s]`)

var inlineSVG = regexp.MustCompile(`<figure><svg width="[0-9.]+pt" height="[0-9.]+pt" viewBox="0 0 [0-9.]+ [0-9.]+"\s`)

// svgOpen is the opening tag an inline chart must have: a size and one viewBox to scale by.
var svgOpen = regexp.MustCompile(`^<svg width="[0-9.]+pt" height="[0-9.]+pt" viewBox="0 0 [0-9.]+ [0-9.]+"\s`)

func TestWritePDF(t *testing.T) {
	for name, r := range map[string]*Report{
		"sample": sample(),
		"empty":  {Title: "t", Target: "x", Since: day0, Until: day0.AddDate(0, 0, 7), Generated: day0},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WritePDF(&buf, r); err != nil {
				t.Fatal(err)
			}
			b := buf.Bytes()
			if !bytes.HasPrefix(b, []byte("%PDF-")) || !bytes.Contains(b[len(b)-64:], []byte("%%EOF")) {
				t.Fatalf("not a PDF: %q...", b[:min(len(b), 16)])
			}
			pages := len(pageRe.FindAll(b, -1))
			if pages < 1 {
				t.Fatal("no page")
			}
			images := bytes.Count(b, []byte("/Subtype /Image"))
			wantImages := 3
			if name == "empty" {
				wantImages = 0
			}
			if images != wantImages {
				t.Errorf("%d images (charts), want %d", images, wantImages)
			}
			t.Logf("%d bytes, %d pages, %d charts", len(b), pages, images)
		})
	}
}

func TestBuildChartsEmptyAndSparse(t *testing.T) {
	cs, err := BuildCharts(&Report{})
	if err != nil {
		t.Fatal(err)
	}
	if cs.Days != nil || cs.Rules != nil || cs.Namespaces != nil {
		t.Errorf("charts without data: %+v", cs)
	}
	// Days without alerts but a window: no chart either (nothing to draw).
	cs, err = BuildCharts(&Report{Days: []Day{{Day: day0}, {Day: day0.AddDate(0, 0, 1)}}})
	if err != nil || cs.Days != nil {
		t.Errorf("all-zero days: chart %v, err %v", cs.Days, err)
	}
	// One day, one rule of one priority, only alerts without a namespace.
	r := &Report{Days: []Day{{Day: day0, Total: 1}}, ByRule: []RuleCount{{Rule: strings.Repeat("long rule name ", 10), Highest: alert.Debug, Count: 1}}, NoNamespace: 1}
	r.Days[0].ByPriority[alert.Debug] = 1
	cs, err = BuildCharts(r)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Chart{"days": cs.Days, "rules": cs.Rules, "namespaces": cs.Namespaces} {
		if c == nil {
			t.Errorf("%s: no chart", name)
			continue
		}
		svg, err := c.SVG()
		if err != nil {
			t.Fatal(err)
		}
		if !svgOpen.Match(svg) || bytes.Count(svg, []byte("<svg")) != 1 || bytes.Contains(svg, []byte("<?xml")) {
			t.Errorf("%s: SVG not ready to inline: %.120s", name, svg)
		}
		png, err := c.PNG(72)
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("%s: PNG: %v", name, err)
		}
	}
	svg, _ := cs.Rules.SVG()
	if bytes.Contains(svg, []byte(strings.Repeat("long rule name ", 4))) {
		t.Error("a long rule name is not shortened on the chart")
	}
}

func TestAuditChangeFallbacks(t *testing.T) {
	// A rule that prints the target fields.
	s := auditSource{Timestamp: day0}
	s.Event.Action, s.Event.Severity = "create", 2
	s.User.Name = "jane"
	s.Falco.OutputFields = map[string]any{"ka.target.resource": "pods", "ka.target.subresource": "exec", "ka.target.name": "web",
		"ka.target.namespace": "shop"}
	if c := s.change(); c.Resource != "pods" || c.Subresource != "exec" || c.Name != "web" || c.Namespace != "shop" || c.Priority != alert.Notice {
		t.Errorf("from output fields: %+v", c)
	}
	// A rule that prints only the URI.
	s = auditSource{}
	s.Event.Action = "delete"
	s.URL.Original = "/apis/rbac.authorization.k8s.io/v1/namespaces/dev/rolebindings/admins?dryRun=All"
	if c := s.change(); c.Resource != "rolebindings" || c.Name != "admins" || c.Namespace != "dev" {
		t.Errorf("from the URI: %+v", c)
	}
	// ka.resp.name for a created object (the request has no name yet), <NA> is no value.
	s = auditSource{}
	s.Falco.OutputFields = map[string]any{"ka.resp.name": "priv", "ka.target.name": "<NA>", "ka.user.name": "bob", "ka.verb": "create"}
	if c := s.change(); c.Name != "priv" || c.User != "bob" || c.Verb != "create" {
		t.Errorf("resp name, user and verb from output fields: %+v", c)
	}
}

func TestParseURI(t *testing.T) {
	for uri, want := range map[string][4]string{
		"/api/v1/namespaces/default/pods/web/exec?command=sh": {"default", "pods", "web", "exec"},
		"/api/v1/namespaces/kube-system":                      {"", "namespaces", "kube-system", ""},
		"/api/v1/nodes/n1":                                    {"", "nodes", "n1", ""},
		"/apis/apps/v1/namespaces/shop/deployments":           {"shop", "deployments", "", ""},
		"/healthz": {"", "", "", ""},
	} {
		ns, res, name, sub := parseURI(uri)
		if got := [4]string{ns, res, name, sub}; got != want {
			t.Errorf("parseURI(%q) = %q, want %q", uri, got, want)
		}
	}
}

func TestQueryValidate(t *testing.T) {
	ok := Query{Target: "x", Since: day0, Until: day0.Add(time.Hour)}
	if err := ok.validate(); err != nil || ok.TopRules != DefaultTopRules || ok.Title == "" {
		t.Fatalf("valid query: %v %+v", err, ok)
	}
	for name, q := range map[string]Query{
		"no target":  {Since: day0, Until: day0.Add(time.Hour)},
		"reversed":   {Target: "x", Since: day0, Until: day0.Add(-time.Hour)},
		"empty":      {Target: "x", Since: day0, Until: day0},
		"too long":   {Target: "x", Since: day0, Until: day0.AddDate(2, 0, 0)},
		"negative":   {Target: "x", Since: day0, Until: day0.Add(time.Hour), TopRules: -1},
		"no the end": {Target: "x", Since: day0},
	} {
		if err := q.validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestWindowText(t *testing.T) {
	for _, c := range []struct {
		since, until time.Time
		want         string
	}{
		{day0, day0.AddDate(0, 0, 1), "2026-11-21 (UTC)"},
		{day0, day0.AddDate(0, 0, 7), "2026-11-21 to 2026-11-27 inclusive (UTC)"},
		{day0.Add(90 * time.Minute), day0.AddDate(0, 0, 1), "from 2026-11-21 01:30:00 UTC to 2026-11-22 00:00:00 UTC"},
	} {
		if got := windowText(c.since, c.until); got != c.want {
			t.Errorf("windowText(%v, %v) = %q, want %q", c.since, c.until, got, c.want)
		}
	}
	if plural(1, "node", "nodes") != "1 node" || plural(1234, "node", "nodes") != "1,234 nodes" || plural(0, "node", "nodes") != "0 nodes" {
		t.Errorf("plural: %q %q", plural(1, "node", "nodes"), plural(1234, "node", "nodes"))
	}
	if num(1234567) != "1,234,567" || num(12) != "12" || num(-1234) != "-1,234" {
		t.Errorf("num: %s %s %s", num(1234567), num(12), num(-1234))
	}
}
