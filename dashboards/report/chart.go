package report

import (
	"bytes"
	"fmt"
	"image/color"
	"regexp"
	"slices"
	"unicode/utf8"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/lannersec/lanner/collector/alert"
)

// Chart sizes: the width of an A4 page's text column.
const (
	chartWidth     = 17 * vg.Centimeter
	dayChartHeight = 7 * vg.Centimeter
)

// barChartHeight grows with the number of bars, so that each label has room.
func barChartHeight(n int) vg.Length {
	return vg.Length(max(n, 3))*0.62*vg.Centimeter + 2.2*vg.Centimeter
}

// priorityColor gives each priority a colour that says how bad it is: reds for the severe ones,
// orange for Warning, blues and grey for the informative ones. The same colours are used in
// the HTML and PDF tables.
func priorityColor(p alert.Priority) color.RGBA {
	switch p {
	case alert.Emergency:
		return color.RGBA{0x5c, 0x00, 0x12, 0xff}
	case alert.PriorityAlert:
		return color.RGBA{0x8b, 0x00, 0x1a, 0xff}
	case alert.Critical:
		return color.RGBA{0xc0, 0x1c, 0x28, 0xff}
	case alert.Error:
		return color.RGBA{0xe6, 0x61, 0x00, 0xff}
	case alert.Warning:
		return color.RGBA{0xf5, 0xa6, 0x23, 0xff}
	case alert.Notice:
		return color.RGBA{0x35, 0x84, 0xe4, 0xff}
	case alert.Informational:
		return color.RGBA{0x62, 0xa0, 0xea, 0xff}
	default:
		return color.RGBA{0x9a, 0x99, 0x96, 0xff}
	}
}

// Chart is a drawn plot and its size.
type Chart struct {
	Plot          *plot.Plot
	Width, Height vg.Length
}

// Charts are the report's three charts; a nil one has no data (the section says so).
type Charts struct {
	Days, Rules, Namespaces *Chart
}

// BuildCharts draws the charts of r. A chart without data is nil.
func BuildCharts(r *Report) (Charts, error) {
	var cs Charts
	var err error
	if cs.Days, err = dayChart(r.Days); err != nil {
		return cs, fmt.Errorf("report: alerts-per-day chart: %w", err)
	}
	if cs.Rules, err = ruleChart(r.ByRule); err != nil {
		return cs, fmt.Errorf("report: rules chart: %w", err)
	}
	ns := append([]Count(nil), r.ByNamespace...)
	if r.OtherNamespaces > 0 {
		ns = append(ns, Count{Key: "(other namespaces)", Count: r.OtherNamespaces})
	}
	if r.NoNamespace > 0 {
		ns = append(ns, Count{Key: "(no namespace)", Count: r.NoNamespace})
	}
	if cs.Namespaces, err = countChart("Alerts by namespace", ns); err != nil {
		return cs, fmt.Errorf("report: namespaces chart: %w", err)
	}
	return cs, nil
}

// newPlot returns a plot with the report's type: Liberation Sans (plot's default is the serif
// face; plot.DefaultFont is package state, so each plot sets its own), small sizes for a page.
func newPlot(title string) *plot.Plot {
	p := plot.New()
	sans := func(f *font.Font, size vg.Length) {
		f.Typeface, f.Variant, f.Size = "Liberation", "Sans", size
	}
	p.Title.Text = title
	sans(&p.Title.TextStyle.Font, 11)
	p.Title.Padding = 4 * vg.Millimeter
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		sans(&a.Label.TextStyle.Font, 8)
		sans(&a.Tick.Label.Font, 7)
	}
	sans(&p.Legend.TextStyle.Font, 7)
	return p
}

