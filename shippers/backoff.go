package shippers

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// BackoffConfig shapes the waits between attempts to deliver the same records.
type BackoffConfig struct {
	// Initial is the first wait (default 500ms).
	Initial time.Duration `yaml:"initial"`
	// Max caps the wait (default 60s). A longer Retry-After from the destination is honoured
	// up to MaxRetryAfter.
	Max time.Duration `yaml:"max"`
	// MaxRetryAfter caps how long a destination's Retry-After can make lanner wait (default 5m).
	MaxRetryAfter time.Duration `yaml:"max_retry_after"`
	// Jitter is the fraction by which each wait varies at random, so that many collectors that
	// failed together do not retry together (default 0.2; 0 <= Jitter < 1).
	Jitter float64 `yaml:"jitter"`
}

// DefaultBackoff is used for the zero fields of a BackoffConfig.
var DefaultBackoff = BackoffConfig{Initial: 500 * time.Millisecond, Max: 60 * time.Second, MaxRetryAfter: 5 * time.Minute, Jitter: 0.2}

func (b BackoffConfig) withDefaults() BackoffConfig {
	if b.Initial == 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max == 0 {
		b.Max = DefaultBackoff.Max
	}
	if b.MaxRetryAfter == 0 {
		b.MaxRetryAfter = DefaultBackoff.MaxRetryAfter
	}
	if b.Jitter == 0 {
		b.Jitter = DefaultBackoff.Jitter
	}
	return b
}

// Validate reports contradictory settings.
func (b BackoffConfig) Validate() error {
	switch {
	case b.Initial < 0 || b.Max < 0 || b.MaxRetryAfter < 0:
		return fmt.Errorf("backoff: negative duration")
	case b.Max > 0 && b.Initial > b.Max:
		return fmt.Errorf("backoff: initial %s is greater than max %s", b.Initial, b.Max)
	case b.Jitter < 0 || b.Jitter >= 1:
		return fmt.Errorf("backoff: jitter %v: want 0 <= jitter < 1", b.Jitter)
	}
	return nil
}

// wait returns the pause before attempt number attempt (1 for the first retry): Initial
// doubled per attempt, capped at Max, varied by ±Jitter, and never shorter than retryAfter
// (itself capped at MaxRetryAfter).
func (b BackoffConfig) wait(attempt int, retryAfter time.Duration, rnd func() float64) time.Duration {
	d := b.Initial
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if b.Jitter > 0 {
		d = time.Duration(float64(d) * (1 - b.Jitter + 2*b.Jitter*rnd()))
	}
	if retryAfter > 0 {
		d = max(d, min(retryAfter, b.MaxRetryAfter))
	}
	return d
}

func defaultRand() float64 { return rand.Float64() }
