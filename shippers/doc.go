// Package shippers moves alerts from the rule engine to their destinations without losing any.
//
// The package owns the delivery contract every output shares: the Shipper interface that a
// destination package (shippers/elasticsearch, ...) implements, the Record an alert travels in
// (its deterministic id is fixed when the alert is born), the typed errors with which a shipper
// says what happened to each record of a batch, and the Output that joins one durable spool
// (shippers/spool) to one shipper with the only retry loop in lanner. A Fanout hands every alert
// to each Output whose filter accepts it; each output has its own spool, worker and, when its
// spool is full under the block policy, its own in-memory backlog, so a slow or dead
// destination never holds back another.
//
// Shippers only classify: they never sleep, never retry and never drop. The Output's worker
// retries with capped exponential backoff and jitter, honours a server's Retry-After, and
// writes records a destination rejects for good (a mapping error, say) to a dead-letter file
// with the reason, so one bad document cannot block the queue behind it.
package shippers
