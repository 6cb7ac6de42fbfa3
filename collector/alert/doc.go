// Package alert holds what a matched rule produces: the Alert type, rule priorities, the
// compiled output format (%field tokens), and Falco's JSON alert encoding, so that consumers of
// Falco's output (falcosidekick and the like) read lanner's alerts unchanged.
package alert
