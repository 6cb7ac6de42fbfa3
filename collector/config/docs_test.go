package config

import (
	"os"
	"strings"
	"testing"
)

const (
	docsPath   = "../../docs/configuration.md"
	beginMark  = "<!-- BEGIN GENERATED: config keys -->\n"
	endMark    = "<!-- END GENERATED: config keys -->"
	updateDocs = "LANNER_UPDATE_DOCS"
)

// TestDocsMatchConfig fails when docs/configuration.md does not list exactly the keys, types,
// defaults and flags of Config. LANNER_UPDATE_DOCS=1 rewrites the table.
func TestDocsMatchConfig(t *testing.T) {
	b, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, beginMark), strings.Index(doc, endMark)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated-table markers", docsPath)
	}
	want := Markdown()
	got := doc[i+len(beginMark) : j]
	if got == want {
		return
	}
	if os.Getenv(updateDocs) != "" {
		doc = doc[:i+len(beginMark)] + want + doc[j:]
		if err := os.WriteFile(docsPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s", docsPath)
		return
	}
	t.Errorf("%s is out of date with collector/config: run %s=1 go test ./collector/config/", docsPath, updateDocs)
	for _, k := range Keys() {
		if !strings.Contains(got, "| `"+k.Path+"` |") {
			t.Errorf("key %s is not documented", k.Path)
		}
	}
}
