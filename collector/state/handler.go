package state

import (
	"errors"

	"github.com/lannersec/lanner/collector/capture"
	"github.com/lannersec/lanner/collector/event"
)

// Handler returns the function to give capture.Probe.Run: it decodes each raw record into a
// reused Record, applies it to the tables and calls fn with the resulting event (fn must not
// keep the event past its return). Records that fail to decode are counted by kind, see
// DecodeErrors; they never stop the stream.
func (s *State) Handler(fn func(*event.Event)) func(raw []byte) {
	var rec capture.Record
	return func(raw []byte) {
		if err := capture.DecodeInto(&rec, raw); err != nil {
			var de *capture.DecodeError
			kind := capture.ErrKind("other")
			if errors.As(err, &de) {
				kind = de.Kind
			}
			if s.decodeErrs == nil {
				s.decodeErrs = map[capture.ErrKind]uint64{}
			}
			s.decodeErrs[kind]++
			return
		}
		if ev := s.Process(&rec); ev != nil {
			fn(ev)
		}
	}
}

// DecodeErrors returns how many records failed to decode, by kind (a metric label). The map is
// a copy.
func (s *State) DecodeErrors() map[capture.ErrKind]uint64 {
	out := make(map[capture.ErrKind]uint64, len(s.decodeErrs))
	for k, v := range s.decodeErrs {
		out[k] = v
	}
	return out
}
