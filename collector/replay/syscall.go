package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// The JSON form of a syscall event; docs/replay-format.md is its user documentation and must be
// kept in step with these types.

type syscallJSON struct {
	Source        string      `json:"source"`
	Type          string      `json:"type"`
	Time          *jsonTime   `json:"time"`
	Res           *jsonRes    `json:"res"`
	Params        []paramJSON `json:"params"`
	Thread        *threadJSON `json:"thread"`
	FD            *fdJSON     `json:"fd"`
	FDNameChanged bool        `json:"fd_name_changed"`
	Container     *contJSON   `json:"container"`
	// Comment is free text for people reading the file; it is ignored.
	Comment string `json:"comment"`
}

type paramJSON struct {
	Name  string  `json:"name"`
	Value *string `json:"value"`
	Raw   *int64  `json:"raw"`
}

type threadJSON struct {
	Tid            int64       `json:"tid"`
	Pid            int64       `json:"pid"`
	PPid           int64       `json:"ppid"`
	Vtid           int64       `json:"vtid"`
	Vpid           int64       `json:"vpid"`
	Sid            int64       `json:"sid"`
	Vpgid          int64       `json:"vpgid"`
	Name           string      `json:"name"`
	Exe            string      `json:"exe"`
	ExePath        string      `json:"exepath"`
	Args           []string    `json:"args"`
	Cwd            string      `json:"cwd"`
	Env            []string    `json:"env"`
	Tty            uint32      `json:"tty"`
	UID            uint32      `json:"uid"`
	GID            uint32      `json:"gid"`
	LoginUID       *int64      `json:"loginuid"`
	User           string      `json:"user"`
	Group          string      `json:"group"`
	LoginUser      string      `json:"loginuser"`
	CapEffective   *jsonCaps   `json:"cap_effective"`
	CapPermitted   *jsonCaps   `json:"cap_permitted"`
	CapInheritable *jsonCaps   `json:"cap_inheritable"`
	StartTime      *jsonTime   `json:"start_time"`
	PidnsInitStart *jsonTime   `json:"pidns_init_start"`
	ExeFromMemfd   bool        `json:"exe_from_memfd"`
	ExeUpperLayer  bool        `json:"exe_upper_layer"`
	ExeWritable    bool        `json:"exe_writable"`
	ExeInoCtime    *jsonTime   `json:"exe_ino_ctime"`
	ExeInoMtime    *jsonTime   `json:"exe_ino_mtime"`
	Container      *contJSON   `json:"container"`
	Parent         *threadJSON `json:"parent"`
}

type contJSON struct {
	ID              string   `json:"id"`
	FullID          string   `json:"full_id"`
	Runtime         string   `json:"runtime"`
	Name            string   `json:"name"`
	Image           string   `json:"image"`
	ImageRepository string   `json:"image_repository"`
	ImageTag        string   `json:"image_tag"`
	ImageDigest     string   `json:"image_digest"`
	Privileged      *bool    `json:"privileged"`
	Pod             *podJSON `json:"pod"`
}

type podJSON struct {
	Name            string            `json:"name"`
	Namespace       string            `json:"namespace"`
	UID             string            `json:"uid"`
	IP              string            `json:"ip"`
	Labels          map[string]string `json:"labels"`
	NamespaceLabels map[string]string `json:"namespace_labels"`
	ReplicaSet      string            `json:"replicaset"`
	Deployment      string            `json:"deployment"`
	StatefulSet     string            `json:"statefulset"`
	DaemonSet       string            `json:"daemonset"`
	Job             string            `json:"job"`
	CronJob         string            `json:"cronjob"`
	Node            string            `json:"node"`
}

type fdJSON struct {
	Num       *int64  `json:"num"`
	Type      string  `json:"type"`
	Name      string  `json:"name"`
	NameRaw   *string `json:"nameraw"`
	OpenFlags uint32  `json:"open_flags"`
	L4Proto   string  `json:"l4proto"`
	CIP       string  `json:"cip"`
	SIP       string  `json:"sip"`
	CPort     uint16  `json:"cport"`
	SPort     uint16  `json:"sport"`
	IsServer  bool    `json:"is_server"`
	Connected bool    `json:"connected"`
}

