#!/usr/bin/env python3
"""kube_double: a Kubernetes API server test double for lunar's integration tests.

Python 3 standard library only.  Serves HTTPS (own CA made with the openssl CLI),
authenticates bearer tokens and client certificates, stores namespaces, pods,
secrets, configmaps, events and serviceaccounts, supports watch, pods/log, and
really runs pod containers as local processes.  See README.md in this folder.

    python3 server.py --state-dir DIR [--port 0] [--faults FILE]
"""
import argparse
import base64
import copy
import datetime
import json
import os
import random
import re
import secrets as pysecrets
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# ----------------------------------------------------------------------------
# helpers


def now_ts():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def nano_ts(t):
    dt = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%09dZ" % int(round((t % 1) * 1e9) % 1000000000)


def parse_ts(s):
    s = s.strip()
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", s)
    if not m:
        raise ValueError(s)
    base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    tz = m.group(3)
    if tz == "Z":
        off = 0
    else:
        off = (int(tz[1:3]) * 60 + int(tz[4:6])) * 60 * (1 if tz[0] == "+" else -1)
    t = base.replace(tzinfo=datetime.timezone.utc).timestamp() - off
    if m.group(2):
        t += float("0" + m.group(2))
    return t


def status_body(code, reason, message, details=None):
    b = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason}
    if details is not None:
        b["details"] = details
    b["code"] = code
    return b


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.body = status_body(code, reason, message, details)
        self.code = code
        self.headers = headers or {}


def not_found(resource, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (resource, name),
                    {"name": name, "kind": resource})


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def get_path(obj, dotted):
    cur = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


# ----------------------------------------------------------------------------
# selectors


def split_selector(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def parse_label_selector(s):
    terms = []
    for p in split_selector(s or ""):
        m = re.match(r"^([\w./-]+)\s+(in|notin)\s*\((.*)\)$", p)
        if m:
            vals = set(v.strip() for v in m.group(3).split(",") if v.strip())
            terms.append((m.group(2), m.group(1), vals))
            continue
        m = re.match(r"^([\w./-]+)\s*(==|!=|=)\s*([\w./-]*)$", p)
        if m:
            terms.append(({"==": "=", "=": "=", "!=": "!="}[m.group(2)], m.group(1), m.group(3)))
            continue
        m = re.match(r"^(!?)\s*([\w./-]+)$", p)
        if m:
            terms.append(("!exists" if m.group(1) else "exists", m.group(2), None))
            continue
        raise ApiError(400, "BadRequest", "unable to parse requirement: invalid label selector: %r" % p)
    return terms


def match_labels(terms, labels):
    labels = labels or {}
    for op, k, v in terms:
        has = k in labels
        if op == "=" and labels.get(k) != v:
            return False
        if op == "!=" and has and labels[k] == v:
            return False
        if op == "in" and (not has or labels[k] not in v):
            return False
        if op == "notin" and has and labels[k] in v:
            return False
        if op == "exists" and not has:
            return False
        if op == "!exists" and has:
            return False
    return True


def parse_field_selector(s):
    terms = []
    for p in split_selector(s or ""):
        m = re.match(r"^([\w.]+)\s*(==|!=|=)\s*(.*)$", p)
        if not m:
            raise ApiError(400, "BadRequest", 'invalid selector: \'%s\'; can\'t understand \'%s\'' % (s, p))
        terms.append((m.group(1), m.group(2) != "!=", m.group(3)))
    return terms


def match_fields(terms, obj):
    for path, eq, val in terms:
        v = get_path(obj, path)
        v = "" if v is None else str(v)
        if (v == val) != eq:
            return False
    return True


# ----------------------------------------------------------------------------
# store

RESOURCES = {
    # plural: (Kind, namespaced)
    "namespaces": ("Namespace", False),
    "pods": ("Pod", True),
    "secrets": ("Secret", True),
    "configmaps": ("ConfigMap", True),
    "events": ("Event", True),
    "serviceaccounts": ("ServiceAccount", True),
}


class Store:
    def __init__(self, history_size=500):
        self.cond = threading.Condition(threading.RLock())
        self.rv = 1
        self.objs = {r: {} for r in RESOURCES}
        self.history = deque(maxlen=history_size)
        self.compacted_rv = 1  # events with rv <= this are no longer retained

    def _bump(self):
        self.rv += 1
        return self.rv

    def _record(self, resource, ns, etype, obj):
        if len(self.history) == self.history.maxlen:
            self.compacted_rv = self.history[0][0]
        self.history.append((int(obj["metadata"]["resourceVersion"]), resource, ns, etype,
                             copy.deepcopy(obj)))
        self.cond.notify_all()

    def compact(self):
        with self.cond:
            self.history.clear()
            self.compacted_rv = self.rv

    def oldest_rv(self):
        return self.compacted_rv

    def get(self, resource, ns, name):
        return self.objs[resource].get((ns, name))

    def create(self, resource, ns, obj):
        with self.cond:
            md = obj.setdefault("metadata", {})
            kind = RESOURCES[resource][0]
            name = md.get("name")
            if not name and md.get("generateName"):
                for _ in range(20):
                    name = md["generateName"] + "".join(random.choice("bcdfghjklmnpqrstvwxz2456789")
                                                        for _ in range(5))
                    if (ns, name) not in self.objs[resource]:
                        break
                md["name"] = name
            if not name:
                raise ApiError(422, "Invalid",
                               '%s "" is invalid: metadata.name: Required value: name or generateName is required' % kind,
                               {"kind": kind, "causes": [{"reason": "FieldValueRequired",
                                                          "message": "Required value: name or generateName is required",
                                                          "field": "metadata.name"}]})
            if not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", name) or len(name) > 253:
                msg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
                raise ApiError(422, "Invalid", '%s "%s" is invalid: metadata.name: Invalid value: "%s": %s' % (kind, name, name, msg),
                               {"name": name, "kind": kind, "causes": [{"reason": "FieldValueInvalid",
                                                                       "message": 'Invalid value: "%s": %s' % (name, msg),
                                                                       "field": "metadata.name"}]})
            if (ns, name) in self.objs[resource]:
                raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (resource, name),
                               {"name": name, "kind": resource})
            obj["kind"] = kind
            obj["apiVersion"] = "v1"
            if ns is not None:
                md["namespace"] = ns
            else:
                md.pop("namespace", None)
            md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = now_ts()
            md.pop("deletionTimestamp", None)
            if resource == "pods":
                md["generation"] = 1
            md["resourceVersion"] = str(self._bump())
            self.objs[resource][(ns, name)] = obj
            self._record(resource, ns, "ADDED", obj)
            return copy.deepcopy(obj)

    def update(self, resource, ns, name, fn, expect_rv=None):
        """fn(obj) mutates a copy; returns the new object."""
        with self.cond:
            cur = self.objs[resource].get((ns, name))
            if cur is None:
                raise not_found(resource, name)
            if expect_rv and expect_rv != cur["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict",
                               'Operation cannot be fulfilled on %s "%s": the object has been modified; please apply your changes to the latest version and try again' % (resource, name),
                               {"name": name, "kind": resource})
            new = copy.deepcopy(cur)
            fn(new)
            # immutable metadata
            for k in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp"):
                if k in cur["metadata"]:
                    new["metadata"][k] = cur["metadata"][k]
            new["kind"], new["apiVersion"] = cur["kind"], cur["apiVersion"]
            if new == cur:
                return copy.deepcopy(cur)
            if resource == "pods" and dict(new.get("spec") or {}, nodeName=None) != dict(cur.get("spec") or {}, nodeName=None):
                new["metadata"]["generation"] = cur["metadata"].get("generation", 1) + 1
            new["metadata"]["resourceVersion"] = str(self._bump())
            self.objs[resource][(ns, name)] = new
            self._record(resource, ns, "MODIFIED", new)
            return copy.deepcopy(new)

    def remove(self, resource, ns, name, uid=None):
        with self.cond:
            cur = self.objs[resource].get((ns, name))
            if cur is None or (uid and cur["metadata"]["uid"] != uid):
                return None
            del self.objs[resource][(ns, name)]
            cur = copy.deepcopy(cur)
            cur["metadata"]["resourceVersion"] = str(self._bump())
            self._record(resource, ns, "DELETED", cur)
            return cur

    def list(self, resource, ns):
        with self.cond:
            return [copy.deepcopy(o) for (n, _), o in sorted(self.objs[resource].items(),
                                                            key=lambda kv: int(kv[1]["metadata"]["resourceVersion"]))
                    if ns is None or n == ns]


