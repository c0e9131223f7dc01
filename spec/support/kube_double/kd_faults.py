"""Fault rules and settings, set through /_double/faults, /_double/settings or a faults file.

A rule is a JSON object with matchers, exactly one action, and an optional `times`
(how many matching requests, pulls or pods it applies to; unlimited when absent).
See README.md for the list.
"""
import json
import os
import re
import threading

from kd_status import bad_request

REQUEST_ACTIONS = ("latency", "error", "disconnect", "lose_response", "drop_after_events", "drop_after_bytes",
                   "drop_after_seconds", "expire")
POD_ACTIONS = ("pull_fail", "schedule_delay")
ACTIONS = REQUEST_ACTIONS + POD_ACTIONS
MATCHERS = ("method", "path", "query", "watch", "user", "image", "pod")
OPTIONS = ("times", "retry_after", "message", "reason", "body", "unschedulable", "comment")

DEFAULT_SETTINGS = {
    "bookmark_interval": 1.0,     # seconds between BOOKMARK events (the real server: about a minute)
    "crashloop_backoff": 10.0,    # first restart back-off, doubled up to 300 s (as the kubelet)
    "image_pull_backoff": 1.0,    # ErrImagePull -> ImagePullBackOff -> next pull attempt
    "history_size": 1000,         # watch events kept before older resourceVersions answer 410
    "kubernetes_minor": 30,       # /version 1.N; below 29 native sidecars are off (restartPolicy dropped)
    # Scripted containers (benchmarks: the runner's cost, not the machine's): with
    # scripted_output 1 no process runs; `build` prints scripted_build_lines lines of
    # scripted_line_bytes bytes spread over scripted_build_seconds and exits 0, other
    # stage containers print one line and exit 0, services run until stopped.
    "scripted_output": 0,
    "scripted_build_seconds": 5.0,
    "scripted_build_lines": 3,
    "scripted_line_bytes": 60,
}


def validate_rule(r):
    if not isinstance(r, dict):
        raise bad_request("a fault rule must be an object")
    unknown = [k for k in r if k not in ACTIONS + MATCHERS + OPTIONS and not k.startswith("hits")]
    if unknown:
        raise bad_request("unknown fault rule key(s): %s" % ", ".join(sorted(unknown)))
    acts = [k for k in ACTIONS if k in r]
    if len(acts) != 1:
        raise bad_request("a fault rule needs exactly one action of: %s" % ", ".join(ACTIONS))
    for k in ("method", "path", "query", "user", "image", "pod"):
        if k in r:
            try:
                re.compile(str(r[k]))
            except re.error as e:
                raise bad_request("fault rule %s: bad regular expression: %s" % (k, e))
    rule = dict(r)
    rule.setdefault("hits", 0)
    return rule


class Faults:
    def __init__(self, path=None):
        self.lock = threading.Lock()
        self.rules = []
        self.settings = dict(DEFAULT_SETTINGS)
        self.path = path
        self.mtime = None
        if path:
            self.check_file(force=True)

    def load(self, data, append=False):
        if isinstance(data, list):
            data = {"rules": data}
        if not isinstance(data, dict):
            raise bad_request("faults must be an object with \"rules\" (and \"settings\")")
        rules = [validate_rule(r) for r in data.get("rules", [])]
        with self.lock:
            self.rules = (self.rules if append else []) + rules
            if "settings" in data:
                self._set(data["settings"])

    def _set(self, s):
        for k, v in (s or {}).items():
            if k not in DEFAULT_SETTINGS:
                raise bad_request("unknown setting: %s" % k)
            self.settings[k] = float(v)

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
        """Reload the faults file when it changed: it replaces the rules and settings it names."""
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

    def take(self, action, **ctx):
        """The first live rule with this action whose matchers all match ctx; one use is consumed."""
        with self.lock:
            for r in self.rules:
                if action not in r:
                    continue
                if r.get("times") is not None and r["hits"] >= int(r["times"]):
                    continue
                if not self._match(r, ctx):
                    continue
                r["hits"] += 1
                return dict(r)
        return None

    @staticmethod
    def _match(r, ctx):
        for k in ("method", "path", "query", "user", "image", "pod"):
            if k in r:
                v = ctx.get(k)
                if v is None:
                    return False
                if k == "method":
                    if str(r[k]).upper() != v.upper():
                        return False
                elif not re.search(str(r[k]), v):
                    return False
        if "watch" in r and bool(r["watch"]) != bool(ctx.get("watch")):
            return False
        return True
