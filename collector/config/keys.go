package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/lannersec/lanner/shippers"
)

// Key describes one setting: its dotted YAML key, flag, type, default and meaning. Keys lists
// them all; flags, --help and docs/configuration.md are generated from it.
type Key struct {
	Path    string // elasticsearch.tls.ca_file
	Flag    string // elasticsearch.tls.ca-file
	Short   string // one letter, or ""
	Type    string // string, bool, int, float, duration, list, secret
	Default string // as a flag would write it; "" for none
	Desc    string
	index   []int
}

// descs documents keys whose struct lives in another package (the Elasticsearch output's
// delivery settings and the output filter), where lanner's desc tags cannot go.
var descs = map[string]string{
	"fluentd.network":                        "tcp, tls or unix.",
	"fluentd.host":                           "Fluentd's host (tcp, tls).",
	"fluentd.port":                           "Fluentd's Forward port (tcp, tls).",
	"fluentd.socket_path":                    "Fluentd's unix socket (network unix).",
	"fluentd.tls.insecure_skip_verify":       "Do not verify Fluentd's certificate (network tls; a throwaway server only). Verification uses the system CA pool.",
	"fluentd.tag":                            "Fluentd tag of every alert.",
	"fluentd.dial_timeout":                   "Timeout of one connection attempt (the output retries with backoff).",
	"fluentd.write_timeout":                  "Timeout of writing one alert.",
	"fluentd.ack_timeout":                    "How long to wait for Fluentd's ack of one alert before it is retried.",
	"fluentd.batch_size":                     "Most alerts in one send.",
	"fluentd.flush_interval":                 "How long to wait for a fuller batch when alerts trickle in.",
	"fluentd.filter.minimum_priority":        "Ship only alerts at least this severe.",
	"fluentd.filter.rules":                   "Ship only alerts of these rules (empty: all).",
	"fluentd.filter.exclude_rules":           "Never ship alerts of these rules.",
	"fluentd.filter.tags":                    "Ship only alerts whose rule has one of these tags (empty: all).",
	"fluentd.filter.exclude_tags":            "Never ship alerts whose rule has one of these tags.",
	"elasticsearch.addresses":                "Elasticsearch URLs, tried in turn.",
	"elasticsearch.username":                 "Basic authentication user.",
	"elasticsearch.password":                 "Basic authentication password (prefer ${ENV} in the file over the flag, which `ps` shows).",
	"elasticsearch.api_key":                  "API key, the base64 id:key form Elasticsearch returns as \"encoded\".",
	"elasticsearch.bearer_token":             "Bearer token.",
	"elasticsearch.tls.ca_file":              "PEM file of the CA that signed the cluster's certificate.",
	"elasticsearch.tls.fingerprint":          "Pin the cluster certificate's SHA-256 fingerprint (hex) instead.",
	"elasticsearch.tls.insecure_skip_verify": "Do not verify the cluster's certificate (a throwaway cluster only).",
	"elasticsearch.mode":                     "data_stream or index (dated indices).",
	"elasticsearch.data_stream":              "Data stream alerts are created in (mode data_stream).",
	"elasticsearch.index_prefix":             "Indices are PREFIX-YYYY.MM.DD by event date (mode index).",
	"elasticsearch.setup":                    "Install the index template (and ILM policy where the cluster has ILM) at start.",
	"elasticsearch.template_name":            "Name of the index template.",
	"elasticsearch.ilm_policy":               "Name of the lifecycle policy; none installs none.",
	"elasticsearch.ilm_delete_after":         "Age at which the policy deletes backing indices (90d).",
	"elasticsearch.compress":                 "Gzip bulk request bodies.",
	"elasticsearch.flush_bytes":              "Most bytes in one bulk request.",
	"elasticsearch.flush_interval":           "How long to wait for a fuller batch when alerts trickle in.",
	"elasticsearch.batch_size":               "Most alerts in one send.",
	"elasticsearch.concurrency":              "Bulk requests in flight at once.",
	"elasticsearch.timeout":                  "Timeout of one bulk request.",
	"elasticsearch.filter.minimum_priority":  "Ship only alerts at least this severe.",
	"elasticsearch.filter.rules":             "Ship only alerts of these rules (empty: all).",
	"elasticsearch.filter.exclude_rules":     "Never ship alerts of these rules.",
	"elasticsearch.filter.tags":              "Ship only alerts whose rule has one of these tags (empty: all).",
	"elasticsearch.filter.exclude_tags":      "Never ship alerts whose rule has one of these tags.",
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[shippers.Secret]()
)

