"""The runner API of GitLab (reference §12.2): verify, unregister, jobs/request with long
polling, job updates, trace patches, artifact upload and download. `h` is the request
handler (gd_http.Handler): it carries the request and sends the answer."""
import hashlib
import json
import os
import re
import time

from gd_errors import HttpError
from gd_jobs import ACTIVE, FINAL, crc32_text
from gd_multipart import parse_multipart
import gd_payload


def err(code, message=None, headers=None):
    return HttpError(code, message, headers)


def forbidden(job=None):
    return err(403, "403 Forbidden", {"Job-Status": job.status} if job is not None else None)


ROUTES = [
    ("POST", r"^/api/v4/runners/verify$", "verify"),
    ("DELETE", r"^/api/v4/runners/managers$", "delete_manager"),
    ("DELETE", r"^/api/v4/runners$", "delete_runner"),
    ("POST", r"^/api/v4/jobs/request$", "request_job"),
    ("PUT", r"^/api/v4/jobs/(\d+)$", "update_job"),
    ("PATCH", r"^/api/v4/jobs/(\d+)/trace$", "patch_trace"),
    ("POST", r"^/api/v4/jobs/(\d+)/artifacts$", "upload_artifacts"),
    ("GET", r"^/api/v4/jobs/(\d+)/artifacts$", "download_artifacts"),
]


def route(h):
    known_path = False
    for method, pattern, name in ROUTES:
        m = re.match(pattern, h.upath)
        if not m:
            continue
        known_path = True
        if method == h.command:
            if m.groups():
                h.entry["job_id"] = int(m.group(1))
            return globals()[name](h, *[int(g) for g in m.groups()])
    if known_path:
        raise err(405, "405 Method Not Allowed")
    raise err(404, "404 Not Found")


# ---------------------------------------------------------------------- runner calls

def runner_body(h, record=True):
    """The JSON body of a runner call, checked for the runner authentication token; the
    manager's system_id and info are recorded (record=False: not for an unregister)."""
    body = h.json_body()
    if not isinstance(body, dict):
        raise err(400, "400 Bad request - expected a JSON object")
    d = h.server.double
    token = body.get("token") or h.headers.get("RUNNER-TOKEN")
    if not token:
        raise err(400, "400 Bad request - token is missing")
    if token != d.state.runner_token:
        raise err(403, "403 Forbidden")
    if not record:
        return body
    with d.state.cond:
        r = d.state.runner
        if isinstance(body.get("info"), dict):
            r["info"] = body["info"]
        sid = body.get("system_id")
        if sid and sid not in r["system_ids"]:
            r["system_ids"].append(sid)
    return body


def verify(h):
    body = runner_body(h)
    d = h.server.double
    with d.state.cond:
        d.state.runner["verified"] = True
    h.send_json(200, {"id": d.state.runner["id"], "token": body.get("token") or d.state.runner_token,
                      "token_expires_at": "0001-01-01T00:00:00Z"})


def delete_manager(h):
    body = runner_body(h, record=False)
    d = h.server.double
    with d.state.cond:
        sids = d.state.runner["system_ids"]
        if body.get("system_id") not in sids:
            raise err(404, "404 Runner manager not found")
        sids.remove(body["system_id"])
        d.state.runner["deleted_system_ids"].append(body["system_id"])
    h.send_answer(204)


def delete_runner(h):
    runner_body(h)
    h.send_answer(204)


def request_job(h):
    body = runner_body(h)
    d, st = h.server.double, h.server.double.state
    last = body.get("last_update")
    h.entry["last_update"] = last
    with st.cond:
        st.runner["last_update"] = last
    job = st.pop()
    if job is None:
        poll = d.faults.setting("long_poll_seconds")
        headers = {}
        if poll > 0:
            headers["Gitlab-Ci-Builds-Polling"] = "yes"
            # like Workhorse: only a JSON body with last_update is held; 204 on a change or on timeout
            json_body = (h.headers.get("Content-Type") or "").split(";")[0].strip() == "application/json"
            if last and last == st.version and json_body and len(h.body) <= 32 * 1024:
                st.wait_change(last, poll)
        h.send_answer(204, headers=dict(headers, **{"X-GitLab-Last-Update": st.version}))
        return
    with st.cond:
        feats = (body.get("info") or {}).get("features") if isinstance(body.get("info"), dict) else None
        job.runner = {"system_id": body.get("system_id"), "time": time.time(),
                      "cancel_gracefully": bool(isinstance(feats, dict) and feats.get("cancel_gracefully"))}
        gd_payload.resolve_dependencies(job.payload, job.pending_deps, st.jobs, job.token)
        payload = json.loads(json.dumps(job.payload))
    h.entry["job_id"] = job.id
    ctype = "text/plain" if h.fault("wrong_content_type") else "application/json"
    h.send_json(201, payload, ctype=ctype)


