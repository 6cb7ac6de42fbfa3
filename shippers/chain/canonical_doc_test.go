package chain

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/elasticsearch"
)

// genString draws strings that exercise escaping: quotes, backslashes, control bytes, HTML
// characters, multi-byte UTF-8, U+2028, and now and then invalid UTF-8.
func genString(rnd *rand.Rand) string {
	parts := []string{"", "a", "sh", "/usr/bin/bash", `"`, `\`, "\n", "\t", "\x01", "\x7f", "<&>", "é", "日本", "\u2028", "😀", " ", ".", "_", "@", "-", "0", "Z"}
	if rnd.IntN(20) == 0 {
		parts = append(parts, "\xff", "\xc3")
	}
	var b strings.Builder
	for range rnd.IntN(6) {
		b.WriteString(parts[rnd.IntN(len(parts))])
	}
	return b.String()
}

// genValue draws an output field value of the types the engine produces (and nested ones).
func genValue(rnd *rand.Rand, depth int) any {
	switch n := rnd.IntN(10); {
	case n == 0:
		return nil
	case n == 1:
		return rnd.Int64() - math.MaxInt64/2
	case n == 2:
		return rnd.Uint64()
	case n == 3:
		return []float64{1.5, -0.25, 1e21, 3e-7, 0, 12345.678}[rnd.IntN(6)]
	case n == 4:
		return rnd.IntN(2) == 0
	case n == 5 && depth < 2:
		l := make([]any, rnd.IntN(4))
		for i := range l {
			l[i] = genValue(rnd, depth+1)
		}
		return l
	case n == 6 && depth < 2:
		m := map[string]any{}
		for range rnd.IntN(4) {
			m[genString(rnd)] = genValue(rnd, depth+1)
		}
		return m
	}
	return genString(rnd)
}

// genRecord draws an alert touching every part of the document: syscall or audit source, MITRE
// tags, output fields the ECS mapping reads, enricher metadata, an audit target, a chain link.
func genRecord(rnd *rand.Rand) *shippers.Record {
	fields := map[string]any{}
	known := []string{"proc.name", "proc.exepath", "proc.cmdline", "proc.args", "proc.pid", "proc.ppid", "proc.pname",
		"user.uid", "user.name", "group.gid", "fd.name", "fd.type", "fd.lip", "fd.rip", "fd.lport", "fd.rport",
		"fd.l4proto", "container.id", "container.image.repository", "container.image.tag", "container.privileged",
		"k8s.ns.name", "k8s.pod.name", "evt.type", "ka.verb", "ka.user.name", "ka.uri", "evt.arg.flags"}
	for range rnd.IntN(12) {
		k := known[rnd.IntN(len(known))]
		if rnd.IntN(3) == 0 {
			k = genString(rnd)
		}
		switch k {
		case "fd.lip", "fd.rip":
			fields[k] = []string{"10.0.0.1", "::1", "not-an-ip"}[rnd.IntN(3)]
		case "proc.pid", "fd.lport":
			fields[k] = []any{int64(42), "43", "x"}[rnd.IntN(3)]
		default:
			fields[k] = genValue(rnd, 0)
		}
	}
	src := event.SourceSyscall
	if rnd.IntN(3) == 0 {
		src = event.SourceK8sAudit
	}
	tags := []string{"T1059", "T1059.004", "mitre_privilege_escalation", "container", genString(rnd)}[:rnd.IntN(6)]
	a := &alert.Alert{Time: time.Unix(1795000000+rnd.Int64N(1e6), rnd.Int64N(1e9)).UTC(), Rule: "R " + genString(rnd),
		Priority: alert.Priority(rnd.IntN(8)), Source: src, Tags: tags, Output: genString(rnd), Hostname: "node-" + genString(rnd),
		OutputFields: fields, Action: []string{"", "execve", "openat", "create", "delete"}[rnd.IntN(5)]}
	if rnd.IntN(2) == 0 {
		a.K8s = &alert.K8sMeta{Namespace: genString(rnd), PodName: genString(rnd), PodUID: "uid", PodIP: "10.1.2.3",
			NodeName: "n", ContainerName: genString(rnd), ContainerID: "abc", Image: "reg:5000/app:1.2", ImageID: "app@sha256:ff",
			OwnerKind: []string{"", "ReplicaSet", "Rollout"}[rnd.IntN(3)], OwnerName: "o", Deployment: "d",
			Labels: map[string]string{"app.kubernetes.io/name": genString(rnd), genString(rnd): "v"}, Annotations: map[string]string{"a": genString(rnd)}}
		a.K8sLookup = alert.K8sFound
	}
	if src == event.SourceK8sAudit && rnd.IntN(2) == 0 {
		a.Audit = &alert.AuditTarget{User: genString(rnd), Resource: "pods", Subresource: "exec", Namespace: "ns", Name: genString(rnd),
			APIGroup: "apps", APIVersion: "v1", SourceIP: "172.18.0.1"}
	}
	r := shippers.NewRecord(a, genString(rnd), "rules.yaml")
	r.Chain = &shippers.ChainLink{Epoch: "e", Seq: rnd.Uint64N(1 << 40), Prev: genString(rnd)}
	return r
}

// checkCanonicalDocument is the audit trail's premise: a document the builder calls canonical
// is its own canonical form, so Link may hash its bytes as they are; and the document stored
// with its hash canonicalizes (hash left out) to those same bytes, so the verifier recomputes
// the same hash from what Elasticsearch returns.
func checkCanonicalDocument(t *testing.T, r *shippers.Record) {
	t.Helper()
	doc, canonical := elasticsearch.CanonicalDocument(r)
	c, err := Canonical(doc, false)
	if err != nil {
		t.Fatalf("document %s does not parse: %v", doc, err)
	}
	if canonical && string(c) != string(doc) {
		t.Fatalf("document called canonical is not:\n doc %s\n can %s", doc, c)
	}
	h := NewHasher(nil)
	want, _ := h.Sum(doc)
	withHash := *r
	link := *r.Chain
	link.Hash = want
	withHash.Chain = &link
	stored, _ := elasticsearch.Document(&withHash)
	got, err := h.SumStored(stored)
	if err != nil || got != want {
		t.Fatalf("hash of the stored document %s = %s (%v), want %s", stored, got, err, want)
	}
}

func TestCanonicalDocumentProperty(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	canonical := 0
	const n = 3000
	for range n {
		r := genRecord(rnd)
		checkCanonicalDocument(t, r)
		if _, ok := elasticsearch.CanonicalDocument(r); ok {
			canonical++
		}
	}
	// Only keys that are not UTF-8 (drawn about once in twenty strings) may leave the fast path.
	if canonical < n/2 {
		t.Fatalf("only %d of %d documents canonical by construction", canonical, n)
	}
	t.Logf("%d of %d generated documents canonical by construction", canonical, n)
}

// The chainer's hash (from the document's bytes when canonical) is the verifier's.
func TestLinkHashMatchesVerifier(t *testing.T) {
	c, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rnd := rand.New(rand.NewPCG(3, 4))
	h := NewHasher(nil)
	reused := 0
	defer func() {
		if reused == 0 {
			t.Error("the chainer never handed its document on")
		}
	}()
	for range 300 {
		r := genRecord(rnd)
		r.Chain = nil
		if err := c.Link(r); err != nil {
			t.Fatal(err)
		}
		// The document the chainer hands to the Elasticsearch output is the one a fresh build
		// with the hash writes.
		cached := r.ECSDocument
		r.ECSDocument = nil
		stored, _ := elasticsearch.Document(r)
		if got, err := h.SumStored(stored); err != nil || got != r.Chain.Hash {
			t.Fatalf("verifier's hash %s (%v), link's %s, document %s", got, err, r.Chain.Hash, stored)
		}
		if cached != nil && !bytes.Equal(cached, stored) {
			t.Fatalf("the chainer's document differs from a fresh build:\n %s\n %s", cached, stored)
		}
		if cached != nil {
			reused++
		}
	}
}

// FuzzCanonicalDocument: whatever strings an alert carries, a document called canonical is its
// own canonical form and its stored form hashes the same.
func FuzzCanonicalDocument(f *testing.F) {
	f.Add("sh", "proc.name", "<b>\"x\"</b>", "T1059", uint64(7))
	f.Add("\xff", "k\xfe", "\u2028", "mitre_execution", uint64(0))
	f.Fuzz(func(t *testing.T, out, key, val, tag string, seq uint64) {
		a := &alert.Alert{Time: time.Unix(1795000000, int64(seq%1e9)).UTC(), Rule: "R", Priority: alert.Warning,
			Source: event.SourceSyscall, Tags: []string{tag}, Output: out, Hostname: val,
			OutputFields: map[string]any{key: val, "proc.name": out, "n": seq, "l": []any{val, key}}}
		r := shippers.NewRecord(a, val, key)
		r.Chain = &shippers.ChainLink{Epoch: "e", Seq: seq, Prev: fmt.Sprint(seq)}
		checkCanonicalDocument(t, r)
	})
}

// A reused Builder (the shipper's pool, the chainer) keeps the layout of the last document: for
// any sequence of alerts, of the same kind or not, it must write what a new one writes.
func TestBuilderReuseMatchesFreshBuilds(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	var b elasticsearch.Builder
	var buf []byte
	var prev *shippers.Record
	for i := range 3000 {
		r := genRecord(rnd)
		if prev != nil && i%3 == 0 {
			// The same kind again (same paths): the plan is reused.
			same := *prev
			a := *prev.Alert
			a.Output = genString(rnd)
			same.Alert = &a
			r = &same
		}
		prev = r
		var ok bool
		buf, ok = b.AppendDocument(buf[:0], r)
		want, wantOK := elasticsearch.CanonicalDocument(r)
		if string(buf) != string(want) || ok != wantOK {
			t.Fatalf("alert %d: reused builder wrote\n %s (%v)\nnew builder\n %s (%v)", i, buf, ok, want, wantOK)
		}
	}
}
