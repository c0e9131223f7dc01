"""Start the GitLab double as a subprocess and talk to it over real HTTP(S)
(http.client), for the double's own tests and the helper stand-in's.

    with GitLabDouble() as gd:
        job = gd.enqueue({"name": "build", "script": ["make"]})
        r = gd.request_job()                      # POST /api/v4/jobs/request as a runner
        gd.put_job(job["id"], job["token"], {"state": "running"})
"""
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
FEATURES = {"cancel_gracefully": True, "two_phase_job_commit": True, "trace_checksum": True, "trace_size": True,
            "cancelable": True, "trace_reset": True}
INFO = {"name": "lunar", "version": "0.1.0", "revision": "abcdef12", "platform": "linux", "architecture": "amd64",
        "executor": "kubernetes", "shell": "bash", "features": FEATURES, "config": {"gpus": ""}}
UA = "lunar-test 0.1.0 (main; c; linux/amd64)"


class Response:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw
        try:
            self.body = json.loads(raw.decode()) if raw else None
        except ValueError:
            self.body = raw.decode("utf-8", "replace")

    def __repr__(self):
        return "<%d %s %s>" % (self.status, self.headers, self.raw[:300])


class GitLabDouble:
    def __init__(self, tls=False, faults_file=None, timeout=30):
        self.tls, self.faults_file, self.timeout = tls, faults_file, timeout
        self.proc = self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="gitlab-double-")
        cmd = [sys.executable, os.path.join(HERE, "server.py"), "--state-dir", self.dir, "--port", "0"]
        if self.tls:
            cmd.append("--tls")
        if self.faults_file:
            cmd += ["--faults", self.faults_file]
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        ready = os.path.join(self.dir, "ready.json")
        end = time.time() + self.timeout
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.time() > end:
                self.stop()
                raise RuntimeError("gitlab_double did not start")
            time.sleep(0.02)
        with open(ready) as f:
            self.ready = json.load(f)
        u = urllib.parse.urlsplit(self.ready["url"])
        self.host, self.port = u.hostname, u.port
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        if self.dir and not os.environ.get("GITLAB_DOUBLE_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def server_log(self):
        with open(os.path.join(self.dir, "server.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    # -- HTTP

    def connection(self, timeout=30):
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.ready["ca_file"])
            return http.client.HTTPSConnection(self.host, self.port, context=ctx, timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, ctype="application/json", timeout=30, conn=None):
        own = conn is None
        conn = conn or self.connection(timeout)
        try:
            h = {"User-Agent": UA}
            h.update(headers or {})
            data = None
            if body is not None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                h.setdefault("Content-Type", ctype)
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return Response(r.status, dict(r.getheaders()), r.read())
        finally:
            if own:
                conn.close()

    # -- the runner's side

    def runner_call(self, method, path, extra=None, token=None, **kw):
        tok = token or self.ready["runner_token"]
        body = {"token": tok, "system_id": "s_0e5f3c1a9b2d", "info": INFO}
        body.update(extra or {})
        return self.request(method, path, body, headers={"RUNNER-TOKEN": tok}, **kw)

    def request_job(self, last_update=None, extra=None, **kw):
        extra = dict(extra or {})
        if last_update:
            extra["last_update"] = last_update
        return self.runner_call("POST", "/api/v4/jobs/request", extra, **kw)

    def put_job(self, jid, token, body, **kw):
        b = {"token": token, "info": INFO}
        b.update(body)
        return self.request("PUT", "/api/v4/jobs/%d" % jid, b, headers={"JOB-TOKEN": token}, **kw)

    def patch_trace(self, jid, token, start, data, **kw):
        h = {"JOB-TOKEN": token, "Content-Type": "text/plain"}
        if start is not None:
            h["Content-Range"] = "%d-%d" % (start, start + len(data) - 1)
        return self.request("PATCH", "/api/v4/jobs/%d/trace?debug_trace=false" % jid, data, headers=h, **kw)

    def take(self, desc=None):
        """Enqueue a job, take it as the runner and ack it; returns the job record."""
        job = self.enqueue(desc or {})
        r = self.request_job()
        assert r.status == 201, r
        r = self.put_job(job["id"], job["token"], {"state": "running", "output": {}})
        assert r.status == 200, r
        return job

    # -- the control endpoint

    def control(self, method, path, body=None, expect=200):
        r = self.request(method, "/_double/" + path, body)
        if expect is not None:
            assert r.status == expect, r
        return r.body

    def enqueue(self, desc):
        return self.control("POST", "jobs", desc, expect=201)

    def job(self, jid):
        return self.control("GET", "jobs/%d" % jid)

    def wait_final(self, jid, timeout=20):
        return self.control("GET", "jobs/%d/wait?timeout=%g" % (jid, timeout))

    def cancel(self, jid, graceful=True):
        return self.control("POST", "jobs/%d/cancel" % jid, {"graceful": graceful})

    def faults(self, *rules, settings=None):
        body = {"rules": list(rules)}
        if settings is not None:
            body["settings"] = settings
        return self.control("PUT", "faults", body)

    def settings(self, **s):
        return self.control("PUT", "settings", s)

    def requests(self, since=0):
        return self.control("GET", "requests?since=%d" % since)["items"]

    def repo(self, name, files, **kw):
        return self.control("POST", "repos", dict(kw, name=name, files=files), expect=201)


class DoubleTestCase(unittest.TestCase):
    """Tests sharing one double for the class (cls.gd); faults and settings reset per test."""
    tls = False

    @classmethod
    def setUpClass(cls):
        cls.gd = GitLabDouble(tls=cls.tls).start()

    @classmethod
    def tearDownClass(cls):
        cls.gd.stop()

    def tearDown(self):
        self.gd.control("PUT", "faults", {"rules": [], "settings": {"long_poll_seconds": 2, "trace_update_interval": 1,
                                                                    "trace_limit": 0}})
        # drain what a test left queued
        while self.gd.request_job().status == 201:
            pass
