package filter

import (
	"errors"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// matchCases: a condition, the field values of one event, and Falco's verdict (or a compile
// error, err being a substring of the message). A field absent from v is a missing value.
var matchCases = []struct {
	cond string
	v    vals
	want bool
	err  string
}{
	// Strings: every operator.
	{cond: "t.str = bash", v: vals{"t.str": "bash"}, want: true},
	{cond: "t.str = bash", v: vals{"t.str": "sh"}},
	{cond: "t.str == bash", v: vals{"t.str": "bash"}, want: true},
	{cond: "t.str != bash", v: vals{"t.str": "sh"}, want: true},
	{cond: "t.str != bash", v: vals{"t.str": "bash"}},
	// Ordering operators take numbers and compare strings with strcmp.
	{cond: "t.str < 5", v: vals{"t.str": "4"}, want: true},
	{cond: "t.str < 5", v: vals{"t.str": "5"}},
	{cond: "t.str < 5", v: vals{"t.str": "10"}, want: true}, // strcmp, not numeric
	{cond: "t.str <= 5", v: vals{"t.str": "5"}, want: true},
	{cond: "t.str > 5", v: vals{"t.str": "x"}, want: true},
	{cond: "t.str >= 5", v: vals{"t.str": "a"}, want: true},
	{cond: "t.str >= 5", v: vals{"t.str": "4"}},
	{cond: "t.str < b", err: "expected a number value"},
	{cond: "t.str in ()", v: vals{"t.str": ""}},
	{cond: "t.i64 in ()", v: vals{"t.i64": 0}},
	{cond: "t.bytes in ()", v: vals{"t.bytes": ""}},
	{cond: "t.ip in ()", v: vals{"t.ip": "1.2.3.4"}},
	{cond: "t.bool in ()", v: vals{"t.bool": true}},
	{cond: "t.str contains as", v: vals{"t.str": "bash"}, want: true},
	{cond: "t.str contains AS", v: vals{"t.str": "bash"}},
	{cond: "t.str icontains AS", v: vals{"t.str": "bAsh"}, want: true},
	{cond: "t.str icontains xyz", v: vals{"t.str": "bash"}},
	{cond: "t.str startswith ba", v: vals{"t.str": "bash"}, want: true},
	{cond: "t.str startswith sh", v: vals{"t.str": "bash"}},
	{cond: "t.str endswith sh", v: vals{"t.str": "bash"}, want: true},
	{cond: "t.str endswith ba", v: vals{"t.str": "bash"}},
	{cond: "t.str in (ash, bash)", v: vals{"t.str": "bash"}, want: true},
	{cond: "t.str in (ash, bash)", v: vals{"t.str": "zsh"}},
	{cond: "t.str in (a, b, c, d, e, f, bash)", v: vals{"t.str": "bash"}, want: true},
	{cond: "t.str in (a, b, c, d, e, f, bash)", v: vals{"t.str": "x"}},
	{cond: "t.str in ()", v: vals{"t.str": "bash"}},
	{cond: "t.str intersects (ash, bash)", v: vals{"t.str": "bash"}, want: true}, // scalar: same as in
	{cond: "t.str in shell_binaries", v: vals{"t.str": "shell_binaries"}, want: true},
	{cond: "t.str in (a, bb, ccc, dddd, eeeee, ffffff)", v: vals{"t.str": "eeeee"}, want: true},
	{cond: "t.str in (a, bb, ccc, dddd, eeeee, ffffff)", v: vals{"t.str": "eeeef"}},
	{cond: "t.str in (a, bb, ccc, dddd, eeeee, ffffff)", v: vals{"t.str": "eeee"}},
	{cond: "t.str in ('', x)", v: vals{"t.str": ""}, want: true},
	{cond: "t.str in (aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, b)", v: vals{"t.str": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, want: true},
	{cond: "t.str in (aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, b)", v: vals{"t.str": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"}},
	{cond: "t.str exists", v: vals{"t.str": ""}, want: true},
	{cond: "t.str exists", v: vals{}},
	{cond: "t.str bcontains 41", err: "operator 'bcontains' is not supported by field t.str of type CHARBUF"},
	{cond: "t.str bstartswith 41", err: "operator 'bstartswith' is not supported"},
	{cond: "t.str = \"a\\x00b\"", err: "NUL byte"},
	{cond: "t.path = /bin/sh", v: vals{"t.path": "/bin/sh"}, want: true},
	{cond: "t.rel = a/b", v: vals{"t.rel": "a/b"}, want: true},

	// Missing values: every comparison is false, including !=, and not makes it true.
	{cond: "t.str = bash", v: vals{}},
	{cond: "t.str != bash", v: vals{}}, // quirk: != on a missing value is false
	{cond: "not t.str = bash", v: vals{}, want: true},
	{cond: "not t.str != bash", v: vals{}, want: true},
	{cond: "t.str contains a", v: vals{}},
	{cond: "t.str in (a)", v: vals{}},
	{cond: "t.str glob *", v: vals{}},
	{cond: "t.str regex .*", v: vals{}},
	{cond: "t.str pmatch (/)", v: vals{}},
	{cond: "t.i64 != 1", v: vals{}},
	{cond: "t.i64 < 1", v: vals{}},
	{cond: "t.bool != true", v: vals{}},
	{cond: "t.ip != 1.2.3.4", v: vals{}},
	{cond: "t.strs intersects (a)", v: vals{}},
	{cond: "not t.strs in (a)", v: vals{}, want: true},
	{cond: "t.anc != x", v: vals{}},

	// glob / iglob: fnmatch without FNM_PATHNAME.
	{cond: "t.path glob /home/*/.ssh/*", v: vals{"t.path": "/home/u/.ssh/id_rsa"}, want: true},
	{cond: "t.path glob /home/*", v: vals{"t.path": "/home/u/x/y"}, want: true}, // '*' crosses '/'
	{cond: "t.path glob /home/*", v: vals{"t.path": "/homes"}},
	{cond: "t.str glob a?c", v: vals{"t.str": "abc"}, want: true},
	{cond: "t.str glob a?c", v: vals{"t.str": "ac"}},
	{cond: "t.str glob [a-c]x", v: vals{"t.str": "bx"}, want: true},
	{cond: "t.str glob [a-c]x", v: vals{"t.str": "dx"}},
	{cond: "t.str glob [!a]x", v: vals{"t.str": "ax"}},
	{cond: "t.str glob [!a]x", v: vals{"t.str": "bx"}, want: true},
	{cond: "t.str glob [^a]x", v: vals{"t.str": "bx"}, want: true},
	{cond: "t.str glob []]x", v: vals{"t.str": "]x"}, want: true},
	{cond: "t.str glob [[:digit:]]*", v: vals{"t.str": "7up"}, want: true},
	{cond: "t.str glob [[:digit:]]*", v: vals{"t.str": "up"}},
	{cond: `t.str glob \*`, v: vals{"t.str": "*"}, want: true}, // bare strings keep the backslash
	{cond: `t.str glob \*`, v: vals{"t.str": "a"}},
	{cond: `t.str glob '\\*'`, v: vals{"t.str": "*"}, want: true},
	{cond: `t.str glob '\*'`, err: `unsupported string escape sequence: \*`},
	{cond: `t.str glob "a["`, v: vals{"t.str": "a["}, want: true}, // an unterminated bracket is literal
	{cond: "t.str glob *.txt", v: vals{"t.str": "a.TXT"}},
	{cond: "t.str iglob *.txt", v: vals{"t.str": "a.TXT"}, want: true},
	{cond: "t.str iglob [a-c]*", v: vals{"t.str": "B"}, want: true},
	{cond: "t.str iglob [A-C]*", v: vals{"t.str": "b"}, want: true},
	{cond: "t.str iglob [[:lower:]]", v: vals{"t.str": "B"}, want: true},
	{cond: "t.str iglob [[:upper:]]", v: vals{"t.str": "B"}}, // quirk: glibc tests classes on the lowered byte
	{cond: "t.str glob [[:upper:]]", v: vals{"t.str": "B"}, want: true},
	{cond: `t.str glob a\`, v: vals{"t.str": `a\`}},              // quirk: a trailing backslash never matches
	{cond: `t.str glob a\\`, v: vals{"t.str": `a\`}, want: true}, // an escaped backslash is literal
	{cond: "t.str glob *a*b*c", v: vals{"t.str": "xaybzc"}, want: true},
	{cond: "t.str glob *a*b*c", v: vals{"t.str": "xaybzcd"}},
	{cond: "t.str glob ''", v: vals{"t.str": ""}, want: true},

	// regex: RE2, anchored at both ends.
	{cond: "t.str regex 'ba.*'", v: vals{"t.str": "bash"}, want: true},
	{cond: "t.str regex 'as'", v: vals{"t.str": "bash"}},
	{cond: "t.str regex 'a|bash'", v: vals{"t.str": "bash"}, want: true},
	{cond: "t.str regex '[0-9]+'", v: vals{"t.str": "123"}, want: true},
	{cond: "t.str regex '[0-9]+'", v: vals{"t.str": "123a"}},
	{cond: "t.str regex 'a('", err: "invalid regex"},
	{cond: "t.str regex 'a)|(b'", err: "invalid regex"},

	// pmatch: path prefixes at component boundaries.
	{cond: "t.path pmatch (/var/run)", v: vals{"t.path": "/var/run/docker.sock"}, want: true},
	{cond: "t.path pmatch (/var/run)", v: vals{"t.path": "/var/run"}, want: true},
	{cond: "t.path pmatch (/var/run)", v: vals{"t.path": "/var/runx"}},
	{cond: "t.path pmatch (/var/run)", v: vals{"t.path": "/var"}},
	{cond: "t.path pmatch (/var/run/)", v: vals{"t.path": "/var/run/x"}, want: true},
	{cond: "t.path pmatch (/etc, /var/run)", v: vals{"t.path": "/etc/passwd"}, want: true},
	{cond: "t.path pmatch (/home/*/.ssh)", v: vals{"t.path": "/home/u/.ssh/id_rsa"}, want: true},
	{cond: "t.path pmatch (/home/*/.ssh)", v: vals{"t.path": "/home/u/x/.ssh"}},
	{cond: "t.path pmatch (/usr/lib?)", v: vals{"t.path": "/usr/lib6/x"}, want: true},

	// Numbers.
	{cond: "t.i64 = 5", v: vals{"t.i64": 5}, want: true},
	{cond: "t.i64 == 5", v: vals{"t.i64": 5}, want: true},
	{cond: "t.i64 = 5", v: vals{"t.i64": 6}},
	{cond: "t.i64 = -1", v: vals{"t.i64": -1}, want: true},
	{cond: "t.i64 = +7", v: vals{"t.i64": 7}, want: true},
	{cond: "t.i64 != 5", v: vals{"t.i64": 6}, want: true},
	{cond: "t.i64 < 5", v: vals{"t.i64": 4}, want: true},
	{cond: "t.i64 < 5", v: vals{"t.i64": 5}},
	{cond: "t.i64 <= 5", v: vals{"t.i64": 5}, want: true},
	{cond: "t.i64 > 5", v: vals{"t.i64": 6}, want: true},
	{cond: "t.i64 > 5", v: vals{"t.i64": 5}},
	{cond: "t.i64 >= 5", v: vals{"t.i64": 5}, want: true},
	{cond: "t.i64 in (1, 2, 3)", v: vals{"t.i64": 2}, want: true},
	{cond: "t.i64 in (1, 2, 3)", v: vals{"t.i64": 4}},
	{cond: "t.i64 in (1, 2, 3, 4, 5, 6)", v: vals{"t.i64": 6}, want: true},
	{cond: "t.i64 intersects (1, 2)", v: vals{"t.i64": 1}, want: true},
	{cond: "t.i64 exists", v: vals{"t.i64": 0}, want: true},
	{cond: "t.i64 = 0x10", err: "0x10 is not a valid number"}, // the compiler reads decimal only
	{cond: "t.i64 = 1.5", err: "1.5 is not a valid number"},
	{cond: "t.i64 = abc", err: "abc is not a valid number"},
	{cond: "t.i64 in (1, x)", err: "x is not a valid number"},
	{cond: "t.i64 contains 1", err: "operator 'contains' is not supported by field t.i64 of type INT64"},
	{cond: "t.i64 glob 1", err: "operator 'glob' is not supported"},
	{cond: "t.i64 pmatch (1)", err: "operator 'pmatch' is not supported"},
	{cond: "t.i64 regex 1", err: "operator 'regex' is not supported"},
	{cond: "t.u64 > 5000000000", v: vals{"t.u64": int64(6000000000)}, want: true},
	{cond: "t.u64 = 18446744073709551615", v: vals{"t.u64": int64(-1)}, want: true},
	{cond: "t.u8 = 300", v: vals{"t.u8": 44}, want: true}, // quirk: sscanf into a uint8 keeps the low byte
	{cond: "t.i8 = -1", v: vals{"t.i8": -1}, want: true},
	{cond: "t.i16 = 40000", v: vals{"t.i16": 40000 - 65536}, want: true},
	{cond: "t.i32 = -5", v: vals{"t.i32": -5}, want: true},
	{cond: "t.u16 = 8080", v: vals{"t.u16": 8080}, want: true},
	{cond: "t.u32 = -1", v: vals{"t.u32": 4294967295}, want: true}, // quirk: %u wraps negatives
	{cond: "t.port = 22", v: vals{"t.port": 22}, want: true},
	{cond: "t.port = ssh", v: vals{"t.port": 22}, want: true}, // service names as getservbyname
	{cond: "t.port in (http, https)", v: vals{"t.port": 443}, want: true},
	{cond: "t.port = nosuchservice", err: "unrecognized protocol nosuchservice"},
	{cond: "t.port = ''", v: vals{"t.port": 0}, want: true}, // an empty port reads as 0
	{cond: "t.reltime > 1000", v: vals{"t.reltime": 2000}, want: true},
	{cond: "t.abstime >= 1", v: vals{"t.abstime": 1}, want: true},
	{cond: "t.errno = -2", v: vals{"t.errno": -2}, want: true},
	{cond: "t.fd >= 0", v: vals{"t.fd": 3}, want: true},
	{cond: "t.fd >= 0", v: vals{"t.fd": -1}},
	{cond: "t.pid = 1", v: vals{"t.pid": 1}, want: true},
	{cond: "t.flags = 8", v: vals{"t.flags": 8}, want: true},
	{cond: "t.l4 = 6", v: vals{"t.l4": 6}, want: true},
	{cond: "t.double > 1", v: vals{"t.double": 2}, want: true},

	// Booleans.
	{cond: "t.bool = true", v: vals{"t.bool": true}, want: true},
	{cond: "t.bool = true", v: vals{"t.bool": false}},
	{cond: "t.bool = false", v: vals{"t.bool": false}, want: true},
	{cond: "t.bool == true", v: vals{"t.bool": true}, want: true},
	{cond: "t.bool != true", v: vals{"t.bool": false}, want: true},
	{cond: "t.bool in (true)", v: vals{"t.bool": true}, want: true},
	{cond: "t.bool in (false)", v: vals{"t.bool": true}},
	{cond: "t.bool intersects (true, false)", v: vals{"t.bool": false}, want: true},
	{cond: "t.bool = yes", err: "a boolean is true or false"},
	{cond: "t.bool = True", err: "a boolean is true or false"},
	{cond: "t.bool < 1", err: "operator '<' is not supported by field t.bool of type BOOL"},
	{cond: "t.bool contains t", err: "operator 'contains' is not supported"},
	{cond: "t.bool exists", v: vals{"t.bool": false}, want: true},

	// IP addresses and networks.
	{cond: "t.ip = 127.0.0.1", v: vals{"t.ip": "127.0.0.1"}, want: true},
	{cond: "t.ip = 127.0.0.1", v: vals{"t.ip": "127.0.0.2"}},
	{cond: "t.ip = 127.0.0.1", v: vals{"t.ip": "::ffff:127.0.0.1"}, want: true},
	{cond: "t.ip = ::1", v: vals{"t.ip": "::1"}, want: true},
	{cond: "t.ip != 10.0.0.1", v: vals{"t.ip": "10.0.0.2"}, want: true},
	{cond: "t.ip in (10.0.0.1, 127.0.0.1)", v: vals{"t.ip": "127.0.0.1"}, want: true},
	{cond: "t.ip intersects (10.0.0.1)", v: vals{"t.ip": "127.0.0.1"}},
	{cond: "t.ip = 10.0.0.0/8", err: "invalid value '10.0.0.0/8' for field t.ip of type IPADDR"},
	{cond: "t.ip = bogus", err: "invalid value 'bogus'"},
	{cond: "t.ip startswith 10", err: "operator 'startswith' is not supported by field t.ip of type IPADDR"},
	{cond: "t.ip > 1", err: "operator '>' is not supported"},
	{cond: "t.net = 10.0.0.0/8", v: vals{"t.net": "10.1.2.3"}, want: true},
	{cond: "t.net = 10.0.0.0/8", v: vals{"t.net": "11.0.0.1"}},
	{cond: "t.net != 10.0.0.0/8", v: vals{"t.net": "11.0.0.1"}, want: true},
	{cond: "t.net in (10.0.0.0/8, 192.168.0.0/16)", v: vals{"t.net": "192.168.1.1"}, want: true},
	{cond: "t.net = 10.1.2.3/8", v: vals{"t.net": "10.200.0.1"}, want: true}, // host bits are masked
	{cond: "t.net = fd00::/8", v: vals{"t.net": "fd12::1"}, want: true},
	{cond: "t.net = 10.0.0.1", err: "CIDR"},

	// Byte buffers.
	{cond: "t.bytes bcontains 48545450", v: vals{"t.bytes": "xxHTTPyy"}, want: true},
	{cond: "t.bytes bcontains 48545450", v: vals{"t.bytes": "xxHTTyy"}},
	{cond: "t.bytes bstartswith 4854", v: vals{"t.bytes": "HTTP"}, want: true},
	{cond: "t.bytes bstartswith 5454", v: vals{"t.bytes": "HTTP"}},
	{cond: "t.bytes bcontains zz", err: "takes a hex string"},
	{cond: "t.bytes contains TTP", v: vals{"t.bytes": "HTTP"}, want: true},
	{cond: "t.bytes startswith HT", v: vals{"t.bytes": "HTTP"}, want: true},
	{cond: "t.bytes endswith TP", v: vals{"t.bytes": "HTTP"}, want: true},
	{cond: "t.bytes = HTTP", v: vals{"t.bytes": "HTTP"}, want: true},
	{cond: "t.bytes != HTTP", v: vals{"t.bytes": "HTTP"}},
	{cond: "t.bytes in (GET, HTTP)", v: vals{"t.bytes": "HTTP"}, want: true},
	{cond: "t.bytes = \"a\\x00b\"", v: vals{"t.bytes": "a\x00b"}, want: true}, // NUL is fine in a byte buffer
	{cond: "t.bytes glob H*", err: "operator 'glob' is not supported by field t.bytes of type BYTEBUF"},
	{cond: "t.bytes icontains h", err: "operator 'icontains' is not supported"},
	{cond: "t.bytes < 1", err: "operator '<' is not supported"},

	// List-valued fields: in = every element, intersects = some element.
	{cond: "t.strs in (a, b, c)", v: vals{"t.strs": []string{"a", "b"}}, want: true},
	{cond: "t.strs in (a, b, c)", v: vals{"t.strs": []string{"a", "d"}}},
	{cond: "t.strs intersects (d, a)", v: vals{"t.strs": []string{"a", "b"}}, want: true},
	{cond: "t.strs intersects (d, e)", v: vals{"t.strs": []string{"a", "b"}}},
	{cond: "not t.strs intersects (d, e)", v: vals{"t.strs": []string{"a", "b"}}, want: true},
	{cond: "t.strs exists", v: vals{"t.strs": []string{"a"}}, want: true},
	{cond: "t.strs exists", v: vals{}},
	{cond: "t.strs exists", v: vals{"t.strs": []string{}}}, // lanner: an empty list is a missing value
	{cond: "t.strs in (a)", v: vals{"t.strs": []string{}}},
	{cond: "t.strs = a", err: "operator '=' is not supported by field t.strs of list type CHARBUF"},
	{cond: "t.strs contains a", err: "operator 'contains' is not supported"},
	{cond: "t.strs pmatch (/a)", err: "operator 'pmatch' is not supported"},
	{cond: "t.bools intersects (true)", v: vals{"t.bools": []string{"false", "true"}}, want: true},
	{cond: "t.bools in (false)", v: vals{"t.bools": []string{"false", "true"}}},
	{cond: "t.bools intersects (maybe)", err: "a boolean is true or false"},
	{cond: "t.nums intersects (80, 443)", v: vals{"t.nums": []string{"22", "443"}}, want: true},
	{cond: "t.nums in (80, 443)", v: vals{"t.nums": []string{"22", "443"}}},
	{cond: "t.ips intersects (10.0.0.1)", v: vals{"t.ips": []string{"10.0.0.2", "10.0.0.1"}}, want: true},
	{cond: "t.ips in (10.0.0.1)", v: vals{"t.ips": []string{"10.0.0.2", "10.0.0.1"}}},

	// Any-of fields (proc.aname without argument, fd.ip): a check holds if some value satisfies it.
	{cond: "t.anc = bash", v: vals{"t.anc": []string{"sh", "bash", "init"}}, want: true},
	{cond: "t.anc = zsh", v: vals{"t.anc": []string{"sh", "bash", "init"}}},
	{cond: "t.anc != bash", v: vals{"t.anc": []string{"bash"}}},
	{cond: "t.anc != bash", v: vals{"t.anc": []string{"bash", "sh"}}, want: true}, // quirk: some ancestor is not bash
	{cond: "t.anc in (sshd, login)", v: vals{"t.anc": []string{"bash", "sshd"}}, want: true},
	{cond: "t.anc startswith ss", v: vals{"t.anc": []string{"bash", "sshd"}}, want: true},
	{cond: "t.anc exists", v: vals{"t.anc": []string{}}},
	{cond: "t.aname = bash", v: vals{"t.aname": []string{"sh", "bash"}}, want: true},
	{cond: "t.aname[1] = bash", v: vals{"t.aname[1]": "bash"}, want: true},
	{cond: "t.aname[1] = bash", v: vals{"t.aname[1]": "sh"}},
	{cond: "t.anyip = 10.0.0.1", v: vals{"t.anyip": []string{"10.0.0.2", "10.0.0.1"}}, want: true},
	{cond: "t.anyip != 10.0.0.1", v: vals{"t.anyip": []string{"10.0.0.1", "10.0.0.1"}}},

	// Any-of numbers without NotEqualAll (proc.apid without argument: some ancestor's pid).
	// Every numeric operator holds if it holds for one value, != included.
	{cond: "t.apid = 1", v: vals{"t.apid": []int{200, 1}}, want: true},
	{cond: "t.apid = 5", v: vals{"t.apid": []int{200, 1}}},
	{cond: "t.apid == 200", v: vals{"t.apid": []int{200, 1}}, want: true},
	{cond: "t.apid != 1", v: vals{"t.apid": []int{200, 1}}, want: true}, // some ancestor is not 1
	{cond: "t.apid != 1", v: vals{"t.apid": []int{1}}},
	{cond: "t.apid != 1", v: vals{"t.apid": []int{1, 1}}},
	{cond: "t.apid < 2", v: vals{"t.apid": []int{200, 1}}, want: true},
	{cond: "t.apid < 1", v: vals{"t.apid": []int{200, 1}}},
	{cond: "t.apid <= 1", v: vals{"t.apid": []int{200, 1}}, want: true},
	{cond: "t.apid > 199", v: vals{"t.apid": []int{200, 1}}, want: true},
	{cond: "t.apid > 200", v: vals{"t.apid": []int{200, 1}}},
	{cond: "t.apid >= 200", v: vals{"t.apid": []int{200, 1}}, want: true},
	{cond: "t.apid >= 201", v: vals{"t.apid": []int{200, 1}}},
	{cond: "t.apid in (1, 300)", v: vals{"t.apid": []int{200, 1}}, want: true}, // some value in the set
	{cond: "t.apid in (5, 6)", v: vals{"t.apid": []int{200, 1}}},
	{cond: "t.apid in (2, 3, 4, 5, 6, 200)", v: vals{"t.apid": []int{200, 1}}, want: true},
	{cond: "t.apid in (2, 3, 4, 5, 6, 7)", v: vals{"t.apid": []int{200, 1}}},
	{cond: "not t.apid in (5, 6)", v: vals{"t.apid": []int{200, 1}}, want: true},
	{cond: "not t.apid in (1, 6)", v: vals{"t.apid": []int{200, 1}}},
	{cond: "t.apid intersects (200)", v: vals{"t.apid": []int{200, 1}}, want: true},
	{cond: "t.apid intersects (7)", v: vals{"t.apid": []int{200, 1}}},
	{cond: "t.apid exists", v: vals{"t.apid": []int{1}}, want: true},
	{cond: "t.apid exists", v: vals{"t.apid": []int{}}}, // no ancestor: nothing to compare
	{cond: "t.apid exists", v: vals{}},
	{cond: "t.apid = 1", v: vals{}},
	{cond: "t.apid != 1", v: vals{}},
	{cond: "t.apid != 1", v: vals{"t.apid": []int{}}},
	{cond: "not t.apid = 1", v: vals{}, want: true},
	{cond: "not t.apid = 1", v: vals{"t.apid": []int{}}, want: true},
	{cond: "t.apid = -1", v: vals{"t.apid": []int64{-1}}, want: true},
	{cond: "t.apid = anyof (7, 200)", v: vals{"t.apid": []int{200, 1}}, want: true},
	{cond: "t.apid = allof (1, 200)", v: vals{"t.apid": []int{200, 1}}, want: true},
	{cond: "t.apid = oneof (1, 200)", v: vals{"t.apid": []int{200, 1}}},
	{cond: "t.apid[1] = 200", v: vals{"t.apid[1]": 200}, want: true},
	{cond: "t.apid[1] = 200", v: vals{"t.apid[1]": 1}},
	{cond: "t.apid = x", err: "x is not a valid number"},
	{cond: "t.apid in (1, x)", err: "x is not a valid number"},
	{cond: "t.apid glob 1", err: "operator 'glob' is not supported by field t.apid of type INT64"},
	{cond: "t.apid contains 1", err: "operator 'contains' is not supported"},
	{cond: "t.apid pmatch (1)", err: "operator 'pmatch' is not supported"},
	{cond: "tolower(t.apid) = 1", err: "field t.apid does not support transformers"},
	{cond: "t.i64 = val(t.apid)", err: "field t.apid cannot be used on the right-hand side"},
	{cond: "t.apid = val(t.i64)", v: vals{"t.apid": []int{200, 1}, "t.i64": 1}, want: true},
	{cond: "t.apid != val(t.i64)", v: vals{"t.apid": []int{200, 1}, "t.i64": 1}, want: true},
	{cond: "t.apid != val(t.i64)", v: vals{"t.apid": []int{1}, "t.i64": 1}},
	{cond: "t.apid < val(t.i64)", v: vals{"t.apid": []int{200, 1}, "t.i64": 2}, want: true},
	{cond: "t.apid in val(t.i64)", v: vals{"t.apid": []int{200, 1}, "t.i64": 200}, want: true},
	{cond: "t.apid = val(t.i64)", v: vals{"t.apid": []int{200, 1}}}, // missing right side
	{cond: "len(t.anynum) = 2", v: vals{"t.anynum": []int{7, 8}}, want: true},
	{cond: "len(t.anynum) = 0", v: vals{}},
	{cond: "t.anynum = 70000", v: vals{"t.anynum": []int{4464}}, want: true}, // UINT16 keeps the low bits
	{cond: "t.anynum = val(t.u16)", v: vals{"t.anynum": []int{7, 8}, "t.u16": 8}, want: true},
	{cond: "t.u16 = val(t.anynum)", err: "has incompatible type"}, // an any-of field is not a value

	// Any-of numbers with NotEqualAll (fd.port, fd.proto: either end's port). != holds only when
	// every value differs; every other operator holds if it holds for one value.
	{cond: "t.anyport = 443", v: vals{"t.anyport": []int{40000, 443}}, want: true},
	{cond: "t.anyport = 80", v: vals{"t.anyport": []int{40000, 443}}},
	{cond: "t.anyport == 40000", v: vals{"t.anyport": []int{40000, 443}}, want: true},
	{cond: "t.anyport != 80", v: vals{"t.anyport": []int{40000, 443}}, want: true},
	{cond: "t.anyport != 443", v: vals{"t.anyport": []int{40000, 443}}}, // one end is 443
	{cond: "t.anyport != 40000", v: vals{"t.anyport": []int{40000, 443}}},
	{cond: "t.anyport != 443", v: vals{"t.anyport": []int{443, 443}}},
	{cond: "not t.anyport != 443", v: vals{"t.anyport": []int{40000, 443}}, want: true},
	{cond: "t.anyport < 1024", v: vals{"t.anyport": []int{40000, 443}}, want: true},
	{cond: "t.anyport < 443", v: vals{"t.anyport": []int{40000, 443}}},
	{cond: "t.anyport <= 443", v: vals{"t.anyport": []int{40000, 443}}, want: true},
	{cond: "t.anyport > 39999", v: vals{"t.anyport": []int{40000, 443}}, want: true},
	{cond: "t.anyport > 40000", v: vals{"t.anyport": []int{40000, 443}}},
	{cond: "t.anyport >= 40000", v: vals{"t.anyport": []int{40000, 443}}, want: true},
	{cond: "t.anyport >= 40001", v: vals{"t.anyport": []int{40000, 443}}},
	{cond: "t.anyport in (80, 443)", v: vals{"t.anyport": []int{40000, 443}}, want: true}, // either end in the set
	{cond: "t.anyport in (80, 8080)", v: vals{"t.anyport": []int{40000, 443}}},
	{cond: "t.anyport in (1, 2, 3, 4, 5, 40000)", v: vals{"t.anyport": []int{40000, 443}}, want: true},
	{cond: "t.anyport in (1, 2, 3, 4, 5, 6)", v: vals{"t.anyport": []int{40000, 443}}},
	{cond: "not t.anyport in (80, 8080)", v: vals{"t.anyport": []int{40000, 443}}, want: true}, // neither end
	{cond: "not t.anyport in (80, 443)", v: vals{"t.anyport": []int{40000, 443}}},
	{cond: "t.anyport intersects (443)", v: vals{"t.anyport": []int{40000, 443}}, want: true},
	{cond: "t.anyport intersects (80)", v: vals{"t.anyport": []int{40000, 443}}},
	{cond: "t.anyport in (http, https)", v: vals{"t.anyport": []int{40000, 443}}, want: true}, // service names
	{cond: "t.anyport = ssh", v: vals{"t.anyport": []int{22, 50000}}, want: true},
	{cond: "t.anyport exists", v: vals{"t.anyport": []int{40000, 443}}, want: true},
	{cond: "t.anyport exists", v: vals{"t.anyport": []int{}}}, // not a socket
	{cond: "t.anyport exists", v: vals{}},
	{cond: "t.anyport = 443", v: vals{}},
	{cond: "t.anyport != 443", v: vals{}}, // missing: false for != too
	{cond: "t.anyport != 443", v: vals{"t.anyport": []int{}}},
	{cond: "t.anyport < 65535", v: vals{"t.anyport": []int{}}},
	{cond: "not t.anyport != 443", v: vals{}, want: true},
	{cond: "not t.anyport in (443)", v: vals{}, want: true},
	{cond: "t.anyport != anyof (80, 443)", v: vals{"t.anyport": []int{40000, 443}}, want: true}, // != 80 holds
	{cond: "t.anyport != allof (80, 443)", v: vals{"t.anyport": []int{40000, 443}}},             // != 443 does not
	{cond: "t.anyport = val(t.port)", v: vals{"t.anyport": []int{40000, 443}, "t.port": 443}, want: true},
	{cond: "t.anyport != val(t.port)", v: vals{"t.anyport": []int{40000, 443}, "t.port": 443}},
	{cond: "t.anyport != val(t.port)", v: vals{"t.anyport": []int{40000, 443}, "t.port": 80}, want: true},
	{cond: "t.anyport != val(t.port)", v: vals{"t.anyport": []int{40000, 443}}},
	{cond: "t.anyport = nosuchservice", err: "unrecognized protocol nosuchservice"},
	{cond: "t.anyport contains 4", err: "operator 'contains' is not supported by field t.anyport of type PORT"},
	{cond: "t.anyport startswith 4", err: "operator 'startswith' is not supported"},
	{cond: "t.anyport regex 4", err: "operator 'regex' is not supported"},
	{cond: "t.port = val(t.anyport)", err: "field t.anyport cannot be used on the right-hand side"},
	{cond: "len(t.anyport) = 2", err: "field t.anyport does not support transformers"},

	// Any-of addresses and networks with NotEqualAll (fd.ip, fd.net): != means neither end.
	{cond: "t.anyip != 127.0.0.1", v: vals{"t.anyip": []string{"10.1.0.5", "10.96.0.1"}}, want: true},
	{cond: "t.anyip != 10.96.0.1", v: vals{"t.anyip": []string{"10.1.0.5", "10.96.0.1"}}},
	{cond: "t.anyip != 10.1.0.5", v: vals{"t.anyip": []string{"10.1.0.5", "10.96.0.1"}}},
	{cond: "t.anyip != ::ffff:10.96.0.1", v: vals{"t.anyip": []string{"10.1.0.5", "10.96.0.1"}}}, // mapped form is the same address
	{cond: "t.anyip != 0.0.0.0", v: vals{"t.anyip": []string{"0.0.0.0", "10.0.0.1"}}},
	{cond: "t.anyip != 127.0.0.1", v: vals{}},
	{cond: "t.anyip != 127.0.0.1", v: vals{"t.anyip": []string{}}},
	{cond: "t.anyip in (127.0.0.1, 10.1.0.5)", v: vals{"t.anyip": []string{"10.1.0.5", "10.96.0.1"}}, want: true},
	{cond: "not t.anyip in (127.0.0.1, 10.1.0.6)", v: vals{"t.anyip": []string{"10.1.0.5", "10.96.0.1"}}, want: true},
	{cond: "t.anyip exists", v: vals{"t.anyip": []string{"10.1.0.5"}}, want: true},
	{cond: "t.anyip != anyof (10.1.0.5, 1.1.1.1)", v: vals{"t.anyip": []string{"10.1.0.5", "10.96.0.1"}}, want: true},
	{cond: "t.someip != 10.0.0.1", v: vals{"t.someip": []string{"10.0.0.1", "10.0.0.2"}}, want: true}, // no NotEqualAll: some value differs
	{cond: "t.someip != 10.0.0.1", v: vals{"t.someip": []string{"10.0.0.1"}}},
	{cond: "t.anynet = 10.0.0.0/8", v: vals{"t.anynet": []string{"10.1.0.5", "8.8.8.8"}}, want: true},
	{cond: "t.anynet = 10.0.0.0/8", v: vals{"t.anynet": []string{"11.1.0.5", "8.8.8.8"}}},
	{cond: "t.anynet != 10.0.0.0/8", v: vals{"t.anynet": []string{"10.1.0.5", "8.8.8.8"}}}, // one end is inside
	{cond: "t.anynet != 127.0.0.0/8", v: vals{"t.anynet": []string{"10.1.0.5", "8.8.8.8"}}, want: true},
	{cond: "t.anynet != 127.0.0.0/8", v: vals{"t.anynet": []string{"127.0.0.1", "10.0.0.1"}}},
	{cond: "t.anynet != 127.0.0.0/8", v: vals{"t.anynet": []string{"127.0.0.1", "127.0.0.2"}}},
	{cond: "t.anynet != 127.0.0.0/8", v: vals{}},
	{cond: "not t.anynet != 127.0.0.0/8", v: vals{"t.anynet": []string{"127.0.0.1", "10.0.0.1"}}, want: true},
	{cond: "t.anynet in (192.168.0.0/16, 8.8.0.0/16)", v: vals{"t.anynet": []string{"10.1.0.5", "8.8.8.8"}}, want: true},
	{cond: "t.anynet intersects (192.168.0.0/16)", v: vals{"t.anynet": []string{"10.1.0.5", "8.8.8.8"}}},
	{cond: "t.anynet != fd00::/8", v: vals{"t.anynet": []string{"fd00::1", "2001:db8::1"}}},
	{cond: "t.anynet = 10.0.0.1", err: "CIDR"},
	{cond: "t.anynet > 10", err: "operator '>' is not supported by field t.anynet of type IPNET"},

	// A numeric list read through Nums: in = every element, intersects = some element.
	{cond: "t.numlist in (1, 2, 3)", v: vals{"t.numlist": []int{1, 2}}, want: true},
	{cond: "t.numlist in (1, 2, 3)", v: vals{"t.numlist": []int{1, 4}}},
	{cond: "t.numlist intersects (4, 2)", v: vals{"t.numlist": []int{1, 2}}, want: true},
	{cond: "t.numlist intersects (4, 5)", v: vals{"t.numlist": []int{1, 2}}},
	{cond: "t.numlist exists", v: vals{"t.numlist": []int{1}}, want: true},
	{cond: "t.numlist in (1)", v: vals{"t.numlist": []int{}}},
	{cond: "len(t.numlist) = 2", v: vals{"t.numlist": []int{1, 2}}, want: true},
	{cond: "t.numlist = 1", err: "operator '=' is not supported by field t.numlist of list type UINT64"},
	{cond: "t.numlist != 1", err: "operator '!=' is not supported"},
	{cond: "t.numlist < 1", err: "operator '<' is not supported"},

	// Field arguments.
	{cond: "t.arg[flags] contains O_CREAT", v: vals{"t.arg[flags]": "O_CREAT|O_RDWR"}, want: true},
	{cond: "t.arg.flags contains O_CREAT", v: vals{"t.arg[flags]": "O_CREAT|O_RDWR"}, want: true}, // dotted key form
	{cond: "t.arg.flags contains O_CREAT", v: vals{}},
	{cond: "t.arg = x", err: "requires an argument"},
	{cond: "t.str[1] = x", err: "does not take an argument"},
	{cond: "t.nope = x", err: "unknown field"},

	// Transformers.
	{cond: "tolower(t.str) = bash", v: vals{"t.str": "BaSh"}, want: true},
	{cond: "tolower(t.str) = bash", v: vals{"t.str": "bash"}, want: true},
	{cond: "tolower(t.str) = BASH", v: vals{"t.str": "BASH"}},
	{cond: "toupper(t.str) = BASH", v: vals{"t.str": "bash"}, want: true},
	{cond: "toupper(tolower(t.str)) = BASH", v: vals{"t.str": "BaSh"}, want: true},
	{cond: "tolower(t.path) startswith /tmp", v: vals{"t.path": "/TMP/x"}, want: true},
	{cond: "tolower(t.str) in (bash, sh)", v: vals{"t.str": "SH"}, want: true},
	{cond: "tolower(t.strs) intersects (a)", v: vals{"t.strs": []string{"B", "A"}}, want: true},
	{cond: "tolower(t.str) = x", v: vals{}},
	{cond: "tolower(t.i64) = 1", err: "can't add field transformer: type INT64 of t.i64 is not supported by 'tolower'"},
	{cond: "toupper(t.bytes) = x", err: "not supported by 'toupper'"},
	{cond: "tolower(t.anc) = x", err: "can't add field transformer: field t.anc does not support transformers"},
	{cond: "b64(t.str) = hello", v: vals{"t.str": "aGVsbG8="}, want: true},
	{cond: "b64(t.str) = hello", v: vals{"t.str": "aGVsbG8"}, want: true}, // padding is optional
	{cond: "b64(t.str) = hello", v: vals{"t.str": "!!!"}},                 // not base64: missing
	{cond: "not b64(t.str) = hello", v: vals{"t.str": "!!!"}, want: true},
	{cond: "b64(t.bytes) bcontains 6869", v: vals{"t.bytes": "aGk="}, want: true},
	{cond: "b64(t.path) = x", err: "not supported by 'b64'"},
	{cond: "basename(t.path) = sh", v: vals{"t.path": "/bin/sh"}, want: true},
	{cond: "basename(t.path) = sh", v: vals{"t.path": "sh"}, want: true},
	{cond: "basename(t.path) = ''", v: vals{"t.path": "/bin/"}, want: true},
	{cond: "basename(t.str) = c", v: vals{"t.str": "a/b/c"}, want: true},
	{cond: "basename(t.bytes) = c", err: "not supported by 'basename'"},
	{cond: "len(t.str) = 4", v: vals{"t.str": "bash"}, want: true},
	{cond: "len(t.str) > 4", v: vals{"t.str": "bash"}},
	{cond: "len(t.str) = 0", v: vals{}}, // a missing value stays missing
	{cond: "len(t.str) = 0", v: vals{"t.str": ""}, want: true},
	{cond: "len(t.bytes) = 3", v: vals{"t.bytes": "abc"}, want: true},
	{cond: "len(t.strs) = 2", v: vals{"t.strs": []string{"a", "b"}}, want: true},
	{cond: "len(t.ips) >= 1", v: vals{"t.ips": []string{"10.0.0.1"}}, want: true},
	{cond: "len(t.str) = x", err: "x is not a valid number"},
	{cond: "len(t.i64) = 1", err: "not supported by 'len'"},
	{cond: "len(t.str) contains 1", err: "operator 'contains' is not supported by field len(t.str) of type UINT64"},

	// Field-to-field comparisons: val() and transformers on the right.
	{cond: "t.str = val(t.str2)", v: vals{"t.str": "a", "t.str2": "a"}, want: true},
	{cond: "t.str = val(t.str2)", v: vals{"t.str": "a", "t.str2": "b"}},
	{cond: "t.str = val(t.str2)", v: vals{"t.str": "a"}},  // missing right side
	{cond: "t.str != val(t.str2)", v: vals{"t.str": "a"}}, // missing right side: false for != too
	{cond: "t.str != val(t.str2)", v: vals{"t.str": "a", "t.str2": "b"}, want: true},
	{cond: "t.str contains val(t.str2)", v: vals{"t.str": "abc", "t.str2": "b"}, want: true},
	{cond: "t.str startswith val(t.str2)", v: vals{"t.str": "abc", "t.str2": "b"}},
	{cond: "t.str glob val(t.str2)", v: vals{"t.str": "a.txt", "t.str2": "*.txt"}, want: true},
	{cond: "t.str icontains val(t.str2)", v: vals{"t.str": "ABC", "t.str2": "b"}, want: true},
	{cond: "t.str in val(t.str2)", v: vals{"t.str": "a", "t.str2": "a"}, want: true},
	{cond: "t.str = tolower(t.str2)", v: vals{"t.str": "abc", "t.str2": "ABC"}, want: true},
	{cond: "tolower(t.str) = tolower(t.str2)", v: vals{"t.str": "aBc", "t.str2": "AbC"}, want: true},
	{cond: "t.i64 < val(t.i64b)", v: vals{"t.i64": 1, "t.i64b": 2}, want: true},
	{cond: "t.i64 >= val(t.i64b)", v: vals{"t.i64": 1, "t.i64b": 2}},
	{cond: "t.u64 = len(t.str)", v: vals{"t.u64": 3, "t.str": "abc"}, want: true},
	{cond: "t.bool = val(t.bool2)", v: vals{"t.bool": true, "t.bool2": true}, want: true},
	{cond: "t.ip = val(t.ip2)", v: vals{"t.ip": "1.2.3.4", "t.ip2": "1.2.3.4"}, want: true},
	{cond: "t.strs intersects val(t.strs2)", v: vals{"t.strs": []string{"a", "b"}, "t.strs2": []string{"b"}}, want: true},
	{cond: "t.strs in val(t.strs2)", v: vals{"t.strs": []string{"a", "b"}, "t.strs2": []string{"b"}}},
	{cond: "t.strs in val(t.strs2)", v: vals{"t.strs": []string{"b"}, "t.strs2": []string{"a", "b"}}, want: true},
	{cond: "t.anc = val(t.str)", v: vals{"t.anc": []string{"x", "y"}, "t.str": "y"}, want: true},
	{cond: "t.str = val(t.i64)", err: "has incompatible type"},
	{cond: "t.path = val(t.str)", err: "t.path (FSPATH) has incompatible type with t.str (CHARBUF)"},
	{cond: "t.str in val(t.strs)", err: "has incompatible type"},
	{cond: "t.str = val(t.anc)", err: "field t.anc cannot be used on the right-hand side of a comparison"},
	{cond: "t.str = val(t.aname[1])", err: "cannot be used on the right-hand side"},
	{cond: "t.str pmatch val(t.str2)", err: "operator 'pmatch' does not support a field on the right-hand side"},
	{cond: "t.str regex val(t.str2)", err: "operator 'regex' does not support a field"},
	{cond: "t.net = val(t.net)", err: "IPNET cannot be compared with another field"},
	{cond: "t.str = val(t.nope)", err: "unknown field"},

	// List modifiers: count the items for which `op item` holds.
	{cond: "t.str startswith anyof (/tmp/, /dev/shm/)", v: vals{"t.str": "/dev/shm/x"}, want: true},
	{cond: "t.str startswith anyof (/tmp/, /dev/shm/)", v: vals{"t.str": "/var/x"}},
	{cond: "t.str contains allof (a, b)", v: vals{"t.str": "cab"}, want: true},
	{cond: "t.str contains allof (a, b)", v: vals{"t.str": "ca"}},
	{cond: "t.str contains oneof (a, b)", v: vals{"t.str": "ca"}, want: true},
	{cond: "t.str contains oneof (a, b)", v: vals{"t.str": "cab"}},
	{cond: "t.str contains anyof ()", v: vals{"t.str": "x"}},
	{cond: "t.str contains allof ()", v: vals{"t.str": "x"}}, // an empty list is false for every modifier
	{cond: "t.str = anyof (a, b)", v: vals{}},
	{cond: "t.i64 = anyof (1, 2)", v: vals{"t.i64": 2}, want: true},
	{cond: "t.i64 = anyof (1, x)", err: "x is not a valid number"},
	{cond: "t.anc = anyof (x, y)", v: vals{"t.anc": []string{"a", "y"}}, want: true},
	{cond: "t.strs = anyof (a)", err: "operator '=' is not supported by field t.strs of list type"},

	// Precedence with values.
	{cond: "t.str = a or t.str = b and t.i64 = 1", v: vals{"t.str": "a", "t.i64": 2}, want: true},
	{cond: "(t.str = a or t.str = b) and t.i64 = 1", v: vals{"t.str": "a", "t.i64": 2}},
	{cond: "not t.str = a and t.i64 = 1", v: vals{"t.str": "b", "t.i64": 1}, want: true},
	{cond: "not t.str = a and t.i64 = 1", v: vals{"t.str": "a", "t.i64": 1}},
	{cond: "not (t.str = a and t.i64 = 1)", v: vals{"t.str": "a", "t.i64": 2}, want: true},
	{cond: "not not t.str = a", v: vals{"t.str": "a"}, want: true},
	{cond: "t.str = a and t.i64 = 1 and t.bool = true", v: vals{"t.str": "a", "t.i64": 1, "t.bool": true}, want: true},
	{cond: "t.str = a and t.i64 = 1 and t.bool = true", v: vals{"t.str": "a", "t.i64": 1, "t.bool": false}},
	{cond: "t.str = x or t.str = y or t.str = z or t.str = a", v: vals{"t.str": "a"}, want: true},
	{cond: "t.str = x or t.str = y or t.str = z or t.str = w", v: vals{"t.str": "a"}},
	{cond: "t.str = a and t.i64 = 1 and t.bool = true and t.str2 = b", v: vals{"t.str": "a", "t.i64": 1, "t.bool": true, "t.str2": "b"}, want: true},
	{cond: "undefined_macro and t.str = a", err: "Undefined macro 'undefined_macro' used in filter."},
	{cond: "t.i64 = 1 and t.bool = maybe", err: "a boolean is true or false"},
}

func TestCompileAndMatch(t *testing.T) {
	env := newTestEnv(t)
	for _, tc := range matchCases {
		got, _, err := env.eval(tc.cond, tc.v)
		if tc.err != "" {
			if err == nil {
				t.Errorf("%q: compiled, want error %q", tc.cond, tc.err)
			} else if !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %q, want %q", tc.cond, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.cond, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%q with %v = %v, want %v", tc.cond, tc.v, got, tc.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	env := newTestEnv(t)
	_, _, err := env.compile("t.str = a and t.nope = 1")
	if !errors.Is(err, fields.ErrUnknownField) {
		t.Errorf("unknown field error %v does not wrap fields.ErrUnknownField", err)
	}
	var ce *CompileError
	if !errors.As(err, &ce) || ce.Pos.Col != 15 {
		t.Errorf("compile error %#v, want a *CompileError at column 15", err)
	}
	if _, _, err := Compile(&Ident{Name: "m"}, env); !errors.Is(err, ErrUndefinedMacro) {
		t.Errorf("unresolved macro: %v", err)
	}
	if _, _, err := Compile(&Check{Field: &FieldExpr{Name: "t.str"}, Op: "~", Value: &Value{Kind: ValueString}}, env); err == nil {
		t.Error("unknown operator compiled")
	}
	if _, _, err := Compile(nil, env); err == nil {
		t.Error("nil condition compiled")
	}
}

func TestCompileWarnings(t *testing.T) {
	env := newTestEnv(t)
	cases := []struct {
		cond, code, msg string
	}{
		{"t.str = t.str2", "LOAD_COMPILE_CONDITION", "string 't.str2' may be a valid field misused as a const string value"},
		{"t.str in (x, t.path)", "LOAD_COMPILE_CONDITION", "'t.path' may be a valid field"},
		{"ka.user = <NA>", "LOAD_UNSAFE_NA_CHECK", "comparing ka.user with '<NA>' is unsafe"},
		{"ka.user in (a, <NA>)", "LOAD_UNSAFE_NA_CHECK", "'<NA>' is unsafe"},
		{"t.dep = x", "LOAD_DEPRECATED_ITEM", "field t.dep is deprecated"},
		{"t.str regex bash", "LOAD_COMPILE_CONDITION", "regex 'bash' can be written '= bash'"},
		{"t.str regex 'ba.*'", "LOAD_COMPILE_CONDITION", "can be written 'startswith ba'"},
		{"t.str regex '.*sh'", "LOAD_COMPILE_CONDITION", "can be written 'endswith sh'"},
		{"t.str regex '.*as.*'", "LOAD_COMPILE_CONDITION", "can be written 'contains as'"},
		{"t.str regex 'b.sh'", "", ""},
		{"t.str regex '.*'", "", ""},
		{"t.str = t.none", "", ""},
		{"t.str = bash", "", ""},
		{"t.str = val(t.str2)", "", ""},
	}
	for _, tc := range cases {
		_, ws, err := env.compile(tc.cond)
		if err != nil {
			t.Errorf("%q: %v", tc.cond, err)
			continue
		}
		if tc.code == "" {
			if len(ws) != 0 {
				t.Errorf("%q: unexpected warnings %v", tc.cond, ws)
			}
			continue
		}
		if len(ws) != 1 || ws[0].Code != tc.code || !strings.Contains(ws[0].Msg, tc.msg) {
			t.Errorf("%q: warnings %+v, want one %s %q", tc.cond, ws, tc.code, tc.msg)
		}
	}
	// A field-looking constant is still a constant.
	if got, _, _ := env.eval("t.str = t.str2", vals{"t.str": "t.str2", "t.str2": "x"}); !got {
		t.Error("t.str = t.str2 compared with the field instead of the string")
	}
}

func TestMatcherNilEventFields(t *testing.T) {
	// The compiled matcher never looks at the event itself, only through extractors; an event
	// without payload must be safe with extractors that handle it.
	env := newTestEnv(t)
	m, _, err := env.compile("t.str = a")
	if err != nil {
		t.Fatal(err)
	}
	env.cur = nil
	if m(&event.Event{}) {
		t.Error("matched with no values")
	}
}
