#!/usr/bin/python3
"""The checks of tests/deploy/check.sh that parse: the systemd unit, the
DaemonSet, the Containerfile, the alerting rules and the Grafana dashboard,
each against what it must agree with (user/loader.c's capabilities,
`portlife --help`, the Makefile, the libraries the binary links, the paths
portlife opened and the syscalls it made in the live runs, and the metrics a
real exporter run wrote). One line per check, "PASS name" or "FAIL name: why".

    check.py --root REPO --stage DIR --help-text FILE [--run NAME=DIR ...]

A run directory (made by check.sh) holds cmd (the command line, one argument
a line), strace (strace -f), stderr, rc and metrics (what the exporter wrote
or served).
"""
import argparse
import json
import os
import re
import subprocess
import sys

import yaml

results = []


def ok(name, note=""):
    results.append(True)
    print("PASS %s%s" % (name, " (%s)" % note if note else ""))


def ko(name, why):
    results.append(False)
    print("FAIL %s: %s" % (name, why))


def check(name, errors, note=""):
    """PASS if errors is empty, else FAIL listing them."""
    if errors:
        ko(name, "; ".join(errors) + (" (%s)" % note if note else ""))
    else:
        ok(name, note)


# ---------------------------------------------------------------- sources

def loader_caps(root, numbers=False):
    """The capabilities user/loader.c tests for: its CAP_*_ defines (with
    their numbers, if asked)."""
    src = open(os.path.join(root, "user/loader.c")).read()
    caps = dict((n, int(v)) for n, v in re.findall(r"^#define (CAP_[A-Z_]+?)_\s+(\d+)", src, re.M))
    return caps if numbers else set(caps)


def host_bounding_set():
    """This host's capability bounding set: no process started here, under
    systemd or a runtime, holds a capability outside it (a container host
    may withhold some, e.g. CAP_SYS_RESOURCE)."""
    for line in open("/proc/self/status"):
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    return ~0


def expected_capeff(numbers):
    """The effective set a run granted these capability numbers must hold."""
    return sum(1 << n for n in numbers) & host_bounding_set()


def help_options(text):
    """Long and short options of `portlife --help`."""
    longs = set(re.findall(r"^\s+(?:-\w, )?--([a-z0-9-]+)", text, re.M))
    shorts = set(re.findall(r"^\s+-(\w), --", text, re.M))
    return longs, shorts


def flag_errors(args, help_text, where):
    """Every option in args is one --help lists (values are not options)."""
    longs, shorts = help_options(help_text)
    errs = []
    takes_value = set(re.findall(r"^\s+(?:-\w, )?--([a-z0-9-]+)=", help_text, re.M))
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a.startswith("--"):
            name = a[2:].split("=", 1)[0]
            if name not in longs:
                errs.append("%s: %s is not an option of portlife --help" % (where, a))
            elif name in takes_value and "=" not in a:
                skip = True
        elif a.startswith("-") and len(a) > 1:
            for c in a[1:]:
                if c not in shorts:
                    errs.append("%s: -%s is not an option of portlife --help" % (where, c))
        else:
            errs.append("%s: stray argument %r" % (where, a))
    return errs


def makefile_deps(root):
    mk = open(os.path.join(root, "Makefile")).read()
    m = re.search(r"^DEPS := ((?:.*\\\n)*.*)$", mk, re.M)
    return set(m.group(1).replace("\\\n", " ").split())


# ---------------------------------------------------------------- systemd

def parse_unit(path):
    """Sections of key -> list of values, in order (keys may repeat)."""
    unit, sec = {}, None
    for ln in open(path):
        ln = ln.strip()
        if not ln or ln[0] in "#;":
            continue
        if ln.startswith("["):
            sec = unit.setdefault(ln.strip("[]"), {})
            continue
        k, v = ln.split("=", 1)
        sec.setdefault(k.strip(), []).append(v.strip())
    return unit


def syscall_group(name, cache={}):
    """The syscalls of a systemd-analyze syscall-filter group, nested groups expanded."""
    if name in cache:
        return cache[name]
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True,
                         text=True, check=True).stdout
    calls = set()
    for ln in out.splitlines()[1:]:
        ln = ln.strip()
        if not ln or ln.startswith("#"):
            continue
        calls |= syscall_group(ln) if ln.startswith("@") else {ln}
    cache[name] = calls
    return calls


def strace_calls(path):
    """(syscall names, [(name, args)]) from strace -f output, portlife's process only:
    the lines before its execve belong to the wrappers."""
    calls = []
    started = False
    for ln in open(path):
        m = re.match(r"^(?:\[pid\s+)?\d+\]?\s+([a-z0-9_]+)\((.*)$", ln)
        if not m:
            continue
        name, rest = m.groups()
        if name == "execve" and "portlife" in rest.split(",")[0] and "= 0" in rest:
            started = True
            continue
        if started:
            calls.append((name, rest))
    return calls


WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC")


