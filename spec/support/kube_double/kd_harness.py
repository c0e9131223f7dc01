"""Start kube_double as a subprocess and talk to it over real HTTPS (ssl + http.client).

    with KubeDouble() as kd:
        status, body = kd.post("/api/v1/namespaces/ci/pods", pod)
        kd.faults({"method": "POST", "path": "/pods$", "error": 500, "times": 1})
"""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))


class Response:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw
        try:
            self.body = json.loads(raw.decode()) if raw else None
        except ValueError:
            self.body = raw.decode("utf-8", "replace")

    def __iter__(self):          # status, body = kd.get(...)
        return iter((self.status, self.body))

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


class KubeDouble:
    def __init__(self, faults_file=None, env=None, timeout=30):
        self.faults_file, self.env, self.timeout = faults_file, env, timeout
        self.proc = None
        self.dir = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="kube-double-")
        cmd = [sys.executable, os.path.join(HERE, "server.py"), "--state-dir", self.dir, "--port", "0"]
        if self.faults_file:
            cmd += ["--faults", self.faults_file]
        env = dict(os.environ, **(self.env or {}))
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        ready = os.path.join(self.dir, "ready.json")
        end = time.time() + self.timeout
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.time() > end:
                self.stop()
                raise RuntimeError("kube_double did not start")
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
        if self.dir and not os.environ.get("KUBE_DOUBLE_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def server_log(self):
        with open(os.path.join(self.dir, "server.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    # -- connections

    def context(self, auth="admin"):
        ctx = ssl.create_default_context(cafile=self.ready["ca_file"])
        if auth == "cert":
            ctx.load_cert_chain(self.ready["client_cert"], self.ready["client_key"])
        elif auth == "restricted-cert":
            ctx.load_cert_chain(self.ready["restricted_client_cert"], self.ready["restricted_client_key"])
        return ctx

    def headers(self, auth="admin"):
        tok = {"admin": self.ready["admin_token"], "restricted": self.ready["restricted_token"],
               "bad": "not-a-token"}.get(auth, auth if auth not in ("cert", "restricted-cert", "none") else None)
        return {"Authorization": "Bearer " + tok} if tok else {}

    def connection(self, auth="admin", timeout=30):
        return http.client.HTTPSConnection(self.host, self.port, context=self.context(auth), timeout=timeout)

    def request(self, method, path, body=None, auth="admin", ctype="application/json", headers=None, timeout=30):
        conn = self.connection(auth, timeout)
        try:
            h = self.headers(auth)
            h.update(headers or {})
            data = None
            if body is not None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                h["Content-Type"] = ctype
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return Response(r.status, dict(r.getheaders()), r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body, ctype="application/merge-patch+json", **kw):
        return self.request("PATCH", path, body, ctype=ctype, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    def stream(self, path, auth="admin", timeout=30):
        """Open a streaming GET (watch, log follow); returns (connection, response)."""
        conn = self.connection(auth, timeout)
        conn.request("GET", path, headers=self.headers(auth))
        return conn, conn.getresponse()

    # -- control endpoint

    def faults(self, *rules, settings=None, append=False):
        body = {"rules": list(rules)}
        if settings is not None:
            body["settings"] = settings
        r = self.request("POST" if append else "PUT", "/_double/faults", body)
        assert r.status == 200, r
        return r.body

    def settings(self, **s):
        r = self.request("PUT", "/_double/settings", s)
        assert r.status == 200, r
        return r.body

    def requests(self, since=0):
        return self.get("/_double/requests?since=%d" % since).body["items"]

    def compact(self):
        return self.request("POST", "/_double/compact", {}).body

    # -- helpers for tests

    def pod(self, name, ns="ci"):
        r = self.get("/api/v1/namespaces/%s/pods/%s" % (ns, name))
        return r.body if r.status == 200 else None

    def wait_pod(self, name, pred, timeout=20, ns="ci"):
        end = time.time() + timeout
        last = None
        while time.time() < end:
            last = self.pod(name, ns)
            if pred(last):
                return last
            time.sleep(0.05)
        raise AssertionError("pod %s/%s: condition not reached; last: %s" % (ns, name, json.dumps(last)[:3000]))


def cstatus(pod, name):
    """The container status named name (init or regular) of a Pod."""
    st = pod.get("status") or {}
    for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
        if cs["name"] == name:
            return cs
    return None


def condition(pod, ctype):
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c["type"] == ctype:
            return c
    return None


def close_stream(conn, resp):
    """End a stream opened with KubeDouble.stream from the client side."""
    try:
        conn.sock.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError):
        pass
    resp.close()
    conn.close()


class DoubleTestCase(unittest.TestCase):
    """Tests sharing one double for the class (cls.kd)."""

    @classmethod
    def setUpClass(cls):
        cls.kd = KubeDouble().start()

    @classmethod
    def tearDownClass(cls):
        cls.kd.stop()
