package dashboards

import "github.com/lannersec/lanner/shippers/elasticsearch"

// TemplateSchema is the Schema of lanner's own index template: its field types
// (elasticsearch.Fields, read from the mappings the template installs) and the index patterns
// of the default alerts data stream and of the dated indices of index mode.
func TemplateSchema() Schema {
	ds := elasticsearch.DefaultConfig()
	idx := ds
	idx.Mode = elasticsearch.ModeIndex
	return Schema{
		Fields:   elasticsearch.Fields(),
		Patterns: []string{ds.IndexPatternForDocs(), idx.IndexPatternForDocs()},
	}
}