def opened_paths(calls):
    """(path, written) of every file call that named a path and did not fail with ENOENT."""
    out = []
    for name, rest in calls:
        m = None
        if name in ("openat", "open", "newfstatat", "statx", "access", "faccessat2",
                    "readlink", "readlinkat", "unlink", "unlinkat", "rename", "renameat",
                    "renameat2", "mkdir", "mkdirat", "mount"):
            m = re.findall(r'"(/[^"]*)"', rest)
        if not m:
            continue
        written = name in ("unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir",
                           "mkdirat", "mount") or bool(WRITE_FLAGS.search(rest))
        failed = re.search(r"= -1 (ENOENT|ENOTDIR)", rest)
        for p in m:
            if not failed:
                out.append((os.path.normpath(p), written))
    return out


def under(path, prefixes):
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def check_unit(a, help_text, caps, runs):
    unit_path = os.path.join(a.stage, "usr/lib/systemd/system/portlife.service")
    if not os.path.isfile(unit_path):
        ko("unit-parse", "%s not installed by make install" % unit_path)
        return
    u = parse_unit(unit_path)
    svc = u.get("Service", {})
    ok("unit-parse")

    got = set(" ".join(svc.get("CapabilityBoundingSet", [])).split())
    check("unit-capabilities", [] if got == caps else
          ["CapabilityBoundingSet is %s, user/loader.c names %s" % (sorted(got), sorted(caps))],
          " ".join(sorted(caps)))

    # hardening that must stay: each was checked against what portlife touches
    want = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
            "PrivateTmp": "yes", "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
            "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
            "ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes",
            "PrivateMounts": "yes", "RestrictSUIDSGID": "yes", "RestrictRealtime": "yes",
            "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
            "SystemCallArchitectures": "native", "IPAddressDeny": "any"}
    check("unit-hardening", ["%s=%s missing (has %s)" % (k, v, svc.get(k)) for k, v in want.items()
                             if svc.get(k, [None])[-1] != v])

    exec_start = svc.get("ExecStart", [""])[-1].split()
    errs = []
    if not exec_start or exec_start[0] != a.bindir + "/portlife":
        errs.append("ExecStart runs %s, make install puts portlife in %s" %
                    (exec_start[:1], a.bindir))
    errs += flag_errors(exec_start[1:], help_text, "ExecStart")
    # the drop-in the unit's comment gives for --metrics-addr
    src = open(unit_path).read()
    for m in re.finditer(r"^#\s+ExecStart=(\S.*)$", src, re.M):
        argv = m.group(1).split()
        if argv[0] != a.bindir + "/portlife":
            errs.append("the commented ExecStart runs %s" % argv[0])
        errs += flag_errors(argv[1:], help_text, "commented ExecStart")
    check("unit-command-line", errs, " ".join(exec_start))

    errs = []
    mfile = None
    for i, x in enumerate(exec_start):
        if x == "--metrics-file" and i + 1 < len(exec_start):
            mfile = exec_start[i + 1]
        elif x.startswith("--metrics-file="):
            mfile = x.split("=", 1)[1]
    if not mfile:
        errs.append("ExecStart writes no --metrics-file")
    else:
        rw = [p.lstrip("-") for p in " ".join(svc.get("ReadWritePaths", [])).split()]
        if os.path.dirname(mfile) not in rw:
            errs.append("%s is not in ReadWritePaths %s: ProtectSystem=strict keeps it "
                        "read-only" % (os.path.dirname(mfile), rw))
        stop = " ".join(svc.get("ExecStopPost", []))
        if not re.search(r"rm -f %s$" % re.escape(mfile), stop):
            errs.append("ExecStopPost does not remove %s (stale metrics after a stop)" % mfile)
    check("unit-metrics-path", errs, mfile or "")

    run = runs.get("unit")
    if not run:
        ko("unit-sandbox-syscalls", "no live run of the unit's command line")
        return
    calls = strace_calls(os.path.join(run, "strace"))
    if not calls:
        ko("unit-sandbox-syscalls", "the strace log shows no portlife execve")
        return
    # the unit's --metrics-addr drop-in serves HTTP as the DaemonSet's run does:
    # its syscalls must pass the unit's filters too
    both = calls + (strace_calls(os.path.join(runs["daemonset"], "strace"))
                    if "daemonset" in runs else [])
    allowed = set()
    for item in " ".join(svc.get("SystemCallFilter", [])).split():
        allowed |= syscall_group(item) if item.startswith("@") else {item}
    used = {c for c, _ in both}
    check("unit-sandbox-syscalls", ["%s is not allowed by SystemCallFilter" % c
                                    for c in sorted(used - allowed)],
          "%d syscalls used with --metrics-file and --metrics-addr, all allowed" % len(used))

    fams = set(" ".join(svc.get("RestrictAddressFamilies", [])).split())
    used_fams = {re.match(r"(AF_\w+)", r).group(1) for c, r in both if c == "socket"}
    nss = set(" ".join(svc.get("RestrictNamespaces", [])).split())
    used_ns = {r.split(",")[1].strip().split(")")[0] for c, r in both if c == "setns"}
    errs = ["socket(%s) is not in RestrictAddressFamilies" % f for f in sorted(used_fams - fams)]
    errs += ["setns(%s) is not allowed by RestrictNamespaces=%s" % (t, " ".join(nss))
             for t in sorted(used_ns) if t != "CLONE_NEWNET" or "net" not in nss]
    if "CLONE_NEWNET" not in used_ns:	# check.sh made a namespace with traffic in it
        errs.append("no setns() into the workload's network namespace: the check proved nothing")
    check("unit-sandbox-namespaces", errs, "families %s, setns %s" %
          (" ".join(sorted(used_fams)) or "none", " ".join(sorted(used_ns)) or "none"))

    # what ProtectSystem=strict, ProtectHome, PrivateDevices and friends take away
    run_dir = os.path.realpath(run)
    rw = [p.lstrip("-") for p in " ".join(svc.get("ReadWritePaths", [])).split()]
    rw += ["/run/" + d for d in " ".join(svc.get("RuntimeDirectory", [])).split()]
    errs = []
    for p, written in opened_paths(calls):
        if p.startswith(run_dir):	# the run's stand-in for the metrics directory
            p = os.path.join(os.path.dirname(mfile), os.path.basename(p))
        if under(p, ["/home", "/root", "/run/user"]):
            errs.append("%s is hidden by ProtectHome" % p)
        elif p in ("/proc/kallsyms", "/proc/kcore"):
            errs.append("%s is hidden by ProtectKernelTunables" % p)
        elif p.startswith("/dev/") and not under(p, ["/dev/null", "/dev/zero", "/dev/full",
                                                      "/dev/random", "/dev/urandom",
                                                      "/dev/tty", "/dev/pts", "/dev/ptmx",
                                                      "/dev/shm", "/dev/fd", "/dev/stdin",
                                                      "/dev/stdout", "/dev/stderr"]):
            errs.append("%s is not in PrivateDevices' /dev" % p)
        elif written and not under(p, rw + ["/tmp", "/var/tmp", "/dev", "/sys/kernel/tracing"]):
            errs.append("%s is written, outside ReadWritePaths" % p)
    check("unit-sandbox-files", sorted(set(errs)),
          "%d paths opened, writes only in %s" % (len(opened_paths(calls)), " ".join(rw)))


