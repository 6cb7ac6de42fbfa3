package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"codeberg.org/go-pdf/fpdf"

	"github.com/lannersec/lanner/collector/alert"
)

// chartDPI is the resolution the charts are drawn at for the PDF: sharp on paper, and a few
// hundred kilobytes for the three of them.
const chartDPI = 200

// Page geometry in millimetres (A4 portrait).
const (
	pageMargin = 15.0
	lineH      = 4.6
)

// pdfWriter wraps the document with the report's few layout primitives.
type pdfWriter struct {
	f     *fpdf.Fpdf
	tr    func(string) string // UTF-8 to the core fonts' cp1252
	width float64             // text width
	imgs  int
}

// WritePDF writes r as an A4 PDF with the same sections as the HTML report.
func WritePDF(w io.Writer, r *Report) error {
	cs, err := BuildCharts(r)
	if err != nil {
		return err
	}
	f := fpdf.New("P", "mm", "A4", "")
	f.SetMargins(pageMargin, pageMargin, pageMargin)
	f.SetAutoPageBreak(true, pageMargin+5)
	f.SetTitle(r.Title, true)
	f.SetCreator("lanner report", true)
	// Reproducible bytes for the same report: the dates are the report's own.
	f.SetCreationDate(r.Generated)
	f.SetModificationDate(r.Generated)
	f.SetCatalogSort(true)
	f.AliasNbPages("{nb}")
	pw, _ := f.GetPageSize()
	p := &pdfWriter{f: f, tr: f.UnicodeTranslatorFromDescriptor(""), width: pw - 2*pageMargin}
	window := windowText(r.Since, r.Until)
	f.SetFooterFunc(func() {
		f.SetY(-pageMargin)
		f.SetFont("Helvetica", "", 7.5)
		f.SetTextColor(0x77, 0x76, 0x7b)
		f.CellFormat(p.width/2, 4, p.tr(r.Title+" - "+window), "", 0, "L", false, 0, "")
		f.CellFormat(p.width/2, 4, fmt.Sprintf("page %d of {nb}", f.PageNo()), "", 0, "R", false, 0, "")
	})
	f.AddPage()

	// Title block.
	f.SetFont("Helvetica", "B", 20)
	f.SetTextColor(0x1e, 0x1e, 0x24)
	f.CellFormat(p.width, 9, p.tr(r.Title), "", 1, "L", false, 0, "")
	f.SetFont("Helvetica", "", 9.5)
	f.SetTextColor(0x5e, 0x5c, 0x64)
	f.MultiCell(p.width, lineH, p.tr("Period: "+window+"    Source: "+r.Target+"    Generated "+fmtTime(r.Generated)), "", "L", false)
	y := f.GetY() + 1.5
	f.SetDrawColor(0x1e, 0x1e, 0x24)
	f.SetLineWidth(0.6)
	f.Line(pageMargin, y, pageMargin+p.width, y)
	f.SetY(y + 3)

	// Summary.
	p.heading("Summary", 0)
	p.intro(introSummary)
	word, detail := r.trailStatus()
	p.cards([]card{
		{num(r.Total), pluralWord(r.Total, "alert", "alerts"), 0},
		{num(r.AtLeastWarning()), "Warning or more severe", 0},
		{num(r.RuleCount), pluralWord(r.RuleCount, "rule fired", "rules fired"), 0},
		{num(r.Hosts), pluralWord(r.Hosts, "node", "nodes"), 0},
		{num(r.AuditTotal), fmt.Sprintf("Kubernetes audit alerts (%s changes)", num(r.AuditChanges)), 0},
		{word, "audit trail", trailTone(word)},
	})
	p.text(r.summaryText())
	if len(r.BySource) > 0 {
		var parts []string
		for _, s := range r.BySource {
			parts = append(parts, s.Key+" "+num(s.Count))
		}
		p.intro("By source: " + strings.Join(parts, ", ") + ".")
	}

	// Audit trail.
	p.heading("Audit trail verification", 0)
	p.intro(introTrail)
	f.SetFont("Helvetica", "B", 10)
	switch trailTone(word) {
	case 1:
		f.SetTextColor(0x26, 0xa2, 0x69)
	case 2:
		f.SetTextColor(0xc0, 0x1c, 0x28)
	default:
		f.SetTextColor(0x5e, 0x5c, 0x64)
	}
	f.MultiCell(p.width, lineH+0.4, p.tr("Result: "+word+". "+detail), "", "L", false)
	f.SetTextColor(0x1e, 0x1e, 0x24)
	f.SetFont("Helvetica", "", 9)
	for _, pr := range r.Trail.Result.Problems {
		f.MultiCell(p.width, lineH, p.tr("- "+pr), "", "L", false)
	}

	// Priorities.
	p.heading("Alerts by priority", 0)
	p.intro(introPriority)
	if present := r.presentPriorities(); len(present) > 0 {
		var rows [][]cell
		for _, pr := range present {
			rows = append(rows, []cell{prioCell(pr), {text: num(r.ByPriority[pr])}, {text: share(r.ByPriority[pr], r.Total)}})
		}
		p.table([]column{{"Priority", 0.4, "L"}, {"Alerts", 0.3, "R"}, {"Share", 0.3, "R"}}, rows)
	} else {
		p.none()
	}

	// Days.
	p.heading("Alerts per day", 10+p.chartHeight(cs.Days))
	p.intro(introDays)
	if cs.Days != nil {
		if err := p.chart(cs.Days); err != nil {
			return err
		}
		present := r.presentPriorities()
		cols := []column{{"Day (UTC)", 0.22, "L"}}
		rest := 0.78 / float64(len(present)+1)
		for _, pr := range present {
			cols = append(cols, column{pr.String(), rest, "R"})
		}
		cols = append(cols, column{"Total", rest, "R"})
		var rows [][]cell
		for _, d := range r.Days {
			row := []cell{{text: fmtDay(d.Day)}}
			for _, pr := range present {
				row = append(row, cell{text: num(d.ByPriority[pr])})
			}
			rows = append(rows, append(row, cell{text: num(d.Total), bold: true}))
		}
		p.table(cols, rows)
	} else {
		p.none()
	}

	// Rules.
	p.heading("Top rules", 10+p.chartHeight(cs.Rules))
	p.intro(introRules)
	if len(r.ByRule) > 0 {
		if err := p.chart(cs.Rules); err != nil {
			return err
		}
		var rows [][]cell
		for _, rc := range r.ByRule {
			rows = append(rows, []cell{{text: rc.Rule}, prioCell(rc.Highest), {text: num(rc.Count)}, {text: rc.Description, small: true}})
		}
		if r.OtherRules > 0 {
			rows = append(rows, []cell{{text: "other rules"}, {}, {text: num(r.OtherRules)}, {}})
		}
		p.table([]column{{"Rule", 0.3, "L"}, {"Highest priority", 0.15, "L"}, {"Alerts", 0.1, "R"}, {"What it detects", 0.45, "L"}}, rows)
	} else {
		p.none()
	}

	// Namespaces.
	p.heading("Alerts by namespace", 10+p.chartHeight(cs.Namespaces))
	p.intro(introNamespaces)
	if len(r.ByNamespace) > 0 || r.NoNamespace > 0 {
		if err := p.chart(cs.Namespaces); err != nil {
			return err
		}
		var rows [][]cell
		for _, c := range r.ByNamespace {
			rows = append(rows, []cell{{text: c.Key}, {text: num(c.Count)}, {text: share(c.Count, r.Total)}})
		}
		if r.OtherNamespaces > 0 {
			rows = append(rows, []cell{{text: "other namespaces"}, {text: num(r.OtherNamespaces)}, {text: share(r.OtherNamespaces, r.Total)}})
		}
		if r.NoNamespace > 0 {
			rows = append(rows, []cell{{text: "no namespace"}, {text: num(r.NoNamespace)}, {text: share(r.NoNamespace, r.Total)}})
		}
		p.table([]column{{"Namespace", 0.5, "L"}, {"Alerts", 0.25, "R"}, {"Share", 0.25, "R"}}, rows)
	} else {
		p.none()
	}

	// Workloads.
	p.heading("Top offending workloads", 0)
	p.intro(introWorkloads)
	if len(r.Workloads) > 0 {
		var rows [][]cell
		for _, w := range r.Workloads {
			rows = append(rows, []cell{{text: w.Namespace}, {text: w.Label()}, {text: strings.Join(w.Images, ", "), small: true},
				{text: fmt.Sprint(len(w.Pods))}, prioCell(w.Highest), {text: num(w.Count)}})
		}
		p.table([]column{{"Namespace", 0.14, "L"}, {"Workload", 0.24, "L"}, {"Images", 0.3, "L"}, {"Pods", 0.07, "R"},
			{"Highest priority", 0.15, "L"}, {"Alerts", 0.1, "R"}}, rows)
		if r.WorkloadsTotal > len(r.Workloads) {
			p.intro(fmt.Sprintf("The %d workloads with the most alerts of %d.", len(r.Workloads), r.WorkloadsTotal))
		}
	} else {
		p.none()
	}

	// Audit.
	p.heading("Kubernetes audit activity", 0)
	p.intro(introAudit)
	if len(r.Audit) > 0 {
		if len(r.AuditByUser) > 0 {
			p.subheading("By user")
			var rows [][]cell
			for _, u := range r.AuditByUser {
				rows = append(rows, []cell{{text: u.User}, {text: num(u.Alerts)}, {text: num(u.Changes)}})
			}
			p.table([]column{{"User", 0.5, "L"}, {"Audit alerts", 0.25, "R"}, {"Changes", 0.25, "R"}}, rows)
		}
		p.subheading("Alerts, newest first")
		var rows [][]cell
		for _, c := range r.Audit {
			rows = append(rows, []cell{{text: c.Time.UTC().Format("2006-01-02 15:04:05"), small: true}, {text: c.User}, {text: c.Verb},
				{text: c.ResourceText()}, {text: c.Namespace}, {text: c.Name}, {text: c.Rule, small: true}, prioCell(c.Priority)})
		}
		p.table([]column{{"Time (UTC)", 0.16, "L"}, {"User", 0.15, "L"}, {"Verb", 0.07, "L"}, {"Resource", 0.11, "L"},
			{"Namespace", 0.09, "L"}, {"Name", 0.13, "L"}, {"Rule", 0.17, "L"}, {"Priority", 0.12, "L"}}, rows)
		if r.AuditTotal > int64(len(r.Audit)) {
			p.intro(fmt.Sprintf("The newest %d of %s audit alerts.", len(r.Audit), num(r.AuditTotal)))
		}
	} else {
		p.none()
	}

	p.heading("About this report", 0)
	p.intro(introAbout)

	if err := f.Error(); err != nil {
		return fmt.Errorf("report: building the PDF: %w", err)
	}
	if err := f.Output(w); err != nil {
		return fmt.Errorf("report: writing the PDF: %w", err)
	}
	return nil
}

