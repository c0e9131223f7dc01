"""The HTTP(S) front of the GitLab double: the wire (HTTP/1.1, keep-alive, chunked request
bodies), fault injection, the request log, and routing to the runner API (gd_api), the git
smart-HTTP backend (gd_git) and the /_double/ control endpoint (gd_control)."""
import base64
import json
import os
import re
import socket
import ssl
import sys
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gd_api
import gd_control
from gd_errors import BadControl, Dropped, HttpError


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, double, port, ssl_ctx=None):
        self.double, self.ssl_ctx = double, ssl_ctx
        super().__init__(("127.0.0.1", port), Handler)

    def finish_request(self, request, client_address):
        """The TLS handshake happens in the connection's thread, not in the accept loop."""
        conn = request
        try:
            if self.ssl_ctx is not None:
                request.settimeout(30)
                conn = self.ssl_ctx.wrap_socket(request, server_side=True)
                conn.settimeout(None)
            self.RequestHandlerClass(conn, client_address, self)
        except (ssl.SSLError, OSError, ConnectionError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if os.environ.get("GITLAB_DOUBLE_VERBOSE"):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def version_string(self):
        return "nginx"

    def log_message(self, fmt, *args):
        if os.environ.get("GITLAB_DOUBLE_VERBOSE"):
            sys.stderr.write("gitlab_double: %s\n" % (fmt % args))

    # ------------------------------------------------------------------ wire

    def send_answer(self, code, body=b"", ctype=None, headers=None):
        self.send_response(code)
        self.status = code
        if self.entry is not None:
            self.entry["status"] = code
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("X-Request-Id", self.request_id)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
            if self.entry is not None and k in LOGGED_RESPONSE_HEADERS:
                self.entry[LOGGED_RESPONSE_HEADERS[k]] = str(v)
        if code != 204 and code >= 200:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and code != 204 and self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def send_json(self, code, obj, headers=None, ctype="application/json"):
        self.send_answer(code, (json.dumps(obj, separators=(",", ":")) + "\n").encode(), ctype, headers)

    def send_error_answer(self, e):
        self.send_json(e.code, {"message": e.message}, e.headers)

    def cut(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537).strip():
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def json_body(self, control=False):
        try:
            return json.loads(self.body.decode("utf-8") or ("null" if control else "{}"))
        except ValueError as e:
            raise BadControl("the body is not JSON: %s" % e) if control else \
                HttpError(400, "400 Bad request - the body is not valid JSON: %s" % e)

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    # ------------------------------------------------------------------ dispatch

    def dispatch(self):
        d = self.server.double
        u = urllib.parse.urlsplit(self.path)
        self.upath, self.query = u.path, u.query
        self.q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        self.status, self.entry, self.body = None, None, b""
        self.request_id = os.urandom(16).hex()
        control = self.upath == "/_double" or self.upath.startswith("/_double/")
        try:
            self.body = self.read_body()
            d.faults.check_file()
            if control:
                return gd_control.handle(self)
            self.entry = d.log_request(self)
            self.apply_faults()
            if re.match(r"^/.+\.git/", self.upath):
                return self.git()
            gd_api.route(self)
        except BadControl as e:
            self.send_json(400, {"message": str(e)})
        except HttpError as e:
            self.send_error_answer(e)
        except Dropped:
            self.cut()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        except Exception as e:  # noqa: a bug in the double answers 500 and says where
            sys.stderr.write("gitlab_double: %s %s\n%s" % (self.command, self.path, traceback.format_exc()))
            try:
                if self.status is None:
                    self.send_json(500, {"message": "500 Internal Server Error (gitlab double: %r)" % e})
            except OSError:
                pass

    def fault(self, action):
        """The fault rule with this action that applies to this request, recorded in the log."""
        rule = self.server.double.faults.take(action, self.command, self.upath, self.query)
        if rule and self.entry is not None:
            self.entry["fault"] = action
        return rule

    def apply_faults(self):
        rule = self.fault("latency")
        if rule:
            time.sleep(float(rule["latency"]))
        if self.fault("disconnect"):
            self.entry["status"] = 0
            raise Dropped()
        rule = self.fault("error")
        if rule:
            code = int(rule["error"])
            h = {}
            if rule.get("retry_after") is not None or code == 429:
                h["Retry-After"] = str(rule.get("retry_after", 1))
            if rule.get("location"):
                h["Location"] = rule["location"]
            raise HttpError(code, rule.get("message"), h)

    # ------------------------------------------------------------------ git over smart HTTP

    def git(self):
        d = self.server.double
        auth = self.headers.get("Authorization", "")
        user = pw = None
        if auth[:6].lower() == "basic ":
            try:
                user, _, pw = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except ValueError:
                pass
        if user != "gitlab-ci-token" or d.state.active_token(pw) is None:
            self.send_answer(401, b"HTTP Basic: Access denied\n", "text/plain",
                             {"WWW-Authenticate": 'Basic realm="GitLab"'})
            return
        self.entry["job_token"] = True
        status, headers, body = d.repos.serve(self.command, self.upath, self.query, self.headers, self.body, user)
        ctype = None
        rest = {}
        for k, v in headers:
            if k.lower() == "content-type":
                ctype = v
            else:
                rest[k] = v
        self.send_answer(status, body, ctype, rest)


LOGGED_RESPONSE_HEADERS = {
    "Job-Status": "job_status", "Range": "range", "X-GitLab-Last-Update": "last_update_returned",
    "X-GitLab-Trace-Update-Interval": "update_interval", "Retry-After": "retry_after",
}