# ---------------------------------------------------------------- Kubernetes

def schema_errors(data, typ, path, client):
    """Strict structural check against the Kubernetes API models: every key is a
    field of its type, every value of the field's kind."""
    errs = []
    if typ.startswith("list["):
        if not isinstance(data, list):
            return ["%s: a list expected" % path]
        for i, x in enumerate(data):
            errs += schema_errors(x, typ[5:-1], "%s[%d]" % (path, i), client)
        return errs
    if typ.startswith("dict("):
        if not isinstance(data, dict):
            return ["%s: a map expected" % path]
        vt = typ[5:-1].split(", ", 1)[1]
        for k, v in data.items():
            errs += schema_errors(v, vt, "%s.%s" % (path, k), client)
        return errs
    prim = {"str": str, "int": int, "bool": bool, "float": (int, float)}
    if typ in prim:
        ok_type = isinstance(data, prim[typ]) and not (typ == "int" and isinstance(data, bool))
        return [] if ok_type else ["%s: %r is not %s" % (path, data, typ)]
    if typ == "object":		# IntOrString and the like
        return []
    cls = getattr(client, typ)
    if not isinstance(data, dict):
        return ["%s: an object (%s) expected" % (path, typ)]
    by_json = {v: k for k, v in cls.attribute_map.items()}
    for k, v in data.items():
        if k not in by_json:
            errs.append("%s.%s: not a field of %s" % (path, k, typ))
            continue
        errs += schema_errors(v, cls.openapi_types[by_json[k]], "%s.%s" % (path, k), client)
    return errs


