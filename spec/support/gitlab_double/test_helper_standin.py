"""The gitlab-runner-helper stand-in (spec/support/gitlab-runner-helper) against the
double: artifacts upload then download, globs and excludes, errors and retries, and a
cache archive then extract."""
import os
import shutil
import stat
import subprocess
import tempfile
import unittest
import zipfile

from gd_harness import DoubleTestCase

HELPER = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "gitlab-runner-helper"))


def write(root, rel, text, mode=None):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)
    if mode:
        os.chmod(p, mode)


class HelperTest(DoubleTestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gd-helper-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        super().tearDown()

    def dir(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        return d

    def helper(self, cwd, *args, env=None):
        e = dict(os.environ, PATH=os.path.dirname(HELPER) + ":" + os.environ.get("PATH", ""))
        e.update(env or {})
        r = subprocess.run(["gitlab-runner-helper"] + list(args), cwd=cwd, env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        return r.returncode, r.stdout.decode()

    def test_version(self):
        code, out = self.helper(self.tmp, "--version")
        self.assertEqual(code, 0)
        self.assertIn("Version:", out)
        self.assertIn("stand-in", out)

    def test_unknown_command_and_flag(self):
        self.assertEqual(self.helper(self.tmp, "read-logs")[0], 1)
        code, out = self.helper(self.tmp, "artifacts-uploader", "--colour", "x")
        self.assertEqual(code, 1)
        self.assertIn("FATAL: flag provided but not defined: -colour", out)

    def test_upload_then_download_round_trip(self):
        gd = self.gd
        src = self.dir("build")
        write(src, "out/a.txt", "A\n")
        write(src, "out/sub/b.log", "B\n")
        write(src, "out/sub/skip.tmp", "tmp\n")
        write(src, "bin/run", "#!/bin/sh\n", 0o755)
        write(src, "other.txt", "not taken\n")
        os.symlink("a.txt", os.path.join(src, "out/link"))
        build = gd.take({"name": "build"})
        code, out = self.helper(src, "artifacts-uploader", "--url", gd.ready["url"] + "/", "--token", build["token"],
                                "--id", str(build["id"]), "--timeout", "1h0m0s", "--response-header-timeout", "10m0s",
                                "--path", "out/", "--path", "bin/*", "--path", "missing/", "--exclude", "out/**/*.tmp",
                                "--name", "build-output", "--expire-in", "7 days", "--artifact-format", "zip",
                                "--artifact-type", "archive")
        self.assertEqual(code, 0, out)
        self.assertIn("out/: found", out)
        self.assertIn("WARNING: missing/: no matching files", out)
        self.assertIn('Uploading artifacts as "archive" to coordinator... 201 Created', out)
        self.assertNotIn(build["token"], out)
        art = gd.job(build["id"])["artifacts"][0]
        self.assertEqual((art["filename"], art["expire_in"], art["artifact_format"], art["chunked"]),
                         ("build-output.zip", "7 days", "zip", True))
        with zipfile.ZipFile(art["path"]) as z:
            names = sorted(z.namelist())
        self.assertEqual(names, ["bin/run", "out/", "out/a.txt", "out/link", "out/sub/", "out/sub/b.log"])
        gd.put_job(build["id"], build["token"], {"state": "success"})

        test = gd.take({"name": "test", "dependencies": [build["id"]]})
        dep = gd.job(test["id"])["payload"]["dependencies"][0]
        dst = self.dir("test")
        code, out = self.helper(dst, "artifacts-downloader", "--url", gd.ready["url"], "--token", dep["token"],
                                "--id", str(dep["id"]))
        self.assertEqual(code, 0, out)
        self.assertIn("Downloading artifacts from coordinator... ok", out)
        with open(os.path.join(dst, "out/sub/b.log")) as f:
            self.assertEqual(f.read(), "B\n")
        self.assertTrue(os.stat(os.path.join(dst, "bin/run")).st_mode & stat.S_IXUSR)
        self.assertEqual(os.readlink(os.path.join(dst, "out/link")), "a.txt")
        self.assertFalse(os.path.exists(os.path.join(dst, "out/sub/skip.tmp")))
        self.assertFalse(os.path.exists(os.path.join(dst, "other.txt")))
        self.assertEqual(gd.job(test["id"])["downloads"][0]["direct_download"], "true")

    def test_nothing_to_upload_is_not_an_error(self):
        gd = self.gd
        job = gd.take()
        code, out = self.helper(self.dir("empty"), "artifacts-uploader", "--url", gd.ready["url"], "--token",
                                job["token"], "--id", str(job["id"]), "--path", "nothing/")
        self.assertEqual(code, 0)
        self.assertIn("ERROR: No files to upload", out)
        self.assertEqual(gd.job(job["id"])["artifacts"], [])

    def test_upload_forbidden_and_download_missing_fail(self):
        gd = self.gd
        job = gd.take()
        d = self.dir("p")
        write(d, "f.txt", "x")
        code, out = self.helper(d, "artifacts-uploader", "--url", gd.ready["url"], "--token", "glcbt-wrong",
                                "--id", str(job["id"]), "--path", "f.txt")
        self.assertEqual(code, 1)
        self.assertIn("FATAL: permission denied", out)
        code, out = self.helper(d, "artifacts-downloader", "--url", gd.ready["url"], "--token", job["token"],
                                "--id", str(job["id"]))
        self.assertEqual(code, 1)
        self.assertIn("FATAL: file does not exist", out)

    def test_upload_retries_a_server_error(self):
        gd = self.gd
        job = gd.take()
        d = self.dir("r")
        write(d, "f.txt", "x")
        gd.faults({"path": "/artifacts$", "error": 500, "times": 1})
        code, out = self.helper(d, "artifacts-uploader", "--url", gd.ready["url"], "--token", job["token"],
                                "--id", str(job["id"]), "--path", "f.txt", "--artifact-format", "raw",
                                "--name", "f.txt", "--artifact-type", "dotenv")
        self.assertEqual(code, 0, out)
        self.assertIn("responseStatus=500", out)
        art = gd.job(job["id"])["artifacts"][0]
        self.assertEqual((art["filename"], art["size"], art["artifact_type"]), ("f.txt", 1, "dotenv"))

    def test_cache_archive_then_extract(self):
        proj = self.dir("builds/acme/app")
        write(proj, ".cache/pip/wheel.whl", "wheel")
        write(proj, "node_modules/x/index.js", "js")
        write(proj, "tracked.txt", "t")
        subprocess.run(["git", "init", "-q"], cwd=proj, check=True)
        subprocess.run(["git", "add", "tracked.txt"], cwd=proj, check=True)
        write(proj, "untracked.txt", "u")
        cache = "../../../cache/acme/app/deps-protected/cache.zip"
        code, out = self.helper(proj, "cache-archiver", "--file", cache, "--timeout", "10", "--path", ".cache",
                                "--path", "node_modules/**/*.js", "--untracked")
        self.assertEqual(code, 0, out)
        self.assertIn("No URL provided, cache will not be uploaded", out)
        self.assertTrue(os.path.isfile(os.path.join(proj, cache)))
        fresh = self.dir("builds2/acme/app")
        code, out = self.helper(fresh, "cache-extractor", "--file", os.path.join(proj, cache), "--timeout", "10")
        self.assertEqual(code, 0, out)
        for rel in (".cache/pip/wheel.whl", "node_modules/x/index.js", "untracked.txt"):
            self.assertTrue(os.path.isfile(os.path.join(fresh, rel)), rel)
        self.assertFalse(os.path.exists(os.path.join(fresh, "tracked.txt")))

    def test_cache_extract_of_a_missing_file_fails(self):
        code, out = self.helper(self.dir("x"), "cache-extractor", "--file", "../cache/none/cache.zip",
                                "--timeout", "10")
        self.assertEqual(code, 1)
        self.assertIn("FATAL: file does not exist", out)


if __name__ == "__main__":
    unittest.main()
