"""Job payloads (reference §4): a short description expanded into a realistic full
payload, or a full payload used as a template; either way the job gets its own id and
token everywhere they appear (§12.2.4)."""
import copy
import json
import re
import urllib.parse

from gd_errors import BadControl

FAILURE_REASONS = [
    "unknown_failure", "script_failure", "api_failure", "stuck_or_timeout_failure", "runner_system_failure",
    "missing_dependency_failure", "runner_unsupported", "stale_schedule", "job_execution_timeout",
    "archived_failure", "unmet_prerequisites", "scheduler_failure", "data_integrity_failure",
    "runner_configuration_error", "runner_external_dependency_failure", "runner_interrupted",
]
NO_SHA = "0" * 40
FAKE_SHA = "4be0c3a1f7d29e85b6c04d13a9f2e7c58b1d6a30"
DESC_KEYS = ("name", "stage", "script", "after_script", "image", "services", "variables", "artifacts", "cache",
             "dependencies", "timeout", "git_strategy", "repo", "ref", "sha", "depth", "project_id",
             "features", "merge", "payload", "allow_git_fetch", "hooks")
WHEN = ("on_success", "on_failure", "always")


def _list(v, what):
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list):
        raise BadControl("%s: expected a string or a list" % what)
    return v


def _var(key, value, public=True, masked=False, file=False, raw=False):
    v = {"key": key, "value": value, "public": public, "masked": masked}
    if file:
        v["file"] = True
    if raw:
        v["raw"] = True
    return v


def variables_from(v, what="variables"):
    """{"K": "v"} or {"K": {"value":..., "masked":...}} or [{"key":...}] -> payload variables.
    A masked or file variable is not public unless told so (like a CI/CD settings variable)."""
    out = []
    if v is None:
        return out
    items = v.items() if isinstance(v, dict) else None
    if items is None:
        if not isinstance(v, list):
            raise BadControl("%s: expected an object or a list" % what)
        items = []
        for i, x in enumerate(v):
            if not isinstance(x, dict) or not isinstance(x.get("key"), str):
                raise BadControl('%s[%d]: expected {"key": ..., "value": ...}' % (what, i))
            items.append((x["key"], x))
    for k, x in items:
        if isinstance(x, str):
            out.append(_var(k, x))
        elif isinstance(x, dict):
            extra = sorted(set(x) - {"key", "value", "public", "masked", "file", "raw"})
            if extra:
                raise BadControl("%s.%s: unknown field(s): %s" % (what, k, ", ".join(extra)))
            if not isinstance(x.get("value", ""), str):
                raise BadControl("%s.%s: value must be a string" % (what, k))
            secret = bool(x.get("masked") or x.get("file"))
            out.append(_var(k, x.get("value", ""), x.get("public", not secret), bool(x.get("masked")),
                            bool(x.get("file")), bool(x.get("raw"))))
        else:
            raise BadControl("%s.%s: expected a string or an object" % (what, k))
    return out


def _image(v, what):
    if v is None:
        return None
    if isinstance(v, str):
        return {"name": v}
    if not isinstance(v, dict) or not isinstance(v.get("name"), str):
        raise BadControl('%s: expected an image name or {"name": ...}' % what)
    img = copy.deepcopy(v)
    if "variables" in img:
        img["variables"] = variables_from(img["variables"], what + ".variables")
        for x in img["variables"]:
            x["public"] = True
    return img


def _entries(v, what):
    if v is None:
        return []
    if isinstance(v, dict):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise BadControl("%s: expected an object or a list of objects" % what)
    return v


def _artifacts(v):
    out = []
    for i, a in enumerate(_entries(v, "artifacts")):
        what = "artifacts[%d]" % i
        extra = sorted(set(a) - {"name", "paths", "exclude", "untracked", "when", "expire_in", "artifact_type",
                                 "artifact_format"})
        if extra:
            raise BadControl("%s: unknown field(s): %s" % (what, ", ".join(extra)))
        when = a.get("when", "on_success")
        if when not in WHEN:
            raise BadControl("%s.when: expected one of %s" % (what, ", ".join(WHEN)))
        e = {"name": a.get("name", "artifacts"), "untracked": bool(a.get("untracked")),
             "paths": _list(a.get("paths"), what + ".paths"), "exclude": _list(a.get("exclude"), what + ".exclude"),
             "when": when, "artifact_type": a.get("artifact_type", "archive"),
             "artifact_format": a.get("artifact_format", "zip")}
        if a.get("expire_in"):
            e["expire_in"] = a["expire_in"]
        out.append(e)
    return out


def _cache(v, protected):
    out = []
    suffix = "-protected" if protected else "-non_protected"
    for i, c in enumerate(_entries(v, "cache")):
        what = "cache[%d]" % i
        extra = sorted(set(c) - {"key", "paths", "untracked", "policy", "when", "fallback_keys"})
        if extra:
            raise BadControl("%s: unknown field(s): %s" % (what, ", ".join(extra)))
        key = c.get("key", "default")
        out.append({"key": key + suffix if key else key, "untracked": bool(c.get("untracked")),
                    "policy": c.get("policy", "pull-push"), "paths": _list(c.get("paths"), what + ".paths"),
                    "when": c.get("when", "on_success"),
                    "fallback_keys": [k + suffix for k in _list(c.get("fallback_keys"), what + ".fallback_keys")]})
    return out