def check_daemonset(a, help_text, caps, entrypoint, runs):
    import kubernetes.client as client
    docs = [d for d in yaml.safe_load_all(open(os.path.join(a.root, "deploy/kubernetes/daemonset.yaml"))) if d]
    errs = []
    api = client.ApiClient()
    for d in docs:
        typ = "V1" + d.get("kind", "?")
        if not hasattr(client, typ):
            errs.append("kind %s unknown" % d.get("kind"))
            continue
        errs += schema_errors(d, typ, d["kind"], client)
        try:		# required fields, enum values the models know
            api._ApiClient__deserialize(d, typ)
        except (ValueError, TypeError) as e:
            errs.append("%s: %s" % (d["kind"], e))
    check("k8s-schema", errs, "%d objects, against the Kubernetes %s API models" %
          (len(docs), client.__version__ if hasattr(client, "__version__") else ""))
    ds = [d for d in docs if d.get("kind") == "DaemonSet"]
    if len(ds) != 1:
        ko("k8s-daemonset", "%d DaemonSets in the manifest" % len(ds))
        return
    ds = ds[0]
    tpl = ds["spec"]["template"]
    spec = tpl["spec"]
    errs = []
    if ds["spec"]["selector"].get("matchLabels", {}).items() - tpl["metadata"].get("labels", {}).items():
        errs.append("the selector does not match the pod's labels")
    for k in ("hostPID", "hostNetwork"):
        if spec.get(k) is not True:
            errs.append("%s is not true" % k)
    if len(spec["containers"]) != 1:
        errs.append("%d containers" % len(spec["containers"]))
    check("k8s-host-namespaces", errs)
    c = spec["containers"][0]

    sc = c.get("securityContext", {})
    add = {"CAP_" + x for x in sc.get("capabilities", {}).get("add", [])}
    errs = []
    if sc.get("privileged"):
        errs.append("privileged: the capabilities are enough")
    if add != caps:
        errs.append("capabilities.add is %s, user/loader.c names %s" % (sorted(add), sorted(caps)))
    if sc.get("capabilities", {}).get("drop") != ["ALL"]:
        errs.append("capabilities.drop is not [ALL]")
    if sc.get("readOnlyRootFilesystem") is not True:
        errs.append("the root file system is writable")
    if sc.get("allowPrivilegeEscalation") is False and "CAP_SYS_ADMIN" in add:
        errs.append("allowPrivilegeEscalation: false with SYS_ADMIN is rejected by the API")
    check("k8s-capabilities", errs, " ".join(sorted(add)))

    # args run through the image's entrypoint; $(VAR) must be defined in env
    errs = []
    if c.get("command") not in (None, entrypoint):
        errs.append("command %s replaces the image's entrypoint %s" % (c.get("command"), entrypoint))
    env = {e["name"] for e in c.get("env", [])}
    for v in re.findall(r"\$\((\w+)\)", " ".join(c.get("args", []))):
        if v not in env:
            errs.append("$(%s) in args is not in env" % v)
    errs += flag_errors(c.get("args", []), help_text, "DaemonSet args")
    addr = [x.split("=", 1)[1] for x in c.get("args", []) if x.startswith("--metrics-addr=")]
    ports = {p.get("name"): p for p in c.get("ports", [])}
    if not addr:
        errs.append("no --metrics-addr=ADDR in args")
    else:
        port = int(addr[0].rsplit(":", 1)[1])
        mp = ports.get("metrics", {})
        if mp.get("containerPort") != port or mp.get("hostPort") != port:
            errs.append("port 'metrics' is %s, --metrics-addr serves %d" % (mp, port))
        ann = tpl["metadata"].get("annotations", {})
        if ann.get("prometheus.io/port") != str(port):
            errs.append("prometheus.io/port is %s, not %d" % (ann.get("prometheus.io/port"), port))
        a.metrics_port = port
    check("k8s-command-line", errs, " ".join(c.get("args", [])))

    # mounts: the same path inside as on the host, read-only, and every host
    # path portlife opens (in its sources and in the live run) mounted
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = {}
    errs = []
    for m in c.get("volumeMounts", []):
        v = vols.get(m["name"])
        if not v or "hostPath" not in v:
            errs.append("mount %s is not a hostPath volume" % m["name"])
            continue
        if v["hostPath"]["path"] != m["mountPath"]:
            errs.append("%s is mounted at %s: portlife looks for it at its host path" %
                        (v["hostPath"]["path"], m["mountPath"]))
        mounts[m["mountPath"]] = m
    # paths a container sees differently from the host: all but its own image,
    # /proc (host PID), /dev, and the runtime's sysfs outside these
    host_specific = ["/sys/kernel/tracing", "/sys/kernel/debug", "/sys/kernel/btf",
                     "/sys/fs/cgroup", "/sys/fs/bpf"]
    image = ["/proc", "/dev", "/usr", "/lib", "/lib64", "/etc", "/bin", "/sbin", "/sys"]
    # named in user/; an alternative to a mounted path, or a path that is not
    # the host's, is not needed
    not_needed = {"/sys/kernel/debug/tracing/events": "the older place of tracefs: "
                  "/sys/kernel/tracing is mounted",
                  "/var/log": "--kubelet-logs' default: only its pods/ and containers/ are read"}
    needed, written = set(), set()
    for f in sorted(os.listdir(os.path.join(a.root, "user"))):
        if f.endswith((".c", ".h")):
            src = open(os.path.join(a.root, "user", f)).read()
            for p in re.findall(r'"(/(?:sys|run|var|boot|home|opt|srv|mnt)/[^"%]*)', src):
                needed.add((os.path.normpath(p), "user/" + f))
    run = runs.get("daemonset")
    if run:
        calls = strace_calls(os.path.join(run, "strace"))
        for p, w in opened_paths(calls):
            if not p.startswith(os.path.realpath(run)):
                needed.add((p, "opened in the live run"))
                if w:
                    written.add(p)
    for p, why in sorted(needed):
        if p in not_needed or under(p, list(mounts)):
            continue
        if under(p, image) and not under(p, host_specific):
            continue
        if p.startswith("/sys/fs/cgroup/unified") and "/sys/fs/cgroup" in mounts:
            continue
        errs.append("%s (%s) is not mounted" % (p, why))
    # the root file system is read-only: what portlife writes needs a writable
    # mount, and a mount it never writes is read-only
    for mp, m in sorted(mounts.items()):
        w = sorted(p for p in written if under(p, [mp]))
        if w and m.get("readOnly"):
            errs.append("%s is mounted read-only, and portlife writes %s" % (mp, w[0]))
        elif not w and not m.get("readOnly"):
            errs.append("%s is mounted writable, and portlife writes nothing there" % mp)
    for p in sorted(written):
        if not under(p, list(mounts)) and not under(p, ["/dev", "/proc"]):
            errs.append("%s is written, and the root file system is read-only" % p)
    # no bpffs: nothing is pinned
    src = "\n".join(open(os.path.join(a.root, "user", f)).read()
                    for f in os.listdir(os.path.join(a.root, "user")) if f.endswith(".c"))
    if "/sys/fs/bpf" in mounts and "bpf_obj_pin" not in src and "__pin" not in src:
        errs.append("/sys/fs/bpf is mounted, but portlife pins nothing")
    if "/run/netns" in mounts and mounts["/run/netns"].get("mountPropagation") != "HostToContainer":
        errs.append("/run/netns without mountPropagation HostToContainer misses namespaces made later")
    check("k8s-mounts", errs, " ".join(sorted(mounts)))


