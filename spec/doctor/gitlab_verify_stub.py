"""The runner-token check of GitLab (POST /api/v4/runners/verify) for doctor_spec.lua when
spec/support/gitlab_double is not in the tree; the spec uses the double when it is. Same
start-up and ready.json fields (url, runner_token, pid) and the same answers: 200 with the
runner's id for the token, 403 {"message": "403 Forbidden"} for any other.

usage: python3 gitlab_verify_stub.py --state-dir DIR [--port 0]
"""
import argparse
import json
import os
import secrets
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    token = "glrt-" + secrets.token_hex(10)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def answer(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(n) or b"{}")
            except ValueError:
                return self.answer(400, {"message": "400 Bad request"})
            if self.path != "/api/v4/runners/verify":
                return self.answer(404, {"message": "404 Not Found"})
            if not isinstance(body, dict) or body.get("token") != token:
                return self.answer(403, {"message": "403 Forbidden"})
            self.answer(200, {"id": 73, "token": token, "token_expires_at": "0001-01-01T00:00:00Z"})

    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    ready = {"url": "http://127.0.0.1:%d" % srv.server_address[1], "runner_token": token, "pid": os.getpid()}
    tmp = os.path.join(args.state_dir, "ready.json.tmp")
    with open(tmp, "w") as f:
        json.dump(ready, f)
    os.rename(tmp, os.path.join(args.state_dir, "ready.json"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
