package shippers

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/shippers/spool"
)

// preparing is a Preparer whose form is "prepared:" + the alert's message; its first
// SendPrepared rejects the second record and asks to retry the third.
type preparing struct {
	calls [][]string // data of each SendPrepared
	ids   [][]string
}

func (p *preparing) Prepare(dst []byte, r *Record) ([]byte, error) {
	if r.Alert.Message == "unpreparable" {
		return nil, errors.New("cannot prepare")
	}
	return append(dst, `{"prepared":"`+r.Alert.Message+`"}`...), nil
}

func (p *preparing) SendPrepared(_ context.Context, batch []Prepared) error {
	var data, ids []string
	for _, b := range batch {
		data = append(data, string(b.Data))
		ids = append(ids, b.ID)
	}
	p.calls = append(p.calls, data)
	p.ids = append(p.ids, ids)
	if len(p.calls) == 1 && len(batch) == 3 {
		return &PartialError{Accepted: []int{0}, Rejected: []int{1}, RejectErrs: []error{errors.New("mapping")}, Retry: []int{2}}
	}
	return nil
}

func (p *preparing) Send(context.Context, Batch) error {
	return errors.New("Send called on a Preparer")
}

func (p *preparing) Close() error { return nil }

func TestPreparedFrameRoundTrip(t *testing.T) {
	for _, id := range []string{"a", strings.Repeat("x", 300)} {
		b := appendPrepared(nil, id, []byte(`{"doc":1}`))
		p, err := parsePrepared(b)
		if err != nil || p.ID != id || string(p.Data) != `{"doc":1}` {
			t.Fatalf("round trip of id %q: %+v, %v", id, p, err)
		}
	}
	for _, bad := range [][]byte{nil, []byte(`{"v":1}`), {preparedTag}, {preparedTag, 5, 'a'}, {preparedTag, 0, 'a'}} {
		if p, err := parsePrepared(bad); err == nil {
			t.Errorf("parsePrepared(%q) = %+v, want an error", bad, p)
		}
	}
}

// A Preparer's output spools the prepared form, sends it without decoding a record, still reads
// records an earlier lanner spooled in the generic form, and dead-letters rejected records with
// their id and prepared data.
func TestOutputPreparer(t *testing.T) {
	dir := t.TempDir()
	q, err := spool.Open(dir, spool.Options{Name: "t"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// An earlier lanner's record, in the generic form, already in the spool.
	old := NewRecord(testAlert(0, "R", alert.Error), "", "")
	generic, err := old.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Append(context.Background(), generic); err != nil {
		t.Fatal(err)
	}
	sh := &preparing{}
	dead := filepath.Join(dir, "dead.jsonl")
	o, err := NewOutput(OutputConfig{Name: "t", BatchSize: 10, DeadLetterFile: dead}, q, sh, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	recs := []*Record{NewRecord(testAlert(1, "R", alert.Error), "", ""), NewRecord(testAlert(2, "R", alert.Error), "", "")}
	if err := o.Enqueue(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	entries, err := q.ReadFrom(context.Background(), 0, 10, 0)
	if err != nil || len(entries) != 3 {
		t.Fatalf("spool: %d entries, %v", len(entries), err)
	}
	if p, err := parsePrepared(entries[1].Data); err != nil || p.ID != recs[0].ID || string(p.Data) != `{"prepared":"out 1"}` {
		t.Fatalf("spooled %q: want the prepared form of %s (%v)", entries[1].Data, recs[0].ID, err)
	}
	runUntilEmpty(t, o)
	if len(sh.calls) != 2 {
		t.Fatalf("SendPrepared calls %v: want the batch, then the record to retry", sh.calls)
	}
	want := []string{`{"prepared":"out 0"}`, `{"prepared":"out 1"}`, `{"prepared":"out 2"}`}
	if strings.Join(sh.calls[0], " ") != strings.Join(want, " ") || sh.ids[0][0] != old.ID {
		t.Fatalf("first SendPrepared %v (ids %v): want %v, the generic record prepared on reading", sh.calls[0], sh.ids[0], want)
	}
	if len(sh.calls[1]) != 1 || sh.calls[1][0] != want[2] || sh.ids[1][0] != recs[1].ID {
		t.Fatalf("retry %v: want only %s", sh.calls[1], want[2])
	}
	data, err := os.ReadFile(dead)
	if err != nil {
		t.Fatal(err)
	}
	var line struct {
		ID     string
		Reason string
		Record json.RawMessage
	}
	if err := json.Unmarshal(data, &line); err != nil || line.ID != recs[0].ID || line.Reason != "mapping" || string(line.Record) != want[1] {
		t.Fatalf("dead letter %s (%v): want %s with its prepared document", data, err, recs[0].ID)
	}
	// An alert that cannot be prepared is spooled as a record, then dead-lettered with the
	// reason when the worker cannot prepare it either.
	bad := NewRecord(testAlert(3, "R", alert.Error), "", "")
	bad.Alert.Message = "unpreparable"
	if err := o.Enqueue(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	runUntilEmpty(t, o)
	data, _ = os.ReadFile(dead)
	if !strings.Contains(string(data), bad.ID) || !strings.Contains(string(data), "cannot prepare") {
		t.Fatalf("dead-letter file %s: want %s with the reason", data, bad.ID)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
}
