package chain

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind is the kind of a problem the verifier finds.
type Kind string

// The problems a chain can show.
const (
	// Gap: sequence numbers missing (documents deleted, or never delivered).
	Gap Kind = "gap"
	// Modified: the document no longer matches its own hash.
	Modified Kind = "modified"
	// Reordered: the document links to another document than its predecessor in sequence order,
	// or its @timestamp is earlier than its predecessor's (same source) by more than the skew.
	Reordered Kind = "reordered"
	// BrokenLink: the document's prev matches no document of the chain.
	BrokenLink Kind = "broken_link"
	// Duplicate: two documents share a sequence number.
	Duplicate Kind = "duplicate"
	// Unverifiable: the documents are HMACs and the verifier has no key; only sequence and links
	// were checked.
	Unverifiable Kind = "unverifiable"
)

// Doc is one stored alert as the verifier needs it.
type Doc struct {
	ID     string // the document id (event.id)
	Node   string // host.name
	Source string // event.provider (syscall, k8s_audit)
	Time   time.Time
	Epoch  string
	Seq    uint64
	Prev   string
	Hash   string // the stored lanner.chain.hash
	// Body is the stored document (JSON _source), hashed again to detect modification.
	Body []byte
}

// Problem is one finding, named by sequence numbers.
type Problem struct {
	Kind  Kind   `json:"kind"`
	Node  string `json:"node"`
	Epoch string `json:"epoch"`
	// Seq is the document concerned (for a gap: the first missing number, SeqEnd the last).
	Seq    uint64 `json:"seq"`
	SeqEnd uint64 `json:"seq_end,omitempty"`
	DocID  string `json:"doc_id,omitempty"`
	Detail string `json:"detail"`
}

func (p Problem) String() string {
	seq := fmt.Sprintf("seq %d", p.Seq)
	if p.SeqEnd > p.Seq {
		seq = fmt.Sprintf("seq %d-%d", p.Seq, p.SeqEnd)
	}
	return fmt.Sprintf("%s %s/%s %s: %s", p.Kind, p.Node, p.Epoch, seq, p.Detail)
}

