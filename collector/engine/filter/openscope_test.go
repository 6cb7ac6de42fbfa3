package filter

import (
	"reflect"
	"testing"
)

func TestOpenScopeOf(t *testing.T) {
	const openRead = "(evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0)"
	const openWrite = "(evt.type in (open,openat,openat2) and evt.is_open_write=true and fd.typechar='f' and fd.num>=0)"
	for _, tc := range []struct {
		cond string
		want OpenScope
	}{
		// nothing about opens: every open can match
		{"proc.name = bash", OpenScope{Any: true}},
		{openRead, OpenScope{Any: true}},
		// not an open type, or never true: no open can match
		{"evt.type in (execve, execveat) and proc.name = bash", OpenScope{}},
		{"evt.num = 0 and " + openRead, OpenScope{}},
		// each != alone passes some open types: the analysis does not combine them
		{"evt.type != openat and evt.type != open and evt.type != openat2 and evt.type != creat", OpenScope{Any: true}},
		{"not evt.type in (open, openat, openat2, creat)", OpenScope{}},
		// a negation of anything else says nothing
		{openRead + " and not fd.name = /etc/shadow", OpenScope{Any: true}},
		{openWrite + " and proc.name = sh", OpenScope{Writes: true}},
		// a write to some paths: every write is reported
		{openWrite + " and fd.name startswith /etc/", OpenScope{Writes: true}},
		{"fd.name startswith /etc/", OpenScope{Odd: true, Prefixes: []string{"/etc/"}}},
		// exact names end with a NUL so that /etc/shadow does not cover /etc/shadow-
		{openRead + " and fd.name in (/etc/shadow, /etc/sudoers)", OpenScope{Odd: true, Prefixes: []string{"/etc/shadow\x00", "/etc/sudoers\x00"}}},
		// the stable rules' sensitive_files: the startswith is implied by the names
		{openRead + " and ((fd.name startswith /etc and fd.name in (/etc/shadow, /root/x)) or fd.directory in (/etc/sudoers.d, /etc/pam.d))",
			OpenScope{Odd: true, Prefixes: []string{"/etc/pam.d", "/etc/shadow\x00", "/etc/sudoers.d"}}},
		// the prefixes of a conjunction that no path can have: nothing matches
		{openRead + " and fd.name startswith /etc and fd.name startswith /usr", OpenScope{}},
		{openRead + " and fd.name glob '/home/*/.ssh/*'", OpenScope{Odd: true, Prefixes: []string{"/home/"}}},
		// relative or unanchored tests cannot be checked on the path
		{openRead + " and fd.name contains id_rsa", OpenScope{Any: true}},
		{openRead + " and fd.name startswith etc", OpenScope{Any: true}},
		{openRead + " and fd.filename = shadow", OpenScope{Any: true}},
		{openRead + " and fd.name endswith release_agent", OpenScope{Any: true}},
		// directory traversal: reported as a non-canonical path
		{openRead + " and fd.nameraw contains '../' and fd.name contains id_rsa", OpenScope{Odd: true}},
		{openRead + " and fd.name contains '../'", OpenScope{Any: true}},
		// a disjunction widens: one undecided branch is enough
		{"(" + openWrite + ") or (" + openRead + " and fd.name = /etc/shadow)", OpenScope{Writes: true, Odd: true, Prefixes: []string{"/etc/shadow\x00"}}},
		{"(" + openWrite + ") or proc.name = sh", OpenScope{Any: true}},
		{"tolower(fd.name) = /etc/shadow", OpenScope{Any: true}},
		{"fd.name startswith anyof (/etc, /usr)", OpenScope{Any: true}},
	} {
		got := OpenScopeOf(mustParse(t, tc.cond))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("OpenScopeOf(%s)\n got %#v\nwant %#v", tc.cond, got, tc.want)
		}
	}
}

func TestOpenScopeManyTerms(t *testing.T) {
	// 10 x 11 alternatives: more terms than the analysis keeps; the merged bound still holds
	// every prefix.
	a := "(fd.name startswith /a0"
	b := "(fd.typechar = f or proc.name = p0"
	for i := 1; i < 10; i++ {
		a += " or fd.name startswith /a" + string(rune('0'+i))
		b += " or proc.name = p" + string(rune('0'+i))
	}
	got := OpenScopeOf(mustParse(t, a+") and "+b+")"))
	if got.Any || got.Writes || !got.Odd || len(got.Prefixes) != 10 {
		t.Fatalf("got %#v", got)
	}
}

func TestOpenScopeMerge(t *testing.T) {
	s := OpenScope{Writes: true, Prefixes: []string{"/b"}}
	s.Merge(OpenScope{Odd: true, Prefixes: []string{"/a", "/b"}})
	if want := (OpenScope{Writes: true, Odd: true, Prefixes: []string{"/a", "/b"}}); !reflect.DeepEqual(s, want) {
		t.Fatalf("got %#v", s)
	}
}
