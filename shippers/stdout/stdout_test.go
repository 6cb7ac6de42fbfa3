package stdout

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/shippers"
)

func TestSend(t *testing.T) {
	a := &alert.Alert{Time: time.Unix(1795723529, 0).UTC(), Rule: "R", Priority: alert.Warning, Source: event.SourceSyscall,
		Hostname: "h", Output: "12:00:00: Warning line\x1b[2J", OutputFields: map[string]any{"proc.name": "x"}}
	batch := shippers.Batch{shippers.NewRecord(a, "", ""), shippers.NewRecord(a, "", "")}
	for _, json := range []bool{true, false} {
		var out bytes.Buffer
		s, err := New(&out, json)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		line := a.TextLine()
		if json {
			line = string(a.AppendJSON(nil))
		}
		if want := line + "\n" + line + "\n"; out.String() != want {
			t.Errorf("json=%v: %q, want %q", json, out.String(), want)
		}
	}
}

type brokenPipe struct{}

func (brokenPipe) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestSendFailureIsRecoverable(t *testing.T) {
	s, _ := New(brokenPipe{}, true)
	a := &alert.Alert{Time: time.Unix(0, 0), Rule: "R", Output: "x"}
	err := s.Send(context.Background(), shippers.Batch{shippers.NewRecord(a, "", "")})
	var re *shippers.RecoverableError
	if !errors.As(err, &re) || !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Send to a closed pipe: %v, want a recoverable error", err)
	}
	if _, err := New(nil, true); err == nil {
		t.Fatal("no writer accepted")
	}
}
