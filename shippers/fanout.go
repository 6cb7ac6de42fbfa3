package shippers

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Fanout hands every alert to each output that wants it and runs one worker per output. Outputs
// share nothing but the producer: each has its own spool and worker, so a destination that is
// slow or down only grows its own spool. (Under the block overflow policy a full spool does
// hold the producer -- that is the policy's promise of no loss -- so give such outputs room.)
type Fanout struct {
	outputs []*Output
}

// NewFanout checks that output names are unique.
func NewFanout(outputs ...*Output) (*Fanout, error) {
	seen := map[string]bool{}
	for _, o := range outputs {
		if seen[o.name] {
			return nil, fmt.Errorf("fan-out: two outputs named %q", o.name)
		}
		seen[o.name] = true
	}
	return &Fanout{outputs: outputs}, nil
}

// Outputs returns the outputs in configuration order.
func (f *Fanout) Outputs() []*Output { return f.outputs }

// Enqueue stores recs in every output's spool (each applies its filter). It returns after all
// spools have them, with the errors of the outputs that could not take them.
func (f *Fanout) Enqueue(ctx context.Context, recs ...*Record) error {
	var errs []error
	for _, o := range f.outputs {
		if err := o.Enqueue(ctx, recs...); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run runs every output's worker until ctx ends, and returns their errors joined.
func (f *Fanout) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(f.outputs))
	for i, o := range f.outputs {
		wg.Go(func() { errs[i] = o.Run(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close closes every output (after Run has returned).
func (f *Fanout) Close() error {
	var errs []error
	for _, o := range f.outputs {
		errs = append(errs, o.Close())
	}
	return errors.Join(errs...)
}