// Keys returns every setting, in the order of the struct.
func Keys() []Key {
	def := reflect.ValueOf(Default())
	var keys []Key
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), index...), i)
			if opts == "inline" {
				walk(sf.Type, prefix, idx)
				continue
			}
			if name == "" || name == "-" {
				continue
			}
			path := prefix + name
			ft := sf.Type
			if ft.Kind() == reflect.Struct && ft != durationType {
				walk(ft, path+".", idx)
				continue
			}
			k := Key{Path: path, Flag: strings.ReplaceAll(path, "_", "-"), Short: sf.Tag.Get("short"),
				Type: typeName(ft), Desc: sf.Tag.Get("desc"), index: idx}
			if f := sf.Tag.Get("flag"); f != "" {
				k.Flag = f
			}
			if k.Desc == "" {
				k.Desc = descs[path]
			}
			if k.Desc == "" {
				k.Desc = sharedDesc(path)
			}
			k.Default = format(def.FieldByIndex(idx))
			keys = append(keys, k)
		}
	}
	walk(def.Type(), "", nil)
	return keys
}

func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t == secretType:
		return "secret"
	case t.Kind() == reflect.Pointer:
		return typeName(t.Elem())
	case t.Kind() == reflect.Slice:
		return "list"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "int"
	case t.Kind() == reflect.Float64:
		return "float"
	}
	return "string"
}

// format writes a value as its flag would take it (secrets never).
func format(v reflect.Value) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	switch {
	case v.Type() == durationType:
		return time.Duration(v.Int()).String()
	case v.Type() == secretType:
		return ""
	case v.Kind() == reflect.Slice:
		s := make([]string, v.Len())
		for i := range s {
			s[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return strings.Join(s, ",")
	}
	return fmt.Sprint(v.Interface())
}

// set parses s into v (lists get all of vals).
func set(v reflect.Value, vals []string) error {
	if v.Kind() == reflect.Pointer {
		nv := reflect.New(v.Type().Elem())
		if err := set(nv.Elem(), vals); err != nil {
			return err
		}
		v.Set(nv)
		return nil
	}
	s := vals[len(vals)-1]
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.Slice:
		v.Set(reflect.ValueOf(append([]string(nil), vals...)).Convert(v.Type()))
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case v.Kind() >= reflect.Int && v.Kind() <= reflect.Int64:
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case v.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		v.SetFloat(f)
	default:
		v.SetString(s)
	}
	return nil
}

// Overrides are the flags of every key; Apply writes the ones given over a loaded Config.
type Overrides struct {
	vals []*flagValue
}

type flagValue struct {
	key  Key
	vals []string
}

func (f *flagValue) String() string { return f.key.Default }
func (f *flagValue) Type() string   { return f.key.Type }
func (f *flagValue) Set(s string) error {
	// parse now, into a scratch value, so a bad flag fails as a flag error
	scratch := reflect.New(reflect.TypeFor[Config]()).Elem().FieldByIndex(f.key.index)
	if err := set(scratch, []string{s}); err != nil {
		return err
	}
	f.vals = append(f.vals, s)
	return nil
}

// BindFlags adds a flag for every key to fs.
func BindFlags(fs *pflag.FlagSet) *Overrides {
	ov := &Overrides{}
	for _, k := range Keys() {
		fv := &flagValue{key: k}
		usage := k.Desc
		if k.Type == "list" {
			usage += " (repeatable; replaces the file's list)"
		}
		fl := fs.VarPF(fv, k.Flag, k.Short, usage)
		if k.Type == "bool" {
			fl.NoOptDefVal = "true"
		}
		if k.Type == "secret" {
			fl.DefValue = ""
		}
		ov.vals = append(ov.vals, fv)
	}
	return ov
}

// Apply sets in cfg every key whose flag was given.
func (o *Overrides) Apply(cfg *Config) error {
	v := reflect.ValueOf(cfg).Elem()
	for _, f := range o.vals {
		if len(f.vals) == 0 {
			continue
		}
		if err := set(v.FieldByIndex(f.key.index), f.vals); err != nil {
			return &Error{Key: f.key.Path, Msg: fmt.Sprintf("--%s: %v", f.key.Flag, err)}
		}
	}
	return nil
}

// changedFlag returns the flag that set key, or "".
func (o *Overrides) changedFlag(key string) string {
	if o == nil {
		return ""
	}
	for _, f := range o.vals {
		if len(f.vals) > 0 && (f.key.Path == key || strings.HasPrefix(f.key.Path, key+".")) {
			return f.key.Flag
		}
	}
	return ""
}

// Markdown returns the reference table of docs/configuration.md.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Flag | Description |\n|---|---|---|---|---|\n")
	for _, k := range Keys() {
		def := "(none)"
		if k.Default != "" {
			def = "`" + k.Default + "`"
		}
		flag := "`--" + k.Flag + "`"
		if k.Short != "" {
			flag = "`-" + k.Short + "`, " + flag
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", k.Path, k.Type, def, flag,
			strings.ReplaceAll(k.Desc, "|", "\\|"))
	}
	return b.String()
}
