package capture

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/lannersec/lanner/collector/event"
)

// OpenFilter lets the kernel drop the open-family calls (open, openat, openat2, creat) no loaded
// rule can match, before a record is built: on a node most opens are reads of ordinary files,
// and no stable rule looks at those. The kernel reports an open when
//
//	(Writes && it asks for O_WRONLY or O_RDWR) || (Paths && (its path is not canonical ||
//	its path starts with one of Prefixes))
//
// where a canonical path is absolute, without "//", "/." or "..", and without a trailing slash,
// so that it equals the fd.name userspace derives; prefix tests on the others would be wrong, so
// they are all reported. Build it from the rules with engine's Ruleset.OpenScope; a nil filter
// reports every open, as does a rule the analysis cannot bound.
//
// An fd whose open was not reported is still described by the kernel when a later call uses it
// (Layout.TupleFD), so the state keeps its name and type; only its open flags are unknown.
type OpenFilter struct {
	Writes bool
	// Paths turns on the path tests: non-canonical paths and Prefixes.
	Paths bool
	// Prefixes are compared with the path as the caller passed it. An exact name is the path
	// followed by a NUL byte ("/etc/shadow\x00"); a directory's files are "/etc/pam.d/".
	Prefixes []string
}

// NeedsEveryOpen reports whether a syscall set holds a call whose event can only be described
// from the fd table that opens build: close, whose fd is gone by the call's exit (the kernel
// describes the fd of the other fd calls itself). With such a call reported, filtering opens
// would leave closes of unreported files without a name: report every open then.
func NeedsEveryOpen(syscalls []uint16) bool {
	closeNr, ok := event.TypeByName("close")
	return ok && slices.Contains(syscalls, closeNr)
}

// The limits of the kernel's prefix trie (open_prefixes in lanner.bpf.c).
const (
	// MaxOpenPrefixes is the trie's max_entries.
	MaxOpenPrefixes = 256
	// prefixKeySize is struct pfx_key: a u32 bit length and 256 bytes of data.
	prefixKeySize = 4 + 256
)

// sc_cfg.ofilt bits and flag sources (OF_*, OFL_* in lanner.bpf.c).
const (
	ofOn     = 1
	ofWrites = 2
	ofPaths  = 4
	oflHow   = 7
	oflCreat = 8
)

// Validate checks that the kernel can hold f.
func (f *OpenFilter) Validate() error {
	if f == nil {
		return nil
	}
	if len(f.Prefixes) > MaxOpenPrefixes {
		return fmt.Errorf("open filter: %d path prefixes, the kernel holds %d", len(f.Prefixes), MaxOpenPrefixes)
	}
	for _, p := range f.Prefixes {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("open filter: prefix %q is not an absolute path", p)
		}
	}
	return nil
}

// prefixKey is the trie key of prefix p, or false when p is longer than the trie holds (paths
// that long are always reported: the kernel cannot read them whole into a key).
func prefixKey(p string) ([prefixKeySize]byte, bool) {
	var k [prefixKeySize]byte
	if len(p) > prefixKeySize-5 {
		return k, false
	}
	binary.LittleEndian.PutUint32(k[:4], uint32(len(p)*8))
	copy(k[4:], p)
	return k, true
}

// prefixWordsSize is struct pfx_words: a count, padding, then PFX_WORDS words and masks.
const (
	prefixWords     = 16
	prefixWordsSize = 8 + 16*prefixWords
)

// prefixWords is the open_prefix_words value for prefixes: the distinct first eight bytes of the
// prefixes with their masks (a shorter prefix compares only its own bytes), or a count beyond
// PFX_WORDS when there are too many distinct words, which makes the kernel go to the trie.
func prefixWordsValue(prefixes []string) [prefixWordsSize]byte {
	var v [prefixWordsSize]byte
	type wm struct{ w, m uint64 }
	var seen []wm
	for _, p := range prefixes {
		if _, ok := prefixKey(p); !ok {
			continue // never in the trie
		}
		var b [8]byte
		n := copy(b[:], p)
		x := wm{w: binary.LittleEndian.Uint64(b[:]), m: ^uint64(0)}
		if n < 8 {
			x.m = 1<<(8*n) - 1
		}
		if !slices.Contains(seen, x) {
			seen = append(seen, x)
		}
	}
	n := uint32(len(seen))
	if n > prefixWords {
		n = prefixWords + 1
		seen = nil
	}
	binary.LittleEndian.PutUint32(v[0:], n)
	for i, x := range seen {
		binary.LittleEndian.PutUint64(v[8+8*i:], x.w)
		binary.LittleEndian.PutUint64(v[8+8*prefixWords+8*i:], x.m)
	}
	return v
}

// openFilterConfig returns the sc_cfg bytes 9-11 (ofilt, oflags, opath) of syscall nr under f:
// zero for a syscall outside the open family or when f is nil.
func openFilterConfig(nr uint16, f *OpenFilter) (ofilt, oflags, opath uint8) {
	if f == nil {
		return 0, 0, 0
	}
	switch event.TypeName(nr) {
	case "open":
		oflags, opath = 1+1, 1+0
	case "openat":
		oflags, opath = 1+2, 1+1
	case "openat2":
		oflags, opath = oflHow, 1+1
	case "creat":
		oflags, opath = oflCreat, 1+0
	default:
		return 0, 0, 0
	}
	ofilt = ofOn
	if f.Writes {
		ofilt |= ofWrites
	}
	if f.Paths {
		ofilt |= ofPaths
	}

	return ofilt, oflags, opath
}
