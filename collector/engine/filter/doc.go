// Package filter is lanner's implementation of Falco's condition language: a scannerless
// recursive-descent parser that reproduces libsinsp's grammar and lexer quirks, the AST it
// produces, the canonical text form Falco prints for a parsed condition, macro substitution,
// the static event-type analysis used to index rules, and a compiler that turns an AST into a
// closure over typed field extractors.
//
// The parser follows libsinsp's filter parser closely on purpose: rules written for Falco must
// parse here exactly when they parse there, including the odd corners (word operators need a
// blank after them, `a andb` is an error, `proc.name inshell_binaries` is accepted), because a
// rules file that Falco accepts and lanner rejects, or the reverse, is a compatibility bug.
// ParseFieldExpr exposes the field-or-transformer rule on its own because Falco parses the
// %tokens of rule outputs with it (collector/alert uses it for that).
//
// Compiled matchers allocate nothing on the heap when an event does not match, so the engine can
// test every candidate rule against every event. They keep scratch buffers for that, so one
// Matcher must only be used by one goroutine at a time.
//
// Known differences from Falco, all in corners no upstream rule reaches:
//   - String prints "" for an empty value, quotes values holding ( ) , = (and field arguments
//     holding [ ]), writes a trailing backslash of a quoted value as \x5c and a double negation
//     as `not (not x)`, so that its output always parses back to the same tree; Falco's printer
//     loses these.
//   - A list-valued field that yields an empty list counts as missing.
//   - The oneof/anyof/allof modifiers are recognised only when a parenthesised list follows.
//   - The join, concat and getopt transformers (libs 0.24/0.25) are not implemented.
//   - On fd.ip, fd.net, fd.port and fd.proto, libsinsp's special comparisons have no branch for
//     `intersects` and `exists` (they throw at evaluation time or, for fd.net, return false);
//     here `intersects` means `in` and `exists` means the fd is an IP socket with a known end.
//     `fd.net in (A, B)` tests only A in libsinsp, every network here.
package filter
