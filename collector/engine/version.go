package engine

import (
	"fmt"
	"regexp"
	"strconv"
)

// EngineVersion is the Falco rules-engine version lanner claims in required_engine_version
// checks. 0.57.0 is the engine of Falco 0.42 (libs 0.22), the version the stable ruleset
// (falco-rules 5.x) declares: lanner implements that rule language, including exit-only syscall
// events and every operator and transformer the stable and k8s audit rules use, but not the
// grammar added later (join/concat transformers, oneof/anyof/allof modifiers). Claiming a newer
// engine would let rules files that need those features load and then fail confusingly, while a
// file that needs 0.57.0 or less (both upstream files: 0.57.0 and 15) loads.
const EngineVersion = "0.57.0"

// PluginRequirement is one required_plugin_versions entry: any one of its alternatives satisfies
// it.
type PluginRequirement struct {
	Alternatives []PluginVersion
	Pos          Pos
	// Satisfied is set when lanner provides one of the alternatives; By names it.
	Satisfied bool
	By        string
}

// PluginVersion is a plugin name and the minimum version a rules file asks for.
type PluginVersion struct {
	Name, Version string
}

// builtinPlugins are the Falco plugins whose fields lanner provides itself: the container
// plugin's container.* and k8s.* fields, the k8saudit plugin's ka.* fields (the cloud variants
// read the same audit events) and the json plugin's json.*/jevt.* fields. Any version of them
// is satisfied, because lanner's fields are built in rather than loaded.
var builtinPlugins = map[string]bool{
	"container": true, "k8saudit": true, "json": true,
}

type semver struct {
	major, minor, patch uint64
}

var semverRe = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?$`)

func parseSemver(s string) (semver, bool) {
	m := semverRe.FindStringSubmatch(s)
	if m == nil {
		return semver{}, false
	}
	var v semver
	var err error
	if v.major, err = strconv.ParseUint(m[1], 10, 32); err != nil {
		return semver{}, false
	}
	if v.minor, err = strconv.ParseUint(m[2], 10, 32); err != nil {
		return semver{}, false
	}
	if v.patch, err = strconv.ParseUint(m[3], 10, 32); err != nil {
		return semver{}, false
	}
	return v, true
}

func (v semver) String() string { return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch) }

func (v semver) less(o semver) bool {
	if v.major != o.major {
		return v.major < o.major
	}
	if v.minor != o.minor {
		return v.minor < o.minor
	}
	return v.patch < o.patch
}

// compatibleWith is Falco's check: same major version, and v is at least req.
func (v semver) compatibleWith(req semver) bool {
	return v.major == req.major && !v.less(req)
}
