// Package config is the configuration of `lanner run`: one YAML file (read strictly, so a
// misspelt key is an error naming FILE:LINE rather than a silently ignored setting), defaults for
// every key, a command-line flag for every key, and Validate.
//
// It is a package of its own, not part of cmd/lanner, because more than the command reads it:
// the Helm chart's tests decode the ConfigMap they render into Config and validate it, and the
// documentation test generates docs/configuration.md from the struct (Keys, Markdown), so the
// reference cannot drift from what the collector accepts.
//
// Credentials are shippers.Secret values: they print, log and marshal as "<secret>". A file may
// write ${NAME} to take a value from the environment (how a Kubernetes Secret reaches the
// collector without being written into the ConfigMap).
package config