// trailTone is 1 for a good verdict, 2 for a bad one, 0 when unknown.
func trailTone(word string) int {
	switch word {
	case "intact":
		return 1
	case "BROKEN", "verification failed":
		return 2
	}
	return 0
}

// needSpace starts a new page when less than h millimetres are left on this one.
func (p *pdfWriter) needSpace(h float64) {
	_, ph := p.f.GetPageSize()
	if p.f.GetY()+h > ph-pageMargin-5 {
		p.f.AddPage()
	}
}

// heading starts a section. keep is the height of what must follow it on the same page (the
// intro and the first chart or rows), so that a heading never ends a page.
func (p *pdfWriter) heading(s string, keep float64) {
	p.needSpace(12 + max(keep, 20))
	f := p.f
	f.Ln(3)
	f.SetFont("Helvetica", "B", 13)
	f.SetTextColor(0x1e, 0x1e, 0x24)
	f.CellFormat(p.width, 7, p.tr(s), "", 1, "L", false, 0, "")
	y := f.GetY()
	f.SetDrawColor(0xd8, 0xd7, 0xdc)
	f.SetLineWidth(0.3)
	f.Line(pageMargin, y, pageMargin+p.width, y)
	f.SetY(y + 1.5)
}

func (p *pdfWriter) subheading(s string) {
	p.needSpace(25)
	p.f.SetFont("Helvetica", "B", 10)
	p.f.SetTextColor(0x1e, 0x1e, 0x24)
	p.f.CellFormat(p.width, 6, p.tr(s), "", 1, "L", false, 0, "")
}

