#!/usr/bin/env python3
"""kube_double: a Kubernetes API server test double for lunar's integration tests.

Python 3 standard library only (plus the openssl CLI, and util-linux unshare/chroot when
run as root). Serves HTTPS on loopback with its own CA, authenticates bearer tokens and
client certificates, stores namespaces, Pods, Secrets, ConfigMaps, Events and
ServiceAccounts, supports list/watch/pods/log, runs each container as a local process,
and injects faults on request. See README.md beside this file.

    python3 server.py --state-dir DIR [--port 0] [--faults FILE]

When it listens it writes DIR/ready.json; SIGTERM or SIGINT stops it and every process
it started.
"""
import argparse
import json
import os
import secrets
import shutil
import signal
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kd_faults import Faults  # noqa: E402
from kd_http import Server, tls_context, ADMIN_USER, RESTRICTED_USER  # noqa: E402
from kd_kubelet import Kubelet  # noqa: E402
from kd_pki import make_pki, write_kubeconfig  # noqa: E402
from kd_registry import Registry  # noqa: E402
from kd_store import Store  # noqa: E402

NAMESPACE = "ci"


class Double:
    def __init__(self, state_dir, port=0, faults_file=None):
        self.state_dir = os.path.abspath(state_dir)
        os.makedirs(self.state_dir, exist_ok=True)
        self.faults = Faults(faults_file)
        self.store = Store(lambda: int(self.faults.setting("history_size")))
        self.pki = make_pki(os.path.join(self.state_dir, "pki"))
        with open(self.pki["ca.crt"]) as f:
            ca_pem = f.read()
        self.registry = Registry(self.store, self.faults, ca_pem)
        self.kubelet = Kubelet(self.registry, self.state_dir, self.faults)
        self.registry.kubelet = self.kubelet
        self.admin_token = "lunar-" + secrets.token_hex(16)
        self.restricted_token = "restricted-" + secrets.token_hex(16)
        self.flow_uid = str(uuid.uuid4())
        self.stopping = False
        self.requests = []
        self.req_lock = threading.Lock()
        self.req_seq = 0
        self.httpd = Server(self, port, tls_context(self.pki))
        self.port = self.httpd.server_address[1]
        self.registry.port = self.port
        self.url = "https://127.0.0.1:%d" % self.port
        self.version = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-kube-double",
                        "gitCommit": "0" * 40, "gitTreeState": "clean", "buildDate": "2024-04-17T17:27:03Z",
                        "goVersion": "go1.22.2", "compiler": "gc", "platform": "linux/amd64"}
        for ns in ("default", "kube-system", NAMESPACE):
            self.registry.create("namespaces", None, {"metadata": {"name": ns}})
        for sa in ("lunar", "restricted"):
            self.registry.create("serviceaccounts", NAMESPACE, {"metadata": {"name": sa}})

    # -- the request log tests read through /_double/requests

    def log_request(self, method, path, query, user, watch):
        with self.req_lock:
            self.req_seq += 1
            e = {"seq": self.req_seq, "time": time.time(), "method": method, "path": path, "query": query,
                 "user": user, "watch": watch, "verb": None, "resource": None, "subresource": "",
                 "namespace": None, "name": None, "status": None, "fault": None}
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
        p = self.pki
        kubeconfig = os.path.join(self.state_dir, "kubeconfig")
        write_kubeconfig(kubeconfig, self.url, p, self.admin_token, self.restricted_token, NAMESPACE)
        token_file = os.path.join(self.state_dir, "token")
        sa_dir = os.path.join(self.state_dir, "serviceaccount")
        os.makedirs(sa_dir, exist_ok=True)
        for path, text in ((token_file, self.admin_token), (os.path.join(sa_dir, "token"), self.admin_token),
                           (os.path.join(sa_dir, "namespace"), NAMESPACE)):
            with open(path, "w") as f:
                f.write(text)
        shutil.copy(p["ca.crt"], os.path.join(sa_dir, "ca.crt"))
        ready = {
            "url": self.url, "host": "127.0.0.1", "port": self.port, "ca_file": p["ca.crt"],
            "admin_token": self.admin_token, "token_file": token_file, "admin_user": ADMIN_USER,
            "restricted_token": self.restricted_token, "restricted_user": RESTRICTED_USER,
            "client_cert": p["client.crt"], "client_key": p["client.key"], "client_user": "lunar-admin",
            "restricted_client_cert": p["restricted-client.crt"], "restricted_client_key": p["restricted-client.key"],
            "kubeconfig": kubeconfig, "serviceaccount_dir": sa_dir, "namespace": NAMESPACE,
            "control_url": self.url + "/_double/", "mount_mode": self.kubelet.mode, "pid": os.getpid(),
            "state_dir": self.state_dir,
        }
        tmp = os.path.join(self.state_dir, "ready.json.tmp")
        with open(tmp, "w") as f:
            json.dump(ready, f, indent=2)
        os.replace(tmp, os.path.join(self.state_dir, "ready.json"))

    def serve(self):
        self.write_ready()
        self.httpd.serve_forever(poll_interval=0.2)

    def shutdown(self):
        self.stopping = True
        self.registry.stopping = True
        with self.store.cond:
            self.store.cond.notify_all()
        self.kubelet.shutdown()
        with self.kubelet.cond:
            self.kubelet.cond.notify_all()
        self.httpd.server_close()
        shutil.rmtree(self.kubelet.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description="Kubernetes API server test double")
    ap.add_argument("--state-dir", required=True, help="where ready.json, the PKI and Pod volumes go")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port (see ready.json)")
    ap.add_argument("--faults", help="a JSON faults file, reloaded when it changes")
    a = ap.parse_args()
    d = Double(a.state_dir, a.port, a.faults)
    if d.kubelet.mode != "namespace":
        sys.stderr.write("kube_double: not running as root: containers use the %s mount mode, an approximation "
                         "(see README.md, 'Mount modes')\n" % d.kubelet.mode)

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
