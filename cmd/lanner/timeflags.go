package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseTimeFlag reads a point in time given on the command line: an age before now ("7d", "36h",
// "90m", "1d12h"), an RFC 3339 time ("2026-11-20T08:00:00Z") or a UTC date ("2026-11-20").
// Empty gives the zero time (unbounded).
func parseTimeFlag(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := parseAge(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want an age (7d, 24h, 90m), an RFC 3339 time or a date (2006-01-02)", s)
	}
	return now.Add(-d), nil
}

// parseAge is time.ParseDuration with days ("d" = 24h) too; it must be positive.
func parseAge(s string) (time.Duration, error) {
	var total time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.Atoi(s[:i])
		if err != nil || days < 0 || days > 100000 {
			return 0, fmt.Errorf("bad day count %q", s[:i])
		}
		total = time.Duration(days) * 24 * time.Hour
		s = s[i+1:]
	}
	if s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, err
		}
		total += d
	}
	if total <= 0 {
		return 0, fmt.Errorf("not positive")
	}
	return total, nil
}
