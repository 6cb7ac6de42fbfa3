package respond

import (
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters holds one token bucket per action of each playbook. They are all made at start from
// the configuration, so their number is bounded by it whatever the alerts say.
type limiters struct {
	mu  sync.Mutex
	m   map[string]*rate.Limiter
	now func() time.Time
}

func limiterKey(pb string, i int) string { return pb + "\x00" + strconv.Itoa(i) }

func newLimiters(cfg *Config, now func() time.Time) *limiters {
	l := &limiters{m: map[string]*rate.Limiter{}, now: now}
	for _, pb := range cfg.Playbooks {
		rl := cfg.RateLimit
		if pb.RateLimit != nil {
			rl = RateLimit{Burst: pb.RateLimit.Burst, Every: pb.RateLimit.Every}
		}
		// Every 0 refills never: the bucket allows Burst actions in all.
		lim := rate.Limit(0)
		if rl.Every > 0 {
			lim = rate.Every(rl.Every)
		}
		for i := range pb.Actions {
			l.m[limiterKey(pb.Name, i)] = rate.NewLimiter(lim, rl.Burst)
		}
	}
	return l
}

// allow takes a token from the bucket of action i of playbook pb, if it has one.
func (l *limiters) allow(pb string, i int) bool {
	l.mu.Lock()
	lim := l.m[limiterKey(pb, i)]
	l.mu.Unlock()
	if lim == nil {
		return false
	}
	return lim.AllowN(l.now(), 1)
}
