package enrich

import "strings"

// ShortIDLen is the length of the short container id Falco and the container runtimes print.
const ShortIDLen = 12

// NormalizeContainerID returns id without a runtime prefix ("containerd://", "cri-o://",
// "docker://"...), lower-cased, so that ids from pod statuses and from cgroup paths compare
// equal. It returns "" for an empty id.
func NormalizeContainerID(id string) string {
	if i := strings.Index(id, "://"); i >= 0 {
		id = id[i+3:]
	}
	id = strings.TrimSpace(id)
	for i := 0; i < len(id); i++ {
		if c := id[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(id)
		}
	}
	return id
}

// containerKeys returns the index keys of a normalized container id: the id itself and, when
// longer, its short form.
func containerKeys(id string) []string {
	if id == "" {
		return nil
	}
	if len(id) > ShortIDLen {
		return []string{id, id[:ShortIDLen]}
	}
	return []string{id}
}

// lookupKey is the index key to search for an id as a caller gives it: full ids and 12-character
// ids are keys; any other length longer than 12 (a BPF-truncated id) is searched by its short
// form and verified by prefix.
func lookupKey(id string) (key string, prefix string) {
	switch {
	case len(id) == ShortIDLen || len(id) == 64:
		return id, ""
	case len(id) > ShortIDLen:
		return id[:ShortIDLen], id
	}
	return id, ""
}

// splitImage splits an image reference into repository, tag and digest the way the container
// plugin reports container.image.repository/tag/digest: "registry:5000/app:1.2@sha256:ab" gives
// ("registry:5000/app", "1.2", "sha256:ab"). A tag is only looked for after the last '/', so a
// registry port is not taken for a tag.
func splitImage(ref string) (repo, tag, digest string) {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	slash := strings.LastIndexByte(ref, '/')
	if i := strings.LastIndexByte(ref, ':'); i > slash {
		return ref[:i], ref[i+1:], digest
	}
	return ref, "", digest
}
