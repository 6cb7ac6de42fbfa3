package capture

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/event"
)

// firstWordHit is the kernel's first-word test (open_wanted in lanner.bpf.c) on a path read into
// a buffer that holds stale bytes after its NUL.
func firstWordHit(v [prefixWordsSize]byte, path string) bool {
	n := binary.LittleEndian.Uint32(v[0:])
	if n > prefixWords {
		return true
	}
	buf := []byte(path + "\x00" + "stale!!!")
	first := binary.LittleEndian.Uint64(buf[:8])
	for i := range int(n) {
		w := binary.LittleEndian.Uint64(v[8+8*i:])
		m := binary.LittleEndian.Uint64(v[8+8*prefixWords+8*i:])
		if first&m == w {
			return true
		}
	}
	return false
}

func TestNeedsEveryOpen(t *testing.T) {
	closeNr, _ := event.TypeByName("close")
	if NeedsEveryOpen(DefaultSyscalls()) {
		t.Error("the stable rules' set has no close: the open filter can run")
	}
	if !NeedsEveryOpen(append(DefaultSyscalls(), closeNr)) {
		t.Error("with close reported, every open must be")
	}
}

func TestPrefixWords(t *testing.T) {
	prefixes := []string{"/etc/shadow\x00", "/etc/shadow-\x00", "/etc/pam.d", "/root/.ssh/id_rsa\x00", "/a\x00", "/b", "/" + strings.Repeat("x", 300)}
	v := prefixWordsValue(prefixes)
	if n := binary.LittleEndian.Uint32(v[0:]); n != 5 {
		t.Fatalf("%d distinct words, want 5 (the two shadows share one, the long prefix is left out)", n)
	}
	paths := []string{"/", "/a", "/ab", "/b", "/bc", "/etc", "/etc/", "/etc/shadow", "/etc/shadowx", "/etc/hostname",
		"/etc/pam.d/x", "/etc/pam.conf", "/root", "/root/.ssh/id_rsa", "/usr/lib/x", "/e", "/et"}
	for _, p := range paths {
		under := false
		for _, pfx := range prefixes {
			under = under || strings.HasPrefix(p+"\x00", pfx)
		}
		hit := firstWordHit(v, p)
		if under && !hit {
			t.Errorf("%q is under a prefix but the first-word test drops it", p)
		}
		// the test is exact for these prefixes on their first eight bytes
		if want := under || strings.HasPrefix(p, "/etc/sha") || strings.HasPrefix(p, "/root/.s") || strings.HasPrefix(p, "/etc/pam"); hit != want {
			t.Errorf("first-word test on %q = %v, want %v", p, hit, want)
		}
	}
	var many []string
	for i := range prefixWords + 1 {
		many = append(many, "/"+string(rune('a'+i))+"dir/")
	}
	if v := prefixWordsValue(many); !firstWordHit(v, "/elsewhere") {
		t.Error("with more distinct words than the table holds, every path must go to the trie")
	}
	if v := prefixWordsValue(nil); firstWordHit(v, "/etc/shadow") {
		t.Error("no prefixes: no path can be under one")
	}
}
