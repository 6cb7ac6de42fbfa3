// Package stdout is the standard-output output: every alert written to the collector's standard
// output as one Falco JSON line (json_output) or one Falco text line, as Falco's stdout_output
// does. It runs behind the same Output worker, filter and metrics as every other output, over an
// in-memory queue (spool.Memory): a terminal or a pipe has nothing to deliver after a restart.
package stdout