func (p *pdfWriter) intro(s string) {
	p.f.SetFont("Helvetica", "", 8.5)
	p.f.SetTextColor(0x5e, 0x5c, 0x64)
	p.f.MultiCell(p.width, lineH-0.4, p.tr(s), "", "L", false)
	p.f.Ln(1)
}

func (p *pdfWriter) text(s string) {
	p.f.SetFont("Helvetica", "", 10)
	p.f.SetTextColor(0x1e, 0x1e, 0x24)
	p.f.MultiCell(p.width, lineH+0.4, p.tr(s), "", "L", false)
	p.f.Ln(1)
}

func (p *pdfWriter) none() {
	p.f.SetFont("Helvetica", "I", 10)
	p.f.SetTextColor(0x5e, 0x5c, 0x64)
	p.f.CellFormat(p.width, lineH+1, noneInPeriod, "", 1, "L", false, 0, "")
}

type card struct {
	value, label string
	tone         int
}

// cards draws the key numbers as a row of boxes, three to a row.
func (p *pdfWriter) cards(cs []card) {
	f := p.f
	const per, gap, h = 3, 4.0, 17.0
	w := (p.width - gap*(per-1)) / per
	p.needSpace(h*2 + gap)
	y0 := f.GetY()
	for i, c := range cs {
		x := pageMargin + float64(i%per)*(w+gap)
		y := y0 + float64(i/per)*(h+gap)
		f.SetFillColor(0xf4, 0xf4, 0xf6)
		switch c.tone {
		case 1:
			f.SetDrawColor(0x26, 0xa2, 0x69)
		case 2:
			f.SetDrawColor(0xc0, 0x1c, 0x28)
		default:
			f.SetDrawColor(0xd8, 0xd7, 0xdc)
		}
		f.SetLineWidth(0.3)
		f.Rect(x, y, w, h, "FD")
		f.SetXY(x+3, y+2.5)
		f.SetFont("Helvetica", "B", 15)
		switch c.tone {
		case 1:
			f.SetTextColor(0x26, 0xa2, 0x69)
		case 2:
			f.SetTextColor(0xc0, 0x1c, 0x28)
		default:
			f.SetTextColor(0x1e, 0x1e, 0x24)
		}
		f.CellFormat(w-6, 7, p.tr(c.value), "", 0, "L", false, 0, "")
		f.SetXY(x+3, y+10)
		f.SetFont("Helvetica", "", 7.5)
		f.SetTextColor(0x5e, 0x5c, 0x64)
		f.CellFormat(w-6, 4, p.tr(c.label), "", 0, "L", false, 0, "")
	}
	rows := (len(cs) + per - 1) / per
	f.SetXY(pageMargin, y0+float64(rows)*(h+gap))
}

