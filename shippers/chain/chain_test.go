package chain

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/elasticsearch"
)

func records(n int, host string) []*shippers.Record {
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	out := make([]*shippers.Record, n)
	for i := range out {
		a := &alert.Alert{Time: base.Add(time.Duration(i) * time.Minute), Rule: "Chain test", Priority: alert.Warning,
			Source: event.SourceSyscall, Hostname: host, Tags: []string{"T1059", "process"},
			Output:       fmt.Sprintf("12:%02d:00: Warning chained %d", i, i),
			OutputFields: map[string]any{"proc.name": "sh", "proc.pid": int64(100 + i), "evt.type": "execve", "fd.name": nil, "score": 1.5}}
		out[i] = shippers.NewRecord(a, "a test rule", "chain_test.yaml")
	}
	return out
}

// stored returns what Elasticsearch would hold for r: its ECS document.
func storedDoc(t *testing.T, r *shippers.Record) Doc {
	t.Helper()
	b, err := elasticsearch.Document(r)
	if err != nil {
		t.Fatal(err)
	}
	return Doc{ID: r.ID, Node: r.Alert.Hostname, Source: r.Alert.Source.String(), Time: r.Alert.Time,
		Epoch: r.Chain.Epoch, Seq: r.Chain.Seq, Prev: r.Chain.Prev, Hash: r.Chain.Hash, Body: b}
}

