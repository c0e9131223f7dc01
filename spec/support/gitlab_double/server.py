#!/usr/bin/env python3
"""gitlab_double: a GitLab coordinator test double for lunar's integration specs.

Python 3 standard library only (plus git for repositories, and the openssl CLI with
--tls). Speaks GitLab's runner API on loopback (verify, jobs/request with long polling,
job updates, trace patches, artifacts), serves git repositories over smart HTTP, records
everything, and injects faults and cancellations on request. See README.md beside this file.

    python3 server.py --state-dir DIR [--port 0] [--tls] [--faults FILE]

When it listens it writes DIR/ready.json; SIGTERM or SIGINT stops it.
"""
import argparse
import json
import os
import signal
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gd_faults import Faults  # noqa: E402
from gd_git import Repos  # noqa: E402
from gd_http import Server  # noqa: E402
from gd_jobs import State  # noqa: E402
from gd_pki import make_pki  # noqa: E402


class Double:
    def __init__(self, state_dir, port=0, tls=False, faults_file=None):
        self.state_dir = os.path.abspath(state_dir)
        os.makedirs(self.state_dir, exist_ok=True)
        self.faults = Faults(faults_file)
        self.state = State()
        self.repos = Repos(os.path.join(self.state_dir, "repos"))
        self.pki, ctx = None, None
        if tls:
            self.pki = make_pki(os.path.join(self.state_dir, "pki"))
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(self.pki["server.crt"], self.pki["server.key"])
            ctx.set_alpn_protocols(["http/1.1"])
        self.httpd = Server(self, port, ctx)
        self.port = self.httpd.server_address[1]
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        self.requests, self.req_seq = [], 0
        self.req_lock = threading.Lock()

    # -- the request log (/_double/requests)

    def log_request(self, h):
        hd = h.headers
        with self.req_lock:
            self.req_seq += 1
            e = {"seq": self.req_seq, "time": time.time(), "method": h.command, "path": h.upath, "query": h.query,
                 "status": None, "fault": None, "user_agent": hd.get("User-Agent"),
                 "job_token": bool(hd.get("JOB-TOKEN")), "runner_token": bool(hd.get("RUNNER-TOKEN")),
                 "content_range": hd.get("Content-Range"), "content_type": hd.get("Content-Type"),
                 "transfer_encoding": hd.get("Transfer-Encoding"), "request_id": hd.get("X-Request-Id"),
                 "body_size": len(h.body), "job_id": None}
            self.requests.append(e)
            if len(self.requests) > 100000:
                del self.requests[:10000]
            return e

    def requests_since(self, seq):
        with self.req_lock:
            return [dict(e) for e in self.requests if e["seq"] > seq]

    def clear_requests(self):
        with self.req_lock:
            self.requests = []

    # -- lifecycle

    def write_ready(self):
        ready = {
            "url": self.url, "port": self.port, "runner_token": self.state.runner_token,
            "control_url": self.url + "/_double/", "repos_url": self.url + "/", "pid": os.getpid(),
            "state_dir": self.state_dir,
        }
        if self.pki:
            ready["ca_file"] = self.pki["ca.crt"]
        tmp = os.path.join(self.state_dir, "ready.json.tmp")
        with open(tmp, "w") as f:
            json.dump(ready, f, indent=2)
        os.replace(tmp, os.path.join(self.state_dir, "ready.json"))

    def serve(self):
        self.write_ready()
        self.httpd.serve_forever(poll_interval=0.2)

    def shutdown(self):
        with self.state.cond:
            self.state.tick()
        self.httpd.server_close()


def main():
    ap = argparse.ArgumentParser(description="GitLab coordinator test double")
    ap.add_argument("--state-dir", required=True, help="where ready.json, repositories and artifacts go")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port (see ready.json)")
    ap.add_argument("--tls", action="store_true", help="HTTPS with a CA of its own (ready.json ca_file)")
    ap.add_argument("--faults", help="a JSON faults file, reloaded when it changes")
    a = ap.parse_args()
    d = Double(a.state_dir, a.port, a.tls, a.faults)

    def on_signal(signum, frame):
        threading.Thread(target=d.httpd.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        d.serve()
    finally:
        d.shutdown()


if __name__ == "__main__":
    main()