// chartHeight is the height c takes on the page (0 for no chart).
func (p *pdfWriter) chartHeight(c *Chart) float64 {
	if c == nil {
		return 0
	}
	return p.width * float64(c.Height) / float64(c.Width)
}

// chart draws c across the text width (as a PNG: the core PDF fonts cannot draw the
// plot's fonts, and an image keeps the chart exactly as in the HTML).
func (p *pdfWriter) chart(c *Chart) error {
	if c == nil {
		return nil
	}
	img, err := c.PNG(chartDPI)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	p.imgs++
	name := fmt.Sprintf("chart%d", p.imgs)
	opts := fpdf.ImageOptions{ImageType: "PNG"}
	p.f.RegisterImageOptionsReader(name, opts, bytes.NewReader(img))
	h := p.chartHeight(c)
	p.needSpace(h + 2)
	p.f.ImageOptions(name, pageMargin, p.f.GetY(), p.width, h, true, opts, 0, "")
	p.f.Ln(2)
	return nil
}

type column struct {
	title string
	frac  float64 // share of the text width
	align string
}

type cell struct {
	text  string
	bold  bool
	small bool
	// prio, when set, draws the cell as a coloured priority label.
	prio *alert.Priority
}

func prioCell(pr alert.Priority) cell { return cell{text: pr.String(), prio: &pr} }

