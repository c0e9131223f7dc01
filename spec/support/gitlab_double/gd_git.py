"""Git repositories for real clones: bare repositories made from files given by the
test, served over smart HTTP by `git http-backend` (a CGI run as a subprocess).
Read-only: only git-upload-pack is served."""
import os
import re
import shutil
import subprocess
import tempfile
import threading

from gd_errors import BadControl

NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
AUTHOR = {"GIT_AUTHOR_NAME": "GitLab Double", "GIT_AUTHOR_EMAIL": "double@example.invalid",
          "GIT_COMMITTER_NAME": "GitLab Double", "GIT_COMMITTER_EMAIL": "double@example.invalid"}


def _git(args, cwd=None, env=None, data=None):
    e = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=os.environ.get("HOME", "/tmp"), **AUTHOR)
    e.update(env or {})
    r = subprocess.run(["git"] + args, cwd=cwd, env=e, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("git %s: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
    return r.stdout.decode().strip()


class Repos:
    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.lock = threading.Lock()
        self.repos = {}                  # name -> {sha, branch, project_id, shas}
        self.next_project = 4821

    def bare(self, name):
        return os.path.join(self.root, name + ".git")

    def create(self, spec):
        """spec: {"name": "group/project", "files": {path: text}, "commits": [{"files", "message"}],
        "branch": "main", "executable": [paths]}. A second call for the same name adds commits.
        A file whose text is null is deleted by that commit."""
        if not isinstance(spec, dict):
            raise BadControl("a repository must be described by a JSON object")
        unknown = sorted(set(spec) - {"name", "files", "commits", "branch", "executable", "message"})
        if unknown:
            raise BadControl("unknown repository key(s): %s" % ", ".join(unknown))
        name = spec.get("name")
        if not isinstance(name, str) or not NAME.match(name) or ".." in name.split("/") or name.endswith(".git"):
            raise BadControl('name: expected "group/project" (letters, digits, ".", "_", "-"), got %r' % (name,))
        branch = spec.get("branch", "main")
        if not isinstance(branch, str) or not re.match(r"^[A-Za-z0-9_./-]+$", branch) or branch.startswith("-"):
            raise BadControl("branch: not a branch name: %r" % (branch,))
        commits = spec.get("commits")
        if commits is None:
            commits = [{"files": spec.get("files") or {}, "message": spec.get("message", "Initial commit"),
                        "executable": spec.get("executable") or []}]
        if not isinstance(commits, list) or not commits:
            raise BadControl("commits: expected a non-empty list of {\"files\": {...}, \"message\": ...}")
        for i, c in enumerate(commits):
            if not isinstance(c, dict) or not isinstance(c.get("files", {}), dict):
                raise BadControl("commits[%d]: expected {\"files\": {path: text}, \"message\": ...}" % i)
            for p, t in c.get("files", {}).items():
                if p.startswith("/") or ".." in p.split("/") or p.startswith(".git/") or p == ".git":
                    raise BadControl("commits[%d].files: path %r leaves the repository" % (i, p))
                if t is not None and not isinstance(t, str):
                    raise BadControl("commits[%d].files[%r]: expected text or null" % (i, p))
        with self.lock:
            return self._create(name, branch, commits)

    def _create(self, name, branch, commits):
        bare = self.bare(name)
        work = tempfile.mkdtemp(prefix="gitlab-double-repo-")
        try:
            if os.path.isdir(bare):
                _git(["clone", "-q", bare, work])
                _git(["checkout", "-q", "-B", branch] + (["origin/" + branch] if self._has(bare, branch) else []),
                     cwd=work)
            else:
                os.makedirs(os.path.dirname(bare), exist_ok=True)
                _git(["init", "-q", "--bare", bare])
                _git(["symbolic-ref", "HEAD", "refs/heads/" + branch], cwd=bare)
                _git(["init", "-q", work])
                _git(["checkout", "-q", "-b", branch], cwd=work)
            shas = []
            for n, c in enumerate(commits):
                for p, text in c.get("files", {}).items():
                    full = os.path.join(work, p)
                    if text is None:
                        if os.path.lexists(full):
                            os.remove(full)
                        continue
                    os.makedirs(os.path.dirname(full), exist_ok=True)
                    with open(full, "w") as f:
                        f.write(text)
                    os.chmod(full, 0o755 if p in (c.get("executable") or []) else 0o644)
                _git(["add", "-A"], cwd=work)
                date = {"GIT_AUTHOR_DATE": "2026-01-01T12:%02d:00Z" % (n % 60),
                        "GIT_COMMITTER_DATE": "2026-01-01T12:%02d:00Z" % (n % 60)}
                _git(["commit", "-q", "--allow-empty", "-m", c.get("message") or "Commit %d" % (n + 1)],
                     cwd=work, env=date)
                shas.append(_git(["rev-parse", "HEAD"], cwd=work))
            _git(["push", "-q", "-f", bare, "HEAD:refs/heads/" + branch], cwd=work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        r = self.repos.get(name)
        if r is None:
            r = self.repos[name] = {"project_id": self.next_project, "shas": []}
            self.next_project += 1
        r.update(sha=shas[-1], branch=branch)
        r["shas"] = r["shas"] + shas
        return dict(r, name=name, commits=shas, path=bare)

    @staticmethod
    def _has(bare, branch):
        try:
            _git(["rev-parse", "--verify", "-q", "refs/heads/" + branch], cwd=bare)
            return True
        except RuntimeError:
            return False

    def pipeline_ref(self, name, pipeline_id, sha):
        """refs/pipelines/<id> as GitLab keeps it, so the payload's refspecs can be fetched."""
        with self.lock:
            try:
                _git(["update-ref", "refs/pipelines/%d" % pipeline_id, sha + "^{commit}"], cwd=self.bare(name))
            except RuntimeError:
                raise BadControl("sha %s is not a commit of %s" % (sha, name))

    def snapshot(self):
        with self.lock:
            return {n: dict(r) for n, r in self.repos.items()}

    def serve(self, method, path, query, headers, body, user):
        """Run git http-backend for one request; returns (status, headers list, body)."""
        m = re.match(r"^/(.+?\.git)(/.*)$", path)
        if not m or m.group(1)[:-4] not in self.repos:
            return 404, [("Content-Type", "text/plain")], b"Repository not found\n"
        if "git-receive-pack" in path or "service=git-receive-pack" in query:
            return 403, [("Content-Type", "text/plain")], b"The gitlab double serves clones only\n"
        env = {
            "GIT_PROJECT_ROOT": self.root, "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path,
            "QUERY_STRING": query, "REQUEST_METHOD": method, "REMOTE_USER": user, "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": headers.get("Content-Type") or "", "CONTENT_LENGTH": str(len(body)),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": os.environ.get("HOME", "/tmp"),
        }
        for h in ("Git-Protocol", "Content-Encoding"):
            if headers.get(h):
                env["HTTP_" + h.upper().replace("-", "_")] = headers[h]
        r = subprocess.run(["git", "http-backend"], env=env, input=body, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        out = r.stdout
        head, sep, rest = out.partition(b"\r\n\r\n")
        if not sep:
            head, sep, rest = out.partition(b"\n\n")
        status, hdrs = 200, []
        for line in head.decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                hdrs.append((k.strip(), v.strip()))
        if r.returncode != 0 and not sep:
            return 500, [("Content-Type", "text/plain")], r.stderr
        return status, hdrs, rest
