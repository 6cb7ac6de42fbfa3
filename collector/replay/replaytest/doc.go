// Package replaytest is the harness shared by the rule corpus tests (collector/replay for syscall
// events, collector/audit for Kubernetes audit events): it loads an unmodified upstream rules
// file, reads a hand-written expectations file, replays the corpus through the rules in both
// rule_matching modes and compares the rules that fired, and compares the rendered Falco JSON
// alerts with a reviewed golden file. Each corpus keeps its own reading (the two formats identify
// events differently) and its own coverage checks; only what both did the same way lives here.
//
// It is for tests only and takes a testing.TB everywhere.
package replaytest