# ----------------------------------------------------------------------------
# faults


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.data = {"rules": []}

    def set(self, d):
        with self.lock:
            for k, v in d.items():
                if k == "compact":
                    continue
                self.data[k] = copy.deepcopy(v)
            for r in self.data.get("rules", []):
                r.setdefault("times", -1)

    def reset(self):
        with self.lock:
            self.data = {"rules": []}

    def snapshot(self):
        with self.lock:
            return copy.deepcopy(self.data)

    def get(self, key, default=None):
        with self.lock:
            return self.data.get(key, default)

    def take(self, method, path, query, kinds):
        """Return the first matching rule with one of kinds, consuming one use."""
        full = path + ("?" + query if query else "")
        with self.lock:
            for r in self.data.get("rules", []):
                if r.get("times", -1) == 0:
                    continue
                if r.get("method") and r["method"].upper() != method:
                    continue
                if not re.search(r.get("path", ""), full):
                    continue
                if not any(k in r for k in kinds):
                    continue
                if r.get("watch_only") and "watch=" not in query:
                    continue
                if r.get("times", -1) > 0:
                    r["times"] -= 1
                return dict(r)
        return None


# ----------------------------------------------------------------------------
# pod runtime

IS_ROOT = os.geteuid() == 0

MOUNT_SCRIPT = r'''
set -e
while [ "$1" != "--" ]; do
  src="$1"; dst="$2"; ro="$3"; shift 3
  if [ -d "$src" ]; then mkdir -p "$dst"; else mkdir -p "$(dirname "$dst")"; [ -e "$dst" ] || : > "$dst"; fi
  mount --bind "$src" "$dst"
  if [ "$ro" = 1 ]; then mount -o remount,bind,ro "$dst"; fi
done
shift
wd="$1"; shift
if [ -n "$wd" ]; then mkdir -p "$wd"; cd "$wd"; fi
exec "$@"
'''


class ContainerRun:
    def __init__(self, name):
        self.name = name
        self.proc = None
        self.log = []          # list of (time, bytes line)
        self.eof = False
        self.started = None
        self.finished = None
        self.exit_code = None
        self.sidecar = False
        self.stopping = False


