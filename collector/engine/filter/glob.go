package filter

// fnmatch reports whether s matches the shell pattern p the way POSIX fnmatch(p, s, flags) does
// with flags 0 (glob) or FNM_CASEFOLD (iglob): '*' matches any run of bytes including '/', '?'
// one byte, '[...]' a bracket expression ('!' or '^' negates, ranges, [:class:]), and '\'
// quotes the next pattern byte. Matching is byte-wise, as in the C locale. It does not allocate.
func fnmatch(p, s string, fold bool) bool {
	px, sx := 0, 0
	starPx, starSx := -1, -1
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			switch c := p[px]; c {
			case '*':
				// Remember where to restart: the star will then swallow one more byte.
				starPx, starSx = px, sx+1
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx++
					continue
				}
			case '[':
				if sx < len(s) {
					if ok, width, valid := matchBracket(p[px:], s[sx], fold); valid {
						if ok {
							px += width
							sx++
							continue
						}
						break
					}
					// An unterminated bracket is an ordinary '['.
					if s[sx] == '[' {
						px++
						sx++
						continue
					}
				}
			case '\\':
				if px+1 == len(p) {
					return false // glibc: a trailing backslash never matches
				}
				if sx < len(s) && eqByte(p[px+1], s[sx], fold) {
					px += 2
					sx++
					continue
				}
			default:
				if sx < len(s) && eqByte(c, s[sx], fold) {
					px++
					sx++
					continue
				}
			}
		}
		if starSx > 0 && starSx <= len(s) {
			px, sx = starPx, starSx
			continue
		}
		return false
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func eqByte(a, b byte, fold bool) bool {
	return a == b || fold && lower(a) == lower(b)
}

// matchBracket matches c against the bracket expression at the start of p. valid is false when
// the expression has no closing ']'.
//
// With fold (FNM_CASEFOLD) glibc lowers the byte and the range ends before comparing, and tests
// classes on the lowered byte, so [[:upper:]] matches no letter under iglob.
func matchBracket(p string, c byte, fold bool) (ok bool, width int, valid bool) {
	if fold {
		c = lower(c)
	}
	i := 1
	neg := false
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		neg = true
		i++
	}
	first := true
	for i < len(p) {
		if p[i] == ']' && !first {
			return ok != neg, i + 1, true
		}
		first = false
		if p[i] == '[' && i+1 < len(p) && p[i+1] == ':' {
			if end := indexFrom(p, ":]", i+2); end >= 0 {
				if classMatch(p[i+2:end], c) {
					ok = true
				}
				i = end + 2
				continue
			}
		}
		lo := p[i]
		if lo == '\\' && i+1 < len(p) {
			i++
			lo = p[i]
		}
		i++
		hi := lo
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			hi = p[i+1]
			i += 2
			if hi == '\\' && i < len(p) {
				hi = p[i]
				i++
			}
		}
		if fold {
			lo, hi = lower(lo), lower(hi)
		}
		if inRange(c, lo, hi) {
			ok = true
		}
	}
	return false, 0, false
}

func inRange(c, lo, hi byte) bool { return lo <= c && c <= hi }

func indexFrom(s, sub string, from int) int {
	for i := from; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func classMatch(class string, c byte) bool {
	isU := c >= 'A' && c <= 'Z'
	isL := c >= 'a' && c <= 'z'
	isD := c >= '0' && c <= '9'
	switch class {
	case "alpha":
		return isU || isL
	case "digit":
		return isD
	case "alnum":
		return isU || isL || isD
	case "upper":
		return isU
	case "lower":
		return isL
	case "space":
		return isSpace(c)
	case "blank":
		return c == ' ' || c == '\t'
	case "punct":
		return c > 32 && c < 127 && !isU && !isL && !isD
	case "xdigit":
		return isD || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
	case "print":
		return c >= 32 && c < 127
	case "graph":
		return c > 32 && c < 127
	case "cntrl":
		return c < 32 || c == 127
	}
	return false
}

// pathPrefixes is the compiled item list of a pmatch check.
type pathPrefixes [][]string

func newPathPrefixes(items []string) pathPrefixes {
	out := make(pathPrefixes, 0, len(items))
	for _, it := range items {
		var comps []string
		for _, c := range splitPath(it) {
			comps = append(comps, c)
		}
		out = append(out, comps)
	}
	return out
}

func splitPath(p string) []string {
	var out []string
	for len(p) > 0 {
		for len(p) > 0 && p[0] == '/' {
			p = p[1:]
		}
		i := 0
		for i < len(p) && p[i] != '/' {
			i++
		}
		if i > 0 {
			out = append(out, p[:i])
		}
		p = p[i:]
	}
	return out
}

// match reports whether some item is a prefix of path at '/' component boundaries
// (`/var/run` matches `/var/run/docker.sock` and `/var/run`, not `/var/runx`). Item components
// holding glob characters match a path component with fnmatch. Empty components (repeated or
// trailing slashes) are ignored on both sides.
func (pp pathPrefixes) match(path string) bool {
	for _, item := range pp {
		rest := path
		ok := true
		for _, comp := range item {
			for len(rest) > 0 && rest[0] == '/' {
				rest = rest[1:]
			}
			i := 0
			for i < len(rest) && rest[i] != '/' {
				i++
			}
			if i == 0 {
				ok = false
				break
			}
			pc := rest[:i]
			rest = rest[i:]
			if pc != comp && !(hasGlobMeta(comp) && fnmatch(comp, pc, false)) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func hasGlobMeta(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '*' || s[i] == '?' || s[i] == '[' {
			return true
		}
	}
	return false
}

// indexFold is strcasestr: the index of sub in s ignoring ASCII case, or -1.
func indexFold(s, sub string) int {
	if len(sub) == 0 {
		return 0
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for j < len(sub) && lower(s[i+j]) == lower(sub[j]) {
			j++
		}
		if j == len(sub) {
			return i
		}
	}
	return -1
}
