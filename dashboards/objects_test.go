package dashboards

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/lannersec/lanner/shippers/elasticsearch"
)

// These tests read the embedded NDJSON as Kibana would, not the Go definitions, so that they
// check the file that ships.

type object struct {
	ID                   string          `json:"id"`
	Type                 string          `json:"type"`
	Attributes           map[string]any  `json:"attributes"`
	References           []reference     `json:"references"`
	CoreMigrationVersion string          `json:"coreMigrationVersion"`
	TypeMigrationVersion string          `json:"typeMigrationVersion"`
	MigrationVersion     json.RawMessage `json:"migrationVersion"`
	line                 int
}

func parseNDJSON(t *testing.T, b []byte) []object {
	t.Helper()
	var objs []object
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var o object
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		o.line = n
		objs = append(objs, o)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return objs
}

// TestNDJSONUpToDate fails when the committed file differs from what the generator makes of
// the Go definitions and the current index template: run go run ./dashboards/gen.
func TestNDJSONUpToDate(t *testing.T) {
	want, err := Lanner().Render(TemplateSchema())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(NDJSON(), want) {
		t.Fatal("dashboards/kibana/lanner.ndjson is out of date: run `go run ./dashboards/gen` from the repository root")
	}
}

// stringJSON decodes a stringified JSON attribute.
func stringJSON(t *testing.T, o object, path string, v any) {
	t.Helper()
	var cur any = o.Attributes
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s %s: no %s", o.Type, o.ID, path)
		}
		cur = m[k]
	}
	s, ok := cur.(string)
	if !ok {
		t.Fatalf("%s %s: %s is %T, want a JSON string", o.Type, o.ID, path, cur)
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%s %s: %s does not parse: %v", o.Type, o.ID, path, err)
	}
}

