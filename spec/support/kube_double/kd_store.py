"""The object store: resourceVersions, watch history and compaction, list snapshots,
label and field selectors, and the three patch formats.

Stored objects are never mutated in place: every change stores a new dict, so a reader
may keep (and serialise) what it got without copying it.
"""
import base64
import copy
import datetime
import json
import re
import threading
from collections import OrderedDict, deque

from kd_status import bad_request

# plural -> (Kind, namespaced)
RESOURCES = {
    "namespaces": ("Namespace", False),
    "pods": ("Pod", True),
    "secrets": ("Secret", True),
    "configmaps": ("ConfigMap", True),
    "events": ("Event", True),
    "serviceaccounts": ("ServiceAccount", True),
    "poddisruptionbudgets": ("PodDisruptionBudget", True),
}

# Resources outside the core group: resource -> groupVersion (served under /apis/<groupVersion>).
GROUP_VERSIONS = {"poddisruptionbudgets": "policy/v1"}


def api_version(resource):
    return GROUP_VERSIONS.get(resource, "v1")


# ----------------------------------------------------------------------------
# time


def rfc3339(t=None):
    dt = datetime.datetime.fromtimestamp(t if t is not None else datetime.datetime.now().timestamp(),
                                         datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_nano(ns):
    """RFC3339NanoFixed, as the kubelet prefixes log lines: always nine digits."""
    sec, frac = divmod(ns, 1000000000)
    return datetime.datetime.fromtimestamp(sec, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + \
        ".%09dZ" % frac


def parse_rfc3339(s):
    """Seconds since the epoch; raises ValueError like time.Parse would fail."""
    m = re.match(r"^(\d{4}-\d\d-\d\d)[Tt](\d\d:\d\d:\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)$", s.strip())
    if not m:
        raise ValueError(s)
    dt = datetime.datetime.strptime(m.group(1) + "T" + m.group(2), "%Y-%m-%dT%H:%M:%S")
    t = dt.replace(tzinfo=datetime.timezone.utc).timestamp()
    tz = m.group(4)
    if tz not in ("Z", "z"):
        off = (int(tz[1:3]) * 60 + int(tz[4:6])) * 60
        t -= off if tz[0] == "+" else -off
    if m.group(3):
        t += float("0" + m.group(3))
    return t


# ----------------------------------------------------------------------------
# store


class Expired(Exception):
    def __init__(self, requested, oldest):
        super().__init__("too old resource version")
        self.requested, self.oldest = requested, oldest


class Store:
    def __init__(self, history_size=lambda: 1000):
        self.cond = threading.Condition(threading.RLock())
        self.rv = 1
        self.objs = {r: {} for r in RESOURCES}     # resource -> {(ns, name): obj}
        self.history = deque()                    # (rv, resource, ns, type, obj, previous obj)
        self.history_size = history_size          # a callable: settings may change it
        self.compacted = 1                        # a watch may start at any rv >= this
        self.snapshots = OrderedDict()            # (resource, rv) -> [obj] for continue tokens
        self.closed = False

    def get(self, resource, ns, name):
        with self.cond:
            return self.objs[resource].get((ns or "", name))

    def put(self, resource, obj, etype):
        """Store obj (a fresh dict) as ADDED, MODIFIED or DELETED, stamping its resourceVersion."""
        with self.cond:
            self.rv += 1
            md = obj["metadata"]
            md["resourceVersion"] = str(self.rv)
            key = (md.get("namespace") or "", md["name"])
            prev = self.objs[resource].get(key)
            if etype == "DELETED":
                self.objs[resource].pop(key, None)
            else:
                self.objs[resource][key] = obj
            self.history.append((self.rv, resource, key[0], etype, obj, prev))
            limit = self.history_size()
            while len(self.history) > limit:
                self.compacted = self.history.popleft()[0]
            for k in [k for k in self.snapshots if k[1] < self.compacted]:
                del self.snapshots[k]
            self.cond.notify_all()
            return obj

    def items(self, resource, ns=None):
        """Objects of resource (in ns, or all), in etcd key order: namespace, then name."""
        with self.cond:
            return [o for k, o in sorted(self.objs[resource].items(), key=lambda kv: kv[0])
                    if ns is None or k[0] == ns]

    def all_objects(self):
        with self.cond:
            return [(r, o) for r in RESOURCES for o in self.objs[r].values()]

    def events_since(self, pos, resource, ns):
        """Events of resource (in ns) with rv > pos, and the rv they bring the watcher to."""
        with self.cond:
            if pos < self.compacted:
                raise Expired(pos, self.compacted)
            out = []
            for ev in reversed(self.history):
                if ev[0] <= pos:
                    break
                if ev[1] == resource and (ns is None or ev[2] == ns):
                    out.append(ev)
            out.reverse()
            return out, self.rv

    def compact(self):
        """Forget every event: watches and continue tokens from before now get 410."""
        with self.cond:
            self.history.clear()
            self.compacted = self.rv
            self.snapshots.clear()
            self.cond.notify_all()

    def snapshot(self, resource):
        with self.cond:
            key = (resource, self.rv)
            if key not in self.snapshots:
                self.snapshots[key] = self.items(resource)
                while len(self.snapshots) > 32:
                    self.snapshots.popitem(last=False)
            return self.rv

    def from_snapshot(self, resource, rv):
        with self.cond:
            return self.snapshots.get((resource, rv))


# ----------------------------------------------------------------------------
# continue tokens: base64 JSON like the apiserver's {"v":"meta.k8s.io/v1","rv":N,"start":"key\u0000"}


def encode_continue(rv, last_key):
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": last_key + "\u0000"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token):
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        d = json.loads(raw)
        if d.get("v") != "meta.k8s.io/v1" or not isinstance(d.get("rv"), int) or "start" not in d:
            raise ValueError
        return d["rv"], d["start"].rstrip("\u0000")
    except (ValueError, TypeError, json.JSONDecodeError):
        raise bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")


def object_key(obj):
    md = obj["metadata"]
    return "%s/%s" % (md.get("namespace") or "", md["name"])


# ----------------------------------------------------------------------------
# selectors


def _split(s):
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
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"


def parse_label_selector(s):
    terms = []
    for p in _split(s or ""):
        m = re.match(r"^(%s)\s+(in|notin)\s*\((.*)\)$" % _KEY, p)
        if m:
            terms.append((m.group(2), m.group(1), {v.strip() for v in m.group(3).split(",") if v.strip()}))
            continue
        m = re.match(r"^(%s)\s*(==|!=|=)\s*([-A-Za-z0-9_.]*)$" % _KEY, p)
        if m:
            terms.append(("!=" if m.group(2) == "!=" else "=", m.group(1), m.group(3)))
            continue
        m = re.match(r"^(!?)\s*(%s)$" % _KEY, p)
        if m:
            terms.append(("!exists" if m.group(1) else "exists", m.group(2), None))
            continue
        raise bad_request("unable to parse requirement: found '%s', expected: identifier" % p)
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


# fields each resource can be selected on (pkg/registry/core/*/strategy.go ...Fields functions)
FIELDS = {
    "pods": {"metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
             "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
             "status.nominatedNodeName"},
    "secrets": {"metadata.name", "metadata.namespace", "type"},
    "events": {"metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace",
               "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion",
               "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent",
               "source", "type"},
}


def parse_field_selector(s, resource):
    terms = []
    allowed = FIELDS.get(resource, {"metadata.name", "metadata.namespace"})
    for p in _split(s or ""):
        m = re.match(r"^([A-Za-z.]+)\s*(==|!=|=)\s*(.*)$", p)
        if not m:
            raise bad_request("invalid selector: '%s'; can't understand '%s'" % (s, p))
        if m.group(1) not in allowed:
            raise bad_request("field label not supported: %s" % m.group(1))
        terms.append((m.group(1), m.group(2) != "!=", m.group(3).replace("\\", "")))
    return terms


def field_value(obj, path):
    if path == "source":
        return (obj.get("source") or {}).get("component", "")
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def match_fields(terms, obj):
    return all((field_value(obj, path) == val) == eq for path, eq, val in terms)


# ----------------------------------------------------------------------------
# patches


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class PatchFailed(Exception):
    pass


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchFailed("JSON pointer must be empty or start with a \"/\"")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts, op, path):
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise PatchFailed("%s operation does not apply: doc is missing path: %s" % (op, path))
    return cur


def json_patch(doc, ops):
    """RFC 6902 JSON patch; raises PatchFailed with evanphx/json-patch's wording."""
    if not isinstance(ops, list):
        raise ValueError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind = op.get("op")
        path = op.get("path", "")
        if kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            parent = _walk(doc, src, kind, op.get("from"))
            key = src[-1]
            try:
                val = parent[int(key)] if isinstance(parent, list) else parent[key]
            except (KeyError, IndexError, ValueError):
                raise PatchFailed("%s operation does not apply: doc is missing from path: %s" % (kind, op.get("from")))
            if kind == "move":
                if isinstance(parent, list):
                    del parent[int(key)]
                else:
                    del parent[key]
            doc = json_patch(doc, [{"op": "add", "path": path, "value": copy.deepcopy(val)}])
            continue
        parts = _pointer(path)
        if not parts:
            if kind in ("add", "replace"):
                doc = copy.deepcopy(op.get("value"))
                continue
            raise PatchFailed("%s operation does not apply: doc is missing path: %s" % (kind, path))
        parent = _walk(doc, parts, kind, path)
        last = parts[-1]
        if kind == "add":
            if isinstance(parent, list):
                if last == "-":
                    parent.append(copy.deepcopy(op.get("value")))
                elif last.isdigit() and int(last) <= len(parent):
                    parent.insert(int(last), copy.deepcopy(op.get("value")))
                else:
                    raise PatchFailed("add operation does not apply: doc is missing path: %s" % path)
            elif isinstance(parent, dict):
                parent[last] = copy.deepcopy(op.get("value"))
            else:
                raise PatchFailed("add operation does not apply: doc is missing path: %s" % path)
        elif kind in ("replace", "remove", "test"):
            if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
                idx = int(last)
            elif isinstance(parent, dict) and last in parent:
                idx = last
            else:
                if kind == "test" and op.get("value") is None and isinstance(parent, dict):
                    continue
                raise PatchFailed("%s operation does not apply: doc is missing key: %s" % (kind, path)
                                  if kind != "test" else "testing value %s failed: test failed" % path)
            if kind == "replace":
                parent[idx] = copy.deepcopy(op.get("value"))
            elif kind == "remove":
                del parent[idx]
            elif parent[idx] != op.get("value"):
                raise PatchFailed("testing value %s failed: test failed" % path)
        else:
            raise ValueError("Unexpected kind: %s" % kind)
    return doc


# patchMergeKey of the lists a CI runner's objects have (k8s.io/api/core/v1/types.go)
MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
              "volumes": "name", "volumeMounts": "mountPath", "ports": "containerPort",
              "imagePullSecrets": "name", "ownerReferences": "uid", "conditions": "type", "hostAliases": "ip",
              "volumeDevices": "devicePath", "topologySpreadConstraints": "topologyKey"}
