"""The HTTPS front: authentication, authorization, fault injection, the request log, routing
of the core API (CRUD, list, watch, pods/log), discovery, SelfSubjectAccessReview and the
/_double/ control endpoint."""
import json
import os
import socket
import ssl
import sys
import time
import traceback
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import kd_status as S
from kd_store import (RESOURCES, GROUP_VERSIONS, api_version, Expired, parse_label_selector, match_labels, parse_field_selector, match_fields,
                      encode_continue, decode_continue, object_key, rfc3339_nano, parse_rfc3339)

ADMIN_USER = "system:serviceaccount:ci:lunar"
RESTRICTED_USER = "system:serviceaccount:ci:restricted"
TRUE = ("1", "true", "True")


class User:
    def __init__(self, name, groups):
        self.name, self.groups = name, groups
        self.admin = "system:masters" in groups or name == ADMIN_USER


def authorize(user, verb, resource, sub="", group=""):
    """RBAC of the double: the admin may do anything; the restricted account may only read
    Pods and their logs; any other user nothing."""
    if user.admin:
        return True
    if user.name == RESTRICTED_USER:
        return group == "" and resource == "pods" and sub in ("", "log") and verb in ("get", "list", "watch")
    return False


class StreamDropped(Exception):
    pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, double, port, ctx):
        self.double = double
        self.ssl_ctx = ctx
        super().__init__(("127.0.0.1", port), Handler)

    def finish_request(self, request, client_address):
        """The TLS handshake runs in the connection's own thread, not in the accept loop."""
        try:
            request.settimeout(30)
            conn = self.ssl_ctx.wrap_socket(request, server_side=True)
            conn.settimeout(None)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (ssl.SSLError, OSError, ConnectionError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if os.environ.get("KUBE_DOUBLE_VERBOSE"):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if os.environ.get("KUBE_DOUBLE_VERBOSE"):
            sys.stderr.write("kube_double: %s\n" % (fmt % args))

    # ------------------------------------------------------------------ wire

    def send_response(self, code, message=None):
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.status = code
        if self.entry is not None:
            self.entry["status"] = code

    def send_json(self, code, obj, headers=None):
        if getattr(self, "lose_response", False):
            # the request was carried out; its answer never reaches the client
            self.lose_response = False
            if self.entry is not None:
                self.entry["status"] = code
            raise StreamDropped()
        body = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Kubernetes-Pf-Flowschema-Uid", self.server.double.flow_uid)
        self.send_header("X-Kubernetes-Pf-Prioritylevel-Uid", self.server.double.flow_uid)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error_status(self, e):
        if e.plain_text is not None:
            body = e.plain_text.encode()
            self.send_response(e.code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("X-Content-Type-Options", "nosniff")
            for k, v in e.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_json(e.code, e.body, e.headers)

    def start_chunked(self, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def cut(self):
        """End the connection abruptly: no terminating chunk, no response."""
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def json_body(self, kind="the object"):
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if ctype not in ("application/json", "application/yaml", "*/*", ""):
            raise S.unsupported_media_type(["application/json", "application/yaml",
                                            "application/vnd.kubernetes.protobuf"])
        try:
            return json.loads(self.body.decode() or "null")
        except ValueError as e:
            if ctype == "application/yaml":
                raise S.bad_request("error decoding YAML: kube_double reads JSON only: %s" % e)
            raise S.bad_request("couldn't get version/kind; json parse error: %s" % e)

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    # ------------------------------------------------------------------ dispatch

    def authenticate(self):
        try:
            cert = self.connection.getpeercert()
        except (AttributeError, ValueError):
            cert = None
        if cert:
            cn, groups = None, []
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        groups.append(v)
            if cn:
                return User(cn, groups + ["system:authenticated"])
        auth = self.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            tok = auth[7:].strip()
            d = self.server.double
            if tok == d.admin_token:
                return User(ADMIN_USER, ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"])
            if tok == d.restricted_token:
                return User(RESTRICTED_USER, ["system:serviceaccounts", "system:serviceaccounts:ci",
                                              "system:authenticated"])
        return None

    def dispatch(self):
        d = self.server.double
        u = urllib.parse.urlsplit(self.path)
        self.upath, self.query = u.path, u.query
        self.q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        self.status = None
        self.entry = None
        self.lose_response = False
        self.user = None
        self.body = b""
        control = self.upath.startswith("/_double/")
        try:
            if self.command in ("POST", "PUT", "PATCH", "DELETE"):
                self.body = self.read_body()
            d.faults.check_file()
            if self.upath in ("/healthz", "/readyz", "/livez"):
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(body)
                return
            self.user = self.authenticate()
            if not control:
                self.entry = d.log_request(self.command, self.upath, self.query, self.user.name if self.user else None,
                                           self.q.get("watch") in TRUE)
            if self.user is None:
                raise S.unauthorized()
            if control:
                if not self.user.admin:
                    raise S.forbidden("", "", "the kube_double control endpoint is for the admin token or certificate")
                return self.control()
            self.apply_faults()
            self.route()
        except S.ApiError as e:
            if self.status is None:
                self.send_error_status(e)
            else:
                self.cut()               # a stream already started: an error can only end it
        except StreamDropped:
            self.cut()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        except Exception as e:  # noqa: a bug answers 500, as the apiserver's panic handler does
            sys.stderr.write("kube_double: %s %s\n%s" % (self.command, self.path, traceback.format_exc()))
            try:
                if self.status is None:
                    self.send_error_status(S.internal("kube_double: %r" % e))
                else:
                    self.cut()
            except OSError:
                pass

    def apply_faults(self):
        f = self.server.double.faults
        ctx = dict(method=self.command, path=self.upath, query=self.query, watch=self.q.get("watch") in TRUE,
                   user=self.user.name)
        rule = f.take("latency", **ctx)
        if rule:
            self.entry["fault"] = "latency"
            time.sleep(float(rule["latency"]))
        rule = f.take("disconnect", **ctx)
        if rule:
            self.entry["fault"] = "disconnect"
            self.entry["status"] = 0
            raise StreamDropped()
        rule = f.take("lose_response", **ctx)
        if rule:
            self.entry["fault"] = "lose_response"
            self.lose_response = True
        rule = f.take("error", **ctx)
        if rule:
            self.entry["fault"] = "error"
            code = int(rule["error"])
            msg = rule.get("message")
            if code == 429:
                ra = rule.get("retry_after", 1)
                if rule.get("body") == "status":
                    raise S.too_many_requests_status(msg or "Too many requests, please try again later.", ra)
                raise S.too_many_requests_text(ra)
            if code == 500 and rule.get("reason") is None:
                raise S.internal(msg or "kube_double: injected fault")
            e = S.generic(code, msg or "kube_double: injected fault", rule.get("reason"))
            if rule.get("retry_after") is not None:
                e.headers["Retry-After"] = str(rule["retry_after"])
            raise e

    # ------------------------------------------------------------------ control endpoint

    def control(self):
        d = self.server.double
        p, m = self.upath, self.command
        if p == "/_double/faults":
            if m == "GET":
                return self.send_json(200, d.faults.snapshot())
            if m == "DELETE":
                d.faults.clear()
                return self.send_json(200, d.faults.snapshot())
            if m in ("PUT", "POST"):
                body = self.json_body()
                if isinstance(body, dict) and "rules" not in body and "settings" not in body:
                    body = {"rules": [body]}
                d.faults.load(body, append=(m == "POST"))
                return self.send_json(200, d.faults.snapshot())
        if p == "/_double/settings":
            if m in ("PUT", "POST", "PATCH"):
                d.faults.set_settings(self.json_body())
            return self.send_json(200, d.faults.snapshot()["settings"])
        if p == "/_double/requests":
            if m == "DELETE":
                d.clear_requests()
                return self.send_json(200, {"items": []})
            since = int(self.q.get("since") or 0)
            return self.send_json(200, {"items": d.requests_since(since)})
        if p == "/_double/compact" and m == "POST":
            d.store.compact()
            return self.send_json(200, {"resourceVersion": str(d.store.rv)})
        if p == "/_double/pods":
            return self.send_json(200, d.kubelet.describe())
        if p == "/_double/gc" and m == "POST":
            return self.send_json(200, {"deleted": d.registry.collect_garbage()})
        raise S.unknown_path()

    # ------------------------------------------------------------------ routing

    def route(self):
        d = self.server.double
        m, p = self.command, self.upath.rstrip("/") or "/"
        if p == "/version":
            minor = int(d.faults.setting("kubernetes_minor"))
            return self.send_json(200, dict(d.version, minor=str(minor), gitVersion="v1.%d.0-kube-double" % minor))
        if p == "/api":
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:%d" % d.port}]})
        if p == "/api/v1":
            return self.send_json(200, discovery_core())
        if p == "/apis":
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [AUTHZ_GROUP, AUTHN_GROUP]})
        if p == "/apis/authentication.k8s.io/v1/selfsubjectreviews":
            if m != "POST":
                raise S.method_not_supported("selfsubjectreviews.authentication.k8s.io", _verb_word(m))
            return self.ssr()
        if p == "/apis/authorization.k8s.io":
            return self.send_json(200, dict(AUTHZ_GROUP, kind="APIGroup", apiVersion="v1"))
        if p == "/apis/authorization.k8s.io/v1":
            return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                        "groupVersion": "authorization.k8s.io/v1", "resources": [
                                            {"name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview",
                                             "namespaced": False, "kind": "SelfSubjectAccessReview",
                                             "verbs": ["create"]}]})
        if p == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
            if m != "POST":
                raise S.method_not_supported("selfsubjectaccessreviews.authorization.k8s.io", _verb_word(m))
            return self.ssar()
        parts = [urllib.parse.unquote(x) for x in p.strip("/").split("/")]
        if parts[:2] == ["api", "v1"] and len(parts) >= 3:
            version, rest = "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4 and "/".join(parts[1:3]) in GROUP_VERSIONS.values():
            version, rest = "/".join(parts[1:3]), parts[3:]
        else:
            raise S.unknown_path()
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
            if rest[0] not in RESOURCES or not RESOURCES[rest[0]][1]:
                raise S.unknown_path()
        elif rest[0] not in RESOURCES:
            raise S.unknown_path()
        if api_version(rest[0]) != version:
            raise S.unknown_path()
        resource = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3 or (name is not None and RESOURCES[resource][1] and ns is None):
            raise S.unknown_path()
        subs = {"pods": ("log", "status", "exec", "attach", "portforward"), "namespaces": ("status", "finalize")}
        if sub and sub not in subs.get(resource, ()):
            raise S.unknown_path()
        watch = self.q.get("watch") in TRUE
        if name is None:
            verb = {"GET": "watch" if watch else "list", "HEAD": "list", "POST": "create",
                    "DELETE": "deletecollection"}.get(m)
        else:
            verb = {"GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete",
                    "POST": "create"}.get(m)
            if watch and m == "GET":
                verb = "watch"
        if verb is None or (verb == "create" and name is not None and sub not in ("exec", "attach", "portforward")):
            raise S.method_not_supported(resource + ("/" + sub if sub else ""), _verb_word(m))
        self.entry.update(verb=verb, resource=resource, subresource=sub, namespace=ns, name=name)
        if not authorize(self.user, verb, resource, sub):
            raise S.rbac_forbidden(self.user.name, verb, resource, sub, ns, name)
        dry = self.q.get("dryRun") == "All"
        reg = d.registry
        if sub in ("exec", "attach", "portforward"):
            raise S.bad_request("Upgrade request required")
        if verb in ("list", "watch") and name is None:
            return self.do_list(resource, ns, watch)
        if verb == "watch":
            self.q["fieldSelector"] = ",".join(x for x in (self.q.get("fieldSelector"), "metadata.name=" + name) if x)
            return self.do_list(resource, ns, True)
        if verb == "create":
            obj = reg.create(resource, ns, self.json_body(), dry_run=dry)
            return self.send_json(201, obj)
        if verb == "deletecollection":
            return self.delete_collection(resource, ns, dry)
        if sub == "log":
            return self.do_log(ns, name)
        if verb == "get":
            obj = d.store.get(resource, ns, name)
            if obj is None:
                raise S.not_found(resource, name)
            return self.send_json(200, obj)
        if verb == "delete":
            opts = self.delete_options()
            return self.send_json(200, reg.delete(resource, ns, name, opts, dry_run=dry))
        if verb == "update":
            return self.send_json(200, reg.update(resource, ns, name, self.json_body(), sub or None, dry_run=dry))
        if verb == "patch":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            obj, code = reg.patch(resource, ns, name, ctype, self.body, sub or None, self.q.get("fieldManager"),
                                  dry_run=dry)
            return self.send_json(code, obj)
        raise S.method_not_supported(resource, _verb_word(m))

    def delete_options(self):
        opts = {}
        if self.body.strip():
            try:
                opts = json.loads(self.body.decode())
            except ValueError as e:
                raise S.bad_request("couldn't get version/kind; json parse error: %s" % e)
            if not isinstance(opts, dict):
                raise S.bad_request("DeleteOptions must be an object")
        for k in ("gracePeriodSeconds",):
            if k in self.q:
                try:
                    opts[k] = int(self.q[k])
                except ValueError:
                    raise S.bad_request('strconv.ParseInt: parsing "%s": invalid syntax' % self.q[k])
        if "propagationPolicy" in self.q:
            opts["propagationPolicy"] = self.q["propagationPolicy"]
        return opts

    def delete_collection(self, resource, ns, dry):
        d = self.server.double
        terms = parse_label_selector(self.q.get("labelSelector"))
        fterms = parse_field_selector(self.q.get("fieldSelector"), resource)
        items = [o for o in d.store.items(resource, ns)
                 if match_labels(terms, o["metadata"].get("labels")) and match_fields(fterms, o)]
        out = []
        for o in items:
            try:
                r = d.registry.delete(resource, o["metadata"].get("namespace"), o["metadata"]["name"],
                                      self.delete_options(), dry_run=dry)
                out.append(r if r.get("kind") != "Status" else o)
            except S.ApiError:
                pass
        return self.send_json(200, {"kind": RESOURCES[resource][0] + "List", "apiVersion": api_version(resource),
                                    "metadata": {"resourceVersion": str(d.store.rv)},
                                    "items": [_item(o) for o in out]})

    # ------------------------------------------------------------------ SelfSubjectAccessReview

    def ssar(self):
        body = self.json_body()
        if not isinstance(body, dict):
            raise S.bad_request("Object 'Kind' is missing in '%s'" % json.dumps(body))
        spec = body.get("spec") or {}
        ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        if bool(ra) == bool(nra):
            raise S.invalid("SelfSubjectAccessReview", "", [S.FieldError(
                "FieldValueInvalid", "spec.resourceAttributes", "null" if not ra else "{...}",
                "exactly one of nonResourceAttributes or resourceAttributes must be specified")],
                group="authorization.k8s.io")
        if ra:
            ok = authorize(self.user, ra.get("verb", ""), ra.get("resource", ""), ra.get("subresource", ""),
                           ra.get("group", ""))
        else:
            ok = self.user.admin or (nra.get("verb") == "get" and (nra.get("path") or "").split("?")[0] in (
                "/version", "/api", "/apis", "/healthz", "/readyz", "/livez", "/api/v1"))
        st = {"allowed": ok}
        if ok:
            st["reason"] = ('RBAC: allowed by ClusterRoleBinding "kube-double-admin" of ClusterRole "cluster-admin" '
                            'to User "%s"' % self.user.name) if self.user.admin else \
                ('RBAC: allowed by RoleBinding "pod-reader/ci" of Role "pod-reader" to ServiceAccount "restricted/ci"')
        md = dict(body.get("metadata") or {})
        md.setdefault("creationTimestamp", None)
        self.send_json(201, {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                             "metadata": md, "spec": spec, "status": st})

    # ------------------------------------------------------------------ SelfSubjectReview

    def ssr(self):
        """Who the caller is (authentication.k8s.io/v1, GA in Kubernetes 1.28): any
        authenticated user may ask."""
        body = self.json_body()
        if not isinstance(body, dict):
            raise S.bad_request("Object 'Kind' is missing in '%s'" % json.dumps(body))
        md = dict(body.get("metadata") or {})
        md.setdefault("creationTimestamp", None)
        self.send_json(201, {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                             "metadata": md, "status": {"userInfo": {
                                 "username": self.user.name, "groups": list(self.user.groups)}}})

    # ------------------------------------------------------------------ list and watch

    def do_list(self, resource, ns, watch):
        d = self.server.double
        store = d.store
        terms = parse_label_selector(self.q.get("labelSelector"))
        fterms = parse_field_selector(self.q.get("fieldSelector"), resource)

        def ok(o):
            return o is not None and match_labels(terms, o["metadata"].get("labels")) and match_fields(fterms, o)
        if watch:
            return self.do_watch(resource, ns, ok)
        try:
            limit = int(self.q.get("limit") or 0)
        except ValueError:
            raise S.bad_request('strconv.ParseInt: parsing "%s": invalid syntax' % self.q["limit"])
        token = self.q.get("continue")
        start = ""
        if token:
            rv, start = decode_continue(token)
            snap = store.from_snapshot(resource, rv)
            if snap is None or rv < store.compacted:
                cur = store.snapshot(resource)
                raise S.expired(S.CONTINUE_EXPIRED, encode_continue(cur, start))
        else:
            rv = store.snapshot(resource)
            snap = store.from_snapshot(resource, rv)
        items = [o for o in snap if (ns is None or o["metadata"].get("namespace") == ns) and ok(o)
                 and object_key(o) > start]
        md = {"resourceVersion": str(rv)}
        if limit > 0 and len(items) > limit:
            rest = len(items) - limit
            items = items[:limit]
            md["continue"] = encode_continue(rv, object_key(items[-1]))
            if not terms and not fterms:
                md["remainingItemCount"] = rest
        self.send_json(200, {"kind": RESOURCES[resource][0] + "List", "apiVersion": api_version(resource), "metadata": md,
                             "items": [_item(o) for o in items]})

    def do_watch(self, resource, ns, ok):
        d = self.server.double
        store = d.store
        kind = RESOURCES[resource][0]
        try:
            timeout = float(self.q.get("timeoutSeconds") or 1800)
        except ValueError:
            raise S.bad_request('strconv.ParseInt: parsing "%s": invalid syntax' % self.q["timeoutSeconds"])
        end = time.monotonic() + timeout
        bookmarks = self.q.get("allowWatchBookmarks") in TRUE
        ctx = dict(method="GET", path=self.upath, query=self.query, watch=True, user=self.user.name)
        f = d.faults
        drop = f.take("drop_after_events", **ctx) or f.take("drop_after_bytes", **ctx) or \
            f.take("drop_after_seconds", **ctx)
        expire = f.take("expire", **ctx)
        if drop or expire:
            self.entry["fault"] = "expire" if expire else "drop"
        rv_param = self.q.get("resourceVersion") or ""
        sent = {"events": 0, "bytes": 0}
        drop_at = time.monotonic() + float(drop["drop_after_seconds"]) if drop and "drop_after_seconds" in drop else None

        def emit(etype, obj):
            data = (json.dumps({"type": etype, "object": obj}, separators=(",", ":")) + "\n").encode()
            if drop and "drop_after_bytes" in drop and sent["bytes"] + len(data) > int(drop["drop_after_bytes"]):
                self.chunk(data[:max(0, int(drop["drop_after_bytes"]) - sent["bytes"])])
                raise StreamDropped()
            self.chunk(data)
            sent["events"] += 1
            sent["bytes"] += len(data)
            if drop and "drop_after_events" in drop and sent["events"] >= int(drop["drop_after_events"]):
                raise StreamDropped()

        if rv_param in ("", "0"):
            with store.cond:
                initial = [o for o in store.items(resource, ns) if ok(o)]
                pos = store.rv
        else:
            initial = []
            try:
                pos = int(rv_param)
            except ValueError:
                raise S.bad_request('resourceVersion: Invalid value: "%s": strconv.ParseUint: parsing "%s": '
                                    'invalid syntax' % (rv_param, rv_param))
        self.start_chunked("application/json")
        if expire:
            emit("ERROR", S.too_old(pos, max(store.compacted, pos + 1)))
            self.end_chunked()
            return
        for o in initial:
            emit("ADDED", o)
        interval = f.setting("bookmark_interval")
        last_bm = time.monotonic()
        while True:
            with store.cond:
                while not d.stopping and time.monotonic() < end and store.rv <= pos and \
                        not (bookmarks and time.monotonic() - last_bm >= interval) and \
                        not (drop_at and time.monotonic() >= drop_at):
                    store.cond.wait(min(0.25, max(0.01, end - time.monotonic())))
                try:
                    evs, newpos = store.events_since(pos, resource, ns)
                except Expired as e:
                    evs, newpos = None, None
                    gone = S.too_old(e.requested, e.oldest)
            if evs is None:
                emit("ERROR", gone)
                break
            pos = newpos
            for rv, _, _, etype, obj, prev in evs:
                now_ok = ok(obj)
                if etype == "MODIFIED":
                    was_ok = ok(prev)
                    if now_ok and not was_ok:
                        etype = "ADDED"
                    elif was_ok and not now_ok:
                        etype, now_ok = "DELETED", True
                if now_ok:
                    emit(etype, obj)
            if drop_at and time.monotonic() >= drop_at:
                raise StreamDropped()
            if d.stopping or time.monotonic() >= end:
                break
            if bookmarks and time.monotonic() - last_bm >= interval:
                emit("BOOKMARK", _bookmark(kind, pos))
                last_bm = time.monotonic()
        self.end_chunked()

    # ------------------------------------------------------------------ pods/log

    def do_log(self, ns, name):
        d = self.server.double
        pod = d.store.get("pods", ns, name)
        if pod is None:
            raise S.not_found("pods", name)
        spec = pod["spec"]
        conts = [c["name"] for c in spec.get("containers") or []]
        inits = [c["name"] for c in spec.get("initContainers") or []]
        cname = self.q.get("container") or ""
        if not cname:
            if len(conts) == 1:
                cname = conts[0]
            else:
                raise S.bad_request("a container name must be specified for pod %s, choose one of: [%s]"
                                    % (name, " ".join(inits + conts)))
        elif cname not in conts and cname not in inits:
            raise S.bad_request("container %s is not valid for pod %s" % (cname, name))
        q = self.q
        errs = []
        since = None
        if q.get("sinceTime"):
            try:
                since = parse_rfc3339(q["sinceTime"])
            except ValueError:
                raise S.bad_request('parsing time "%s" as "2006-01-02T15:04:05Z07:00": cannot parse "%s" as "2006"'
                                    % (q["sinceTime"], q["sinceTime"]))
        ints = {}
        for k in ("sinceSeconds", "tailLines", "limitBytes"):
            if q.get(k) not in (None, ""):
                try:
                    ints[k] = int(q[k])
                except ValueError:
                    raise S.bad_request('strconv.ParseInt: parsing "%s": invalid syntax' % q[k])
        if since is not None and "sinceSeconds" in ints:
            errs.append(S.FieldError("FieldValueForbidden", "", detail="at most one of `sinceTime` or `sinceSeconds` may be specified"))
        if ints.get("sinceSeconds", 1) < 1:
            errs.append(S.FieldError("FieldValueInvalid", "sinceSeconds", ints["sinceSeconds"], "must be greater than 0"))
        if ints.get("tailLines", 0) < 0:
            errs.append(S.FieldError("FieldValueInvalid", "tailLines", ints["tailLines"], "must be greater than or equal to 0"))
        if ints.get("limitBytes", 1) < 1:
            errs.append(S.FieldError("FieldValueInvalid", "limitBytes", ints["limitBytes"], "must be greater than 0"))
        if errs:
            raise S.invalid("PodLogOptions", "", errs)
        if "sinceSeconds" in ints:
            since = time.time() - ints["sinceSeconds"]
        follow = q.get("follow") in TRUE
        stamps = q.get("timestamps") in TRUE
        previous = q.get("previous") in TRUE
        tail, limit = ints.get("tailLines"), ints.get("limitBytes")
        if not spec.get("nodeName"):
            self.start_chunked("text/plain")      # unscheduled: the apiserver streams nothing
            self.end_chunked()
            return
        rt = d.kubelet.get(pod["metadata"]["uid"])
        run = self.pick_run(rt, pod, cname, previous)
        ctx = dict(method="GET", path=self.upath, query=self.query, watch=False, user=self.user.name)
        drop = d.faults.take("drop_after_bytes", **ctx) or d.faults.take("drop_after_seconds", **ctx)
        if drop:
            self.entry["fault"] = "drop"
        drop_at = time.monotonic() + float(drop["drop_after_seconds"]) if drop and "drop_after_seconds" in drop else None
        kcond = d.kubelet.cond
        with kcond:
            recs = [r for r in run.log if since is None or r[0] / 1e9 >= since]
            if tail is not None:
                recs = recs[-tail:] if tail > 0 else []
            idx = len(run.log)
        self.start_chunked("text/plain")
        sent = 0
        while True:
            for t, data in recs:
                out = (rfc3339_nano(t).encode() + b" " if stamps else b"") + data
                if limit is not None and sent + len(out) > limit:
                    out = out[:limit - sent]
                if drop and "drop_after_bytes" in drop and sent + len(out) > int(drop["drop_after_bytes"]):
                    self.chunk(out[:int(drop["drop_after_bytes"]) - sent])
                    raise StreamDropped()
                self.chunk(out)
                sent += len(out)
                if limit is not None and sent >= limit:
                    self.end_chunked()
                    return
            if not follow:
                break
            with kcond:
                while len(run.log) == idx and not (run.eof and run.exit_code is not None) and not d.stopping \
                        and not (rt is not None and rt.gone) and not (drop_at and time.monotonic() >= drop_at):
                    kcond.wait(0.25)
                recs = [r for r in run.log[idx:] if since is None or r[0] / 1e9 >= since]
                idx = len(run.log)
                finished = (run.eof and run.exit_code is not None) or d.stopping or (rt is not None and rt.gone)
            if drop_at and time.monotonic() >= drop_at:
                raise StreamDropped()
            if not recs and finished:
                break
        self.end_chunked()

    @staticmethod
    def pick_run(rt, pod, cname, previous):
        """The kubelet's validateContainerLogStatus: which container instance's log, or the 400."""
        podname = pod["metadata"]["name"]
        c = None if rt is None else next((x for x in rt.containers if x.name == cname), None)
        if c is None or not rt.sandbox:
            reason = "PodInitializing" if pod["spec"].get("initContainers") else "ContainerCreating"
            if previous:
                raise S.bad_request('previous terminated container "%s" in pod "%s" not found' % (cname, podname))
            raise S.bad_request('container "%s" in pod "%s" is waiting to start: %s' % (cname, podname, reason))
        last = c.last_state.get("terminated")
        if previous:
            run = last and next((r for r in c.runs if r.container_id == last.get("containerID")), None)
            if run is None:
                raise S.bad_request('previous terminated container "%s" in pod "%s" not found' % (cname, podname))
            return run
        if "running" in c.state or "terminated" in c.state:
            if c.run is None:
                raise S.bad_request('container "%s" in pod "%s" is terminated' % (cname, podname))
            return c.run
        if last:
            run = next((r for r in c.runs if r.container_id == last.get("containerID")), None)
            if run is not None:
                return run
        reason = c.state.get("waiting", {}).get("reason", "")
        if reason == "ErrImagePull":
            why = "image can't be pulled"
        elif reason == "ImagePullBackOff":
            why = "trying and failing to pull image"
        else:
            why = reason
        raise S.bad_request('container "%s" in pod "%s" is waiting to start: %s' % (cname, podname, why))