# ---------------------------------------------------------------- Containerfile

def parse_containerfile(path):
    """[(INSTRUCTION, text)] with continuation lines joined, comments dropped."""
    out, buf = [], ""
    for ln in open(path):
        s = ln.rstrip("\n")
        if not buf and (not s.strip() or s.lstrip().startswith("#")):
            continue
        if s.lstrip().startswith("#"):
            continue
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        buf += s
        ins, _, rest = buf.strip().partition(" ")
        out.append((ins.upper(), rest.strip()))
        buf = ""
    return out


def containerfile_stages(path):
    """[{from, pkgs (what its apt-get install lines install), ins [(INSTRUCTION, text)]}]"""
    stages = []
    for i, rest in parse_containerfile(path):
        if i == "FROM":
            stages.append({"from": rest, "pkgs": [], "ins": []})
        elif stages:
            stages[-1]["ins"].append((i, rest))
            if i == "RUN":
                for m in re.finditer(r"apt-get install ((?:-\S+\s+)*)([^&|;]+)", rest):
                    stages[-1]["pkgs"] += m.group(2).split()
    return stages


def check_containerfile(a, help_text):
    stages = containerfile_stages(os.path.join(a.root, "deploy/Containerfile"))
    errs = []
    codename = re.search(r"^VERSION_CODENAME=(\w+)", open("/etc/os-release").read(), re.M).group(1)
    for s in stages:
        img = s["from"].split()[0]
        if not re.match(r"(docker\.io/)?(library/)?debian:%s(-slim)?$" % codename, img):
            errs.append("FROM %s: not Debian %s, the release the packages are checked in" % (img, codename))
    check("containerfile-base", errs, "%d stages from debian:%s" % (len(stages), codename))
    if len(stages) != 2:
        ko("containerfile-stages", "%d stages, a build and an image expected" % len(stages))
        return None
    build, image = stages

    errs = []
    pkgs = sorted(set(build["pkgs"] + image["pkgs"]))
    r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + pkgs, capture_output=True, text=True)
    have = set(re.findall(r"^Package: (\S+)", r.stdout, re.M))
    errs += ["%s is not a Debian package here (apt-cache show)" % p for p in pkgs if p not in have]
    deps = makefile_deps(a.root)
    errs += ["build stage installs %s, which make deps does not" % p for p in build["pkgs"] if p not in deps]
    check("containerfile-packages", errs, "%d packages, all in apt" % len(pkgs))

    # the image's libraries: the packages that own what the binary links
    errs = []
    ldd = subprocess.run(["ldd", a.bin], capture_output=True, text=True, check=True).stdout
    owners = set()
    for lib in re.findall(r"=> (/\S+)", ldd):
        r = subprocess.run(["dpkg", "-S", os.path.realpath(lib)], capture_output=True, text=True)
        if r.returncode:
            r = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
        if r.returncode:
            errs.append("no package owns %s" % lib)
            continue
        owners.add(r.stdout.split(":")[0])
    errs += ["the image lacks %s (the binary links its library)" % p for p in sorted(owners - set(image["pkgs"]))]
    errs += ["the image installs %s, which the binary does not link" % p for p in sorted(set(image["pkgs"]) - owners)]
    check("containerfile-runtime-libraries", errs, " ".join(sorted(owners)))

    # the binary where make install PREFIX=/usr puts it, run as the entrypoint
    errs = []
    run = " ".join(r for i, r in build["ins"] if i == "RUN")
    if "make install" not in run or "PREFIX=/usr" not in run or "DESTDIR=/staging" not in run:
        errs.append("the build stage does not make install PREFIX=/usr DESTDIR=/staging")
    if not re.search(r"OUTPUT=/", run):
        errs.append("the build uses the context's .output (OUTPUT=/... expected)")
    want = a.usr_bin
    copies = [r for i, r in image["ins"] if i == "COPY"]
    if "--from=build /staging%s %s" % (want, want) not in copies:
        errs.append("no COPY --from=build /staging%s %s (make install PREFIX=/usr)" % (want, want))
    entry = [json.loads(r) for i, r in image["ins"] if i == "ENTRYPOINT"]
    cmd = [json.loads(r) for i, r in image["ins"] if i == "CMD"]
    if entry != [[want]]:
        errs.append("ENTRYPOINT is %s, not [\"%s\"]" % (entry, want))
    if cmd:
        errs += flag_errors(cmd[-1], help_text, "CMD")
    expose = [r for i, r in image["ins"] if i == "EXPOSE"]
    addr = [cmd[-1][i + 1] for i, x in enumerate(cmd[-1][:-1]) if x == "--metrics-addr"] if cmd else []
    if addr and expose != [addr[0].rsplit(":", 1)[1]]:
        errs.append("EXPOSE %s, CMD serves %s" % (expose, addr[0]))
    check("containerfile-entrypoint", errs, "%s %s" % (want, " ".join(cmd[-1]) if cmd else ""))
    return entry[0] if entry else None


