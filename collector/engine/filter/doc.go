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
//
// Compiled matchers allocate nothing on the heap when an event does not match, so the engine can
// test every candidate rule against every event.
package filter
