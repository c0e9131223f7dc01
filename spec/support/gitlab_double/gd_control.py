"""The /_double/ control endpoint (JSON, no authentication: the double listens on
loopback only). Bad input is answered 400 with a message. See README.md for the table."""
import re

from gd_errors import BadControl
from gd_jobs import Job
import gd_payload


def handle(h):
    d = h.server.double
    p, m = h.upath.rstrip("/"), h.command
    if p == "/_double/faults":
        if m == "GET":
            return h.send_json(200, d.faults.snapshot())
        if m == "DELETE":
            d.faults.clear()
            return h.send_json(200, d.faults.snapshot())
        if m in ("PUT", "POST"):
            body = h.json_body(control=True)
            if isinstance(body, dict) and "rules" not in body and "settings" not in body:
                body = {"rules": [body]}
            d.faults.load(body, append=(m == "POST"))
            return h.send_json(200, d.faults.snapshot())
    if p == "/_double/settings":
        if m in ("PUT", "POST", "PATCH"):
            return h.send_json(200, d.faults.set_settings(h.json_body(control=True)))
        if m == "GET":
            return h.send_json(200, d.faults.snapshot()["settings"])
    if p == "/_double/requests":
        if m == "DELETE":
            d.clear_requests()
            return h.send_json(200, {"items": []})
        if m == "GET":
            return h.send_json(200, {"items": d.requests_since(int_arg(h, "since", 0))})
    if p == "/_double/runner" and m == "GET":
        with d.state.cond:
            return h.send_json(200, dict(d.state.runner, token=d.state.runner_token, queue_version=d.state.version,
                                         queue=list(d.state.queue)))
    if p == "/_double/repos":
        if m == "POST":
            return h.send_json(201, repo(d, h.json_body(control=True)))
        if m == "GET":
            return h.send_json(200, d.repos.snapshot())
    if p == "/_double/jobs":
        if m == "POST":
            return h.send_json(201, enqueue(d, h.json_body(control=True)).record())
        if m == "GET":
            with_payload = h.q.get("payload") in ("1", "true")
            with d.state.cond:
                jobs = [j.record(with_payload) for j in sorted(d.state.jobs.values(), key=lambda j: j.id)]
            return h.send_json(200, {"items": jobs})
    mm = re.match(r"^/_double/jobs/(\d+)(/[a-z]+)?$", p)
    if mm:
        job = d.state.job(int(mm.group(1)))
        if job is None:
            return h.send_json(404, {"message": "no job %s in the gitlab double" % mm.group(1)})
        what = mm.group(2)
        if what is None and m == "GET":
            with d.state.cond:
                return h.send_json(200, job.record())
        if what == "/wait" and m == "GET":
            timeout = float(h.q.get("timeout") or 30)
            d.state.wait_final(job.id, timeout)
            with d.state.cond:
                rec = job.record()
            if rec["status"] in ("success", "failed", "canceled"):
                return h.send_json(200, rec)
            return h.send_json(408, {"message": "job %d is still %s after %gs" % (job.id, rec["status"], timeout),
                                     "job": rec})
        if what == "/cancel" and m == "POST":
            body = h.json_body(control=True) or {}
            if not isinstance(body, dict) or not isinstance(body.get("graceful", True), bool):
                raise BadControl('cancel: expected {"graceful": true|false}')
            d.state.cancel(job, body.get("graceful", True))
            with d.state.cond:
                return h.send_json(200, job.record())
        if what == "/trace" and m == "GET":
            with d.state.cond:
                data = bytes(job.trace)
            return h.send_answer(200, data, "text/plain; charset=utf-8")
    return h.send_json(404, {"message": "unknown control request %s %s (see spec/support/gitlab_double/README.md)"
                                        % (m, h.upath)})


def int_arg(h, name, default):
    try:
        return int(h.q.get(name) or default)
    except ValueError:
        raise BadControl("%s: expected an integer" % name)


def repo(d, spec):
    r = d.repos.create(spec)
    r["url"] = "%s/%s.git" % (d.url, r["name"])
    return r


def enqueue(d, desc):
    """A job from a description (or {"payload": full payload}), queued with its own id and token."""
    if not isinstance(desc, dict):
        raise BadControl("a job description must be a JSON object")
    jid, pipeline, token = d.state.new_identity()
    ident = {"id": jid, "token": token, "pipeline_id": pipeline}
    if "payload" in desc:
        extra = sorted(set(desc) - {"payload", "dependencies"})
        if extra:
            raise BadControl("with a full payload, only dependencies may be given beside it (got %s)"
                             % ", ".join(extra))
        payload = gd_payload.from_template(desc["payload"], ident)
        deps = desc.get("dependencies") or []
        if not isinstance(deps, list) or not all(isinstance(x, int) for x in deps):
            raise BadControl("dependencies: expected a list of job ids of this double")
    else:
        payload, deps = gd_payload.expand(desc, ident, d.url, d.repos.snapshot())
        if desc.get("repo"):
            d.repos.pipeline_ref(desc["repo"], pipeline, payload["git_info"]["sha"])
    missing = [x for x in deps if d.state.job(x) is None]
    if missing:
        raise BadControl("dependencies: no job(s) %s in the gitlab double" % ", ".join(map(str, missing)))
    return d.state.enqueue(Job(jid, token, payload, deps))
