package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lannersec/lanner/collector/audit"
	"github.com/lannersec/lanner/collector/event"
)

// MaxLineBytes bounds one line. Audit events of large objects run to a few hundred kilobytes;
// anything past this is not an event and is skipped rather than buffered.
const MaxLineBytes = 16 << 20

// Options configure a Reader.
type Options struct {
	// Source forces every line to be read as this source. The zero value, SourceUnknown,
	// detects the source of each line: audit Event and EventList documents (and JSON arrays)
	// are k8s_audit, any other object is a syscall event.
	Source event.Source
}

// LineError is the error for one line that could not be read as an event. The reader has
// skipped the line; the caller reports the error and keeps reading.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Reader reads events from one or more replay files in order. It is not safe for concurrent use.
type Reader struct {
	opts   Options
	inputs []input
	cur    *bufio.Reader
	closer io.Closer
	name   string
	line   int

	pending []*event.Event // events of an EventList line not yet returned
	nums    [event.NumSources]uint64
	syscall syscallDecoder
}

type input struct {
	name string
	r    io.Reader // nil: open name as a file
}

// NewReader reads events from r; name is used in error messages.
func NewReader(r io.Reader, name string, opts Options) *Reader {
	return newReader(opts, []input{{name: name, r: r}})
}

// Open reads the named files one after another, numbering their events as one stream. A file
// is opened when the reader reaches it; a file that cannot be opened is reported by Next as an
// error without a line number and the reader goes on with the next file.
func Open(paths []string, opts Options) *Reader {
	in := make([]input, len(paths))
	for i, p := range paths {
		in[i] = input{name: p}
	}
	return newReader(opts, in)
}

func newReader(opts Options, in []input) *Reader {
	r := &Reader{opts: opts, inputs: in}
	r.syscall.init()
	return r
}

// Next returns the next event. It returns io.EOF after the last one. Any other error concerns
// one line (a *LineError) or one file that could not be opened or read; the reader has skipped
// it, and the caller may report it and call Next again.
func (r *Reader) Next() (*event.Event, error) {
	for {
		if len(r.pending) > 0 {
			e := r.pending[0]
			r.pending = r.pending[1:]
			return r.number(e), nil
		}
		if r.cur == nil {
			if len(r.inputs) == 0 {
				return nil, io.EOF
			}
			if err := r.openNext(); err != nil {
				return nil, err
			}
		}
		line, err := r.readLine()
		if err == io.EOF {
			r.closeCurrent()
			continue
		}
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) {
				// A read error ends the file; a bad line only ends itself.
				r.closeCurrent()
			}
			return nil, err
		}
		evs, derr := r.decode(line)
		r.pending = append(r.pending, evs...)
		if derr != nil {
			return nil, &LineError{File: r.name, Line: r.line, Err: derr}
		}
	}
}

// Close closes the file being read, if any.
func (r *Reader) Close() error {
	r.inputs = nil
	if r.closer != nil {
		err := r.closer.Close()
		r.closer = nil
		r.cur = nil
		return err
	}
	r.cur = nil
	return nil
}

func (r *Reader) number(e *event.Event) *event.Event {
	if int(e.Source) < len(r.nums) {
		r.nums[e.Source]++
		e.Num = r.nums[e.Source]
	}
	return e
}

func (r *Reader) openNext() error {
	in := r.inputs[0]
	r.inputs = r.inputs[1:]
	r.name, r.line = in.name, 0
	if in.r != nil {
		r.cur = bufio.NewReaderSize(in.r, 64<<10)
		return nil
	}
	f, err := os.Open(in.name)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	r.cur, r.closer = bufio.NewReaderSize(f, 64<<10), f
	return nil
}

func (r *Reader) closeCurrent() {
	if r.closer != nil {
		r.closer.Close()
	}
	r.cur, r.closer = nil, nil
}

var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLineBytes)

// readLine returns the next line without its end. A line past MaxLineBytes is consumed and
// reported.
func (r *Reader) readLine() ([]byte, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := r.cur.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > MaxLineBytes {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(buf) == 0 && !tooLong {
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s: %w", r.name, err)
		}
		r.line++
		if tooLong {
			return nil, &LineError{File: r.name, Line: r.line, Err: errLineTooLong}
		}
		return bytes.TrimRight(buf, "\r\n"), nil
	}
}

// decode turns one line into events. Blank lines and lines starting with '#' are comments.
func (r *Reader) decode(line []byte) ([]*event.Event, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] == '#' {
		return nil, nil
	}
	src := r.opts.Source
	if src == event.SourceUnknown {
		src = detect(line)
	}
	switch src {
	case event.SourceK8sAudit:
		evs, err := audit.Decode(line)
		return evs, err
	case event.SourceSyscall:
		e, err := r.syscall.decode(line)
		if err != nil {
			return nil, err
		}
		return []*event.Event{e}, nil
	}
	return nil, fmt.Errorf("unsupported source %s", src)
}

// detect tells audit documents from syscall events: audit lines are arrays, or objects whose
// kind is Event or EventList or whose apiVersion is audit.k8s.io.
func detect(line []byte) event.Source {
	if line[0] == '[' {
		return event.SourceK8sAudit
	}
	var head struct {
		Kind       any `json:"kind"`
		APIVersion any `json:"apiVersion"`
	}
	if json.Unmarshal(line, &head) == nil {
		if k, ok := head.Kind.(string); ok && (k == "Event" || k == "EventList") {
			return event.SourceK8sAudit
		}
		if v, ok := head.APIVersion.(string); ok && strings.HasPrefix(v, "audit.k8s.io/") {
			return event.SourceK8sAudit
		}
	}
	return event.SourceSyscall
}

// ReadAll reads every event of r, collecting the line errors instead of stopping at them.
func ReadAll(r *Reader) ([]*event.Event, []error) {
	var evs []*event.Event
	var errs []error
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return evs, errs
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		evs = append(evs, e)
	}
}
