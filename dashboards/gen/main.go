// Command gen writes dashboards/kibana/lanner.ndjson: lanner's Kibana saved objects rendered
// from the Go definitions and checked against the Elasticsearch index template's fields. Run it
// from the repository root after changing either:
//
//	go run ./dashboards/gen
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/lannersec/lanner/dashboards"
)

func main() {
	out := flag.String("out", "dashboards/kibana/lanner.ndjson", "file to write")
	flag.Parse()
	b, err := dashboards.Lanner().Render(dashboards.TemplateSchema())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
