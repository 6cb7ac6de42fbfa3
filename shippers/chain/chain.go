package chain

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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

// Durability without an fsync per alert (which would cap a node at about a thousand alerts a
// second): each link's head is written to the state log without fsync, so it is in the page
// cache the moment Link returns and survives a crash of the process. Only a crash of the machine
// can lose the last heads, and then the spools may hold links the state no longer knows; reusing
// their sequence numbers would fork the chain. So Open tells the two apart: Close leaves a
// "clean" marker, and every start records the kernel's boot id. A start without the marker under
// the same boot id (the process crashed, the page cache did not) continues the chain; a start
// under another boot id (the machine went down) begins a new epoch whose first link points at
// the last head on disk, so the verifier can join the two.

// Chainer links alerts into the node's chain. Link is safe for concurrent use; links are handed
// out in the order Link is called, which is the order the caller must hand the records on in.
type Chainer struct {
	mu     sync.Mutex
	dir    string
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
	docs  elasticsearch.Builder // the documents Link hashes
	doc   []byte
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
	c := &Chainer{dir: opts.Dir, hasher: NewHasher(opts.Key), log: opts.Logger.With("component", "audit-trail"), reg: opts.Registerer}
	if err := c.open(); err != nil {
		if c.wal != nil {
			_ = c.wal.Close()
		}
		return nil, err
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
				_ = c.wal.Close()
				return nil, fmt.Errorf("audit trail: metrics: %w", err)
			}
		}
	}
	return c, nil
}

// Files in Options.Dir beside the state log (log/).
const (
	cleanFile = "clean"   // present after Close, removed at Open
	bootFile  = "boot_id" // the boot id of the last start
)

// open reads (or starts) the chain's state; see the Chainer's comment for the rules.
func (c *Chainer) open() error {
	l, err := c.openLog()
	if err != nil {
		return fmt.Errorf("audit trail: open state in %s: %w", c.dir, err)
	}
	c.wal = l
	last, err := l.LastIndex()
	if err != nil {
		return fmt.Errorf("audit trail: read state in %s: %w", c.dir, err)
	}
	boot := bootID()
	_, cleanErr := os.Stat(filepath.Join(c.dir, cleanFile))
	clean := cleanErr == nil
	prevBoot, _ := os.ReadFile(filepath.Join(c.dir, bootFile))
	sameBoot := boot != "" && strings.TrimSpace(string(prevBoot)) == boot
	switch {
	case last == 0:
		if err := c.newEpoch(""); err != nil {
			return err
		}
		c.log.Info("audit trail: new chain", "dir", c.dir, "epoch", c.head.Epoch, "keyed", c.hasher.Keyed())
	default:
		data, err := l.Read(last)
		if err != nil {
			return fmt.Errorf("audit trail: read state entry %d in %s: %w", last, c.dir, err)
		}
		var head state
		if err := json.Unmarshal(data, &head); err != nil || head.Epoch == "" || head.Seq != last {
			return fmt.Errorf("audit trail: state entry %d in %s is corrupt (%q); move the directory away to start a new chain", last, c.dir, data)
		}
		if clean || sameBoot {
			c.head = head
			c.log.Info("audit trail: chain continues", "dir", c.dir, "epoch", head.Epoch, "seq", head.Seq,
				"clean_stop", clean, "keyed", c.hasher.Keyed())
			break
		}
		// The machine went down since the last start: the last links may not have reached the
		// disk. A new epoch never reuses a number; its first link points at the last head known.
		if err := c.newEpoch(head.Hash); err != nil {
			return err
		}
		c.log.Warn("audit trail: the machine stopped uncleanly since the last start; continuing in a new epoch",
			"dir", c.dir, "previous_epoch", head.Epoch, "previous_seq", head.Seq, "epoch", c.head.Epoch)
	}
	// From here on the stop is unclean until Close says otherwise.
	if err := os.Remove(filepath.Join(c.dir, cleanFile)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("audit trail: %w", err)
	}
	if err := writeSynced(filepath.Join(c.dir, bootFile), []byte(boot+"\n")); err != nil {
		return fmt.Errorf("audit trail: %w", err)
	}
	return nil
}

// openLog opens the state log: one small JSON entry per link, written without fsync (see the
// Chainer's comment for why that is enough).
func (c *Chainer) openLog() (*wal.Log, error) {
	return wal.Open(filepath.Join(c.dir, "log"), &wal.Options{NoSync: true, LogFormat: wal.JSON, SegmentSize: 1 << 20,
		DirPerms: 0o700, FilePerms: 0o600})
}

// newEpoch starts a new chain whose first link's prev is prev. The state log is emptied: its
// indexes are the new epoch's sequence numbers.
func (c *Chainer) newEpoch(prev string) error {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("audit trail: new epoch: %w", err)
	}
	if last, _ := c.wal.LastIndex(); last > 0 {
		_ = c.wal.Close()
		if err := os.RemoveAll(filepath.Join(c.dir, "log")); err != nil {
			return fmt.Errorf("audit trail: new epoch: %w", err)
		}
		l, err := c.openLog()
		if err != nil {
			c.wal = nil
			return fmt.Errorf("audit trail: new epoch: %w", err)
		}
		c.wal = l
	}
	c.head = state{Epoch: hex.EncodeToString(b[:]), Hash: prev}
	return nil
}

// bootID is the kernel's id of the current boot ("" where there is none).
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// writeSynced replaces path with data durably (temporary file, fsync, rename).
func writeSynced(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
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
	// The document comes out in canonical form (nearly always): hash its bytes as they are,
	// without the parse and rewrite of Canonical, which cost more than building it.
	doc, canonical := c.docs.AppendDocument(c.doc[:0], r)
	c.doc = doc
	var err error
	if canonical {
		link.Hash = c.hasher.sumCanonical(doc)
	} else {
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
	r.ECSDocument = withHash(doc, link)
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

// withHash returns a copy of doc, the document hashed for link (without lanner.chain.hash), with
// the hash in its place: the document the Elasticsearch output ships, without building it a
// second time. In a canonical document lanner.chain's members are sorted (epoch, hash, prev,
// seq), so the hash goes right after the epoch. It returns nil (the output then builds the
// document) when that place is not found exactly once.
func withHash(doc []byte, link *shippers.ChainLink) []byte {
	at := shippers.AppendJSONString([]byte(`"lanner":{"chain":{"epoch":`), link.Epoch)
	at = append(at, ',')
	i := bytes.Index(doc, at)
	if i < 0 || bytes.Index(doc[i+len(at):], at) >= 0 {
		return nil
	}
	i += len(at)
	ins := shippers.AppendJSONString([]byte(`"hash":`), link.Hash)
	ins = append(ins, ',')
	out := make([]byte, 0, len(doc)+len(ins))
	out = append(out, doc[:i]...)
	out = append(out, ins...)
	return append(out, doc[i:]...)
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
	err := c.wal.Sync()
	err = errors.Join(err, c.wal.Close())
	if err == nil {
		// Only a state that reached the disk whole may be continued after the next start under
		// another boot.
		err = writeSynced(filepath.Join(c.dir, cleanFile), nil)
	}
	c.log.Info("audit trail: closed", "epoch", c.head.Epoch, "seq", c.head.Seq)
	return err
}