// jsonTime accepts an RFC 3339 time string or an integer of nanoseconds since the epoch.
type jsonTime int64

func (t *jsonTime) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		tt, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("time %q is not RFC 3339 (2024-06-10T06:13:20.123456789Z)", s)
		}
		*t = jsonTime(tt.UnixNano())
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("time %s is neither an RFC 3339 string nor integer nanoseconds", b)
	}
	*t = jsonTime(n)
	return nil
}

// jsonRes accepts a return value as a number or as an errno name ("ENOENT" for -2).
type jsonRes int64

func (r *jsonRes) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "SUCCESS" {
			*r = 0
			return nil
		}
		n, ok := fields.ErrnoByName(s)
		if !ok {
			return fmt.Errorf("res %q is not an errno name", s)
		}
		*r = jsonRes(-n)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("res %s is neither a number nor an errno name", b)
	}
	*r = jsonRes(n)
	return nil
}

// jsonCaps accepts a capability set as names ("CAP_SYS_ADMIN CAP_NET_RAW") or as the bit mask.
type jsonCaps uint64

func (c *jsonCaps) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		m, err := fields.ParseCaps(s)
		if err != nil {
			return err
		}
		*c = jsonCaps(m)
		return nil
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("capabilities %s are neither names nor a number", b)
	}
	*c = jsonCaps(n)
	return nil
}

// syscallDecoder turns syscall lines into events. Threads, fds and containers are built fresh
// for each line: a replayed event carries its whole context, no state is kept between lines.
type syscallDecoder struct {
	host *event.Container
}

func (d *syscallDecoder) init() {
	d.host = &event.Container{ID: event.HostContainerID}
}

func (d *syscallDecoder) decode(line []byte) (*event.Event, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var j syscallJSON
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("syscall event: %w", err)
	}
	if dec.More() {
		return nil, errors.New("syscall event: text after the JSON object")
	}
	if j.Source != "" && j.Source != event.SourceSyscall.String() {
		return nil, fmt.Errorf("source %q: this line is read as a syscall event", j.Source)
	}
	if j.Type == "" {
		return nil, errors.New(`syscall event: no "type" (the system call or event name, e.g. "openat")`)
	}
	typ, ok := event.TypeByName(j.Type)
	if !ok {
		return nil, fmt.Errorf("syscall event: unknown event type %q", j.Type)
	}
	if j.Time == nil {
		return nil, errors.New(`syscall event: no "time" (RFC 3339 or nanoseconds since the epoch)`)
	}
	sys := &event.Syscall{FDNameChanged: j.FDNameChanged}
	if j.Res != nil {
		sys.Res = int64(*j.Res)
	}
	for i, p := range j.Params {
		if p.Name == "" {
			return nil, fmt.Errorf("params[%d]: no name", i)
		}
		ep := event.Param{Name: p.Name}
		if p.Raw != nil {
			ep.Raw, ep.HasRaw = *p.Raw, true
		}
		switch {
		case p.Value != nil:
			ep.Value = *p.Value
		case p.Raw != nil:
			ep.Value = strconv.FormatInt(*p.Raw, 10)
		default:
			return nil, fmt.Errorf("params[%d] (%s): neither value nor raw", i, p.Name)
		}
		sys.Params = append(sys.Params, ep)
	}
	top, err := d.container(j.Container)
	if err != nil {
		return nil, fmt.Errorf("container: %w", err)
	}
	if j.Thread != nil {
		t, err := d.thread(j.Thread, 0)
		if err != nil {
			return nil, fmt.Errorf("thread: %w", err)
		}
		if t.Container == nil {
			t.Container = top
			if t.Container == nil {
				// Falco always knows container.id from the cgroups; a line that names no
				// container is a host process.
				t.Container = d.host
			}
		}
		sys.Thread = t
	} else if top != nil {
		return nil, errors.New(`"container" given without a "thread" to run in it`)
	}
	if j.FD != nil {
		fd, err := buildFD(j.FD, sys.Res)
		if err != nil {
			return nil, fmt.Errorf("fd: %w", err)
		}
		sys.FD = fd
	}
	return &event.Event{Source: event.SourceSyscall, Type: typ, Time: int64(*j.Time), Sys: sys}, nil
}

