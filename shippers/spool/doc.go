// Package spool is the durable, bounded, first-in-first-out queue that sits in front of every
// output: alerts are appended as opaque records, read by the output's one worker in order, and
// removed from the front only when the worker acknowledges that the destination has them.
//
// It is built on tidwall/wal (the write-ahead log Telegraf's disk buffer uses): each Append is
// one fsynced log write, and an acknowledgement truncates the front of the log.
//
// Delivery is at least once. The worker acknowledges a batch after the destination answered for
// every record in it; if lanner is killed (or the machine loses power) between the destination
// storing a record and the acknowledgement reaching the disk, the next start reads that record
// again and sends it again. So a crash can cause a duplicate send, never a loss. The duplicate
// send is harmless where the destination deduplicates by the record's deterministic id
// (Elasticsearch with op_type create answers 409 and lanner counts it as delivered).
//
// The spool is bounded by bytes. When it is full, the overflow policy decides: "block" makes
// Append wait until the worker frees room (nothing is lost; the producer slows down), and
// "drop_oldest" removes the oldest records to make room, counting them in
// lanner_spool_dropped_records_total{reason="overflow"} and logging how many.
//
// At start the spool logs "recovered N alerts from spool". A damaged log (a torn write after a
// power cut, a flipped bit) never stops lanner and never panics: the unreadable part is moved
// into the corrupt/ folder beside the log, counted in lanner_spool_corrupt_records_total, and
// logged with its path; everything readable is kept.
package spool
