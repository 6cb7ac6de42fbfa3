package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Migration versions written into every object. Kibana migrates an object forward on import
// but refuses one newer than it knows, so these are the oldest versions whose structure the
// objects follow: the 8.8 envelope (coreMigrationVersion + typeMigrationVersion) and Lens
// state in formBased layers (8.9). The NDJSON therefore needs Kibana 8.9 or newer.
const (
	coreMigrationVersion = "8.8.0"
)

var typeMigrationVersion = map[string]string{
	"index-pattern": "8.0.0",
	"search":        "8.0.0",
	"lens":          "8.9.0",
	"dashboard":     "8.9.0",
}

// Schema is what saved objects are checked against: the types of the fields the index
// template maps (shippers/elasticsearch.Fields) and the index patterns the data view covers.
type Schema struct {
	Fields   map[string]string
	Patterns []string
}

// Aggregatable reports whether a field of Elasticsearch type typ can be bucketed by Kibana:
// the types of lanner's template that have doc values (text and flattened roots do not count).
func Aggregatable(typ string) bool {
	switch typ {
	case "keyword", "long", "integer", "short", "byte", "double", "float", "date", "date_nanos", "ip", "boolean":
		return true
	}
	return false
}

// Validate checks s against schema: unique ids, every field a visualization buckets or filters
// on mapped with an aggregatable type, every saved search column mapped, every panel naming an
// object of the set. It returns all problems at once.
func (s Set) Validate(schema Schema) error {
	var errs []error
	if len(schema.Patterns) == 0 {
		errs = append(errs, errors.New("no index patterns for the data view"))
	}
	ids := map[string]string{DataViewID: "index-pattern"}
	addID := func(id, typ string) {
		if id == "" {
			errs = append(errs, fmt.Errorf("a %s has no id", typ))
			return
		}
		if prev, dup := ids[id]; dup {
			errs = append(errs, fmt.Errorf("id %q used by a %s and a %s", id, prev, typ))
			return
		}
		ids[id] = typ
	}
	field := func(owner, name string, needAgg bool) {
		typ, ok := schema.Fields[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: field %q is not in the index template", owner, name))
		case needAgg && !Aggregatable(typ):
			errs = append(errs, fmt.Errorf("%s: field %q is mapped as %s, which cannot be aggregated", owner, name, typ))
		}
	}
	for _, v := range s.Visualizations {
		addID(v.ID, "lens")
		if v.Title == "" {
			errs = append(errs, fmt.Errorf("visualization %s: no title", v.ID))
		}
		want := map[Chart]string{TimeSeries: "one breakdown field", Bar: "one field"}
		if (v.Chart == TimeSeries || v.Chart == Bar) && len(v.Terms) != 1 {
			errs = append(errs, fmt.Errorf("visualization %s: a %s chart needs %s, has %d", v.ID, chartName(v.Chart), want[v.Chart], len(v.Terms)))
		}
		if v.Chart == Table && len(v.Terms) == 0 {
			errs = append(errs, fmt.Errorf("visualization %s: a table needs at least one field", v.ID))
		}
		for _, t := range v.Terms {
			if t.Size <= 0 {
				errs = append(errs, fmt.Errorf("visualization %s: field %s: size %d", v.ID, t.Field, t.Size))
			}
		}
		for _, f := range v.Fields() {
			field("visualization "+v.ID, f, true)
		}
	}
	for _, ss := range s.Searches {
		addID(ss.ID, "search")
		for _, c := range ss.Columns {
			field("saved search "+ss.ID, c, false)
		}
		if ss.Filter != nil {
			field("saved search "+ss.ID, ss.Filter.Field, true)
		}
	}
	for _, d := range s.Dashboards {
		addID(d.ID, "dashboard")
		if d.Filter != nil {
			field("dashboard "+d.ID, d.Filter.Field, true)
		}
		for i, p := range d.Panels {
			switch ids[p.Ref] {
			case "lens", "search":
			default:
				errs = append(errs, fmt.Errorf("dashboard %s: panel %d: %q is not a visualization or saved search of the set", d.ID, i, p.Ref))
			}
			if p.X < 0 || p.W <= 0 || p.X+p.W > 48 || p.Y < 0 || p.H <= 0 {
				errs = append(errs, fmt.Errorf("dashboard %s: panel %d (%s) does not fit the 48-column grid", d.ID, i, p.Ref))
			}
		}
	}
	return errors.Join(errs...)
}

func chartName(c Chart) string {
	switch c {
	case TimeSeries:
		return "time series"
	case Bar:
		return "bar"
	}
	return "table"
}

