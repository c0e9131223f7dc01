"""gitlab_double: runner-level calls (verify, unregister, jobs/request with long polling),
ready.json, the wire (keep-alive, chunked bodies) and the request log."""
import http.client
import json
import os
import signal
import subprocess
import threading
import time
import unittest

from gd_harness import DoubleTestCase, GitLabDouble, INFO


class RunnerApiTest(DoubleTestCase):

    def test_ready_json(self):
        r = self.gd.ready
        self.assertTrue(r["runner_token"].startswith("glrt-"))
        self.assertEqual(r["url"], "http://127.0.0.1:%d" % r["port"])
        self.assertEqual(r["control_url"], r["url"] + "/_double/")
        self.assertEqual(r["repos_url"], r["url"] + "/")
        self.assertEqual(r["state_dir"], self.gd.dir)
        self.assertNotIn("ca_file", r)
        self.assertEqual(r["pid"], self.gd.proc.pid)

    def test_verify(self):
        gd = self.gd
        r = gd.runner_call("POST", "/api/v4/runners/verify")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["Content-Type"], "application/json")
        self.assertEqual(r.body, {"id": 73, "token": gd.ready["runner_token"],
                                  "token_expires_at": "0001-01-01T00:00:00Z"})
        runner = gd.control("GET", "runner")
        self.assertTrue(runner["verified"])
        self.assertIn("s_0e5f3c1a9b2d", runner["system_ids"])
        self.assertEqual(runner["info"]["features"], INFO["features"])
        r = gd.runner_call("POST", "/api/v4/runners/verify", token="glrt-wrong")
        self.assertEqual((r.status, r.body), (403, {"message": "403 Forbidden"}))
        self.assertEqual(r.headers["Content-Type"], "application/json")

    def test_unregister_manager(self):
        gd = self.gd
        r = gd.runner_call("DELETE", "/api/v4/runners/managers", {"system_id": "s_unknown00000"})
        self.assertEqual((r.status, r.body), (404, {"message": "404 Runner manager not found"}))
        r = gd.runner_call("DELETE", "/api/v4/runners/managers", token="glrt-wrong")
        self.assertEqual(r.status, 403)
        gd.runner_call("POST", "/api/v4/runners/verify", {"system_id": "s_aaaaaaaaaaaa"})
        r = gd.runner_call("DELETE", "/api/v4/runners/managers", {"system_id": "s_aaaaaaaaaaaa"})
        self.assertEqual((r.status, r.raw), (204, b""))
        self.assertIn("s_aaaaaaaaaaaa", gd.control("GET", "runner")["deleted_system_ids"])

    def test_request_empty_queue_204_with_last_update(self):
        gd = self.gd
        gd.settings(long_poll_seconds=0)
        r = gd.request_job()
        self.assertEqual((r.status, r.raw), (204, b""))
        v = r.headers["X-GitLab-Last-Update"]
        self.assertRegex(v, r"^[0-9a-f]{32}$")
        t0 = time.time()
        self.assertEqual(gd.request_job(v).headers["X-GitLab-Last-Update"], v)   # no long poll: at once
        self.assertLess(time.time() - t0, 1.5)
        self.assertNotIn("Gitlab-Ci-Builds-Polling", r.headers)

    def test_request_bad_token(self):
        r = self.gd.request_job(token="glrt-nope")
        self.assertEqual((r.status, r.body), (403, {"message": "403 Forbidden"}))

    def test_request_hands_out_the_job_with_its_id_and_token(self):
        gd = self.gd
        a = gd.enqueue({"name": "first"})
        b = gd.enqueue({"name": "second"})
        self.assertNotEqual(a["id"], b["id"])
        self.assertNotEqual(a["token"], b["token"])
        r = gd.request_job()
        self.assertEqual(r.status, 201)
        self.assertEqual(r.headers["Content-Type"], "application/json")
        p = r.body
        self.assertEqual((p["id"], p["token"], p["job_info"]["name"]), (a["id"], a["token"], "first"))
        self.assertTrue(p["token"].startswith("glcbt-"))
        self.assertIn("gitlab-ci-token:%s@" % a["token"], p["git_info"]["repo_url"])
        v = {x["key"]: x for x in p["variables"]}
        self.assertEqual(v["CI_JOB_TOKEN"]["value"], a["token"])
        self.assertTrue(v["CI_JOB_TOKEN"]["masked"])
        self.assertEqual(v["CI_REGISTRY_PASSWORD"]["value"], a["token"])
        self.assertEqual(v["CI_JOB_ID"]["value"], str(a["id"]))
        self.assertEqual(p["credentials"][0]["password"], a["token"])
        self.assertEqual(gd.request_job().body["id"], b["id"])          # FIFO
        rec = gd.job(a["id"])
        self.assertEqual((rec["status"], rec["picked"], rec["acked"]), ("pending", True, False))
        self.assertEqual(rec["runner"]["system_id"], "s_0e5f3c1a9b2d")

    def test_long_poll_holds_until_timeout(self):
        gd = self.gd
        gd.settings(long_poll_seconds=0.6)
        v = gd.request_job().headers["X-GitLab-Last-Update"]
        t0 = time.time()
        r = gd.request_job(v)
        self.assertEqual(r.status, 204)
        self.assertGreaterEqual(time.time() - t0, 0.6)
        self.assertEqual(r.headers["Gitlab-Ci-Builds-Polling"], "yes")
        self.assertEqual(r.headers["X-GitLab-Last-Update"], v)
        t0 = time.time()
        self.assertEqual(gd.request_job("an-old-version").status, 204)   # another version: no hold
        self.assertLess(time.time() - t0, 0.5)
        body = {"token": gd.ready["runner_token"], "last_update": v}
        t0 = time.time()
        r = gd.request("POST", "/api/v4/jobs/request", body, ctype="text/plain")   # not JSON: no hold
        self.assertEqual(r.status, 204)
        self.assertLess(time.time() - t0, 0.5)

    def test_long_poll_wakes_on_enqueue_then_job_is_handed_out(self):
        gd = self.gd
        gd.settings(long_poll_seconds=20)
        v = gd.request_job().headers["X-GitLab-Last-Update"]
        out = {}

        def poll():
            out["r"] = gd.request_job(v)
            out["t"] = time.time()
        th = threading.Thread(target=poll)
        th.start()
        time.sleep(0.3)
        t0 = time.time()
        job = gd.enqueue({})
        th.join(10)
        self.assertEqual(out["r"].status, 204)                    # like Workhorse: 204 on change
        self.assertLess(out["t"] - t0, 5)
        self.assertNotEqual(out["r"].headers["X-GitLab-Last-Update"], v)
        r = gd.request_job(out["r"].headers["X-GitLab-Last-Update"])
        self.assertEqual((r.status, r.body["id"]), (201, job["id"]))

    def test_keep_alive_and_chunked_request_body(self):
        gd = self.gd
        conn = http.client.HTTPConnection(gd.host, gd.port, timeout=10)
        body = json.dumps({"token": gd.ready["runner_token"], "info": INFO}).encode()
        for _ in range(2):          # the same connection twice
            conn.putrequest("POST", "/api/v4/runners/verify")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for i in range(0, len(body), 7):
                piece = body[i:i + 7]
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            r.read()
        conn.close()

    def test_request_log(self):
        gd = self.gd
        since = gd.requests()[-1]["seq"] if gd.requests() else 0
        gd.request_job()
        gd.request(method="GET", path="/api/v4/nothing")
        log = gd.requests(since)
        self.assertEqual([(e["method"], e["path"], e["status"]) for e in log],
                         [("POST", "/api/v4/jobs/request", 204), ("GET", "/api/v4/nothing", 404)])
        e = log[0]
        self.assertEqual(e["user_agent"], "lunar-test 0.1.0 (main; c; linux/amd64)")
        self.assertTrue(e["runner_token"])
        self.assertFalse(e["job_token"])
        self.assertGreater(e["body_size"], 0)
        self.assertIn("last_update_returned", e)
        self.assertNotIn("/_double/", " ".join(x["path"] for x in gd.requests()))   # control calls are not logged
        gd.control("DELETE", "requests")
        self.assertEqual(gd.requests(), [])

    def test_unknown_route_and_method(self):
        r = self.gd.request("GET", "/api/v4/jobs/request")
        self.assertEqual((r.status, r.body), (405, {"message": "405 Method Not Allowed"}))


