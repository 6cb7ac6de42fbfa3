// Package elasticsearch ships alerts to Elasticsearch as ECS documents through the _bulk API.
//
// Every alert becomes one document created with op_type create and the alert's deterministic id,
// into a data stream (default logs-lanner.alerts-default) or a dated index named from the
// event's time (so a retry lands in the same index). Each item of a bulk response is
// classified: 2xx delivered; 409 (the id exists) delivered before, counted as a duplicate; 429
// and 5xx retried; any other 4xx rejected for good (a mapping error) and dead-lettered with the
// reason by the output; a 413 request is split in halves and sent again. The shipper never
// retries or sleeps itself: it reports with shippers.PartialError and shippers.RecoverableError,
// and the output's worker owns the backoff.
//
// The document follows the mapping of Elastic's own Falco integration (event.*, rule.*,
// process.*, user.*, file.*, source/destination.*, container.*, orchestrator.*, threat.* from
// MITRE tags) plus kubernetes.* from lanner's enrichment and the original alert under falco.*.
// Setup installs an index template with ECS types and, where the cluster has ILM, a lifecycle
// policy.
package elasticsearch
