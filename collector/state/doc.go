// Package state rebuilds, from capture records, what Falco's rules ask about processes: the
// thread table with ancestry (filled at start by a /proc scan, then by fork, exec and exit
// records), each process's fd table (files, sockets with their tuples), credentials with user
// and group names, and the container a process runs in (from its cgroup path). It turns each
// record into an *event.Event for the rule engine.
//
// Everything is bounded: the thread table evicts the least recently active threads when full and
// each fd table stops growing at a limit, and both count what they gave up, because a collector
// that silently forgets gives false comfort.
//
// A State is used from one goroutine (the capture loop); the events it returns, and the threads
// and fds they point to, are valid until the next call.
package state
