package dashboards

import (
	_ "embed"

	"bytes"
)

// ndjson is the generated file (go run ./dashboards/gen); TestNDJSONUpToDate keeps it equal to
// what Render makes of Lanner() with the current index template.
//
//go:embed kibana/lanner.ndjson
var ndjson []byte

// NDJSONFile is the name the objects are exported and imported under (Kibana's import API wants
// a file name ending in .ndjson).
const NDJSONFile = "lanner.ndjson"

// NDJSON returns lanner's saved objects as Kibana import NDJSON. The caller owns the slice.
func NDJSON() []byte { return bytes.Clone(ndjson) }