# ---------------------------------------------------------------- PromQL

PROMQL_FUNCS = set("""abs absent absent_over_time avg_over_time ceil changes clamp clamp_max
clamp_min count_over_time day_of_month day_of_week day_of_year days_in_month delta deriv exp
floor histogram_quantile holt_winters hour idelta increase irate label_join label_replace ln
log10 log2 last_over_time max_over_time min_over_time minute month predict_linear
present_over_time quantile_over_time rate resets round scalar sgn sort sort_desc sqrt
stddev_over_time stdvar_over_time sum_over_time time timestamp vector year
sum min max avg group stddev stdvar count count_values bottomk topk quantile""".split())
PROMQL_AGGR = set("sum min max avg group stddev stdvar count count_values bottomk topk quantile".split())
PROMQL_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}
TARGET_LABELS = {"instance", "job"}		# Prometheus adds them at the scrape

TOKEN = re.compile(r"""
    (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<sel>\{[^}]*\})
  | (?P<range>\[[^\]]*\])
  | (?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[smhdwy]?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<ws>\s+)
  | (?P<other>.)""", re.X | re.S)


def promql_refs(expr):
    """Metric names with the labels their selectors name, the labels of by()/on()
    and friends, and errors (unknown functions, a selector with no name)."""
    expr = re.sub(r"\$\{?\w+(?::\w+)?\}?", "1m", expr)	# Grafana's variables
    toks = [(m.lastgroup, m.group()) for m in TOKEN.finditer(expr) if m.lastgroup != "ws"]
    metrics, grouping, errs = [], set(), []
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else (None, None)
        if kind == "ident":
            if text in PROMQL_GROUPING and nxt[1] == "(":
                j = i + 2
                while j < len(toks) and toks[j][1] != ")":
                    if toks[j][0] == "ident":
                        grouping.add(toks[j][1])
                    j += 1
                i = j
            elif text in PROMQL_AGGR and nxt[1] in ("by", "without"):
                pass		# sum by (x) (...): the grouping comes first
            elif nxt[1] == "(":
                if text not in PROMQL_FUNCS:
                    errs.append("%s() is not a PromQL function" % text)
            elif text in PROMQL_WORDS:
                pass
            else:
                labels = set()
                if nxt[0] == "sel":
                    labels = set(re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)", nxt[1]))
                metrics.append((text, labels))
        elif kind == "sel" and (i == 0 or toks[i - 1][0] != "ident"):
            errs.append("a selector with no metric name: %s" % text)
        i += 1
    return metrics, grouping, errs


def exporter_families(texts):
    """Names a real exporter run exports (# TYPE lines, histogram parts) and
    the labels seen on each."""
    names, labels, series = set(), {}, {}
    for text in texts:
        for m in re.finditer(r"^# TYPE (\S+) (\S+)$", text, re.M):
            name, typ = m.groups()
            names.add(name)
            if typ in ("histogram", "summary"):
                names |= {name + "_sum", name + "_count"}
            if typ == "histogram":
                names.add(name + "_bucket")
        for m in re.finditer(r"^([a-zA-Z_:][\w:]*)(\{.*\})?\s+\S+$", text, re.M):
            name, lab = m.groups()
            series[name] = series.get(name, 0) + 1
            labels.setdefault(name, set()).update(re.findall(r'([A-Za-z_]\w*)="', lab or ""))
    return names, labels, series


