// Package chain keeps a node's tamper-evident audit trail of alerts and verifies it.
//
// Every alert the node ships gets a link: the chain's epoch, a sequence number, the hash of the
// alert before it and its own hash. The hash covers the alert's Elasticsearch document in a
// canonical form (keys sorted, numbers as written, no lanner.chain.hash), so a reader of the index
// can recompute it from the stored document alone: an edited document no longer matches its hash,
// a deleted one leaves a gap in the sequence, and documents moved in the order no longer link to
// their predecessors. With a key, the hash is an HMAC, so that someone who can write to the index
// but does not hold the key cannot rebuild a consistent chain after editing it.
//
// The Chainer's state (epoch, last sequence number, last hash) is kept in a write-ahead log beside
// the outputs' spools, so the chain continues across restarts. Verify reads documents back and
// reports gaps, reordering, broken links and modified documents by sequence number.
package chain