// maxParents bounds the parent chain of one line.
const maxParents = 64

func (d *syscallDecoder) thread(j *threadJSON, depth int) (*event.Thread, error) {
	if depth > maxParents {
		return nil, fmt.Errorf("parent chain deeper than %d", maxParents)
	}
	t := &event.Thread{
		Tid: j.Tid, Pid: j.Pid, PPid: j.PPid, Vtid: j.Vtid, Vpid: j.Vpid, Sid: j.Sid, Vpgid: j.Vpgid,
		Name: j.Name, Exe: j.Exe, ExePath: j.ExePath, Cwd: j.Cwd, Env: j.Env, Tty: j.Tty,
		UID: j.UID, GID: j.GID, LoginUID: event.LoginUIDUnset, User: j.User, Group: j.Group, LoginUser: j.LoginUser,
		ExeFromMemfd: j.ExeFromMemfd, ExeUpperLayer: j.ExeUpperLayer, ExeWritable: j.ExeWritable,
	}
	t.SetArgs(j.Args)
	if t.Pid == 0 {
		t.Pid = t.Tid
	}
	if t.Tid == 0 {
		t.Tid = t.Pid
	}
	if t.Name == "" {
		// The kernel's comm is the executable's base name cut to 15 bytes.
		base := path.Base(t.ExePath)
		if t.ExePath == "" {
			base = path.Base(t.Exe)
		}
		if base != "." && base != "/" {
			if len(base) > 15 {
				base = base[:15]
			}
			t.Name = base
		}
	}
	if j.LoginUID != nil && *j.LoginUID >= 0 {
		if *j.LoginUID > int64(^uint32(0)) {
			return nil, fmt.Errorf("loginuid %d out of range", *j.LoginUID)
		}
		t.LoginUID = uint32(*j.LoginUID)
	}
	for _, c := range []struct {
		src *jsonCaps
		dst *uint64
	}{{j.CapEffective, &t.CapEffective}, {j.CapPermitted, &t.CapPermitted}, {j.CapInheritable, &t.CapInheritable}} {
		if c.src != nil {
			*c.dst = uint64(*c.src)
		}
	}
	for _, tm := range []struct {
		src *jsonTime
		dst *int64
	}{{j.StartTime, &t.StartTime}, {j.PidnsInitStart, &t.PidnsInitStart}, {j.ExeInoCtime, &t.ExeInoCtime}, {j.ExeInoMtime, &t.ExeInoMtime}} {
		if tm.src != nil {
			*tm.dst = int64(*tm.src)
		}
	}
	c, err := d.container(j.Container)
	if err != nil {
		return nil, fmt.Errorf("container: %w", err)
	}
	t.Container = c
	if j.Parent != nil {
		p, err := d.thread(j.Parent, depth+1)
		if err != nil {
			return nil, fmt.Errorf("parent: %w", err)
		}
		t.Parent = p
		if t.PPid == 0 {
			t.PPid = p.Pid
		}
	}
	return t, nil
}