// savedObject is one line of the NDJSON. Field order is fixed by the struct and maps marshal
// with sorted keys, so the output is byte-for-byte deterministic.
type savedObject struct {
	ID                   string         `json:"id"`
	Type                 string         `json:"type"`
	Attributes           map[string]any `json:"attributes"`
	References           []reference    `json:"references"`
	CoreMigrationVersion string         `json:"coreMigrationVersion"`
	TypeMigrationVersion string         `json:"typeMigrationVersion"`
	Managed              bool           `json:"managed"`
}

type reference struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// Render validates s against schema and returns it as Kibana 8.x saved-objects NDJSON: the data
// view, then the visualizations, saved searches and dashboards, one object per line.
func (s Set) Render(schema Schema) ([]byte, error) {
	if err := s.Validate(schema); err != nil {
		return nil, fmt.Errorf("dashboards: %w", err)
	}
	objs := []savedObject{s.dataView(schema)}
	for _, v := range s.Visualizations {
		objs = append(objs, v.lens(schema))
	}
	for _, ss := range s.Searches {
		objs = append(objs, ss.search())
	}
	titles := map[string]string{}
	types := map[string]string{}
	for _, v := range s.Visualizations {
		titles[v.ID], types[v.ID] = v.Title, "lens"
	}
	for _, ss := range s.Searches {
		titles[ss.ID], types[ss.ID] = ss.Title, "search"
	}
	for _, d := range s.Dashboards {
		objs = append(objs, d.dashboard(titles, types))
	}
	var buf bytes.Buffer
	for _, o := range objs {
		o.CoreMigrationVersion = coreMigrationVersion
		o.TypeMigrationVersion = typeMigrationVersion[o.Type]
		if o.References == nil {
			o.References = []reference{}
		}
		b, err := marshal(o)
		if err != nil {
			return nil, fmt.Errorf("dashboards: encode %s %s: %w", o.Type, o.ID, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// marshal encodes without HTML escaping: Kibana does not need "&" as \u0026, and the file
// stays readable ("MITRE ATT&CK").
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// jsonString encodes v as the JSON text Kibana keeps in string attributes (panelsJSON,
// searchSourceJSON...).
func jsonString(v any) string {
	b, err := marshal(v)
	if err != nil {
		// Only maps, slices and strings built here reach this: they always encode.
		panic(fmt.Sprintf("dashboards: encode attribute: %v", err))
	}
	return string(b)
}

func (s Set) dataView(schema Schema) savedObject {
	return savedObject{
		ID: DataViewID, Type: "index-pattern",
		Attributes: map[string]any{
			"title":         strings.Join(schema.Patterns, ","),
			"name":          s.DataViewName,
			"timeFieldName": timeField,
			// Fields are listed by Kibana from the indices at run time.
			"fields":          "[]",
			"fieldAttrs":      "{}",
			"fieldFormatMap":  "{}",
			"runtimeFieldMap": "{}",
			"sourceFilters":   "[]",
		},
	}
}

// The Lens layer and its data view reference follow Kibana's naming:
// "indexpattern-datasource-layer-<layer id>".
const (
	layerID      = "layer1"
	layerRefName = "indexpattern-datasource-layer-" + layerID
	countColumn  = "count"
)

func query(f *Filter) map[string]any {
	return map[string]any{"language": "kuery", "query": f.kql()}
}

// lens builds the Lens saved object of v.
func (v Visualization) lens(schema Schema) savedObject {
	columns := map[string]any{
		countColumn: map[string]any{
			"label": "Alerts", "customLabel": true, "dataType": "number", "operationType": "count",
			"sourceField": "___records___", "isBucketed": false, "scale": "ratio",
			"params": map[string]any{"emptyAsNull": true},
		},
	}
	var order, termCols []string
	for i, t := range v.Terms {
		id := fmt.Sprintf("terms%d", i)
		termCols = append(termCols, id)
		columns[id] = map[string]any{
			"label": t.Label, "customLabel": true, "dataType": dataType(schema.Fields[t.Field]),
			"operationType": "terms", "sourceField": t.Field, "isBucketed": true, "scale": "ordinal",
			"params": map[string]any{
				"size": t.Size, "orderBy": map[string]any{"type": "column", "columnId": countColumn},
				"orderDirection": "desc", "otherBucket": v.Chart != Table, "missingBucket": t.Missing,
				"parentFormat": map[string]any{"id": "terms"},
			},
		}
	}
	order = append(order, termCols...)
	var vis map[string]any
	visType := "lnsXY"
	switch v.Chart {
	case TimeSeries:
		columns["time"] = map[string]any{
			"label": timeField, "dataType": "date", "operationType": "date_histogram", "sourceField": timeField,
			"isBucketed": true, "scale": "interval",
			"params": map[string]any{"interval": "auto", "includeEmptyRows": true, "dropPartials": false},
		}
		order = append(order, "time")
		vis = xy("bar_stacked", map[string]any{"layerId": layerID, "layerType": "data", "seriesType": "bar_stacked",
			"xAccessor": "time", "accessors": []string{countColumn}, "splitAccessor": termCols[0]})
	case Bar:
		vis = xy("bar_horizontal", map[string]any{"layerId": layerID, "layerType": "data", "seriesType": "bar_horizontal",
			"xAccessor": termCols[0], "accessors": []string{countColumn}})
	case Table:
		visType = "lnsDatatable"
		var cols []map[string]any
		for _, id := range append(slices.Clone(termCols), countColumn) {
			cols = append(cols, map[string]any{"columnId": id, "isTransposed": false})
		}
		vis = map[string]any{"layerId": layerID, "layerType": "data", "columns": cols}
	}
	order = append(order, countColumn)
	return savedObject{
		ID: v.ID, Type: "lens",
		Attributes: map[string]any{
			"title": v.Title, "description": v.Description, "visualizationType": visType,
			"state": map[string]any{
				"datasourceStates": map[string]any{"formBased": map[string]any{"layers": map[string]any{
					layerID: map[string]any{"columnOrder": order, "columns": columns, "incompleteColumns": map[string]any{},
						"sampling": 1, "ignoreGlobalFilters": false},
				}}},
				"visualization":      vis,
				"query":              query(v.Filter),
				"filters":            []any{},
				"internalReferences": []any{},
				"adHocDataViews":     map[string]any{},
			},
		},
		References: []reference{{ID: DataViewID, Name: layerRefName, Type: "index-pattern"}},
	}
}

func xy(series string, layer map[string]any) map[string]any {
	return map[string]any{
		"legend":              map[string]any{"isVisible": true, "position": "right"},
		"valueLabels":         "hide",
		"fittingFunction":     "None",
		"preferredSeriesType": series,
		"layers":              []any{layer},
	}
}

// dataType is Lens's name for the values of an Elasticsearch field type.
func dataType(esType string) string {
	switch esType {
	case "long", "integer", "short", "byte", "double", "float":
		return "number"
	case "date", "date_nanos":
		return "date"
	case "ip":
		return "ip"
	case "boolean":
		return "boolean"
	}
	return "string"
}

// indexRefName is how a search source names its data view reference.
const indexRefName = "kibanaSavedObjectMeta.searchSourceJSON.index"

func (ss SavedSearch) search() savedObject {
	source := map[string]any{"query": query(ss.Filter), "filter": []any{}, "indexRefName": indexRefName}
	return savedObject{
		ID: ss.ID, Type: "search",
		Attributes: map[string]any{
			"title": ss.Title, "description": ss.Description, "columns": ss.Columns,
			"sort": [][]string{{timeField, "desc"}}, "grid": map[string]any{}, "hideChart": false,
			"isTextBasedQuery": false, "timeRestore": false,
			"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": jsonString(source)},
		},
		References: []reference{{ID: DataViewID, Name: indexRefName, Type: "index-pattern"}},
	}
}

// dashboard builds the dashboard object. Panels are by reference, in Kibana 8.x's naming:
// panelRefName "panel_<panelIndex>" and a reference "<panelIndex>:panel_<panelIndex>".
func (d Dashboard) dashboard(titles, types map[string]string) savedObject {
	var panels []map[string]any
	var refs []reference
	for i, p := range d.Panels {
		idx := fmt.Sprintf("p%d", i+1)
		ref := "panel_" + idx
		cfg := map[string]any{}
		if types[p.Ref] == "lens" {
			cfg["enhancements"] = map[string]any{}
		}
		panels = append(panels, map[string]any{
			"type": types[p.Ref], "panelIndex": idx, "title": titles[p.Ref],
			"gridData":         map[string]any{"x": p.X, "y": p.Y, "w": p.W, "h": p.H, "i": idx},
			"embeddableConfig": cfg, "panelRefName": ref,
		})
		refs = append(refs, reference{ID: p.Ref, Name: idx + ":" + ref, Type: types[p.Ref]})
	}
	options := map[string]any{"useMargins": true, "syncColors": false, "syncCursor": true, "syncTooltips": false, "hidePanelTitles": false}
	source := map[string]any{"query": query(d.Filter), "filter": []any{}}
	return savedObject{
		ID: d.ID, Type: "dashboard",
		Attributes: map[string]any{
			"title": d.Title, "description": d.Description, "timeRestore": false, "version": 1,
			"optionsJSON":           jsonString(options),
			"panelsJSON":            jsonString(panels),
			"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": jsonString(source)},
		},
		References: refs,
	}
}
