#!/usr/bin/env python3
"""A scripted HTTP server for the C tests of the GitLab client and reporter.

    http_script.py SCRIPT.json RECORD.jsonl [TLSDIR]

Listens on a free loopback port and prints it on the first line of stdout.
SCRIPT.json is {"responses": [R, ...], "default": R}: each request takes the
next R in order (the default once they are used up; without one, 500). R:

    {"status": 202, "headers": {"Range": "0-5"}, "body": "text",
     "delay": 0.5,         # seconds to wait before answering
     "drop": true,         # close the connection without an answer
     "match": "PATCH ",    # only for a request whose "METHOD path" starts
                           # with this; others skip it (it stays first)
     "range": true}        # add "Range: 0-<end>" for the request's
                           # Content-Range start plus its body length

"defaults": {"PATCH ": R, ...} gives a default per "METHOD path" prefix.

"headers" values may contain {now+N}, replaced by the HTTP date N seconds
from now. Each request is appended to RECORD.jsonl as it arrives:
{"method", "path", "headers" (names lower-case), "body" (latin-1), "t"}.
With TLSDIR it serves HTTPS: it writes TLSDIR/ca.crt (a fresh CA) and a
certificate for 127.0.0.1 signed by it.
PUT /__script with a SCRIPT body replaces the script and empties the record
(one server serves a whole test program). Standard library only.
"""
import email.utils
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
script = {}
record = None


def take(method, path):
    key = method + " " + path
    with lock:
        queue = script.get("responses", [])
        for i, r in enumerate(queue):
            if not r.get("match") or key.startswith(r["match"]):
                return queue.pop(i)
        for prefix, r in script.get("defaults", {}).items():
            if key.startswith(prefix):
                return r
        return script.get("default", {"status": 500, "body": "script exhausted"})


def expand(value):
    def date(m):
        return email.utils.formatdate(time.time() + float(m.group(1)), usegmt=True)

    return re.sub(r"\{now\+([0-9.]+)\}", date, str(value))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        global script
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path == "/__script":
            with lock:
                script = json.loads(body)
                record.truncate(0)
                record.seek(0)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        entry = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("latin-1"),
            "t": time.time(),
        }
        with lock:
            record.write(json.dumps(entry) + "\n")
            record.flush()
        r = take(self.command, self.path)
        if r.get("delay"):
            time.sleep(r["delay"])
        if r.get("drop"):
            self.close_connection = True
            return
        out = r.get("body", "").encode("utf-8")
        self.send_response(r.get("status", 200))
        for k, v in r.get("headers", {}).items():
            self.send_header(k, expand(v))
        if r.get("range"):
            start = int((self.headers.get("Content-Range") or "0-0").split("-")[0])
            self.send_header("Range", "0-%d" % (start + len(body)))
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def make_tls(d):
    """A CA and a server certificate for 127.0.0.1 in d (EC P-256: quick)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    os.makedirs(d, exist_ok=True)
    for name in ("ca", "server"):
        run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name + ".key")
    run("req", "-x509", "-new", "-key", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=script-ca",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    run("req", "-new", "-key", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-out", "server.crt", "-extfile", "server.ext")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.crt"), os.path.join(d, "server.key"))
    return ctx


def main():
    global script, record
    with open(sys.argv[1]) as f:
        script = json.load(f)
    record = open(sys.argv[2], "a")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # clients that hang up are part of the tests
    if len(sys.argv) > 3:
        server.socket = make_tls(sys.argv[3]).wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    parent = os.getppid()
    while os.getppid() == parent:  # the test died without stopping us: go too
        time.sleep(0.5)


if __name__ == "__main__":
    main()
