"""gitlab_double: repositories made through the control endpoint and cloned for real
over smart HTTP (git http-backend), with the job token as GitLab requires."""
import os
import shutil
import subprocess
import tempfile
import unittest

from gd_harness import DoubleTestCase


def git(*args, cwd=None):
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="/bin/false", GIT_CONFIG_NOSYSTEM="1")
    return subprocess.run(["git"] + list(args), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60)


class GitTest(DoubleTestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gd-git-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        super().tearDown()

    def test_clone_with_the_job_token(self):
        gd = self.gd
        repo = gd.repo("acme/app", {"README.md": "hello\n", "bin/run.sh": "#!/bin/sh\necho run\n"},
                       executable=["bin/run.sh"])
        self.assertRegex(repo["sha"], r"^[0-9a-f]{40}$")
        self.assertEqual(repo["url"], gd.ready["url"] + "/acme/app.git")
        job = gd.take({"repo": "acme/app"})
        g = job["payload"]["git_info"]
        self.assertEqual((g["sha"], g["ref"]), (repo["sha"], "main"))
        dest = os.path.join(self.tmp, "clone")
        r = git("clone", "-q", g["repo_url"], dest)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(dest, "README.md")) as f:
            self.assertEqual(f.read(), "hello\n")
        self.assertTrue(os.access(os.path.join(dest, "bin/run.sh"), os.X_OK))
        self.assertEqual(git("rev-parse", "HEAD", cwd=dest).stdout.decode().strip(), repo["sha"])

    def test_fetch_like_the_runner_with_refspecs_and_depth(self):
        gd = self.gd
        repo = gd.control("POST", "repos", {"name": "acme/lib", "commits": [
            {"files": {"a.txt": "1\n"}, "message": "one"},
            {"files": {"a.txt": "2\n", "b.txt": "b\n"}, "message": "two"},
            {"files": {"b.txt": None}, "message": "three"}]}, expect=201)
        self.assertEqual(len(repo["commits"]), 3)
        job = gd.take({"repo": "acme/lib", "depth": 1})
        g = job["payload"]["git_info"]
        dest = os.path.join(self.tmp, "fetch")
        self.assertEqual(git("init", "-q", dest).returncode, 0)
        git("remote", "add", "origin", g["repo_url"], cwd=dest)
        r = git("fetch", "-q", "origin", "--no-recurse-submodules", "--depth", str(g["depth"]), *g["refspecs"], cwd=dest)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(git("checkout", "-f", "-q", g["sha"], cwd=dest).returncode, 0)
        self.assertEqual(sorted(os.listdir(dest)), [".git", "a.txt"])
        self.assertEqual(git("rev-list", "--count", "HEAD", cwd=dest).stdout.strip(), b"1")   # shallow

    def test_more_commits_later_and_another_branch(self):
        gd = self.gd
        first = gd.repo("acme/grow", {"x": "1"})
        second = gd.repo("acme/grow", {"x": "2"})
        self.assertEqual(second["shas"], [first["sha"], second["sha"]])
        feat = gd.repo("acme/grow", {"y": "f"}, branch="feature")
        job = gd.take({"repo": "acme/grow", "ref": "feature"})
        self.assertEqual(job["payload"]["git_info"]["sha"], feat["sha"])
        self.assertIn("+refs/heads/feature:refs/remotes/origin/feature", job["payload"]["git_info"]["refspecs"])

    def test_clone_refused_without_or_with_a_wrong_or_finished_token(self):
        gd = self.gd
        gd.repo("acme/secret", {"s": "1"})
        job = gd.take({"repo": "acme/secret"})
        url = gd.ready["url"] + "/acme/secret.git"
        for u in (url, url.replace("http://", "http://gitlab-ci-token:glcbt-wrong@")):
            r = git("clone", "-q", u, os.path.join(self.tmp, "no"))
            self.assertNotEqual(r.returncode, 0)
        log = [e for e in gd.requests() if e["path"].startswith("/acme/secret.git")]
        self.assertTrue(log and all(e["status"] == 401 for e in log))
        gd.put_job(job["id"], job["token"], {"state": "success"})
        r = git("clone", "-q", job["payload"]["git_info"]["repo_url"], os.path.join(self.tmp, "late"))
        self.assertNotEqual(r.returncode, 0)

    def test_bad_repository_requests(self):
        gd = self.gd
        for spec, word in (({"name": "noslash", "files": {}}, "group/project"),
                           ({"name": "a/../b", "files": {}}, "group/project"),
                           ({"name": "a/b", "files": {"../x": "1"}}, "leaves"),
                           ({"name": "a/b", "files": {"x": 1}}, "text"),
                           ({"name": "a/b", "colour": 1}, "colour")):
            r = gd.request("POST", "/_double/repos", spec)
            self.assertEqual(r.status, 400, spec)
            self.assertIn(word, r.body["message"])
        r = gd.request("POST", "/_double/jobs", {"repo": "no/such"})
        self.assertEqual(r.status, 400)
        self.assertIn("does not exist", r.body["message"])
        gd.repo("acme/shas", {"a": "1"})
        r = gd.request("POST", "/_double/jobs", {"repo": "acme/shas", "sha": "f" * 40})
        self.assertEqual(r.status, 400)
        self.assertIn("is not a commit of acme/shas", r.body["message"])

    def test_push_is_refused(self):
        gd = self.gd
        gd.repo("acme/ro", {"a": "1"})
        job = gd.take({"repo": "acme/ro"})
        r = gd.request("GET", "/acme/ro.git/info/refs?service=git-receive-pack",
                       headers={"Authorization": "Basic " + __import__("base64").b64encode(
                           ("gitlab-ci-token:" + job["token"]).encode()).decode()})
        self.assertEqual(r.status, 403)


if __name__ == "__main__":
    unittest.main()