AUTHZ_GROUP = {"name": "authorization.k8s.io",
               "versions": [{"groupVersion": "authorization.k8s.io/v1", "version": "v1"}],
               "preferredVersion": {"groupVersion": "authorization.k8s.io/v1", "version": "v1"}}

AUTHN_GROUP = {"name": "authentication.k8s.io",
               "versions": [{"groupVersion": "authentication.k8s.io/v1", "version": "v1"}],
               "preferredVersion": {"groupVersion": "authentication.k8s.io/v1", "version": "v1"}}

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def discovery_core():
    res = []
    for r, (kind, namespaced) in RESOURCES.items():
        if r in GROUP_VERSIONS:
            continue
        res.append({"name": r, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                    "verbs": VERBS if r != "namespaces" else [v for v in VERBS if v != "deletecollection"]})
        if r == "pods":
            res += [{"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
                    {"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod",
                     "verbs": ["get", "patch", "update"]}]
        if r == "namespaces":
            res.append({"name": "namespaces/status", "singularName": "", "namespaced": False, "kind": "Namespace",
                        "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "groupVersion": "v1", "resources": res}


def _item(o):
    """List items carry no kind and apiVersion."""
    return {k: v for k, v in o.items() if k not in ("kind", "apiVersion")}


def _bookmark(kind, rv):
    obj = {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": str(rv), "creationTimestamp": None}}
    if kind == "Pod":
        obj["spec"] = {"containers": None}
        obj["status"] = {}
    return obj


def _verb_word(method):
    return {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, method)


def tls_context(pki):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(pki["server.crt"], pki["server.key"])
    ctx.load_verify_locations(pki["ca.crt"])
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx

