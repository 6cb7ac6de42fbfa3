package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/shippers"
)

func TestAllCreated(t *testing.T) {
	for _, tc := range []struct {
		body string
		n    int
		want bool
	}{
		{`{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}`, 2, true},
		{`{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}`, 3, false},
		{`{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":409,"error":{"type":"x"}}}]}`, 2, false},
		{`{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":429}}]}`, 2, false},
		{`{"items":[{"create":{"status":201}}],"errors":false}`, 1, false}, // another layout: decoded
		{`not json`, 1, false},
	} {
		if got := allCreated([]byte(tc.body), tc.n); got != tc.want {
			t.Errorf("allCreated(%s, %d) = %v, want %v", tc.body, tc.n, got, tc.want)
		}
	}
}

func TestDocTime(t *testing.T) {
	doc, _ := Document(testRecord(5))
	got, err := docTime(doc)
	if want := testRecord(5).Alert.Time; err != nil || !got.Equal(want) {
		t.Fatalf("docTime of a document = %v, %v; want %v", got, err, want)
	}
	got, err = docTime([]byte(`{"a":1,"@timestamp":"2026-01-02T03:04:05Z"}`))
	if err != nil || !got.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("docTime with @timestamp not first = %v, %v", got, err)
	}
	if _, err := docTime([]byte(`{"a":1}`)); err == nil {
		t.Fatal("docTime without @timestamp: no error")
	}
}

// indexOf reuses the last day's index only for another document of the same UTC day: a
// timestamp with an offset, or one that is not first, is dated the slow way.
func TestIndexOfDays(t *testing.T) {
	s := &Shipper{cfg: Config{Mode: ModeIndex, IndexPrefix: "p"}}
	var last dayIndex
	for _, tc := range []struct{ doc, want string }{
		{`{"@timestamp":"2026-01-02T03:04:05Z"}`, "p-2026.01.02"},
		{`{"@timestamp":"2026-01-02T23:59:59.999Z"}`, "p-2026.01.02"},
		{`{"@timestamp":"2026-01-02T23:30:00-05:00"}`, "p-2026.01.03"},
		{`{"@timestamp":"2026-01-02T10:00:00Z"}`, "p-2026.01.02"},
		{`{"a":1,"@timestamp":"2026-01-04T00:00:00Z"}`, "p-2026.01.04"},
		{`{"@timestamp":"2026-01-03T00:00:00.5Z"}`, "p-2026.01.03"},
	} {
		got, err := s.indexOf([]byte(tc.doc), &last)
		if err != nil || got != tc.want {
			t.Errorf("indexOf(%s) = %q, %v; want %q", tc.doc, got, err, tc.want)
		}
	}
	if _, err := s.indexOf([]byte(`{"@timestamp":"2026-01-0xT00:00:00Z"}`), &last); err == nil {
		t.Error("indexOf of an unreadable date: no error")
	}
}

// SendPrepared in index mode writes each document to the index of its own @timestamp, and
// rejects (for the dead-letter file) one it cannot date; Send gives the same requests.
func TestSendPreparedIndexMode(t *testing.T) {
	f := &fakeES{answer: func(n, _ int) (int, []int) {
		items := make([]int, n)
		for i := range items {
			items[i] = 201
		}
		return 200, items
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := newTestShipper(t, srv.URL, func(c *Config) { c.Mode = ModeIndex; c.IndexPrefix = "lanner-x" })
	r1, r2 := testRecord(1), testRecord(2)
	r2.Alert.Time = r2.Alert.Time.AddDate(0, 0, 1)
	d1, _ := s.Prepare(nil, r1)
	d2, _ := s.Prepare(nil, r2)
	err := s.SendPrepared(context.Background(), []shippers.Prepared{{ID: r1.ID, Data: d1}, {ID: "undated", Data: []byte(`{"x":1}`)}, {ID: r2.ID, Data: d2}})
	var pe *shippers.PartialError
	if !errors.As(err, &pe) || fmt.Sprint(pe.Accepted, pe.Rejected) != "[0 2] [1]" || !strings.Contains(pe.RejectErrs[0].Error(), "@timestamp") {
		t.Fatalf("SendPrepared = %v, want 0 and 2 accepted, 1 rejected for its missing @timestamp", err)
	}
	if err := s.Send(context.Background(), shippers.Batch{r1, r2}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf(`{"create":{"_index":"lanner-x-2026.11.26","_id":%q}}`, r1.ID),
		fmt.Sprintf(`{"create":{"_index":"lanner-x-2026.11.27","_id":%q}}`, r2.ID),
	}
	for i, body := range f.bodies {
		if strings.Join(body, "\n") != strings.Join(want, "\n") {
			t.Errorf("request %d: action lines %q, want %q", i, body, want)
		}
	}
}
