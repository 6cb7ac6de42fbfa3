// Package dashboards holds lanner's Kibana saved objects and installs them.
//
// The objects are defined in Go (Lanner): a data view over lanner's alert indices, Lens
// visualizations, saved searches and two dashboards ("Runtime security overview" and
// "Kubernetes audit"). Render checks every field they use against a Schema -- the field types of
// lanner's Elasticsearch index template (shippers/elasticsearch.Fields) -- and writes Kibana 8.x
// NDJSON. The generator (go run ./dashboards/gen) writes kibana/lanner.ndjson from them; that file
// is embedded (NDJSON) and a test fails when it is out of date, so the file that ships, the Go
// definitions and the index template cannot drift apart.
//
// An Installer sends the NDJSON to Kibana's saved objects import API; `lanner dashboards
// install` and `lanner dashboards export` are built on it.
package dashboards
