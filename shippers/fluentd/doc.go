// Package fluentd ships alerts to Fluentd (or Fluent Bit) over the Forward protocol with
// github.com/fluent/fluent-logger-golang.
//
// The library alone is unfit for alerts: in async mode it drops a message per reconnect cycle
// and rejects the rest when its buffer is full, its Close can wait for minutes, and without
// acknowledgements a written socket is not a delivery. So the shipper uses it in synchronous
// mode, one Post per record with RequestAck, a read timeout on the ack, a write timeout and a
// single connect attempt (MaxRetry 1). The bounded buffer is the output's durable spool
// (shippers.Output), and the only retry loop is the Output's: a record leaves the spool only
// when Fluentd has acknowledged it, and every failure (refused connection, broken write,
// missing or wrong ack) is a *shippers.RecoverableError that the Output retries with backoff.
//
// Forward does not promise exactly-once delivery: a server that stores a record but whose ack
// is lost makes the record arrive twice after the retry. Each record carries its spool id
// (`lanner_id`) so a reader can drop such duplicates.
package fluentd
