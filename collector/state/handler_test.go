package state

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lannersec/lanner/collector/capture"
	"github.com/lannersec/lanner/collector/event"
)

func TestHandler(t *testing.T) {
	files, _ := filepath.Glob("../capture/testdata/samples/*.bin")
	if len(files) == 0 {
		t.Skip("no recorded samples")
	}
	s := newState(t, Config{})
	var events, execs int
	h := s.Handler(func(e *event.Event) {
		events++
		if e.Num != uint64(events) {
			t.Errorf("event number %d, want %d", e.Num, events)
		}
		if e.Type == sc("execve") && e.Sys.Thread != nil && e.Sys.Res == 0 {
			execs++
		}
	})
	forks := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(f)[:4] == "fork" {
			forks++
		}
		h(raw)
	}
	h([]byte("short"))
	h(make([]byte, 40)) // a header whose length field is 0
	if want := len(files) - forks; events != want {
		t.Errorf("%d events from %d records (%d forks), want %d", events, len(files), forks, want)
	}
	if execs == 0 {
		t.Errorf("no successful execve event")
	}
	errs := s.DecodeErrors()
	if errs[capture.ErrShort] != 1 || errs[capture.ErrLength] != 1 {
		t.Errorf("decode errors %v, want one short record and one bad length", errs)
	}
}