func (d *syscallDecoder) container(j *contJSON) (*event.Container, error) {
	if j == nil {
		return nil, nil
	}
	if j.ID == "" {
		return nil, errors.New(`no "id" (12-character container id, or "host")`)
	}
	if j.ID == event.HostContainerID {
		if j.Pod != nil || j.Image != "" || j.Name != "" {
			return nil, errors.New("the host container has no name, image or pod")
		}
		return d.host, nil
	}
	c := &event.Container{ID: j.ID, FullID: j.FullID, Runtime: j.Runtime, Name: j.Name, Image: j.Image,
		ImageRepository: j.ImageRepository, ImageTag: j.ImageTag, ImageDigest: j.ImageDigest}
	if c.ImageRepository == "" && c.ImageTag == "" && c.Image != "" {
		c.ImageRepository, c.ImageTag = splitImage(c.Image)
	}
	if j.Privileged != nil {
		c.Privileged, c.PrivilegedKnown = *j.Privileged, true
	}
	if p := j.Pod; p != nil {
		c.Pod = &event.Pod{Name: p.Name, Namespace: p.Namespace, UID: p.UID, IP: p.IP, Labels: p.Labels,
			NamespaceLabels: p.NamespaceLabels, ReplicaSet: p.ReplicaSet, Deployment: p.Deployment,
			StatefulSet: p.StatefulSet, DaemonSet: p.DaemonSet, Job: p.Job, CronJob: p.CronJob, NodeName: p.Node}
	}
	return c, nil
}

// splitImage splits an image reference into repository and tag the way runtimes report them:
// "docker.io/library/nginx:1.25" -> ("docker.io/library/nginx", "1.25"); a digest reference
// keeps no tag.
func splitImage(image string) (repo, tag string) {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	slash := strings.LastIndexByte(image, '/')
	if colon := strings.LastIndexByte(image, ':'); colon > slash {
		return image[:colon], image[colon+1:]
	}
	return image, ""
}

func buildFD(j *fdJSON, res int64) (*event.FD, error) {
	fd := &event.FD{Name: j.Name, OpenFlags: j.OpenFlags, LocalIsServer: j.IsServer, Connected: j.Connected}
	switch {
	case j.Num != nil:
		fd.Num = *j.Num
	case res >= 0:
		fd.Num = res
	default:
		fd.Num = -1
	}
	typ := j.Type
	if typ == "" {
		typ = "file"
	}
	t, ok := event.ParseFDType(typ)
	if !ok {
		return nil, fmt.Errorf("unknown fd type %q", j.Type)
	}
	fd.Type = t
	if j.NameRaw != nil {
		fd.NameRaw = *j.NameRaw
	} else if t == event.FDFile || t == event.FDDirectory {
		fd.NameRaw = j.Name
	}
	switch j.L4Proto {
	case "":
		if t == event.FDIPv4 || t == event.FDIPv6 {
			fd.L4Proto = event.L4TCP
		}
	case "tcp":
		fd.L4Proto = event.L4TCP
	case "udp":
		fd.L4Proto = event.L4UDP
	case "icmp":
		fd.L4Proto = event.L4ICMP
	case "raw":
		fd.L4Proto = event.L4Raw
	default:
		return nil, fmt.Errorf("unknown l4proto %q (tcp, udp, icmp, raw)", j.L4Proto)
	}
	for _, a := range []struct {
		text string
		dst  *netip.Addr
		what string
	}{{j.CIP, &fd.ClientIP, "cip"}, {j.SIP, &fd.ServerIP, "sip"}} {
		if a.text == "" {
			continue
		}
		ip, err := netip.ParseAddr(a.text)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.what, err)
		}
		*a.dst = ip.Unmap()
	}
	fd.ClientPort, fd.ServerPort = j.CPort, j.SPort
	if (j.CIP != "" || j.SIP != "") && t != event.FDIPv4 && t != event.FDIPv6 && t != event.FDRawIPv4 && t != event.FDRawIPv6 {
		return nil, fmt.Errorf("cip/sip given for an fd of type %s", t)
	}
	if fd.Name == "" && fd.ClientIP.IsValid() && fd.ServerIP.IsValid() {
		// Falco's socket tuple: client first.
		fd.Name = fmt.Sprintf("%s:%d->%s:%d", fd.ClientIP, fd.ClientPort, fd.ServerIP, fd.ServerPort)
	}
	return fd, nil
}
