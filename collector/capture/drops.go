package capture

import (
	"log/slog"
	"time"
)

// DropMonitor turns the kernel's cumulative counters into Falco-style drop reports
// (syscall_event_drops): call Observe periodically (Falco checks every second) with Probe.Stats;
// when the share of records lost since the last call exceeds the threshold, it logs one line,
// rate limited as Falco's token bucket is (one report per 1/rate seconds, burst one).
type DropMonitor struct {
	log       *slog.Logger
	threshold float64
	every     time.Duration
	last      Stats
	started   bool
	lastLog   time.Time
	logged    bool
}

// DropReport is what happened between two Observe calls.
type DropReport struct {
	Events, Drops, DropsBuffer, DropsSize, DropsProc uint64
	// Ratio is Drops / (Events + Drops).
	Ratio float64
	// Logged says whether this report was written to the log.
	Logged bool
}

// NewDropMonitor returns a monitor; threshold is the drop ratio (0..1) above which a report is
// logged (Falco's default 0.1) and rate the reports per second allowed (Falco's .03333).
func NewDropMonitor(threshold, rate float64, log *slog.Logger) *DropMonitor {
	if log == nil {
		log = slog.Default()
	}
	every := time.Duration(0)
	if rate > 0 {
		every = time.Duration(float64(time.Second) / rate)
	}
	return &DropMonitor{log: log, threshold: threshold, every: every}
}

// Observe compares cumulative counters s with the previous call's.
func (m *DropMonitor) Observe(now time.Time, s Stats) DropReport {
	if !m.started {
		m.started, m.last = true, s
		return DropReport{}
	}
	d := DropReport{
		Events:      sub(s.Events, m.last.Events),
		DropsBuffer: sub(s.DropsBuffer, m.last.DropsBuffer),
		DropsSize:   sub(s.DropsSize, m.last.DropsSize),
		DropsProc:   sub(s.DropsProc, m.last.DropsProc),
	}
	d.Drops = d.DropsBuffer + d.DropsSize
	m.last = s
	if d.Drops == 0 {
		return d
	}
	d.Ratio = float64(d.Drops) / float64(d.Events+d.Drops)
	if d.Ratio <= m.threshold {
		return d
	}
	if m.logged && now.Sub(m.lastLog) < m.every {
		return d
	}
	m.logged, m.lastLog, d.Logged = true, now, true
	m.log.Warn("syscall event drop: records lost in the kernel since the last check",
		"n_drops", d.Drops, "n_drops_buffer", d.DropsBuffer, "n_drops_max_event_size", d.DropsSize,
		"n_drops_proc", d.DropsProc, "n_evts", d.Events, "drop_ratio", d.Ratio,
		"total_drops", s.Drops(), "total_evts", s.Events)
	return d
}

// sub is a-b for counters that only grow; a reset (a new Probe) reads as a fresh start.
func sub(a, b uint64) uint64 {
	if a < b {
		return a
	}
	return a - b
}