class PodRunner(threading.Thread):
    def __init__(self, server, ns, name, uid):
        super().__init__(daemon=True, name="pod-%s/%s" % (ns, name))
        self.srv = server
        self.store = server.store
        self.ns, self.name, self.uid = ns, name, uid
        self.runs = {}        # container name -> ContainerRun (current)
        self.dir = tempfile.mkdtemp(prefix="pod-%s-" % name, dir=server.pods_dir)
        self.killed = threading.Event()
        self.done = threading.Event()
        self.deadline_hit = False
        self.start_time = None

    # -- status helpers
    def upd(self, fn):
        def wrap(o):
            if o["metadata"]["uid"] == self.uid:
                fn(o)
        try:
            return self.store.update("pods", self.ns, self.name, wrap)
        except ApiError:
            return None

    def pod(self):
        with self.store.cond:
            o = self.store.get("pods", self.ns, self.name)
            if o is None or o["metadata"]["uid"] != self.uid:
                return None
            return copy.deepcopy(o)

    @staticmethod
    def cond(status, ctype, val, reason=None, message=None):
        conds = status.setdefault("conditions", [])
        for c in conds:
            if c["type"] == ctype:
                break
        else:
            c = {"type": ctype}
            conds.append(c)
        if c.get("status") != val:
            c["lastTransitionTime"] = now_ts()
        c["status"] = val
        c["lastProbeTime"] = None
        for k, v in (("reason", reason), ("message", message)):
            if v:
                c[k] = v
            else:
                c.pop(k, None)

    def set_cstatus(self, key, cname, image, state, ready=False, started=None, restarts=0, last=None):
        def fn(o):
            st = o.setdefault("status", {})
            lst = st.setdefault(key, [])
            for cs in lst:
                if cs["name"] == cname:
                    break
            else:
                cs = {"name": cname}
                lst.append(cs)
            cs.update({"state": state, "lastState": last or {}, "ready": ready, "restartCount": restarts,
                       "image": image, "imageID": "", })
            if started is not None:
                cs["started"] = started
            if "running" in state or "terminated" in state:
                cs["imageID"] = "docker-pullable://%s@sha256:%s" % (image, "0" * 64)
                cs["containerID"] = "containerd://%s" % uuid.uuid5(uuid.NAMESPACE_OID, self.uid + cname).hex
        self.upd(fn)

    # -- volumes
    def prepare_volumes(self, pod):
        vols = {}
        for v in pod["spec"].get("volumes") or []:
            vname = v.get("name")
            if "hostPath" in v:
                vols[vname] = v["hostPath"].get("path")
                continue
            d = os.path.join(self.dir, "volumes", vname)
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o777)
            if "secret" in v or "configMap" in v:
                src = v.get("secret") or v.get("configMap")
                res = "secrets" if "secret" in v else "configmaps"
                oname = src.get("secretName") if res == "secrets" else src.get("name")
                with self.store.cond:
                    obj = copy.deepcopy(self.store.get(res, self.ns, oname))
                if obj is None:
                    if src.get("optional"):
                        vols[vname] = d
                        continue
                    raise RuntimeError('%s "%s" not found' % ("secret" if res == "secrets" else "configmap", oname))
                data = {}
                if res == "secrets":
                    for k, val in (obj.get("data") or {}).items():
                        data[k] = base64.b64decode(val)
                else:
                    for k, val in (obj.get("data") or {}).items():
                        data[k] = val.encode()
                    for k, val in (obj.get("binaryData") or {}).items():
                        data[k] = base64.b64decode(val)
                mode = src.get("defaultMode", 0o644)
                items = src.get("items")
                if items:
                    files = [(it["key"], it["path"], it.get("mode", mode)) for it in items if it["key"] in data]
                else:
                    files = [(k, k, mode) for k in data]
                for key, path, m in files:
                    fp = os.path.join(d, path)
                    os.makedirs(os.path.dirname(fp), exist_ok=True)
                    with open(fp, "wb") as f:
                        f.write(data[key])
                    os.chmod(fp, m)
            vols[vname] = d
        return vols

    def env_for(self, pod, c):
        env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
               "HOSTNAME": self.name, "HOME": "/root" if IS_ROOT else os.environ.get("HOME", "/tmp"),
               "KUBERNETES_SERVICE_HOST": "127.0.0.1",
               "KUBERNETES_SERVICE_PORT": str(self.srv.port)}
        for e in c.get("env") or []:
            n = e["name"]
            if "value" in e:
                env[n] = expand(e.get("value") or "", env)
            elif "valueFrom" in e:
                vf = e["valueFrom"]
                if "secretKeyRef" in vf or "configMapKeyRef" in vf:
                    ref = vf.get("secretKeyRef") or vf.get("configMapKeyRef")
                    res = "secrets" if "secretKeyRef" in vf else "configmaps"
                    with self.store.cond:
                        obj = self.store.get(res, self.ns, ref.get("name"))
                        val = None if obj is None else (obj.get("data") or {}).get(ref.get("key"))
                    if val is None:
                        if ref.get("optional"):
                            continue
                        raise RuntimeError('couldn\'t find key %s in %s %s/%s' % (
                            ref.get("key"), "Secret" if res == "secrets" else "ConfigMap", self.ns, ref.get("name")))
                    env[n] = base64.b64decode(val).decode("utf-8", "replace") if res == "secrets" else val
                elif "fieldRef" in vf:
                    fp = vf["fieldRef"].get("fieldPath", "")
                    m = re.match(r"metadata\.(labels|annotations)\['(.*)'\]$", fp)
                    if m:
                        env[n] = (pod["metadata"].get(m.group(1)) or {}).get(m.group(2), "")
                    else:
                        v = get_path(pod, fp)
                        env[n] = "" if v is None else str(v)
        return env

    def command_for(self, c, env, vols):
        cmd = [expand(x, env) for x in (c.get("command") or [])]
        args = [expand(x, env) for x in (c.get("args") or [])]
        argv = cmd + args
        if not argv:
            argv = ["sleep", "2147483647"]  # image default entrypoint unknown: keep the container up
        mounts = []
        for m in c.get("volumeMounts") or []:
            src = vols.get(m.get("name"))
            if src is None:
                raise RuntimeError('volume "%s" not found' % m.get("name"))
            if m.get("subPath"):
                src = os.path.join(src, m["subPath"])
                if not os.path.exists(src):
                    os.makedirs(src, exist_ok=True)
            mounts.append((src, m["mountPath"], "1" if m.get("readOnly") else "0"))
        wd = c.get("workingDir") or ""
        if not IS_ROOT:
            if mounts:
                raise RuntimeError("kube_double: volumeMounts need root (private mount namespaces); "
                                   "run the double as root")
            return argv, wd or None
        full = ["unshare", "--mount", "--propagation", "private", "sh", "-c", MOUNT_SCRIPT, "kube-double"]
        for s, d, ro in mounts:
            full += [s, d, ro]
        full += ["--", wd] + argv
        return full, None

    def start_container(self, pod, c, vols, key, sidecar=False):
        cname = c["name"]
        run = ContainerRun(cname)
        run.sidecar = sidecar
        env = self.env_for(pod, c)
        argv, cwd = self.command_for(c, env, vols)
        run.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                    start_new_session=True)
        run.started = time.time()
        with self.store.cond:
            self.runs[cname] = run
            self.srv.procs.add(run.proc)
        threading.Thread(target=self._reader, args=(run,), daemon=True).start()
        threading.Thread(target=self._waiter, args=(run,), daemon=True).start()
        self.set_cstatus(key, cname, c.get("image", ""),
                         {"running": {"startedAt": now_ts()}}, ready=True, started=True)
        return run

    def _reader(self, run):
        buf = b""
        fd = run.proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            t = time.time()
            if chunk:
                buf += chunk
                lines = buf.split(b"\n")
                buf = lines.pop()
                with self.store.cond:
                    for ln in lines:
                        run.log.append((t, ln + b"\n"))
                    self.store.cond.notify_all()
                continue
            with self.store.cond:
                if buf:
                    run.log.append((t, buf))
                run.eof = True
                self.store.cond.notify_all()
            break
        run.proc.stdout.close()

    def _waiter(self, run):
        rc = run.proc.wait()
        try:
            os.killpg(run.proc.pid, signal.SIGKILL)  # the container's other processes die with it
        except OSError:
            pass
        with self.store.cond:
            deadline = time.time() + 2
            while not run.eof and time.time() < deadline:
                self.store.cond.wait(0.1)
            run.exit_code = rc if rc >= 0 else 128 - rc
            run.finished = time.time()
            self.srv.procs.discard(run.proc)
            self.store.cond.notify_all()

    def wait_runs(self, runs, timeout=None):
        with self.store.cond:
            end = None if timeout is None else time.time() + timeout
            while any(r.exit_code is None for r in runs):
                if self.killed.is_set() or self.deadline_due():
                    return False
                rem = 0.2 if end is None else min(0.2, end - time.time())
                if rem <= 0:
                    return False
                self.store.cond.wait(rem)
        return True

    def deadline_due(self):
        ads = self.active_deadline
        return ads is not None and self.start_time is not None and time.time() - self.start_time >= ads

    def terminated_state(self, run):
        return {"terminated": {"exitCode": run.exit_code,
                               "reason": "Completed" if run.exit_code == 0 else "Error",
                               "startedAt": nano_ts(run.started)[:19] + "Z",
                               "finishedAt": nano_ts(run.finished)[:19] + "Z",
                               "containerID": "containerd://%s" % uuid.uuid5(uuid.NAMESPACE_OID, self.uid + run.name).hex}}

    def stop_runs(self, runs, grace):
        for r in runs:
            if r.exit_code is None and r.proc:
                r.stopping = True
                try:
                    os.killpg(r.proc.pid, signal.SIGTERM)
                except OSError:
                    pass
        end = time.time() + max(grace, 0)
        with self.store.cond:
            while any(r.exit_code is None for r in runs) and time.time() < end:
                self.store.cond.wait(0.1)
        for r in runs:
            if r.exit_code is None and r.proc:
                try:
                    os.killpg(r.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
        with self.store.cond:
            end = time.time() + 5
            while any(r.exit_code is None and r.proc for r in runs) and time.time() < end:
                self.store.cond.wait(0.1)

    def image_fails(self, image):
        pat = self.srv.faults.get("image_pull_fail")
        return bool(pat) and re.search(pat, image or "") is not None

    def pull_or_wait(self, key, c):
        """Return True if the image 'pulls'; otherwise park in ErrImagePull/ImagePullBackOff."""
        if not self.image_fails(c.get("image")):
            return True
        img = c.get("image", "")
        msg = 'failed to pull and unpack image "%s": failed to resolve reference "%s": not found' % (img, img)
        self.set_cstatus(key, c["name"], img, {"waiting": {"reason": "ErrImagePull", "message": msg}}, started=False)
        t0 = time.time()
        backoff = False
        while not self.killed.is_set() and not self.deadline_due():
            if not self.image_fails(img):
                return True
            if not backoff and time.time() - t0 > 1.0:
                backoff = True
                self.set_cstatus(key, c["name"], img, {"waiting": {"reason": "ImagePullBackOff",
                                                                   "message": 'Back-off pulling image "%s"' % img}},
                                 started=False)
            time.sleep(0.1)
        return False

    # -- main lifecycle
    def run(self):
        try:
            self._lifecycle()
        except Exception as e:  # noqa: a broken pod must not kill the server
            sys.stderr.write("kube_double: pod %s/%s: %r\n" % (self.ns, self.name, e))
            def fn(o):
                st = o.setdefault("status", {})
                st["phase"] = "Failed"
                st["reason"] = "StartError"
                st["message"] = str(e)
            self.upd(fn)
            self.stop_runs(list(self.runs.values()), 0)
        finally:
            self.done.set()
            with self.store.cond:
                self.store.cond.notify_all()

    def fail_deadline(self):
        all_runs = list(self.runs.values())
        self.stop_runs(all_runs, 0)
        pod = self.pod()
        if pod is None:
            return
        for key, lst in (("initContainerStatuses", pod["spec"].get("initContainers") or []),
                         ("containerStatuses", pod["spec"].get("containers") or [])):
            for c in lst:
                r = self.runs.get(c["name"])
                if r and r.exit_code is not None:
                    self.set_cstatus(key, c["name"], c.get("image", ""), self.terminated_state(r), started=False)

        def fn(o):
            st = o.setdefault("status", {})
            st["phase"] = "Failed"
            st["reason"] = "DeadlineExceeded"
            st["message"] = "Pod was active on the node longer than the specified deadline"
            self.cond(st, "Ready", "False", "PodFailed")
            self.cond(st, "ContainersReady", "False", "PodFailed")
        self.upd(fn)

    def _lifecycle(self):
        pod = self.pod()
        if pod is None:
            return
        spec = pod["spec"]
        self.active_deadline = spec.get("activeDeadlineSeconds")
        inits = spec.get("initContainers") or []
        conts = spec.get("containers") or []
        delay = float(self.srv.faults.get("scheduling_delay", 0) or 0)
        end = time.time() + delay
        while time.time() < end:
            if self.killed.is_set():
                return
            time.sleep(0.05)
        self.start_time = time.time()

        def sched(o):
            st = o.setdefault("status", {})
            o["spec"]["nodeName"] = o["spec"].get("nodeName") or "kube-double"
            st["phase"] = "Pending"
            st["hostIP"] = "127.0.0.1"
            st["podIP"] = "127.0.0.1"
            st["podIPs"] = [{"ip": "127.0.0.1"}]
            st["startTime"] = now_ts()
            self.cond(st, "PodReadyToStartContainers", "True")
            if inits:
                self.cond(st, "Initialized", "False", "ContainersNotInitialized",
                          "containers with incomplete status: [%s]" % " ".join(c["name"] for c in inits))
            else:
                self.cond(st, "Initialized", "True")
            names = " ".join(c["name"] for c in conts)
            self.cond(st, "Ready", "False", "ContainersNotReady", "containers with unready status: [%s]" % names)
            self.cond(st, "ContainersReady", "False", "ContainersNotReady", "containers with unready status: [%s]" % names)
            self.cond(st, "PodScheduled", "True")
            st["initContainerStatuses"] = [
                {"name": c["name"], "state": {"waiting": {"reason": "PodInitializing"}}, "lastState": {},
                 "ready": False, "restartCount": 0, "image": c.get("image", ""), "imageID": "", "started": False}
                for c in inits] if inits else None
            if st["initContainerStatuses"] is None:
                del st["initContainerStatuses"]
            st["containerStatuses"] = [
                {"name": c["name"], "state": {"waiting": {"reason": "PodInitializing" if inits else "ContainerCreating"}},
                 "lastState": {}, "ready": False, "restartCount": 0, "image": c.get("image", ""), "imageID": "",
                 "started": False} for c in conts]
            st["qosClass"] = st.get("qosClass", "BestEffort")
        self.upd(sched)
        vols = self.prepare_volumes(pod)
        sidecars = []
        # init containers, in order
        for c in inits:
            if not self.pull_or_wait("initContainerStatuses", c):
                break
            if self.killed.is_set():
                return
            if c.get("restartPolicy") == "Always":
                sidecars.append(self.start_container(pod, c, vols, "initContainerStatuses", sidecar=True))
                continue
            run = self.start_container(pod, c, vols, "initContainerStatuses")
            self.set_cstatus("initContainerStatuses", c["name"], c.get("image", ""),
                             {"running": {"startedAt": now_ts()}}, ready=False, started=True)
            if not self.wait_runs([run]):
                break
            self.set_cstatus("initContainerStatuses", c["name"], c.get("image", ""), self.terminated_state(run),
                             ready=run.exit_code == 0, started=False)
            if run.exit_code != 0:
                self.stop_runs(sidecars, 1)
                for s in sidecars:
                    self.set_cstatus("initContainerStatuses", s.name, "", self.terminated_state(s), started=False)

                def failed(o):
                    st = o["status"]
                    st["phase"] = "Failed"
                    self.cond(st, "Initialized", "False", "ContainersNotInitialized",
                              "containers with incomplete status: [%s]" % c["name"])
                    for cs in st.get("containerStatuses", []):
                        cs["state"] = {"waiting": {"reason": "PodInitializing"}}
                self.upd(failed)
                return
        else:
            self.upd(lambda o: self.cond(o["status"], "Initialized", "True"))
            runs = []
            for c in conts:
                if not self.pull_or_wait("containerStatuses", c):
                    break
                if self.killed.is_set():
                    return
                runs.append(self.start_container(pod, c, vols, "containerStatuses"))
            else:
                def running(o):
                    st = o["status"]
                    st["phase"] = "Running"
                    self.cond(st, "Ready", "True")
                    self.cond(st, "ContainersReady", "True")
                self.upd(running)
                # report each container's end as it happens
                pending = list(runs)
                while pending:
                    if not self.wait_runs(pending[:1]) and pending[0].exit_code is None:
                        if self.killed.is_set():
                            return
                        if self.deadline_due():
                            break
                        continue
                    r = pending.pop(0)
                    img = next((c.get("image", "") for c in conts if c["name"] == r.name), "")
                    self.set_cstatus("containerStatuses", r.name, img, self.terminated_state(r), started=False)
                    if pending:
                        def notready(o, name=r.name):
                            st = o["status"]
                            self.cond(st, "Ready", "False", "ContainersNotReady",
                                      "containers with unready status: [%s]" % name)
                            self.cond(st, "ContainersReady", "False", "ContainersNotReady",
                                      "containers with unready status: [%s]" % name)
                        self.upd(notready)
                else:
                    if self.killed.is_set():
                        return
                    self.stop_runs(sidecars, int(spec.get("terminationGracePeriodSeconds", 30)))
                    for s in sidecars:
                        img = next((c.get("image", "") for c in inits if c["name"] == s.name), "")
                        self.set_cstatus("initContainerStatuses", s.name, img, self.terminated_state(s),
                                         started=False)
                    ok = all(r.exit_code == 0 for r in runs)

                    def ended(o):
                        st = o["status"]
                        st["phase"] = "Succeeded" if ok else "Failed"
                        self.cond(st, "Ready", "False", "PodCompleted")
                        self.cond(st, "ContainersReady", "False", "PodCompleted")
                    self.upd(ended)
                    return
        # blocked (image pull) or deadline: wait for deadline or deletion
        while not self.killed.is_set():
            if self.deadline_due():
                self.fail_deadline()
                return
            time.sleep(0.1)

    def kill(self, grace):
        self.killed.set()
        self.stop_runs(list(self.runs.values()), grace)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def expand(s, env):
    """Kubernetes $(VAR) expansion; $$(VAR) escapes."""
    return re.sub(r"\$\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: m.group(0)[1:] if m.group(0).startswith("$$")
                  else (env.get(m.group(2), m.group(0))), s)


# ----------------------------------------------------------------------------
# TLS material


def run_openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_pki(d):
    os.makedirs(d, exist_ok=True)
    run_openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
                "-days", "3650", "-subj", "/CN=kube-double-ca", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
                "basicConstraints=CA:FALSE\n")
    with open(os.path.join(d, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n")
    for who, subj in (("server", "/CN=kube-apiserver"), ("client", "/O=system:masters/CN=lunar-admin")):
        run_openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", who + ".key", "-out", who + ".csr",
                    "-subj", subj, cwd=d)
        run_openssl("x509", "-req", "-in", who + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                    "-days", "3650", "-out", who + ".crt", "-extfile", who + ".ext", cwd=d)
    return {k: os.path.join(d, k) for k in ("ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key")}


def b64file(p):
    with open(p, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write_kubeconfig(path, url, pki, token):
    # JSON is valid YAML, so every kubeconfig reader accepts this file.
    cfg = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "kube-double", "cluster": {"server": url,
                                                          "certificate-authority-data": b64file(pki["ca.crt"])}}],
        "users": [{"name": "cert-user", "user": {"client-certificate-data": b64file(pki["client.crt"]),
                                                 "client-key-data": b64file(pki["client.key"])}},
                  {"name": "token-user", "user": {"token": token}}],
        "contexts": [{"name": "cert-user", "context": {"cluster": "kube-double", "user": "cert-user",
                                                       "namespace": "ci"}},
                     {"name": "token-user", "context": {"cluster": "kube-double", "user": "token-user",
                                                        "namespace": "ci"}}],
        "current-context": "token-user",
    }
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)


