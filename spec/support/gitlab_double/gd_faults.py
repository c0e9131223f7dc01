"""Fault rules and settings of the GitLab double, set through /_double/faults and
/_double/settings (or a --faults file). Same shape as kube_double's: matchers, exactly
one action, an optional `times` (how many matching requests the rule applies to;
unlimited when absent). See README.md for the list."""
import json
import os
import re
import threading

from gd_errors import BadControl


REQUEST_ACTIONS = ("latency", "error", "disconnect")
ENDPOINT_ACTIONS = ("accept_later", "trace_shift", "wrong_content_type")
ACTIONS = REQUEST_ACTIONS + ENDPOINT_ACTIONS
MATCHERS = ("method", "path", "query")
OPTIONS = ("times", "retry_after", "message", "location", "interval", "comment", "hits")

DEFAULT_SETTINGS = {
    "long_poll_seconds": 2.0,        # how long jobs/request holds when last_update is current (0: no long poll)
    "trace_update_interval": 1,      # X-GitLab-Trace-Update-Interval on PUT and PATCH answers
    "trace_limit": 0,                # bytes; a PATCH beyond it fails the job (trace_size_exceeded); 0: none
    "max_patch_bytes": 1048576,      # a larger trace PATCH body is refused with 413
}


def validate_rule(r):
    if not isinstance(r, dict):
        raise BadControl("a fault rule must be an object")
    unknown = sorted(k for k in r if k not in ACTIONS + MATCHERS + OPTIONS)
    if unknown:
        raise BadControl("unknown fault rule key(s): %s" % ", ".join(unknown))
    acts = [k for k in ACTIONS if k in r]
    if len(acts) != 1:
        raise BadControl("a fault rule needs exactly one action of: %s" % ", ".join(ACTIONS))
    for k in ("path", "query"):
        if k in r:
            try:
                re.compile(str(r[k]))
            except re.error as e:
                raise BadControl("fault rule %s: bad regular expression: %s" % (k, e))
    act = acts[0]
    if act == "error" and not (isinstance(r["error"], int) and 100 <= r["error"] <= 599):
        raise BadControl("fault rule error: expected an HTTP status code, got %r" % (r["error"],))
    if act == "latency" and not isinstance(r["latency"], (int, float)):
        raise BadControl("fault rule latency: expected seconds")
    if act in ("accept_later", "trace_shift") and not isinstance(r[act], int):
        raise BadControl("fault rule %s: expected an integer" % act)
    if "times" in r and r["times"] is not None and not isinstance(r["times"], int):
        raise BadControl("fault rule times: expected an integer")
    rule = dict(r)
    rule["hits"] = 0
    # accept_later K: the first K final PUTs; trace_shift: one 416 unless told otherwise
    if act == "accept_later" and "times" not in rule:
        rule["times"] = r["accept_later"]
    if act == "trace_shift" and "times" not in rule:
        rule["times"] = 1
    return rule


class Faults:
    def __init__(self, path=None):
        self.lock = threading.Lock()
        self.rules = []
        self.settings = dict(DEFAULT_SETTINGS)
        self.path, self.mtime = path, None
        if path:
            self.check_file(force=True)

    def load(self, data, append=False):
        if isinstance(data, list):
            data = {"rules": data}
        if not isinstance(data, dict):
            raise BadControl('faults must be an object with "rules" (and "settings")')
        unknown = sorted(k for k in data if k not in ("rules", "settings"))
        if unknown:
            raise BadControl("unknown key(s) in faults: %s" % ", ".join(unknown))
        rules = [validate_rule(r) for r in data.get("rules") or []]
        with self.lock:
            if "settings" in data:
                self._set(data["settings"])
            self.rules = (self.rules if append else []) + rules

    def _set(self, s):
        if not isinstance(s, dict):
            raise BadControl("settings must be an object")
        for k, v in s.items():
            if k not in DEFAULT_SETTINGS:
                raise BadControl("unknown setting: %s (known: %s)" % (k, ", ".join(sorted(DEFAULT_SETTINGS))))
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise BadControl("setting %s: expected a number >= 0, got %r" % (k, v))
        for k, v in s.items():
            self.settings[k] = type(DEFAULT_SETTINGS[k])(v)

    def set_settings(self, s):
        with self.lock:
            self._set(s)
            return dict(self.settings)

    def setting(self, k):
        with self.lock:
            return self.settings[k]

    def clear(self):
        with self.lock:
            self.rules = []

    def snapshot(self):
        with self.lock:
            return {"rules": [dict(r) for r in self.rules], "settings": dict(self.settings)}

    def check_file(self, force=False):
        """Reload the faults file when it changed (it replaces the rules)."""
        if not self.path:
            return
        try:
            m = os.stat(self.path).st_mtime_ns
        except OSError:
            return
        if m == self.mtime and not force:
            return
        self.mtime = m
        with open(self.path) as f:
            self.load(json.load(f))

    def take(self, action, method, path, query):
        """The first live rule with this action matching the request; one use is consumed."""
        with self.lock:
            for r in self.rules:
                if action not in r:
                    continue
                if r.get("times") is not None and r["hits"] >= r["times"]:
                    continue
                if "method" in r and str(r["method"]).upper() != method.upper():
                    continue
                if "path" in r and not re.search(str(r["path"]), path):
                    continue
                if "query" in r and not re.search(str(r["query"]), query):
                    continue
                r["hits"] += 1
                return dict(r)
        return None