def expr_errors(expr, names, labels, where, unchecked, missing):
    """Errors of one expression; names the exporter lacks go to missing
    (name -> [where]), reported once each."""
    metrics, grouping, errs = promql_refs(expr)
    errs = ["%s: %s" % (where, e) for e in errs]
    if not metrics:
        errs.append("%s: names no portlife metric" % where)
    seen = set(TARGET_LABELS)
    for name, sel in metrics:
        if name not in names:
            if where not in missing.setdefault(name, []):
                missing[name].append(where)
            continue
        if name not in labels:
            unchecked.add(name)
            continue
        seen |= labels[name]
        for lab in sel - labels[name] - TARGET_LABELS:
            errs.append("%s: %s has no label %s" % (where, name, lab))
    if all(n in labels for n, _ in metrics):	# labels of every metric known
        for lab in grouping - seen:
            errs.append("%s: no metric in it has the label %s" % (where, lab))
    return errs


def missing_errors(missing):
    return ["%s is not in the exporter's output (%s)" % (n, ", ".join(w))
            for n, w in sorted(missing.items())]


def check_rules(a):
    rules_path = os.path.join(a.root, "deploy/prometheus/portlife.rules.yml")
    test_path = os.path.join(a.root, "deploy/prometheus/portlife.rules.test.yml")
    r = subprocess.run(["promtool", "check", "rules", rules_path], capture_output=True, text=True)
    check("promtool-check-rules", [] if r.returncode == 0 else [(r.stdout + r.stderr).strip()],
          (r.stdout.strip().splitlines() or [""])[-1].strip())
    r = subprocess.run(["promtool", "test", "rules", os.path.basename(test_path)],
                       capture_output=True, text=True, cwd=os.path.dirname(test_path))
    check("promtool-test-rules", [] if r.returncode == 0 else [(r.stdout + r.stderr).strip()[-1500:]])

    rules = [r for g in yaml.safe_load(open(rules_path))["groups"] for r in g["rules"]]
    errs = []
    for rule in rules:
        n = rule.get("alert") or rule.get("record")
        if "alert" not in rule:
            continue
        if "for" not in rule:
            errs.append("%s has no for:" % n)
        if rule.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
            errs.append("%s has no severity label" % n)
        for k in ("summary", "description", "runbook"):
            if not rule.get("annotations", {}).get(k, "").strip():
                errs.append("%s has no %s annotation" % (n, k))
    check("rules-shape", errs, "%d alerts: for, severity, summary, description, runbook" % len(rules))

    # each alert fires in some test case, and is expected silent in another
    tests = yaml.safe_load(open(test_path))
    pos, neg = set(), set()
    for t in tests["tests"]:
        for c in t.get("alert_rule_test", []):
            (pos if c.get("exp_alerts") else neg).add(c["alertname"])
    errs = []
    for rule in rules:
        if "alert" in rule:
            if rule["alert"] not in pos:
                errs.append("%s has no case where it fires" % rule["alert"])
            if rule["alert"] not in neg:
                errs.append("%s has no case where it must stay silent" % rule["alert"])
    if os.path.basename(rules_path) not in tests.get("rule_files", []):
        errs.append("the test file does not load %s" % os.path.basename(rules_path))
    check("rules-tests-both-ways", errs)


def check_rule_names(a, names, labels):
    rules_path = os.path.join(a.root, "deploy/prometheus/portlife.rules.yml")
    rules = [r for g in yaml.safe_load(open(rules_path))["groups"] for r in g["rules"]]
    errs, unchecked, missing = [], set(), {}
    for rule in rules:
        errs += expr_errors(rule["expr"], names, labels, rule.get("alert"), unchecked, missing)
    errs += missing_errors(missing)
    check("rules-metric-names", errs, "labels unchecked (no series in the run): %s" %
          (", ".join(sorted(unchecked)) or "none"))


def check_dashboard(a, names, labels):
    path = os.path.join(a.root, "deploy/grafana/portlife.json")
    try:
        d = json.load(open(path))
    except ValueError as e:
        ko("dashboard-json", str(e))
        return
    errs = []
    ids = [p["id"] for p in d["panels"]]
    if len(ids) != len(set(ids)):
        errs.append("panel ids repeat")
    cells = {}
    for p in d["panels"]:
        g = p["gridPos"]
        if g["x"] + g["w"] > 24:
            errs.append("panel %s is wider than the grid" % p["title"])
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    errs.append("panels %s and %s overlap" % (cells[(x, y)], p["title"]))
                cells[(x, y)] = p["title"]
        if p["type"] == "row":
            continue
        if not p.get("targets"):
            errs.append("panel %s has no query" % p["title"])
        for t in p.get("targets", []):
            if t.get("datasource", {}).get("uid") != "${datasource}":
                errs.append("panel %s queries a fixed data source" % p["title"])
    vars_ = {v["name"] for v in d["templating"]["list"]}
    if not {"datasource", "instance"} <= vars_:
        errs.append("templating lacks $datasource or $instance")
    check("dashboard-json", sorted(set(errs)), "%d panels" % len(d["panels"]))

    errs, unchecked, missing, n = [], set(), {}, 0
    for p in d["panels"]:
        for t in p.get("targets", []):
            n += 1
            errs += expr_errors(t["expr"], names, labels, "panel '%s' %s" % (p["title"], t["refId"]),
                                unchecked, missing)
    for v in d["templating"]["list"]:
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else None
        if q:
            n += 1
            m = re.match(r"label_values\((\w+),\s*(\w+)\)$", q)
            if not m:
                errs += expr_errors(q, names, labels, "variable " + v["name"], unchecked, missing)
            elif m.group(1) not in names:
                missing.setdefault(m.group(1), []).append("variable " + v["name"])
            elif m.group(2) not in labels.get(m.group(1), set()) | TARGET_LABELS:
                errs.append("variable %s: %s has no label %s" % (v["name"], m.group(1), m.group(2)))
    errs += missing_errors(missing)
    check("dashboard-metric-names", errs, "%d queries; labels unchecked (no series in the run): %s" %
          (n, ", ".join(sorted(unchecked)) or "none"))