# ----------------------------------------------------------------------------
# HTTP


class User:
    def __init__(self, name, groups, admin):
        self.name, self.groups, self.admin = name, groups, admin


RESTRICTED_USER = "system:serviceaccount:ci:restricted"


def allowed(user, verb, resource, sub=""):
    if user.admin:
        return True
    if user.name == RESTRICTED_USER:
        return resource == "pods" and not sub and verb in ("get", "list")
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-double/1.0"

    def log_message(self, fmt, *args):
        if os.environ.get("KUBE_DOUBLE_VERBOSE"):
            sys.stderr.write("kube_double: " + (fmt % args) + "\n")

    # -- low level
    def send_json(self, code, obj, headers=None):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.status_code = code

    def start_chunked(self, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()
        self.status_code = 200

    def chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self):
        """Abort a stream without the terminating chunk."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            return data
        return self.rfile.read(n) if n else b""

    def json_body(self):
        raw = self.read_body()
        try:
            return json.loads(raw.decode() or "null")
        except ValueError as e:
            raise ApiError(400, "BadRequest", "the object provided is unrecognized: %s" % e)

    # -- auth
    def authenticate(self):
        auth = self.headers.get("Authorization", "")
        srv = self.server.double
        if auth.startswith("Bearer "):
            tok = auth[7:].strip()
            if tok == srv.admin_token:
                return User("kube-double-admin", ["system:masters", "system:authenticated"], True)
            if tok == srv.restricted_token:
                return User(RESTRICTED_USER, ["system:serviceaccounts", "system:serviceaccounts:ci",
                                              "system:authenticated"], False)
            return None
        try:
            cert = self.connection.getpeercert()
        except (AttributeError, ValueError):
            cert = None
        if cert:
            cn, groups = None, []
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        groups.append(v)
            if cn:
                return User(cn, groups + ["system:authenticated"], "system:masters" in groups)
        return None

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def dispatch(self):
        srv = self.server.double
        u = urllib.parse.urlsplit(self.path)
        path, query = u.path, u.query
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
        self.status_code = 0
        user = None
        try:
            if path in ("/healthz", "/readyz", "/livez"):
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(body)
                self.status_code = 200
                return
            user = self.authenticate()
            if user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if path.startswith("/_double/"):
                if not user.admin:
                    raise ApiError(403, "Forbidden", "the kube_double control endpoint needs the admin token")
                return self.control(path, q)
            rule = srv.faults.take(self.command, path, query, ("latency",))
            if rule:
                time.sleep(float(rule["latency"]))
            rule = srv.faults.take(self.command, path, query, ("error",))
            if rule:
                code = int(rule["error"])
                if code == 429:
                    ra = str(rule.get("retry_after", 1))
                    raise ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                                   {"causes": [{"reason": "RetryAfter", "message": "Retry after %s" % ra}],
                                    "retryAfterSeconds": int(float(ra))},
                                   headers={"Retry-After": ra})
                if code == 503:
                    raise ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request")
                raise ApiError(code, "InternalError",
                               rule.get("message", "Internal error occurred: injected fault"),
                               {"causes": [{"message": "injected fault"}]})
            self.route(user, path, q, query)
        except ApiError as e:
            if self.command in ("POST", "PUT", "PATCH") and self.headers.get("Content-Length"):
                try:
                    self.read_body()
                except Exception:
                    pass
            self.send_json(e.code, e.body, e.headers)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        finally:
            if not path.startswith("/_double/"):
                srv.log_request_entry(self.command, path, query, user.name if user else None, self.status_code)

    # -- control endpoint
    def control(self, path, q):
        srv = self.server.double
        if path == "/_double/faults":
            if self.command == "GET":
                return self.send_json(200, srv.faults.snapshot())
            if self.command == "DELETE":
                srv.faults.reset()
                return self.send_json(200, srv.faults.snapshot())
            if self.command in ("POST", "PUT"):
                d = self.json_body() or {}
                if d.pop("reset", False):
                    srv.faults.reset()
                if d.get("compact"):
                    srv.store.compact()
                srv.faults.set(d)
                return self.send_json(200, srv.faults.snapshot())
        if path == "/_double/requests":
            if self.command == "DELETE":
                with srv.req_lock:
                    srv.requests.clear()
                return self.send_json(200, {"items": []})
            with srv.req_lock:
                return self.send_json(200, {"items": list(srv.requests)})
        if path == "/_double/compact":
            srv.store.compact()
            return self.send_json(200, {"resourceVersion": str(srv.store.rv)})
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    # -- routing
    def route(self, user, path, q, query):
        srv = self.server.double
        m = self.command
        if path == "/version":
            return self.send_json(200, {"major": "1", "minor": "29", "gitVersion": "v1.29.0-kube-double",
                                        "gitCommit": "0" * 40, "gitTreeState": "clean",
                                        "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.21.5",
                                        "compiler": "gc", "platform": "linux/amd64"})
        if path == "/api":
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                                        "serverAddress": "127.0.0.1:%d" % srv.port}]})
        if path == "/apis":
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": "authorization.k8s.io",
                 "versions": [{"groupVersion": "authorization.k8s.io/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": "authorization.k8s.io/v1", "version": "v1"}}]})
        if path == "/api/v1":
            return self.send_json(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": r, "singularName": k.lower(), "namespaced": nsd, "kind": k,
                 "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
                for r, (k, nsd) in RESOURCES.items()]})
        if path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" and m == "POST":
            return self.ssar(user)
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        if parts[:2] != ["api", "v1"] or len(parts) < 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        rest = parts[2:]
        ns = name = sub = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns = rest[1]
            resource = rest[2]
            name = rest[3] if len(rest) > 3 else None
            sub = rest[4] if len(rest) > 4 else None
            if len(rest) > 5:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if resource not in RESOURCES or not RESOURCES[resource][1]:
                if len(rest) == 3 and rest[0] == "namespaces":
                    pass
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        else:
            resource = rest[0]
            name = rest[1] if len(rest) > 1 else None
            sub = rest[2] if len(rest) > 2 else None
            if resource not in RESOURCES or len(rest) > 3:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if resource != "namespaces" and name is not None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if resource == "namespaces" and sub:
            if sub != "status":
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if sub and not (resource == "pods" and sub in ("log", "status")) and not (resource == "namespaces" and sub == "status"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        watch = q.get("watch") in ("1", "true", "True")
        if name is None:
            verb = {"GET": "watch" if watch else "list", "POST": "create", "DELETE": "deletecollection"}.get(m)
        else:
            verb = {"GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(m)
            if sub == "log" and m == "GET":
                verb = "get"
        if verb is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        resname = resource + ("/" + sub if sub else "")
        if not allowed(user, verb, resource, sub or ""):
            who = resource if name is None else '%s "%s"' % (resource, name)
            where = ('in the namespace "%s"' % ns) if ns is not None else "at the cluster scope"
            det = {"kind": resource}
            if name is not None:
                det = {"name": name, "kind": resource}
            raise ApiError(403, "Forbidden", '%s is forbidden: User "%s" cannot %s resource "%s" in API group "" %s'
                           % (who, user.name, verb, resname, where), det)
        store = srv.store
        if ns is not None and m in ("POST",) and store.get("namespaces", None, ns) is None:
            raise not_found("namespaces", ns)
        if resource == "namespaces":
            ns_for_obj = None
        else:
            ns_for_obj = ns
        if verb in ("list", "watch"):
            if ns is not None and store.get("namespaces", None, ns) is None and verb == "list":
                pass  # the real apiserver lists an empty collection for a missing namespace
            return self.do_list(resource, ns_for_obj, q, watch, query)
        if verb == "create":
            obj = self.json_body()
            if not isinstance(obj, dict):
                raise ApiError(400, "BadRequest", "the object provided is unrecognized")
            if ns is not None and (obj.get("metadata") or {}).get("namespace") not in (None, "", ns):
                raise ApiError(400, "BadRequest",
                               "the namespace of the provided object does not match the namespace sent on the request")
            obj = srv.create(resource, ns_for_obj, obj, dry=q.get("dryRun") == "All")
            return self.send_json(201, obj)
        if verb == "deletecollection":
            terms = parse_label_selector(q.get("labelSelector"))
            fterms = parse_field_selector(q.get("fieldSelector"))
            items = [o for o in store.list(resource, ns_for_obj)
                     if match_labels(terms, o["metadata"].get("labels")) and match_fields(fterms, o)]
            for o in items:
                srv.delete(resource, ns_for_obj, o["metadata"]["name"], {})
            return self.send_json(200, {"kind": RESOURCES[resource][0] + "List", "apiVersion": "v1",
                                        "metadata": {"resourceVersion": str(store.rv)}, "items": items})
        if sub == "log":
            return self.do_log(ns, name, q)
        if verb == "get":
            with store.cond:
                obj = copy.deepcopy(store.get(resource, ns_for_obj, name))
            if obj is None:
                raise not_found(resource, name)
            return self.send_json(200, obj)
        if verb == "delete":
            opts = {}
            raw = self.read_body()
            if raw.strip():
                try:
                    opts = json.loads(raw.decode())
                except ValueError:
                    raise ApiError(400, "BadRequest", "invalid DeleteOptions")
            if "gracePeriodSeconds" in q:
                opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
            if "propagationPolicy" in q:
                opts["propagationPolicy"] = q["propagationPolicy"]
            res = srv.delete(resource, ns_for_obj, name, opts)
            return self.send_json(200, res)
        if verb in ("update", "patch"):
            body = self.json_body()
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if verb == "patch":
                if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json",
                                 "application/json-patch+json"):
                    raise ApiError(415, "UnsupportedMediaType",
                                   '%s is unsupported media type, supported: [application/json-patch+json application/merge-patch+json application/strategic-merge-patch+json application/apply-patch+yaml]' % ctype)
                if ctype == "application/json-patch+json":
                    fn = lambda o: json_patch(o, body)
                else:
                    if not isinstance(body, dict):
                        raise ApiError(400, "BadRequest", "invalid merge patch")

                    def fn(o):
                        new = merge_patch(o, body)
                        o.clear()
                        o.update(new)
                expect = None
                if isinstance(body, dict):
                    expect = (body.get("metadata") or {}).get("resourceVersion")
            else:
                if not isinstance(body, dict):
                    raise ApiError(400, "BadRequest", "the object provided is unrecognized")
                expect = (body.get("metadata") or {}).get("resourceVersion")

                def fn(o):
                    keep = o.get("status") if (resource == "pods" and sub != "status") else None
                    o.clear()
                    o.update(copy.deepcopy(body))
                    o.setdefault("metadata", {})
                    if keep is not None:
                        o["status"] = keep
            if sub == "status":
                inner = fn

                def fn(o):
                    spec = copy.deepcopy(o.get("spec"))
                    inner(o)
                    o["spec"] = spec
            obj = store.update(resource, ns_for_obj, name, fn, expect_rv=expect)
            return self.send_json(200, obj)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def ssar(self, user):
        body = self.json_body() or {}
        spec = body.get("spec") or {}
        ra = spec.get("resourceAttributes")
        if ra:
            ok = allowed(user, ra.get("verb", ""), ra.get("resource", ""), ra.get("subresource", "")) and \
                (ra.get("group", "") in ("", "*") or user.admin)
        else:
            ok = user.admin
        st = {"allowed": ok}
        if ok:
            st["reason"] = "kube-double: allowed for %s" % user.name
        out = {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
               "metadata": {"creationTimestamp": None}, "spec": spec, "status": st}
        self.send_json(201, out)

    # -- list & watch
    def do_list(self, resource, ns, q, watch, query):
        srv = self.server.double
        store = srv.store
        terms = parse_label_selector(q.get("labelSelector"))
        fterms = parse_field_selector(q.get("fieldSelector"))

        def ok(o):
            return match_labels(terms, o["metadata"].get("labels")) and match_fields(fterms, o)
        if not watch:
            with store.cond:
                items = [o for o in store.list(resource, ns) if ok(o)]
                rv = store.rv
            for o in items:
                o.pop("kind", None)
                o.pop("apiVersion", None)
            lim = int(q.get("limit") or 0)
            md = {"resourceVersion": str(rv)}
            return self.send_json(200, {"kind": RESOURCES[resource][0] + "List", "apiVersion": "v1",
                                        "metadata": md, "items": items})
        # watch
        kind = RESOURCES[resource][0]
        timeout = float(q.get("timeoutSeconds") or 1800)
        end = time.time() + timeout
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true", "True")
        binterval = float(srv.faults.get("bookmark_interval", 1.0) or 1.0)
        rule = srv.faults.take(self.command, self.path.split("?")[0], query,
                               ("drop_after_events", "drop_after_bytes", "expire"))
        drop_events = rule.get("drop_after_events") if rule else None
        drop_bytes = rule.get("drop_after_bytes") if rule else None
        sent_events = 0
        sent_bytes = 0
        rv_param = q.get("resourceVersion") or ""
        self.start_chunked("application/json")

        def emit(etype, obj):
            nonlocal sent_events, sent_bytes
            data = (json.dumps({"type": etype, "object": obj}) + "\n").encode()
            if drop_bytes is not None and sent_bytes + len(data) > drop_bytes:
                part = data[:max(0, drop_bytes - sent_bytes)]
                self.chunk(part)
                raise StreamDropped()
            self.chunk(data)
            sent_events += 1
            sent_bytes += len(data)
            if drop_events is not None and sent_events >= drop_events:
                raise StreamDropped()

        def gone(rv_req):
            emit("ERROR", status_body(410, "Expired", "too old resource version: %s (%d)" % (rv_req, store.oldest_rv())))

        try:
            if rule and rule.get("expire"):
                gone(rv_param or "0")
                self.end_chunked()
                return
            initial = []
            with store.cond:
                if rv_param in ("", "0"):
                    initial = [o for o in store.list(resource, ns) if ok(o)]
                    pos = store.rv
                else:
                    try:
                        pos = int(rv_param)
                    except ValueError:
                        pos = -1
                    if pos < store.oldest_rv() or pos < 0:
                        pos = None
            if pos is None:
                gone(rv_param)
                self.end_chunked()
                return
            for o in initial:
                emit("ADDED", o)
            last_bm = time.time()
            while True:
                evs = []
                expired = False
                with store.cond:
                    while True:
                        if srv.stopping or time.time() >= end:
                            break
                        if store.rv > pos:
                            break
                        if bookmarks and time.time() - last_bm >= binterval:
                            break
                        store.cond.wait(min(0.25, max(0.01, end - time.time())))
                    if pos < store.oldest_rv():
                        expired = True
                    else:
                        for (erv, res, ens, et, obj) in store.history:
                            if erv > pos and res == resource and (ns is None or ens == ns):
                                evs.append((et, obj))
                    if not expired:
                        pos = store.rv
                    cur_rv = store.rv
                if expired:
                    gone(str(pos))
                    break
                for et, obj in evs:
                    if ok(obj):
                        emit(et, obj)
                if srv.stopping or time.time() >= end:
                    break
                if bookmarks and time.time() - last_bm >= binterval:
                    emit("BOOKMARK", {"kind": kind, "apiVersion": "v1",
                                      "metadata": {"resourceVersion": str(cur_rv),
                                                   "annotations": {"k8s.io/initial-events-end": "true"}}})
                    last_bm = time.time()
            self.end_chunked()
        except StreamDropped:
            self.drop()

    # -- logs
    def do_log(self, ns, name, q):
        srv = self.server.double
        store = srv.store
        with store.cond:
            pod = copy.deepcopy(store.get("pods", ns, name))
        if pod is None:
            raise not_found("pods", name)
        spec = pod.get("spec") or {}
        conts = [c["name"] for c in spec.get("containers") or []]
        inits = [c["name"] for c in spec.get("initContainers") or []]
        cname = q.get("container")
        if not cname:
            if len(conts) == 1 and not inits:
                cname = conts[0]
            elif len(conts) == 1:
                cname = conts[0]
            else:
                msg = "a container name must be specified for pod %s, choose one of: [%s]" % (name, " ".join(conts))
                if inits:
                    msg += " or one of the init containers: [%s]" % " ".join(inits)
                raise ApiError(400, "BadRequest", msg)
        if cname not in conts and cname not in inits:
            raise ApiError(400, "BadRequest", "container %s is not valid for pod %s" % (cname, name))
        runner = srv.runners.get(pod["metadata"]["uid"])
        run = runner.runs.get(cname) if runner else None
        if run is None:
            reason = "ContainerCreating"
            for cs in (pod.get("status") or {}).get("containerStatuses", []) + \
                    (pod.get("status") or {}).get("initContainerStatuses", []):
                if cs["name"] == cname and "waiting" in cs.get("state", {}):
                    reason = cs["state"]["waiting"].get("reason", reason)
            if reason in ("ErrImagePull", "ImagePullBackOff"):
                msg = 'container "%s" in pod "%s" is waiting to start: trying and failing to pull image' % (cname, name)
            elif reason == "PodInitializing" and cname in conts:
                msg = 'container "%s" in pod "%s" is waiting to start: PodInitializing' % (cname, name)
            else:
                msg = 'container "%s" in pod "%s" is waiting to start: %s' % (cname, name, reason)
            raise ApiError(400, "BadRequest", msg)
        follow = q.get("follow") in ("1", "true", "True")
        stamps = q.get("timestamps") in ("1", "true", "True")
        since = None
        if q.get("sinceTime"):
            try:
                since = parse_ts(q["sinceTime"])
            except ValueError:
                raise ApiError(400, "BadRequest", 'parsing time "%s": invalid sinceTime' % q["sinceTime"])
        if q.get("sinceSeconds"):
            since = time.time() - int(q["sinceSeconds"])
        tail = int(q["tailLines"]) if q.get("tailLines") not in (None, "") else None
        limit = int(q["limitBytes"]) if q.get("limitBytes") else None
        rule = srv.faults.take("GET", self.path.split("?")[0], self.path.partition("?")[2],
                               ("drop_after_bytes", "drop_after_events"))
        drop_bytes = rule.get("drop_after_bytes") if rule else None
        self.start_chunked("text/plain")
        sent = 0
        try:
            with store.cond:
                recs = [r for r in run.log if since is None or r[0] >= since]
                if tail is not None:
                    recs = recs[-tail:] if tail > 0 else []
                idx = len(run.log)
            while True:
                for t, data in recs:
                    out = ((nano_ts(t) + " ").encode() if stamps else b"") + data
                    if limit is not None and sent + len(out) > limit:
                        out = out[:limit - sent]
                    if drop_bytes is not None and sent + len(out) > drop_bytes:
                        self.chunk(out[:drop_bytes - sent])
                        raise StreamDropped()
                    self.chunk(out)
                    sent += len(out)
                    if limit is not None and sent >= limit:
                        self.end_chunked()
                        return
                if not follow:
                    break
                with store.cond:
                    while len(run.log) == idx and not (run.eof and run.exit_code is not None) \
                            and not srv.stopping and runner.runs.get(cname) is run:
                        store.cond.wait(0.5)
                    recs = run.log[idx:]
                    idx = len(run.log)
                    finished = (run.eof and run.exit_code is not None) or srv.stopping
                if not recs and finished:
                    break
            self.end_chunked()
        except StreamDropped:
            self.drop()


class StreamDropped(Exception):
    pass


def json_patch(o, ops):
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "json patch must be a list")
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op.get("path", "").split("/")[1:]]
        parent = o
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent.setdefault(p, {})
        last = parts[-1] if parts else None
        kind = op.get("op")
        if kind in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op.get("value"))
                elif kind == "add":
                    parent.insert(int(last), op.get("value"))
                else:
                    parent[int(last)] = op.get("value")
            else:
                parent[last] = op.get("value")
        elif kind == "remove":
            if isinstance(parent, list):
                del parent[int(last)]
            else:
                parent.pop(last, None)
        elif kind == "test":
            cur = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if cur != op.get("value"):
                raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request")
        else:
            raise ApiError(400, "BadRequest", "unsupported json patch op %r" % kind)


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def finish_request(self, request, client_address):
        try:
            request.settimeout(30)
            conn = self.ssl_ctx.wrap_socket(request, server_side=True)
            conn.settimeout(None)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (ssl.SSLError, OSError, ConnectionError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass


class Double:
    def __init__(self, state_dir, port, faults_file):
        self.state_dir = os.path.abspath(state_dir)
        os.makedirs(self.state_dir, exist_ok=True)
        self.pods_dir = tempfile.mkdtemp(prefix="pods-", dir=self.state_dir)
        self.faults = Faults()
        if faults_file:
            with open(faults_file) as f:
                self.faults.set(json.load(f))
        self.store = Store(int(self.faults.get("history_size", 500) or 500))
        self.runners = {}   # pod uid -> PodRunner
        self.procs = set()
        self.stopping = False
        self.requests = []
        self.req_lock = threading.Lock()
        self.admin_token = "admin-" + pysecrets.token_hex(16)
        self.restricted_token = "restricted-" + pysecrets.token_hex(16)
        self.pki = make_pki(os.path.join(self.state_dir, "pki"))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.pki["server.crt"], self.pki["server.key"])
        ctx.load_verify_locations(self.pki["ca.crt"])
        ctx.verify_mode = ssl.CERT_OPTIONAL
        self.httpd = TLSServer(("127.0.0.1", port), Handler)
        self.httpd.ssl_ctx = ctx
        self.httpd.double = self
        self.port = self.httpd.server_address[1]
        self.url = "https://127.0.0.1:%d" % self.port
        for nsname in ("default", "ci"):
            self.create("namespaces", None, {"metadata": {"name": nsname}})

    def log_request_entry(self, method, path, query, user, status):
        with self.req_lock:
            self.requests.append({"method": method, "path": path, "query": query, "user": user,
                                  "status": status, "time": time.time()})

    # -- object semantics shared by handlers
    def create(self, resource, ns, obj, dry=False):
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        kind = RESOURCES[resource][0]
        if resource == "pods":
            spec = obj.get("spec") or {}
            nm = md.get("name") or ""
            if nm and not (spec.get("containers")):
                raise ApiError(422, "Invalid", 'Pod "%s" is invalid: spec.containers: Required value' % nm,
                               {"name": nm, "kind": "Pod",
                                "causes": [{"reason": "FieldValueRequired", "message": "Required value",
                                            "field": "spec.containers"}]})
            for i, c in enumerate((spec.get("initContainers") or []) + (spec.get("containers") or [])):
                if not c.get("name") or not c.get("image"):
                    field = "name" if not c.get("name") else "image"
                    lst = "initContainers" if i < len(spec.get("initContainers") or []) else "containers"
                    idx = i if lst == "initContainers" else i - len(spec.get("initContainers") or [])
                    raise ApiError(422, "Invalid", 'Pod "%s" is invalid: spec.%s[%d].%s: Required value' % (nm, lst, idx, field),
                                   {"name": nm, "kind": "Pod",
                                    "causes": [{"reason": "FieldValueRequired", "message": "Required value",
                                                "field": "spec.%s[%d].%s" % (lst, idx, field)}]})
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("terminationGracePeriodSeconds", 30)
            spec.setdefault("dnsPolicy", "ClusterFirst")
            spec.setdefault("schedulerName", "default-scheduler")
            spec.setdefault("serviceAccountName", "default")
            obj["spec"] = spec
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif resource == "secrets":
            sd = obj.pop("stringData", None) or {}
            data = obj.setdefault("data", {}) or {}
            for k, v in sd.items():
                data[k] = base64.b64encode(v.encode()).decode()
            obj["data"] = data
            obj.setdefault("type", "Opaque")
        elif resource == "namespaces":
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
            md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md.get("name") or ""
        if dry:
            return obj
        out = self.store.create(resource, ns, obj)
        if resource == "namespaces":
            self.store.create("serviceaccounts", out["metadata"]["name"], {"metadata": {"name": "default"}})
        if resource == "pods":
            r = PodRunner(self, ns, out["metadata"]["name"], out["metadata"]["uid"])
            with self.store.cond:
                self.runners[out["metadata"]["uid"]] = r
            r.start()
        return out

    def delete(self, resource, ns, name, opts):
        store = self.store
        with store.cond:
            cur = copy.deepcopy(store.get(resource, ns, name))
        if cur is None:
            raise not_found(resource, name)
        pre = (opts.get("preconditions") or {})
        if pre.get("uid") and pre["uid"] != cur["metadata"]["uid"]:
            raise ApiError(409, "Conflict",
                           'Operation cannot be fulfilled on %s "%s": Precondition failed: UID in precondition: %s, UID in object meta: %s'
                           % (resource, name, pre["uid"], cur["metadata"]["uid"]), {"name": name, "kind": resource})
        uid = cur["metadata"]["uid"]
        if resource == "pods":
            runner = self.runners.get(uid)
            grace = opts.get("gracePeriodSeconds")
            if grace is None:
                grace = int(cur["spec"].get("terminationGracePeriodSeconds", 30))
            active = runner is not None and any(r.exit_code is None for r in runner.runs.values())
            phase = (cur.get("status") or {}).get("phase")
            if active and grace > 0 and phase not in ("Succeeded", "Failed"):
                def mark(o):
                    o["metadata"]["deletionTimestamp"] = now_ts()
                    o["metadata"]["deletionGracePeriodSeconds"] = grace
                with store.cond:
                    o = store.objs["pods"].get((ns, name))
                    if o and "deletionTimestamp" not in o["metadata"]:
                        o = copy.deepcopy(o)
                        mark(o)
                        o["metadata"]["resourceVersion"] = str(store._bump())
                        store.objs["pods"][(ns, name)] = o
                        store._record("pods", ns, "MODIFIED", o)
                    res = copy.deepcopy(store.objs["pods"].get((ns, name)) or cur)
                threading.Thread(target=self._finish_pod_delete, args=(ns, name, uid, grace),
                                 daemon=True).start()
                return res
            return self._finish_pod_delete(ns, name, uid, 0) or cur
        if resource == "namespaces":
            for r in RESOURCES:
                if r == "namespaces":
                    continue
                for o in store.list(r, name):
                    try:
                        self.delete(r, name, o["metadata"]["name"], {"gracePeriodSeconds": 0})
                    except ApiError:
                        pass
        res = store.remove(resource, ns, name, uid)
        if res is None:
            raise not_found(resource, name)
        self.collect_garbage(uid)
        return res

    def _finish_pod_delete(self, ns, name, uid, grace):
        runner = self.runners.get(uid)
        if runner:
            runner.kill(grace)
            runner.done.wait(10)
            runner.cleanup()
            with self.store.cond:
                self.runners.pop(uid, None)
        res = self.store.remove("pods", ns, name, uid)
        self.collect_garbage(uid)
        return res

    def collect_garbage(self, owner_uid):
        store = self.store
        victims = []
        with store.cond:
            live = set()
            for r in RESOURCES:
                for o in store.objs[r].values():
                    live.add(o["metadata"]["uid"])
            for r in RESOURCES:
                for (ns, nm), o in list(store.objs[r].items()):
                    refs = o["metadata"].get("ownerReferences") or []
                    if refs and any(x.get("uid") == owner_uid for x in refs) and \
                            not any(x.get("uid") in live for x in refs):
                        victims.append((r, ns, nm))
        for r, ns, nm in victims:
            try:
                self.delete(r, ns, nm, {"gracePeriodSeconds": 0})
            except ApiError:
                pass

    def serve(self):
        pki = self.pki
        kc = os.path.join(self.state_dir, "kubeconfig")
        write_kubeconfig(kc, self.url, pki, self.admin_token)
        ready = {"url": self.url, "ca_file": pki["ca.crt"], "admin_token": self.admin_token,
                 "restricted_token": self.restricted_token, "client_cert": pki["client.crt"],
                 "client_key": pki["client.key"], "kubeconfig": kc, "pid": os.getpid(),
                 "control": self.url + "/_double/"}
        tmp = os.path.join(self.state_dir, "ready.json.tmp")
        with open(tmp, "w") as f:
            json.dump(ready, f, indent=2)
        os.rename(tmp, os.path.join(self.state_dir, "ready.json"))
        self.httpd.serve_forever(poll_interval=0.2)

    def shutdown(self):
        self.stopping = True
        with self.store.cond:
            self.store.cond.notify_all()
            runners = list(self.runners.values())
        for r in runners:
            r.killed.set()
        for r in runners:
            r.stop_runs(list(r.runs.values()), 1)
        for p in list(self.procs):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
        for r in runners:
            r.cleanup()
        shutil.rmtree(self.pods_dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description="Kubernetes API server test double")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--faults")
    a = ap.parse_args()
    d = Double(a.state_dir, a.port, a.faults)

    def on_term(signum, frame):
        threading.Thread(target=d.httpd.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        d.serve()
    finally:
        d.shutdown()
        d.httpd.server_close()


if __name__ == "__main__":
    main()
