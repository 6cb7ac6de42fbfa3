package chain

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/wal"

	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/elasticsearch"
)

// truncateEvery is how many links the state log grows by before its older entries are
// dropped: only the last entry is ever read back.
const truncateEvery = 4096

// Options configures a Chainer.
type Options struct {
	// Dir holds the chain's state log (created if missing). One directory per node.
	Dir string
	// Key, when set, makes every hash an HMAC-SHA256 under it.
	Key []byte
	// NoSync skips the fsync after each link, as the spools' option of the same name: a process
	// crash keeps the state, a power cut may lose the last links (the next start then reuses
	// their sequence numbers, which the verifier reports as duplicates).
	NoSync bool
	// Logger nil discards; Registerer nil leaves the metrics unregistered.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// state is one entry of the state log: the chain's head after a link.
type state struct {
	Epoch string `json:"epoch"`
	Seq   uint64 `json:"seq"`
	Hash  string `json:"hash"`
}

// Chainer links alerts into the node's chain. Link is safe for concurrent use; links are handed
// out in the order Link is called, which is the order the caller must hand the records on in.
type Chainer struct {
	mu     sync.Mutex
	wal    *wal.Log
	hasher Hasher
	head   state
	log    *slog.Logger
	closed bool

	links prometheus.Counter
	errs  prometheus.Counter
	seq   prometheus.Gauge
	reg   prometheus.Registerer
	colls []prometheus.Collector
	buf   []byte
}

// Open opens (or starts) the chain kept in opts.Dir.
func Open(opts Options) (*Chainer, error) {
	if opts.Dir == "" {
		return nil, errors.New("audit trail: no state directory")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	l, err := wal.Open(opts.Dir, &wal.Options{NoSync: opts.NoSync, LogFormat: wal.JSON, SegmentSize: 1 << 20,
		DirPerms: 0o700, FilePerms: 0o600})
	if err != nil {
		return nil, fmt.Errorf("audit trail: open state in %s: %w", opts.Dir, err)
	}
	c := &Chainer{wal: l, hasher: NewHasher(opts.Key), log: opts.Logger.With("component", "audit-trail"), reg: opts.Registerer}
	last, err := l.LastIndex()
	if err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("audit trail: read state in %s: %w", opts.Dir, err)
	}
	if last == 0 {
		var b [12]byte
		if _, err := rand.Read(b[:]); err != nil {
			_ = l.Close()
			return nil, fmt.Errorf("audit trail: new epoch: %w", err)
		}
		c.head = state{Epoch: hex.EncodeToString(b[:])}
		c.log.Info("audit trail: new chain", "dir", opts.Dir, "epoch", c.head.Epoch, "keyed", c.hasher.Keyed())
	} else {
		data, err := l.Read(last)
		if err != nil {
			_ = l.Close()
			return nil, fmt.Errorf("audit trail: read state entry %d in %s: %w", last, opts.Dir, err)
		}
		if err := json.Unmarshal(data, &c.head); err != nil || c.head.Epoch == "" || c.head.Seq != last {
			_ = l.Close()
			return nil, fmt.Errorf("audit trail: state entry %d in %s is corrupt (%q); move the directory away to start a new chain", last, opts.Dir, data)
		}
		c.log.Info("audit trail: chain continues", "dir", opts.Dir, "epoch", c.head.Epoch, "seq", c.head.Seq, "keyed", c.hasher.Keyed())
	}
	c.links = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "audit_trail", Name: "links_total",
		Help: "Alerts linked into the node's audit-trail hash chain."})
	c.errs = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "audit_trail", Name: "errors_total",
		Help: "Alerts shipped without a link because the chain's state could not be written."})
	c.seq = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lanner", Subsystem: "audit_trail", Name: "last_seq",
		Help: "Sequence number of the last alert linked (compare with the index: a shorter chain there lost its tail)."})
	c.seq.Set(float64(c.head.Seq))
	c.colls = []prometheus.Collector{c.links, c.errs, c.seq}
	if c.reg != nil {
		for i, m := range c.colls {
			if err := c.reg.Register(m); err != nil {
				for _, done := range c.colls[:i] {
					c.reg.Unregister(done)
				}
				_ = l.Close()
				return nil, fmt.Errorf("audit trail: metrics: %w", err)
			}
		}
	}
	return c, nil
}

// Head returns the chain's epoch, last sequence number and last hash.
func (c *Chainer) Head() (epoch string, seq uint64, hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.head.Epoch, c.head.Seq, c.head.Hash
}

// Link sets r.Chain to the next link and records the new head durably before returning, so a
// restart never hands out a sequence number twice. On error r goes unlinked (r.Chain nil): the
// alert must still be shipped, and the verifier counts unlinked documents.
func (c *Chainer) Link(r *shippers.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r.Chain = nil
	if c.closed {
		c.errs.Inc()
		return errors.New("audit trail: closed")
	}
	link := &shippers.ChainLink{Epoch: c.head.Epoch, Seq: c.head.Seq + 1, Prev: c.head.Hash}
	r.Chain = link
	doc, err := elasticsearch.Document(r)
	if err == nil {
		link.Hash, err = c.hasher.Sum(doc)
	}
	if err == nil {
		next := state{Epoch: link.Epoch, Seq: link.Seq, Hash: link.Hash}
		c.buf, _ = json.Marshal(next) // three plain fields: cannot fail
		if err = c.wal.Write(next.Seq, c.buf); err == nil {
			c.head = next
		}
	}
	if err != nil {
		r.Chain = nil
		c.errs.Inc()
		return fmt.Errorf("audit trail: link alert %s: %w", r.ID, err)
	}
	c.links.Inc()
	c.seq.Set(float64(link.Seq))
	if link.Seq%truncateEvery == 0 {
		// Only the head is read back; a failed truncation only costs disk.
		if err := c.wal.TruncateFront(link.Seq); err != nil {
			c.log.Warn("audit trail: truncating the state log failed", "err", err)
		}
	}
	return nil
}

// Close closes the state log and unregisters the metrics.
func (c *Chainer) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.reg != nil {
		for _, m := range c.colls {
			c.reg.Unregister(m)
		}
	}
	c.log.Info("audit trail: closed", "epoch", c.head.Epoch, "seq", c.head.Seq)
	return c.wal.Close()
}