# ---------------------------------------------------------------------- job calls

def job_for(h, jid, body_token=None):
    """The job, when the request's JOB-TOKEN (or body token) is its token; else 403."""
    st = h.server.double.state
    job = st.job(jid)
    token = h.headers.get("JOB-TOKEN") or body_token
    if job is None or not token or token != job.token or not job.picked:
        raise err(403, "403 Forbidden")
    return job


def interval(h):
    return str(int(h.server.double.faults.setting("trace_update_interval")))


def update_job(h, jid):
    body = h.json_body()
    if not isinstance(body, dict):
        raise err(400, "400 Bad request - expected a JSON object")
    st = h.server.double.state
    job = job_for(h, jid, body.get("token"))
    state = body.get("state")
    h.entry["state"] = state
    output = body.get("output") if isinstance(body.get("output"), dict) else {}
    rec = {"state": state, "failure_reason": body.get("failure_reason"), "exit_code": body.get("exit_code"),
           "checksum": body.get("checksum"), "output": output, "time": time.time()}
    with st.cond:
        if "bytesize" in output:                 # touches and final updates carry them
            rec["bytesize_ok"] = output.get("bytesize") == len(job.trace)
        if "checksum" in output:
            rec["checksum_ok"] = output.get("checksum") == crc32_text(job.trace)
        if job.status in FINAL:
            rec.update(kind="late", status=403, job_status=job.status)
            job.updates.append(rec)
            raise forbidden(job)
        if state in ("running", "pending"):
            if state == "running" and not job.acked:
                job.acked = True
                rec["kind"] = "ack"
                if job.status == "pending":
                    st.set_status(job, "running")
            else:
                rec["kind"] = "touch" if state == "running" else "keepalive"
            rec.update(status=200, job_status=job.status)
            job.updates.append(rec)
            headers = {"Job-Status": job.status, "X-GitLab-Trace-Update-Interval": interval(h)}
        elif state in ("success", "failed"):
            rec["kind"] = "final"
            later = h.fault("accept_later")
            if later:
                every = str(later.get("interval", 1))
                rec.update(status=202, job_status=job.status)
                job.updates.append(rec)
                headers = {"Job-Status": job.status, "X-GitLab-Trace-Update-Interval": every}
            else:
                job.failure_reason = body.get("failure_reason") if state == "failed" else None
                job.exit_code = body.get("exit_code")
                st.set_status(job, "canceled" if job.status == "canceling" else state)
                rec.update(status=200, job_status=job.status)
                job.updates.append(rec)
                headers = {"Job-Status": job.status, "X-GitLab-Trace-Update-Interval": interval(h)}
        else:
            rec.update(kind="invalid", status=400, job_status=job.status)
            job.updates.append(rec)
            raise err(400, "400 Bad request - state does not have a valid value")
    code = rec["status"]
    h.send_answer(code, str(code).encode(), "text/plain", headers)