// table draws a table whose cells wrap; a row never splits across pages, and the header is
// repeated on each page the table continues on.
func (p *pdfWriter) table(cols []column, rows [][]cell) {
	f := p.f
	const pad = 1.2
	const rowLine = 3.9
	widths := make([]float64, len(cols))
	for i, c := range cols {
		widths[i] = c.frac * p.width
	}
	header := func() {
		f.SetFont("Helvetica", "B", 8)
		f.SetFillColor(0xf4, 0xf4, 0xf6)
		f.SetTextColor(0x1e, 0x1e, 0x24)
		f.SetDrawColor(0xd8, 0xd7, 0xdc)
		x := pageMargin
		y := f.GetY()
		for i, c := range cols {
			f.SetXY(x, y)
			f.CellFormat(widths[i], 6, p.tr(c.title), "B", 0, c.align, true, 0, "")
			x += widths[i]
		}
		f.SetXY(pageMargin, y+6)
	}
	p.needSpace(6 + 2*rowLine + 2*pad)
	header()
	_, ph := f.GetPageSize()
	for _, row := range rows {
		// Wrap every cell first, to know the row's height.
		lines := make([][]string, len(row))
		n := 1
		for i, c := range row {
			p.cellFont(c)
			lines[i] = f.SplitText(p.tr(c.text), widths[i]-2*pad)
			n = max(n, len(lines[i]))
		}
		h := float64(n)*rowLine + 2*pad
		if f.GetY()+h > ph-pageMargin-5 {
			f.AddPage()
			header()
		}
		y := f.GetY()
		x := pageMargin
		for i, c := range row {
			p.cellFont(c)
			if c.prio != nil {
				col := priorityColor(*c.prio)
				f.SetFillColor(int(col.R), int(col.G), int(col.B))
				// The label's own padding is the cell margin CellFormat puts before the text.
				tw := min(f.GetStringWidth(p.tr(c.text))+2*f.GetCellMargin(), widths[i]-2*pad)
				f.RoundedRect(x+pad, y+pad-0.2, tw, rowLine+0.4, 0.8, "1234", "F")
				if *c.prio == alert.Warning || *c.prio >= alert.Informational {
					f.SetTextColor(0x1e, 0x1e, 0x24)
				} else {
					f.SetTextColor(0xff, 0xff, 0xff)
				}
				f.SetXY(x+pad, y+pad)
				f.CellFormat(tw, rowLine, p.tr(c.text), "", 0, "L", false, 0, "")
			} else {
				for j, l := range lines[i] {
					f.SetXY(x+pad, y+pad+float64(j)*rowLine)
					f.CellFormat(widths[i]-2*pad, rowLine, l, "", 0, cols[i].align, false, 0, "")
				}
			}
			x += widths[i]
		}
		f.SetDrawColor(0xd8, 0xd7, 0xdc)
		f.SetLineWidth(0.2)
		f.Line(pageMargin, y+h, pageMargin+p.width, y+h)
		f.SetXY(pageMargin, y+h)
	}
	f.Ln(2)
}

func (p *pdfWriter) cellFont(c cell) {
	style, size := "", 8.0
	if c.bold || c.prio != nil {
		style = "B"
	}
	if c.small || c.prio != nil {
		size = 7.2
	}
	p.f.SetFont("Helvetica", style, size)
	if c.small {
		p.f.SetTextColor(0x5e, 0x5c, 0x64)
	} else {
		p.f.SetTextColor(0x1e, 0x1e, 0x24)
	}
}