class LifecycleTest(unittest.TestCase):

    def test_https_with_its_own_ca_and_a_tls_clone(self):
        with GitLabDouble(tls=True) as gd:
            self.assertTrue(gd.ready["url"].startswith("https://127.0.0.1:"))
            self.assertTrue(os.path.exists(gd.ready["ca_file"]))
            self.assertEqual(gd.runner_call("POST", "/api/v4/runners/verify").status, 200)
            gd.repo("acme/tls", {"a.txt": "a\n"})
            job = gd.take({"repo": "acme/tls"})
            url = job["payload"]["git_info"]["repo_url"]
            self.assertTrue(url.startswith("https://gitlab-ci-token:"))
            dest = os.path.join(gd.dir, "clone")
            env = dict(os.environ, GIT_SSL_CAINFO=gd.ready["ca_file"], GIT_TERMINAL_PROMPT="0")
            r = subprocess.run(["git", "clone", "-q", url, dest], env=env, stderr=subprocess.PIPE, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(os.path.isfile(os.path.join(dest, "a.txt")))

    def test_sigterm_stops_it_during_a_long_poll(self):
        gd = GitLabDouble().start()
        try:
            gd.settings(long_poll_seconds=60)
            v = gd.request_job().headers["X-GitLab-Last-Update"]
            def hold():
                try:
                    gd.request_job(v)          # cut short by the stop
                except (OSError, http.client.HTTPException):
                    pass
            threading.Thread(target=hold, daemon=True).start()
            time.sleep(0.3)
            t0 = time.time()
            gd.proc.send_signal(signal.SIGTERM)
            self.assertEqual(gd.proc.wait(10), 0)
            self.assertLess(time.time() - t0, 5)
        finally:
            gd.stop()


if __name__ == "__main__":
    unittest.main()