# ---------------------------------------------------------------- live runs

# What portlife says at start on this machine; any other line of its own
# (a missing capability, a watcher that could not start) is a failure.
# The alerts line names what the mode cannot see on this kernel (no
# tcp_send_reset tracepoint before 6.10 and the like): a fact, not a fault.
EXPECTED_LINES = re.compile(r"portlife: (mode |better modes unavailable here|alerts: \w+ mode here sees no )")


# In a container with a cgroup namespace of its own and no host process in
# sight (systemd-nspawn), the tracepoint mode traces that container alone and
# says so: expected there, and there only.
CONTAINER_LINES = re.compile(r"portlife: the cgroup v2 tree here is a cgroup namespace's")


def unexpected_lines(text, container=False):
    """portlife's own lines ("portlife: ...", alone or after a journal prefix)
    other than the expected ones."""
    return [ln for ln in text.splitlines()
            if re.search(r"(^|\]: )portlife: ", ln) and not EXPECTED_LINES.search(ln)
            and not (container and CONTAINER_LINES.search(ln))]


def check_runs(runs, comm, capnum):
    texts = []
    want = expected_capeff(capnum.values())
    for name, run in sorted(runs.items()):
        errs = []
        rc = open(os.path.join(run, "rc")).read().strip()
        err = open(os.path.join(run, "stderr")).read()
        metrics = open(os.path.join(run, "metrics")).read() if os.path.exists(os.path.join(run, "metrics")) else ""
        cmd = open(os.path.join(run, "cmd")).read().split("\n")
        if rc != "0":
            errs.append("%s exited %s: %s" % (" ".join(cmd), rc, err.strip()[-300:]))
        if "portlife: mode " not in err:
            errs.append("it never said which mode it traces in")
        errs += ["it said: " + ln for ln in unexpected_lines(err)]
        errs += [ln for ln in err.splitlines() if ln.startswith("workload")]
        eff = open(os.path.join(run, "capeff")).read().strip() if os.path.exists(os.path.join(run, "capeff")) else ""
        if not eff or int(eff, 16) != want:
            errs.append("its effective capabilities were %s, not %x (%s, as far as this "
                        "host's bounding set %x allows)" %
                        (eff or "unknown", want, " ".join(sorted(capnum)), host_bounding_set()))
        got = re.search(r'^portlife_allocations_total\{comm="%s"\} (\d+)$' % re.escape(comm), metrics, re.M)
        if not got or int(got.group(1)) == 0:
            errs.append("no allocations of the workload (%s) in its metrics" % comm)
        if not re.search(r'^portlife_allocation_failures_total\{comm="%s",errno="EADDRINUSE"\} [1-9]' %
                         re.escape(comm), metrics, re.M):
            errs.append("the workload's bind() conflict is not in its metrics")
        check("run-%s" % name, errs, "traced with CapEff %s only; %s" % (eff,
              got.group(0) if got else ""))
        texts.append(metrics)
    return texts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--stage", required=True, help="make install DESTDIR=STAGE PREFIX=/usr")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--bindir", required=True, help="the BINDIR of that install")
    ap.add_argument("--help-text", required=True)
    ap.add_argument("--comm", required=True, help="the workload's process name")
    ap.add_argument("--run", action="append", default=[], help="NAME=DIR")
    a = ap.parse_args()
    a.usr_bin = a.bindir + "/portlife"
    help_text = open(a.help_text).read()
    caps = loader_caps(a.root)
    runs = dict(r.split("=", 1) for r in a.run)

    check_unit(a, help_text, caps, runs)
    entry = check_containerfile(a, help_text)
    check_daemonset(a, help_text, caps, entry, runs)
    texts = check_runs(runs, a.comm, loader_caps(a.root, numbers=True)) if runs else []
    check_rules(a)
    names, labels, series = exporter_families(texts)
    if texts:	# else check.sh said SKIP: no root, no exporter run
        check_rule_names(a, names, labels)
        check_dashboard(a, names, labels)
    print("check.py: %d passed, %d failed" % (results.count(True), results.count(False)))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