// Summary describes one chain (a node's epoch) as found.
type Summary struct {
	Node      string    `json:"node"`
	Epoch     string    `json:"epoch"`
	First     uint64    `json:"first_seq"`
	Last      uint64    `json:"last_seq"`
	Documents int       `json:"documents"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	// Continues names the epoch and sequence number ("epoch@seq") this chain's first link points
	// at: the node's collector started a new epoch after the machine went down.
	Continues string `json:"continues,omitempty"`
}

// Report is the verifier's result.
type Report struct {
	Chains    []Summary `json:"chains"`
	Documents int       `json:"documents"`
	// Unlinked counts documents of the checked scope without a chain link (shipped while the
	// trail was off or its state could not be written).
	Unlinked int       `json:"unlinked"`
	Problems []Problem `json:"problems"`
}

// Intact reports whether no problem but Unverifiable was found.
func (r *Report) Intact() bool {
	for _, p := range r.Problems {
		if p.Kind != Unverifiable {
			return false
		}
	}
	return true
}

// Verifier checks chains.
type Verifier struct {
	hasher Hasher
	// MaxSkew is how much earlier than its predecessor (same node and source) a document's
	// @timestamp may be before it counts as reordered: events from different CPUs and audit
	// batches reach the chain slightly out of time order. Zero disables the check.
	MaxSkew time.Duration
	// Partial: the documents start somewhere in the chain (a --since window), so a chain that
	// does not start at 1 is not a gap and the first document's link is not checked.
	Partial bool
}

// DefaultMaxSkew is the default Verifier.MaxSkew.
const DefaultMaxSkew = 5 * time.Second

// NewVerifier returns a Verifier with key (empty: the chain is plain SHA-256; documents hashed
// with HMAC are then reported Unverifiable but their sequence and links are still checked).
func NewVerifier(key []byte) *Verifier {
	return &Verifier{hasher: NewHasher(key), MaxSkew: DefaultMaxSkew}
}

// entry is a Doc without its body, once its hash has been recomputed.
type entry struct {
	id, source, prev, hash string
	seq                    uint64
	t                      time.Time
	intact                 bool
}

// Collector accumulates documents (any order) and checks them in Report.
type Collector struct {
	v        *Verifier
	chains   map[[2]string][]entry
	unlinked int
	noKey    map[[2]string]bool
}

// NewCollector starts a verification.
func (v *Verifier) NewCollector() *Collector {
	return &Collector{v: v, chains: map[[2]string][]entry{}, noKey: map[[2]string]bool{}}
}

// AddUnlinked counts a document without a chain link.
func (c *Collector) AddUnlinked() { c.unlinked++ }

// Add hashes d's body again and keeps what the checks need.
func (c *Collector) Add(d Doc) {
	key := [2]string{d.Node, d.Epoch}
	e := entry{id: d.ID, source: d.Source, prev: d.Prev, hash: d.Hash, seq: d.Seq, t: d.Time, intact: true}
	if strings.HasPrefix(d.Hash, prefixHMAC) && !c.v.hasher.Keyed() {
		c.noKey[key] = true
	} else if sum, err := c.v.hasher.SumStored(d.Body); err != nil || sum != d.Hash {
		e.intact = false
	}
	c.chains[key] = append(c.chains[key], e)
}

// Report runs the checks over everything added.
func (c *Collector) Report() *Report {
	r := &Report{Unlinked: c.unlinked}
	keys := make([][2]string, 0, len(c.chains))
	for k := range c.chains {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
	// Where each hash is, per node: a new epoch's first link points into an earlier epoch.
	where := map[string]map[string]string{}
	for _, k := range keys {
		m := where[k[0]]
		if m == nil {
			m = map[string]string{}
			where[k[0]] = m
		}
		for _, e := range c.chains[k] {
			m[e.hash] = fmt.Sprintf("%s@%d", k[1], e.seq)
		}
	}
	for _, k := range keys {
		es := c.chains[k]
		r.Documents += len(es)
		c.check(r, k[0], k[1], es, where[k[0]])
	}
	slices.SortStableFunc(r.Problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Epoch, b.Epoch), cmp.Compare(a.Seq, b.Seq))
	})
	return r
}

func (c *Collector) check(r *Report, node, epoch string, es []entry, where map[string]string) {
	slices.SortStableFunc(es, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.seq, b.seq), cmp.Compare(a.id, b.id))
	})
	add := func(p Problem) {
		p.Node, p.Epoch = node, epoch
		r.Problems = append(r.Problems, p)
	}
	s := Summary{Node: node, Epoch: epoch, First: es[0].seq, Last: es[len(es)-1].seq, Documents: len(es),
		From: es[0].t, To: es[0].t}
	if c.noKey[[2]string{node, epoch}] {
		add(Problem{Kind: Unverifiable, Seq: es[0].seq, SeqEnd: es[len(es)-1].seq,
			Detail: "the chain's hashes are HMACs and no key was given: sequence and links checked, contents not"})
	}
	bySeqHash := make(map[string]uint64, len(es))
	for _, e := range es {
		bySeqHash[e.hash] = e.seq
		if e.t.Before(s.From) {
			s.From = e.t
		}
		if e.t.After(s.To) {
			s.To = e.t
		}
	}
	r.Chains = append(r.Chains, s)
	if !c.v.Partial && es[0].seq > 1 {
		add(Problem{Kind: Gap, Seq: 1, SeqEnd: es[0].seq - 1,
			Detail: fmt.Sprintf("%d document(s) missing before the first one found", es[0].seq-1)})
	}
	for _, i := range c.outOfTime(es) {
		e := es[i.at]
		add(Problem{Kind: Reordered, Seq: e.seq, DocID: e.id, Detail: i.detail})
	}
	for i, e := range es {
		if !e.intact {
			add(Problem{Kind: Modified, Seq: e.seq, DocID: e.id, Detail: "the document does not match its hash"})
		}
		if i > 0 {
			p := es[i-1]
			switch {
			case e.seq == p.seq:
				add(Problem{Kind: Duplicate, Seq: e.seq, DocID: e.id, Detail: fmt.Sprintf("documents %s and %s share the sequence number", p.id, e.id)})
			case e.seq > p.seq+1:
				add(Problem{Kind: Gap, Seq: p.seq + 1, SeqEnd: e.seq - 1,
					Detail: fmt.Sprintf("%d document(s) missing between seq %d and seq %d", e.seq-p.seq-1, p.seq, e.seq)})
			case e.prev != p.hash:
				if m, ok := bySeqHash[e.prev]; ok {
					add(Problem{Kind: Reordered, Seq: e.seq, DocID: e.id,
						Detail: fmt.Sprintf("links to seq %d, not to its predecessor seq %d", m, p.seq)})
				} else {
					add(Problem{Kind: BrokenLink, Seq: e.seq, DocID: e.id,
						Detail: fmt.Sprintf("its prev matches no document, not seq %d's hash", p.seq)})
				}
			}
		} else if e.seq == 1 && e.prev != "" {
			if at, ok := where[e.prev]; ok && !strings.HasPrefix(at, epoch+"@") {
				r.Chains[len(r.Chains)-1].Continues = at
			} else if !c.v.Partial {
				add(Problem{Kind: BrokenLink, Seq: e.seq, DocID: e.id,
					Detail: "the chain's first document continues an earlier epoch of the node, which is not in the index"})
			}
		}
	}
}

type misplaced struct {
	at     int
	detail string
}

// outOfTime finds the documents whose @timestamp does not fit the sequence order: per source,
// the longest run of documents whose times do not decrease (in sequence order) is taken as the
// true order, and a document outside it is reported when its time lies more than MaxSkew
// before the run's document preceding it or after the one following it. Two documents whose
// timestamps were swapped are both reported; the documents between them are not.
func (c *Collector) outOfTime(es []entry) []misplaced {
	if c.v.MaxSkew <= 0 {
		return nil
	}
	bySource := map[string][]int{}
	for i, e := range es {
		bySource[e.source] = append(bySource[e.source], i)
	}
	var out []misplaced
	for _, idx := range bySource {
		in := longestNonDecreasing(es, idx)
		prev := -1 // the last document of the run seen so far
		for k, i := range idx {
			if in[k] {
				prev = i
				continue
			}
			next := -1
			for kk := k + 1; kk < len(idx); kk++ {
				if in[kk] {
					next = idx[kk]
					break
				}
			}
			e := es[i]
			switch {
			case prev >= 0 && e.t.Before(es[prev].t.Add(-c.v.MaxSkew)):
				out = append(out, misplaced{i, fmt.Sprintf("@timestamp %s is %s before that of seq %d, which precedes it",
					e.t.UTC().Format(time.RFC3339Nano), es[prev].t.Sub(e.t).Round(time.Millisecond), es[prev].seq)})
			case next >= 0 && e.t.After(es[next].t.Add(c.v.MaxSkew)):
				out = append(out, misplaced{i, fmt.Sprintf("@timestamp %s is %s after that of seq %d, which follows it",
					e.t.UTC().Format(time.RFC3339Nano), e.t.Sub(es[next].t).Round(time.Millisecond), es[next].seq)})
			}
		}
	}
	slices.SortFunc(out, func(a, b misplaced) int { return cmp.Compare(a.at, b.at) })
	return out
}

// longestNonDecreasing marks, for the documents es[idx[k]], which belong to one longest
// subsequence whose times do not decrease (patience sorting, O(n log n)).
func longestNonDecreasing(es []entry, idx []int) []bool {
	tails := []int{} // tails[l]: position k ending the best run of length l+1
	parent := make([]int, len(idx))
	for k, i := range idx {
		t := es[i].t
		// the first run whose tail time is after t (upper bound keeps equal times in order)
		l, _ := slices.BinarySearchFunc(tails, t, func(tk int, t time.Time) int {
			if es[idx[tk]].t.After(t) {
				return 1
			}
			return -1
		})
		parent[k] = -1
		if l > 0 {
			parent[k] = tails[l-1]
		}
		if l == len(tails) {
			tails = append(tails, k)
		} else {
			tails[l] = k
		}
	}
	in := make([]bool, len(idx))
	if len(tails) > 0 {
		for k := tails[len(tails)-1]; k >= 0; k = parent[k] {
			in[k] = true
		}
	}
	return in
}