func TestChainLinksAndPersists(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	c, err := Open(Options{Dir: dir, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	rs := records(6, "node-a")
	for _, r := range rs[:3] {
		if err := c.Link(r); err != nil {
			t.Fatal(err)
		}
	}
	epoch, seq, head := c.Head()
	if seq != 3 || head != rs[2].Chain.Hash || len(epoch) != 24 {
		t.Fatalf("head %s %d %s, want seq 3 and the third record's hash", epoch, seq, head)
	}
	if got := testutil.ToFloat64(c.links); got != 3 {
		t.Errorf("links_total %v", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// A restart continues the same chain.
	c, err = Open(Options{Dir: dir, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, r := range rs[3:] {
		if err := c.Link(r); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range rs {
		l := r.Chain
		if l.Epoch != epoch || l.Seq != uint64(i+1) {
			t.Errorf("record %d: epoch %s seq %d", i, l.Epoch, l.Seq)
		}
		want := ""
		if i > 0 {
			want = rs[i-1].Chain.Hash
		}
		if l.Prev != want || !strings.HasPrefix(l.Hash, "sha256:") || len(l.Hash) != len("sha256:")+64 {
			t.Errorf("record %d: prev %q hash %q", i, l.Prev, l.Hash)
		}
	}
	v := NewVerifier(nil)
	col := v.NewCollector()
	for _, r := range rs {
		col.Add(storedDoc(t, r))
	}
	rep := col.Report()
	if !rep.Intact() || rep.Documents != 6 || len(rep.Chains) != 1 || rep.Chains[0].Last != 6 {
		t.Fatalf("intact chain reported %+v", rep)
	}
}

func TestChainNewEpochForNewDir(t *testing.T) {
	a, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ea, _, _ := a.Head()
	eb, _, _ := b.Head()
	if ea == eb {
		t.Fatal("two new chains share an epoch")
	}
}

func TestChainLinkAfterCloseLeavesRecordUnlinked(t *testing.T) {
	c, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	r := records(1, "n")[0]
	if err := c.Link(r); err == nil || r.Chain != nil {
		t.Fatalf("Link after Close: err %v chain %+v", err, r.Chain)
	}
}

func TestSpoolFormKeepsChain(t *testing.T) {
	c, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := records(1, "n")[0]
	if err := c.Link(r); err != nil {
		t.Fatal(err)
	}
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := shippers.UnmarshalRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Chain == nil || *back.Chain != *r.Chain {
		t.Fatalf("chain after the spool: %+v, want %+v", back.Chain, r.Chain)
	}
	// The document built after the spool hashes to the same value: a spooled alert ships with a
	// hash that still matches.
	if got := storedDoc(t, back); got.Hash != r.Chain.Hash {
		t.Fatal("hash changed")
	}
	sum, err := NewHasher(nil).SumStored(storedDoc(t, back).Body)
	if err != nil || sum != r.Chain.Hash {
		t.Fatalf("document after the spool hashes to %s (%v), want %s", sum, err, r.Chain.Hash)
	}
}

func TestCanonical(t *testing.T) {
	a := `{"b":1.50,"a":{"z":[3,"x\u00e9",null,true],"y":"<&>"},"lanner":{"chain":{"seq":4,"hash":"h"}}}`
	b := "{\n \"lanner\":{\"chain\":{\"hash\":\"other\",\"seq\":4}},\"a\":{\"y\":\"\\u003c&>\",\"z\":[3,\"xé\",null,true]},\"b\":1.50}"
	ca, err := Canonical([]byte(a), true)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := Canonical([]byte(b), true)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":{"y":"<&>","z":[3,"xé",null,true]},"b":1.50,"lanner":{"chain":{"seq":4}}}`
	if string(ca) != want || string(cb) != want {
		t.Fatalf("canonical\n %s\n %s\nwant\n %s", ca, cb, want)
	}
	if c, _ := Canonical([]byte(a), false); !strings.Contains(string(c), `"hash":"h"`) {
		t.Error("dropHash false dropped the hash")
	}
	for _, bad := range []string{``, `[1]`, `{"a":1} {}`, `{"a":}`} {
		if _, err := Canonical([]byte(bad), false); err == nil {
			t.Errorf("Canonical(%q) accepted", bad)
		}
	}
}

func TestHMACNeedsTheKey(t *testing.T) {
	key := []byte("a node secret")
	c, err := Open(Options{Dir: t.TempDir(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rs := records(3, "n")
	for _, r := range rs {
		if err := c.Link(r); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(r.Chain.Hash, "hmac-sha256:") {
			t.Fatalf("hash %s", r.Chain.Hash)
		}
	}
	check := func(v *Verifier) *Report {
		col := v.NewCollector()
		for _, r := range rs {
			col.Add(storedDoc(t, r))
		}
		return col.Report()
	}
	if rep := check(NewVerifier(key)); !rep.Intact() || len(rep.Problems) != 0 {
		t.Errorf("with the key: %+v", rep.Problems)
	}
	if rep := check(NewVerifier([]byte("wrong"))); rep.Intact() || len(rep.Problems) != 3 {
		t.Errorf("with a wrong key every document must be modified: %+v", rep.Problems)
	}
	rep := check(NewVerifier(nil))
	if !rep.Intact() || len(rep.Problems) != 1 || rep.Problems[0].Kind != Unverifiable {
		t.Errorf("without a key: %+v", rep.Problems)
	}
}

// tamper returns the stored documents of n chained records for the verifier tests.
func chained(t *testing.T, n int) []Doc {
	c, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var docs []Doc
	for _, r := range records(n, "node-a") {
		if err := c.Link(r); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, storedDoc(t, r))
	}
	return docs
}

func edit(t *testing.T, d *Doc, f func(m map[string]any)) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(d.Body, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	d.Body = b
}

func problems(rep *Report) []string {
	var out []string
	for _, p := range rep.Problems {
		s := fmt.Sprintf("%s %d", p.Kind, p.Seq)
		if p.SeqEnd > p.Seq {
			s += fmt.Sprintf("-%d", p.SeqEnd)
		}
		out = append(out, s)
	}
	return out
}

func verify(docs []Doc, partial bool) *Report {
	v := NewVerifier(nil)
	v.Partial = partial
	col := v.NewCollector()
	// Order of arrival does not matter.
	for i := len(docs) - 1; i >= 0; i-- {
		col.Add(docs[i])
	}
	return col.Report()
}

func TestVerifyFindsTampering(t *testing.T) {
	docs := chained(t, 20)
	// Delete seq 5, edit the message of seq 9, swap the timestamps of seq 12 and seq 17.
	var kept []Doc
	for _, d := range docs {
		if d.Seq != 5 {
			kept = append(kept, d)
		}
	}
	for i := range kept {
		switch kept[i].Seq {
		case 9:
			edit(t, &kept[i], func(m map[string]any) { m["message"] = "nothing to see" })
		case 12, 17:
			other := map[uint64]uint64{12: 17, 17: 12}[kept[i].Seq]
			ts := docs[other-1].Time
			kept[i].Time = ts
			edit(t, &kept[i], func(m map[string]any) { m["@timestamp"] = ts.Format(time.RFC3339Nano) })
		}
	}
	rep := verify(kept, false)
	got := strings.Join(problems(rep), ", ")
	want := "gap 5, modified 9, reordered 12, modified 12, reordered 17, modified 17"
	if got != want {
		t.Fatalf("problems: %s\nwant:     %s\n%+v", got, want, rep.Problems)
	}
	if rep.Intact() {
		t.Fatal("a tampered chain reported intact")
	}
}

func TestVerifyLinksAndDuplicates(t *testing.T) {
	docs := chained(t, 8)
	// Seq 3 and 4 exchange their places (seq numbers rewritten, so hashes break too); a second
	// document claims seq 7; the first two documents are gone.
	swapped := append([]Doc(nil), docs...)
	swapped[2].Seq, swapped[3].Seq = 4, 3
	dup := docs[6]
	dup.ID = "another"
	swapped = append(swapped[2:], dup)
	rep := verify(swapped, false)
	got := strings.Join(problems(rep), ", ")
	want := "gap 1-2, reordered 3, broken_link 4, reordered 5, duplicate 7"
	if got != want {
		t.Fatalf("problems: %s\nwant:     %s\n%+v", got, want, rep.Problems)
	}
	// A window (--since) that starts at seq 3 is no gap.
	rep = verify(docs[2:], true)
	if !rep.Intact() {
		t.Fatalf("partial window: %v", problems(rep))
	}
}

// BenchmarkLink measures linking one alert: its ECS document, the canonical form, the hash and
// the state log write.
func BenchmarkLink(b *testing.B) {
	c, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	rs := records(1, "bench")
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Link(rs[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// crash leaves c as a killed process would: the state log as written, no clean marker.
func crash(t *testing.T, c *Chainer) {
	t.Helper()
	if err := c.wal.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestChainAfterCrash(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rs := records(9, "node-a")
	for _, r := range rs[:3] {
		if err := c.Link(r); err != nil {
			t.Fatal(err)
		}
	}
	epoch1, _, head1 := c.Head()
	crash(t, c)

	// The process crashed, the machine did not (same boot id): the chain continues.
	c, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if e, seq, h := c.Head(); e != epoch1 || seq != 3 || h != head1 {
		t.Fatalf("after a process crash: %s %d, want %s 3", e, seq, epoch1)
	}
	for _, r := range rs[3:6] {
		if err := c.Link(r); err != nil {
			t.Fatal(err)
		}
	}
	_, _, head2 := c.Head()
	crash(t, c)

	// The machine went down (another boot id): a new epoch, linked to the last head on disk.
	if err := os.WriteFile(filepath.Join(dir, bootFile), []byte("an-earlier-boot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	epoch2, seq, _ := c.Head()
	if epoch2 == epoch1 || seq != 0 {
		t.Fatalf("after a machine crash: epoch %s seq %d, want a new epoch from 0", epoch2, seq)
	}
	for _, r := range rs[6:] {
		if err := c.Link(r); err != nil {
			t.Fatal(err)
		}
	}
	if rs[6].Chain.Seq != 1 || rs[6].Chain.Prev != head2 || rs[6].Chain.Epoch != epoch2 {
		t.Fatalf("first link of the new epoch: %+v, want seq 1 after %s", rs[6].Chain, head2)
	}
	// Both epochs verify, the second joined to the first.
	v := NewVerifier(nil)
	col := v.NewCollector()
	for _, r := range rs {
		col.Add(storedDoc(t, r))
	}
	rep := col.Report()
	if !rep.Intact() || len(rep.Chains) != 2 {
		t.Fatalf("two epochs: %v %+v", problems(rep), rep.Chains)
	}
	var joined bool
	for _, s := range rep.Chains {
		if s.Epoch == epoch2 && s.Continues == fmt.Sprintf("%s@6", epoch1) {
			joined = true
		}
	}
	if !joined {
		t.Fatalf("the new epoch is not joined to the old one: %+v", rep.Chains)
	}
	// Without the first epoch's documents the join is a broken link.
	col = v.NewCollector()
	for _, r := range rs[6:] {
		col.Add(storedDoc(t, r))
	}
	if got := strings.Join(problems(col.Report()), ", "); got != "broken_link 1" {
		t.Fatalf("orphaned epoch: %s", got)
	}
}

// FuzzCanonical: any input is refused or canonicalized without a panic, and the canonical form
// is a fixed point (canonicalizing it again changes nothing), so a stored document hashes the
// same however it was formatted.
func FuzzCanonical(f *testing.F) {
	f.Add([]byte(`{"b":1.50,"a":{"z":[3,"x",null,true]},"lanner":{"chain":{"seq":4,"hash":"h"}}}`))
	f.Add([]byte(`{"message":"caf\u00e9 <b>","n":-0.0,"e":1e400}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Canonical(data, true)
		if err != nil {
			return
		}
		again, err := Canonical(c, true)
		if err != nil {
			t.Fatalf("the canonical form %q does not parse: %v", c, err)
		}
		if string(again) != string(c) {
			t.Fatalf("not a fixed point:\n %q\n %q", c, again)
		}
	})
}