def _steps(desc, timeout):
    script = _list(desc.get("script", ["echo hello from the gitlab double"]), "script")
    steps = [{"name": "script", "script": script, "timeout": timeout, "when": "on_success", "allow_failure": False}]
    if desc.get("after_script") is not None:
        steps.append({"name": "after_script", "script": _list(desc["after_script"], "after_script"),
                      "timeout": 300, "when": "always", "allow_failure": True})
    return steps


def expand(desc, ident, server_url, repos):
    """The full payload of a short description. ident: {id, token, pipeline_id}; repos: the
    double's git repositories (name -> {sha, branch}). Returns (payload, dependency ids)."""
    if not isinstance(desc, dict):
        raise BadControl("a job description must be a JSON object")
    unknown = sorted(k for k in desc if k not in DESC_KEYS)
    if unknown:
        raise BadControl("unknown job description key(s): %s (known: %s)" % (", ".join(unknown), ", ".join(DESC_KEYS)))
    jid, token, pipeline = ident["id"], ident["token"], ident["pipeline_id"]
    name = desc.get("name", "test")
    timeout = desc.get("timeout", 3600)
    if not isinstance(timeout, int):
        raise BadControl("timeout: expected seconds (an integer)")
    repo = desc.get("repo")
    if repo is not None and repo not in repos:
        raise BadControl("repo %r does not exist: create it first with POST /_double/repos" % (repo,))
    path = repo if repo else "acme/demo"
    namespace, _, project = path.rpartition("/")
    ref = desc.get("ref") or (repos[repo]["branch"] if repo else "main")
    sha = desc.get("sha") or (repos[repo]["sha"] if repo else FAKE_SHA)
    project_id = desc.get("project_id") or (repos[repo]["project_id"] if repo else 4821)
    depth = desc.get("depth", 20)
    u = urllib.parse.urlsplit(server_url)
    repo_url = "%s://gitlab-ci-token:%s@%s/%s.git" % (u.scheme, token, u.netloc, path)
    protected = ref == "main"
    deps = desc.get("dependencies") or []
    if not isinstance(deps, list) or not all(isinstance(d, int) for d in deps):
        raise BadControl("dependencies: expected a list of job ids of this double")
    strategy = desc.get("git_strategy") or (None if repo else "none")
    if strategy is not None and strategy not in ("clone", "fetch", "none", "empty"):
        raise BadControl("git_strategy: expected clone, fetch, none or empty")
    v = [
        _var("CI", "true"), _var("GITLAB_CI", "true"),
        _var("CI_SERVER_URL", server_url), _var("CI_SERVER_HOST", u.hostname),
        _var("CI_SERVER_PORT", str(u.port)), _var("CI_SERVER_PROTOCOL", u.scheme),
        _var("CI_API_V4_URL", server_url + "/api/v4"),
        _var("CI_JOB_ID", str(jid)), _var("CI_JOB_NAME", name), _var("CI_JOB_STAGE", desc.get("stage", "test")),
        _var("CI_JOB_URL", "%s/%s/-/jobs/%d" % (server_url, path, jid)),
        _var("CI_JOB_TOKEN", token, public=False, masked=True),
        _var("CI_PIPELINE_ID", str(pipeline)), _var("CI_PIPELINE_SOURCE", "push"),
        _var("CI_PROJECT_ID", str(project_id)), _var("CI_PROJECT_NAME", project),
        _var("CI_PROJECT_PATH", path), _var("CI_PROJECT_NAMESPACE", namespace),
        _var("CI_PROJECT_ROOT_NAMESPACE", namespace.split("/")[0]),
        _var("CI_PROJECT_URL", "%s/%s" % (server_url, path)),
        _var("CI_COMMIT_SHA", sha), _var("CI_COMMIT_SHORT_SHA", sha[:8]),
        _var("CI_COMMIT_BEFORE_SHA", NO_SHA), _var("CI_COMMIT_REF_NAME", ref),
        _var("CI_COMMIT_REF_SLUG", re.sub(r"[^a-z0-9]+", "-", ref.lower()).strip("-")[:63]),
        _var("CI_COMMIT_BRANCH", ref), _var("CI_DEFAULT_BRANCH", "main"),
        _var("CI_COMMIT_REF_PROTECTED", "true" if protected else "false"),
        _var("CI_REPOSITORY_URL", repo_url, public=False),
        _var("CI_REGISTRY", "registry." + (u.hostname or "localhost")),
        _var("CI_REGISTRY_USER", "gitlab-ci-token"),
        _var("CI_REGISTRY_PASSWORD", token, public=False, masked=True),
        _var("CI_RUNNER_ID", "73"), _var("CI_RUNNER_DESCRIPTION", "lunar"), _var("CI_RUNNER_TAGS", "[]"),
        _var("GITLAB_USER_LOGIN", "tester"),
    ]
    if depth:
        v.append(_var("GIT_DEPTH", str(depth)))
    v += variables_from(desc.get("variables"))
    if strategy is not None:
        v.append(_var("GIT_STRATEGY", strategy))
    payload = {
        "id": jid, "token": token, "allow_git_fetch": bool(desc.get("allow_git_fetch", True)),
        "job_info": {"id": jid, "name": name, "stage": desc.get("stage", "test"), "pipeline_id": pipeline,
                     "project_id": project_id, "project_name": project, "project_full_path": path,
                     "namespace_id": 311, "root_namespace_id": 300, "organization_id": 1, "user_id": 1042,
                     "instance_id": "", "instance_uuid": "b7c1d2e3-4f56-4789-9abc-def012345678",
                     "time_in_queue_seconds": 0.5, "project_jobs_running_on_instance_runners_count": "0",
                     "queue_size": 0, "queue_depth": 0},
        "git_info": {"repo_url": repo_url, "repo_object_format": "sha1", "ref": ref, "sha": sha,
                     "before_sha": NO_SHA, "ref_type": "branch",
                     "refspecs": ["+refs/pipelines/%d:refs/pipelines/%d" % (pipeline, pipeline),
                                  "+refs/heads/%s:refs/remotes/origin/%s" % (ref, ref)],
                     "depth": depth, "protected": protected},
        "runner_info": {"timeout": timeout, "uuid": "9d3e6f1a-2b4c-4d8e-a1f0-5c6b7a8d9e0f",
                        "runner_session_url": None},
        "variables": v,
        "steps": _steps(desc, timeout),
        "image": _image(desc.get("image", "alpine:3.20"), "image"),
        "services": [_image(s, "services[%d]" % i) for i, s in enumerate(_list(desc.get("services"), "services"))],
        "artifacts": _artifacts(desc.get("artifacts")),
        "cache": _cache(desc.get("cache"), protected),
        "credentials": [{"type": "registry", "url": "registry." + (u.hostname or "localhost"),
                         "username": "gitlab-ci-token", "password": token}],
        "dependencies": [],
        "features": desc.get("features") or {"trace_sections": True, "token_mask_prefixes": [],
                                               "failure_reasons": list(FAILURE_REASONS)},
        "hooks": desc.get("hooks") or [],
    }
    if payload["image"] is None:
        del payload["image"]
    merge = desc.get("merge") or {}
    if not isinstance(merge, dict):
        raise BadControl("merge: expected an object of top-level payload fields")
    payload.update(copy.deepcopy(merge))
    return payload, list(deps)