def patch_trace(h, jid):
    st, faults = h.server.double.state, h.server.double.faults
    job = job_for(h, jid)
    crange = h.headers.get("Content-Range")
    rec = {"content_range": crange, "len": len(h.body), "debug_trace": h.q.get("debug_trace"),
           "time": time.time()}
    with st.cond:
        def answer(code, headers, message=None):
            rec.update(status=code, **{k: headers[v] for k, v in (("range", "Range"), ("job_status", "Job-Status"))
                                       if v in headers})
            job.patches.append(rec)
            if code == 202:
                return code, headers
            raise err(code, message, headers)

        if job.status not in ACTIVE:
            answer(403, {"Job-Status": job.status})
        # GitLab takes the number before "-" and ignores the end (it computes it from the body),
        # so the runner's empty probe may carry "0--1" or "0-0" alike
        m = re.match(r"^(\d+)-(.*)$", (crange or "").strip())
        if crange is None:
            answer(400, {}, "400 Bad request - Missing header Content-Range")
        if not m:
            answer(400, {}, "400 Bad request - Content-Range must be <start>-<end>")
        start = int(m.group(1))
        rec["start"], rec["end"] = start, m.group(2)
        if len(h.body) > faults.setting("max_patch_bytes"):
            answer(413, {"Job-Status": job.status}, "413 Request Entity Too Large - a trace chunk is at most %d bytes"
                   % faults.setting("max_patch_bytes"))
        shift = h.fault("trace_shift")
        if shift:
            rec["fault"] = "trace_shift"
            k = int(shift["trace_shift"])
            if k < 0:                          # the server lost the tail: it really holds less now
                del job.trace[max(0, len(job.trace) + k):]
                told = len(job.trace)
            else:
                told = len(job.trace) + k
            answer(416, {"Range": "0-%d" % told, "Job-Status": job.status})
        if start != len(job.trace):
            answer(416, {"Range": "0-%d" % len(job.trace), "Job-Status": job.status},
                   "416 Range Not Satisfiable")
        job.trace += h.body
        limit = faults.setting("trace_limit")
        if limit and len(job.trace) > limit:
            job.failure_reason = "trace_size_exceeded"
            st.set_status(job, "failed")
            answer(403, {"Job-Status": job.status})
        code, headers = answer(202, {"Range": "0-%d" % len(job.trace), "Job-Status": job.status,
                                     "X-GitLab-Trace-Update-Interval": interval(h)})
    h.send_answer(code, b"", None, headers)


# ---------------------------------------------------------------------- artifacts

EXT = {"zip": ".zip", "zipzstd": ".zip", "gzip": ".gz", "tarzstd": ".tar.zst", "raw": ""}


def upload_artifacts(h, jid):
    d = h.server.double
    st = d.state
    job = job_for(h, jid)
    if job.status not in ACTIVE:
        raise forbidden(job)
    ctype = h.headers.get("Content-Type", "")
    try:
        parts = parse_multipart(ctype, h.body)
    except ValueError as e:
        raise err(400, "400 Bad request - %s" % e)
    part = next((p for p in parts if p["name"] == "file"), None)
    if part is None:
        raise err(400, "400 Bad request - file is missing")
    query = dict(h.q)
    art_type = query.get("artifact_type", "archive")
    fmt = query.get("artifact_format", "zip")
    folder = os.path.join(d.state_dir, "artifacts", str(jid))
    os.makedirs(folder, exist_ok=True)
    with st.cond:
        n = len(job.artifacts)
        stored = os.path.join(folder, "%d-%s" % (n, re.sub(r"[^A-Za-z0-9_.-]", "_", part["filename"] or "file")))
        with open(stored, "wb") as f:
            f.write(part["data"])
        rec = {"filename": part["filename"], "size": len(part["data"]), "sha256": hashlib.sha256(part["data"]).hexdigest(),
               "content_type": part["content_type"], "query": query, "artifact_type": art_type,
               "artifact_format": fmt, "expire_in": query.get("expire_in"), "path": stored,
               "chunked": "chunked" in h.headers.get("Transfer-Encoding", "").lower(), "time": time.time()}
        job.artifacts.append(rec)
        if art_type == "archive":
            job.archive = {"filename": part["filename"], "size": rec["size"], "path": stored, "format": fmt}
    h.send_json(201, {"id": jid, "artifact_type": art_type, "filename": part["filename"], "size": rec["size"]})


def download_artifacts(h, jid):
    st = h.server.double.state
    token = h.headers.get("JOB-TOKEN") or h.q.get("job_token")
    if not token:
        raise err(401, "401 Unauthorized")
    caller = st.active_token(token)
    if caller is None:
        raise err(403, "403 Forbidden")
    dep = st.job(jid)
    with st.cond:
        blob = dep.archive if dep is not None else None
        caller.downloads.append({"id": jid, "status": 200 if blob else 404,
                                 "direct_download": h.q.get("direct_download"), "time": time.time()})
    if blob is None:
        raise err(404, "404 Not Found")
    with open(blob["path"], "rb") as f:
        data = f.read()
    ctype = "application/zip" if blob["format"] in ("zip", "zipzstd") else "application/octet-stream"
    h.send_answer(200, data, ctype, {"Content-Disposition": 'attachment; filename="%s"' % blob["filename"]})