// dayChart stacks each day's alerts by priority, the most severe at the bottom.
func dayChart(days []Day) (*Chart, error) {
	var total int64
	var peak int64
	for _, d := range days {
		total += d.Total
		peak = max(peak, d.Total)
	}
	if total == 0 {
		return nil, nil
	}
	p := newPlot("Alerts per day (UTC), by priority")
	p.Y.Label.Text = "alerts"
	p.Y.Min = 0
	// Leave room above the highest bar for the legend.
	p.Y.Max = float64(peak) * 1.3
	p.Legend.Top = true
	labels := make([]string, len(days))
	every := max(1, len(days)/14)
	for i, d := range days {
		if i%every == 0 {
			labels[i] = d.Day.Format("Jan 2")
		}
	}
	width := (chartWidth - 3*vg.Centimeter) / vg.Length(len(days)) * 0.7
	var below *plotter.BarChart
	for _, pr := range Priorities() {
		vals := make(plotter.Values, len(days))
		var n int64
		for i, d := range days {
			vals[i] = float64(d.ByPriority[pr])
			n += d.ByPriority[pr]
		}
		if n == 0 {
			continue
		}
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		b.Color = priorityColor(pr)
		b.LineStyle.Width = 0
		if below != nil {
			b.StackOn(below)
		}
		below = b
		p.Add(b)
		p.Legend.Add(pr.String(), b)
	}
	p.NominalX(labels...)
	return &Chart{Plot: p, Width: chartWidth, Height: dayChartHeight}, nil
}

// shorten cuts a label to n characters with an ellipsis, so that long rule names leave room
// for the bars.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// ruleChart draws one horizontal bar per rule, the most frequent at the top, coloured by the
// rule's highest priority.
func ruleChart(rules []RuleCount) (*Chart, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	n := len(rules)
	labels := make([]string, n)
	for i, rc := range rules {
		labels[n-1-i] = shorten(rc.Rule, 44)
	}
	p := newPlot("Top rules")
	p.X.Label.Text = "alerts"
	p.X.Min = 0
	// Room right of the longest bar for the legend (bottom right, beside the shortest bars).
	p.X.Max = float64(rules[0].Count) * 1.25
	width := barChartHeight(n) / vg.Length(n+2) * 0.7
	for _, pr := range Priorities() {
		vals := make(plotter.Values, n)
		has := false
		for i, rc := range rules {
			if rc.Highest == pr {
				vals[n-1-i] = float64(rc.Count)
				has = true
			}
		}
		if !has {
			continue
		}
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		b.Horizontal = true
		b.Color = priorityColor(pr)
		b.LineStyle.Width = 0
		p.Add(b)
		p.Legend.Add(pr.String(), b)
	}
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.YOffs = 0
	p.NominalY(labels...)
	return &Chart{Plot: p, Width: chartWidth, Height: barChartHeight(n)}, nil
}

// countChart draws one horizontal bar per item, the first at the top.
func countChart(title string, items []Count) (*Chart, error) {
	if len(items) == 0 {
		return nil, nil
	}
	n := len(items)
	labels := make([]string, n)
	vals := make(plotter.Values, n)
	for i, c := range items {
		labels[n-1-i] = shorten(c.Key, 44)
		vals[n-1-i] = float64(c.Count)
	}
	p := newPlot(title)
	p.X.Label.Text = "alerts"
	p.X.Min = 0
	p.X.Max = slices.Max(vals) * 1.08 // the longest bar ends short of the frame
	b, err := plotter.NewBarChart(vals, barChartHeight(n)/vg.Length(n+2)*0.7)
	if err != nil {
		return nil, err
	}
	b.Horizontal = true
	b.Color = color.RGBA{0x1c, 0x71, 0xd8, 0xff}
	b.LineStyle.Width = 0
	p.Add(b)
	p.NominalY(labels...)
	return &Chart{Plot: p, Width: chartWidth, Height: barChartHeight(n)}, nil
}

var svgHeader = regexp.MustCompile(`(?s)^.*?<svg`)

// SVG renders c as an SVG element ready to inline in HTML: without the XML prolog (gonum's
// writer gives the element a viewBox, so CSS can scale it to the page).
func (c *Chart) SVG() ([]byte, error) {
	canvas := vgsvg.New(c.Width, c.Height)
	c.Plot.Draw(draw.New(canvas))
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("rendering SVG: %w", err)
	}
	return svgHeader.ReplaceAll(buf.Bytes(), []byte("<svg")), nil
}

// PNG renders c as a PNG image at dpi dots per inch.
func (c *Chart) PNG(dpi int) ([]byte, error) {
	canvas := vgimg.NewWith(vgimg.UseWH(c.Width, c.Height), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	c.Plot.Draw(draw.New(canvas))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: canvas}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("rendering PNG: %w", err)
	}
	return buf.Bytes(), nil
}