def from_template(template, ident):
    """A full payload given by the test, with the job's own id and token substituted."""
    if not isinstance(template, dict):
        raise BadControl("payload: expected the JSON object of a job payload")
    for k, kind in (("git_info", dict), ("job_info", dict)):
        if not isinstance(template.get(k), kind):
            raise BadControl("payload: missing %s (a GitLab job payload has it)" % k)
    jid, token = ident["id"], ident["token"]
    old_token, old_id = template.get("token"), template.get("id")
    text = json.dumps(template)
    if isinstance(old_token, str) and old_token:
        text = text.replace(json.dumps(old_token)[1:-1], token)     # repo URLs, variables, credentials
    p = json.loads(text)
    p["id"], p["token"] = jid, token
    p["job_info"]["id"] = jid
    g = p["git_info"]
    if isinstance(g.get("repo_url"), str):
        u = urllib.parse.urlsplit(g["repo_url"])
        if u.hostname:
            netloc = "gitlab-ci-token:%s@%s" % (token, u.netloc.rpartition("@")[2])
            g["repo_url"] = urllib.parse.urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))
    for v in p.get("variables") or []:
        if v.get("key") in ("CI_JOB_TOKEN", "CI_REGISTRY_PASSWORD"):
            v["value"] = token
        elif v.get("key") == "CI_JOB_ID":
            v["value"] = str(jid)
        elif v.get("key") == "CI_JOB_URL" and old_id is not None:
            v["value"] = re.sub(r"/-/jobs/%s$" % re.escape(str(old_id)), "/-/jobs/%d" % jid, v.get("value", ""))
    for c in p.get("credentials") or []:
        if c.get("username") == "gitlab-ci-token":
            c["password"] = token
    for d in p.get("dependencies") or []:
        d["token"] = token
    return p


def resolve_dependencies(payload, dep_ids, jobs, token):
    """At hand-out time (as GitLab does): each dependency with its archive, if it has one,
    carrying the running job's token."""
    out = []
    for did in dep_ids:
        j = jobs.get(did)
        if j is None:
            continue
        d = {"id": did, "name": j.payload.get("job_info", {}).get("name", ""), "token": token}
        if j.archive:
            d["artifacts_file"] = {"filename": j.archive["filename"], "size": j.archive["size"]}
        out.append(d)
    if dep_ids:
        payload["dependencies"] = out
