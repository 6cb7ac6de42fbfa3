package shippers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Shipper delivers batches of records to one destination.
//
// Send is called by one Output worker at a time, never concurrently, and never after Close;
// a shipper therefore needs no lock for its own state. Send returns:
//   - nil when every record of the batch was delivered;
//   - a *PartialError saying, by index into the batch, which records were delivered (or were
//     already there: duplicates), which were rejected for good and why, and which are to be
//     retried (any index it does not name is retried too);
//   - any other error when nothing is known to be delivered: the whole batch is retried. Wrap
//     it in a *RecoverableError to pass a server's Retry-After, or to mark it as an expected,
//     transient failure (connection refused, 429, 503) rather than a misconfiguration.
//
// Send must return when ctx is done. It must not retry or sleep: the Output worker owns the
// only backoff loop, so that retries are counted, logged and bounded in one place.
type Shipper interface {
	Send(ctx context.Context, batch Batch) error
	Close() error
}

// Batch is a slice of records in spool order.
type Batch []*Record

// PartialError reports per-record outcomes of a Send. Indices are into the batch that was sent.
type PartialError struct {
	// Accepted records were stored by the destination.
	Accepted []int
	// Duplicates were already stored (a create that met the same id): delivered, counted apart.
	Duplicates []int
	// Rejected records will never be accepted as they are; RejectErrs[i] is the reason for
	// Rejected[i]. They go to the dead-letter file.
	Rejected   []int
	RejectErrs []error
	// Retry records failed transiently (a per-item 429 or 5xx). Records named nowhere are
	// retried as well.
	Retry []int
	// RetryAfter, when positive, is the least wait the destination asked for.
	RetryAfter time.Duration
}

func (e *PartialError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "partial delivery: %d accepted, %d duplicate, %d rejected, %d to retry",
		len(e.Accepted), len(e.Duplicates), len(e.Rejected), len(e.Retry))
	if len(e.RejectErrs) > 0 && e.RejectErrs[0] != nil {
		fmt.Fprintf(&b, " (first rejection: %v)", e.RejectErrs[0])
	}
	return b.String()
}

// RecoverableError marks a whole-batch failure as transient. RetryAfter, when positive, is the
// wait the destination asked for (HTTP Retry-After); the worker waits at least that long.
type RecoverableError struct {
	Err        error
	RetryAfter time.Duration
}

func (e *RecoverableError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("%v (retry after %s)", e.Err, e.RetryAfter)
	}
	return e.Err.Error()
}

func (e *RecoverableError) Unwrap() error { return e.Err }

// IsRecoverable reports whether err is, or wraps, a *RecoverableError.
func IsRecoverable(err error) bool {
	var re *RecoverableError
	return errors.As(err, &re)
}