MERGE_PRIMITIVES = {"finalizers"}


def strategic_merge_patch(target, patch, field=None):
    """The part of strategic merge patch a runner uses: merge keys, $patch: replace/delete,
    and the $setElementOrder/$retainKeys directives (accepted, not enforced)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            out[name] = [x for x in (out.get(name) or []) if x not in v]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and k in MERGE_KEYS and isinstance(out.get(k), list):
            mk = MERGE_KEYS[k]
            cur = [copy.deepcopy(x) for x in out[k]]
            for item in v:
                if not isinstance(item, dict) or mk not in item:
                    cur = copy.deepcopy(v)
                    break
                idx = next((i for i, x in enumerate(cur) if isinstance(x, dict) and x.get(mk) == item[mk]), None)
                if item.get("$patch") == "delete":
                    if idx is not None:
                        del cur[idx]
                elif idx is None:
                    cur.append({a: b for a, b in item.items() if a != "$patch"})
                else:
                    cur[idx] = strategic_merge_patch(cur[idx], item, k)
            out[k] = cur
        elif isinstance(v, list) and k in MERGE_PRIMITIVES and isinstance(out.get(k), list):
            out[k] = out[k] + [x for x in v if x not in out[k]]
        elif isinstance(v, dict):
            r = strategic_merge_patch(out.get(k), v, k)
            if r is None:
                out.pop(k, None)
            else:
                out[k] = r
        else:
            out[k] = copy.deepcopy(v)
    return out