func TestNDJSONObjects(t *testing.T) {
	objs := parseNDJSON(t, NDJSON())
	byID := map[string]object{}
	counts := map[string]int{}
	for _, o := range objs {
		if o.ID == "" || o.Type == "" {
			t.Fatalf("line %d: no id or type", o.line)
		}
		if _, dup := byID[o.ID]; dup {
			t.Fatalf("line %d: id %s repeated", o.line, o.ID)
		}
		byID[o.ID] = o
		counts[o.Type]++
	}
	for typ, min := range map[string]int{"index-pattern": 1, "lens": 9, "search": 1, "dashboard": 2} {
		if counts[typ] < min {
			t.Errorf("%d objects of type %s, want at least %d", counts[typ], typ, min)
		}
	}
	dashboards := map[string]bool{}
	semver := regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	for _, o := range objs {
		where := o.Type + " " + o.ID
		title, _ := o.Attributes["title"].(string)
		if title == "" {
			t.Errorf("%s: no attributes.title", where)
		}
		if o.References == nil {
			t.Errorf("%s: no references array", where)
		}
		// Kibana 8.8+ form: coreMigrationVersion + typeMigrationVersion; the pre-8.8 form
		// (migrationVersion) must not be mixed in.
		if !semver.MatchString(o.CoreMigrationVersion) || !semver.MatchString(o.TypeMigrationVersion) {
			t.Errorf("%s: coreMigrationVersion %q typeMigrationVersion %q", where, o.CoreMigrationVersion, o.TypeMigrationVersion)
		}
		if o.MigrationVersion != nil {
			t.Errorf("%s: both migrationVersion and typeMigrationVersion", where)
		}
		refNames := map[string]reference{}
		for _, r := range o.References {
			if _, dup := refNames[r.Name]; dup {
				t.Errorf("%s: reference name %s repeated", where, r.Name)
			}
			refNames[r.Name] = r
			target, ok := byID[r.ID]
			switch {
			case !ok:
				t.Errorf("%s: reference %s to %s %s: no such object in the file", where, r.Name, r.Type, r.ID)
			case target.Type != r.Type:
				t.Errorf("%s: reference %s says %s %s, the object is a %s", where, r.Name, r.Type, r.ID, target.Type)
			}
		}
		switch o.Type {
		case "index-pattern":
			if o.Attributes["timeFieldName"] != "@timestamp" {
				t.Errorf("%s: timeFieldName %v", where, o.Attributes["timeFieldName"])
			}
			pats := strings.Split(o.Attributes["title"].(string), ",")
			for _, want := range []string{"logs-lanner.alerts-*", "lanner-alerts-*"} {
				if !contains(pats, want) {
					t.Errorf("%s: patterns %q lack %s", where, pats, want)
				}
			}
			for _, k := range []string{"fields", "fieldAttrs", "fieldFormatMap", "runtimeFieldMap", "sourceFilters"} {
				var v any
				stringJSON(t, o, k, &v)
			}
		case "lens":
			state, ok := o.Attributes["state"].(map[string]any)
			if !ok {
				t.Fatalf("%s: no state object", where)
			}
			switch o.Attributes["visualizationType"] {
			case "lnsXY", "lnsDatatable":
			default:
				t.Errorf("%s: visualizationType %v", where, o.Attributes["visualizationType"])
			}
			layers := lensLayers(t, o)
			if len(layers) == 0 {
				t.Errorf("%s: no layers", where)
			}
			for id, l := range layers {
				r, ok := refNames["indexpattern-datasource-layer-"+id]
				if !ok || r.Type != "index-pattern" {
					t.Errorf("%s: layer %s has no data view reference", where, id)
				}
				for _, c := range l.ColumnOrder {
					if _, ok := l.Columns[c]; !ok {
						t.Errorf("%s: columnOrder names %s, not a column", where, c)
					}
				}
				if len(l.ColumnOrder) != len(l.Columns) {
					t.Errorf("%s: %d columns, %d in columnOrder", where, len(l.Columns), len(l.ColumnOrder))
				}
			}
			vis, _ := state["visualization"].(map[string]any)
			for _, acc := range accessors(vis) {
				found := false
				for _, l := range layers {
					_, found = l.Columns[acc]
					if found {
						break
					}
				}
				if !found {
					t.Errorf("%s: the visualization shows column %s, which no layer has", where, acc)
				}
			}
		case "search":
			var src map[string]any
			stringJSON(t, o, "kibanaSavedObjectMeta.searchSourceJSON", &src)
			name, _ := src["indexRefName"].(string)
			if r, ok := refNames[name]; name == "" || !ok || r.Type != "index-pattern" {
				t.Errorf("%s: indexRefName %q has no data view reference", where, name)
			}
			if cols, _ := o.Attributes["columns"].([]any); len(cols) == 0 {
				t.Errorf("%s: no columns", where)
			}
		case "dashboard":
			dashboards[title] = true
			var panels []struct {
				Type, PanelIndex, PanelRefName string
				GridData                       struct {
					X, Y, W, H int
					I          string
				}
			}
			stringJSON(t, o, "panelsJSON", &panels)
			var opts, src map[string]any
			stringJSON(t, o, "optionsJSON", &opts)
			stringJSON(t, o, "kibanaSavedObjectMeta.searchSourceJSON", &src)
			if len(panels) == 0 {
				t.Errorf("%s: no panels", where)
			}
			used := map[string]bool{}
			for _, p := range panels {
				if p.GridData.I != p.PanelIndex || p.PanelIndex == "" {
					t.Errorf("%s: panel %q has gridData.i %q", where, p.PanelIndex, p.GridData.I)
				}
				if p.GridData.X+p.GridData.W > 48 || p.GridData.W <= 0 || p.GridData.H <= 0 {
					t.Errorf("%s: panel %s off the 48-column grid: %+v", where, p.PanelIndex, p.GridData)
				}
				// Kibana resolves a by-reference panel by the reference whose name is
				// "<panelIndex>:<panelRefName>" (8.x) or "<panelRefName>" (7.x).
				r, ok := refNames[p.PanelIndex+":"+p.PanelRefName]
				if !ok {
					r, ok = refNames[p.PanelRefName]
				}
				switch {
				case p.PanelRefName == "" || !ok:
					t.Errorf("%s: panel %s (panelRefName %q) has no matching reference", where, p.PanelIndex, p.PanelRefName)
				case r.Type != p.Type:
					t.Errorf("%s: panel %s is a %s, its reference a %s", where, p.PanelIndex, p.Type, r.Type)
				}
				used[r.Name] = true
			}
			for name := range refNames {
				if !used[name] {
					t.Errorf("%s: reference %s belongs to no panel", where, name)
				}
			}
		default:
			t.Errorf("%s: unexpected type", where)
		}
	}
	for _, want := range []string{"Runtime security overview", "Kubernetes audit"} {
		if !dashboards[want] {
			t.Errorf("no dashboard titled %q", want)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

type lensLayer struct {
	ColumnOrder []string `json:"columnOrder"`
	Columns     map[string]struct {
		OperationType string `json:"operationType"`
		SourceField   string `json:"sourceField"`
		DataType      string `json:"dataType"`
	} `json:"columns"`
}

func lensLayers(t *testing.T, o object) map[string]lensLayer {
	t.Helper()
	b, _ := json.Marshal(o.Attributes["state"])
	var st struct {
		DatasourceStates struct {
			FormBased struct {
				Layers map[string]lensLayer `json:"layers"`
			} `json:"formBased"`
		} `json:"datasourceStates"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("lens %s: state: %v", o.ID, err)
	}
	return st.DatasourceStates.FormBased.Layers
}

// accessors lists the column ids an XY or datatable visualization state displays.
func accessors(vis map[string]any) []string {
	var out []string
	str := func(v any) {
		if s, ok := v.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	for _, l := range asSlice(vis["layers"]) {
		m, _ := l.(map[string]any)
		str(m["xAccessor"])
		str(m["splitAccessor"])
		for _, a := range asSlice(m["accessors"]) {
			str(a)
		}
	}
	for _, c := range asSlice(vis["columns"]) {
		m, _ := c.(map[string]any)
		str(m["columnId"])
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// TestVisualizationFieldsInTemplate checks, from the shipped file, that every field a Lens
// visualization buckets on or filters by is mapped by the index template with an aggregatable
// type, and that saved search columns are mapped.
func TestVisualizationFieldsInTemplate(t *testing.T) {
	fields := elasticsearch.Fields()
	kql := regexp.MustCompile(`^([A-Za-z0-9_.@\[\]]+) : "[^"]*"$`)
	queryField := func(where string, q any) {
		m, _ := q.(map[string]any)
		s, _ := m["query"].(string)
		if s == "" {
			return
		}
		sm := kql.FindStringSubmatch(s)
		if sm == nil {
			t.Errorf("%s: query %q is not the `field : \"value\"` form this test can check", where, s)
			return
		}
		if typ := fields[sm[1]]; !Aggregatable(typ) {
			t.Errorf("%s: query field %s mapped as %q", where, sm[1], typ)
		}
	}
	checked := 0
	for _, o := range parseNDJSON(t, NDJSON()) {
		where := o.Type + " " + o.ID
		switch o.Type {
		case "lens":
			for _, l := range lensLayers(t, o) {
				for id, c := range l.Columns {
					if c.OperationType == "count" && c.SourceField == "___records___" {
						continue
					}
					typ, ok := fields[c.SourceField]
					switch {
					case !ok:
						t.Errorf("%s: column %s uses %q, which the index template does not map", where, id, c.SourceField)
					case !Aggregatable(typ):
						t.Errorf("%s: column %s uses %q, mapped as %s (not aggregatable)", where, id, c.SourceField, typ)
					case dataType(typ) != c.DataType:
						t.Errorf("%s: column %s says %s, the field is %s", where, id, c.DataType, typ)
					}
					checked++
				}
			}
			queryField(where, o.Attributes["state"].(map[string]any)["query"])
		case "search", "dashboard":
			var src map[string]any
			stringJSON(t, o, "kibanaSavedObjectMeta.searchSourceJSON", &src)
			queryField(where, src["query"])
			for _, c := range asSlice(o.Attributes["columns"]) {
				if _, ok := fields[c.(string)]; !ok {
					t.Errorf("%s: column %v is not in the index template", where, c)
				}
			}
		}
	}
	if checked < 12 {
		t.Fatalf("only %d columns checked", checked)
	}
}

// TestValidateRejects checks that generation refuses what Kibana could not draw.
func TestValidateRejects(t *testing.T) {
	schema := TemplateSchema()
	for _, tc := range []struct {
		name string
		edit func(*Set)
		want string
	}{
		{"unmapped field", func(s *Set) { s.Visualizations[1].Terms[0].Field = "rule.nmae" }, `"rule.nmae" is not in the index template`},
		{"text field", func(s *Set) { s.Visualizations[1].Terms[0].Field = "message" }, `"message" is mapped as text`},
		{"flattened root", func(s *Set) { s.Visualizations[1].Terms[0].Field = "falco.output_fields" }, "flattened, which cannot be aggregated"},
		{"unknown panel", func(s *Set) { s.Dashboards[0].Panels[0].Ref = "nope" }, `"nope" is not a visualization`},
		{"duplicate id", func(s *Set) { s.Searches[0].ID = s.Visualizations[0].ID }, "used by a lens and a search"},
		{"off the grid", func(s *Set) { s.Dashboards[0].Panels[1].W = 49 }, "does not fit"},
		{"bar with two fields", func(s *Set) {
			s.Visualizations[1].Terms = append(s.Visualizations[1].Terms, Terms{Field: "rule.id", Size: 3})
		}, "needs one field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Lanner()
			tc.edit(&s)
			_, err := s.Render(schema)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Render: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestSearchBody checks the aggregation a visualization stands for: nesting order, sizes and
// the filter.
func TestSearchBody(t *testing.T) {
	var v Visualization
	for _, x := range Lanner().Visualizations {
		if x.ID == "lanner-audit-activity" {
			v = x
		}
	}
	b, _ := json.Marshal(v.SearchBody())
	want := `{"aggs":{"level0":{"aggs":{"level1":{"aggs":{"level2":{"terms":{"field":"orchestrator.resource.type","size":10}}},` +
		`"terms":{"field":"event.action","size":10}}},"terms":{"field":"user.name","size":10}}},` +
		`"query":{"bool":{"filter":[{"term":{"event.provider":"k8s_audit"}}]}},"size":0,"track_total_hits":true}`
	if string(b) != want {
		t.Fatalf("search body\n got  %s\n want %s", b, want)
	}
}
