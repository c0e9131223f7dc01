"""gitlab_double: fault rules (errors with Retry-After, latency, disconnect, accept_later,
trace_shift, wrong_content_type), their matchers and counts, and refused rules."""
import http.client
import time
import unittest

from gd_harness import DoubleTestCase


class FaultsTest(DoubleTestCase):

    def test_error_with_retry_after_for_n_requests(self):
        gd = self.gd
        gd.faults({"method": "POST", "path": "/jobs/request$", "error": 429, "retry_after": 2, "times": 2})
        for _ in range(2):
            r = gd.request_job()
            self.assertEqual((r.status, r.headers["Retry-After"], r.body),
                             (429, "2", {"message": "429 Too Many Requests"}))
        self.assertEqual(gd.request_job().status, 204)
        rules = gd.control("GET", "faults")["rules"]
        self.assertEqual((rules[0]["hits"], rules[0]["times"]), (2, 2))
        self.assertEqual([e["fault"] for e in gd.requests()[-3:]], ["error", "error", None])

    def test_error_message_and_location(self):
        gd = self.gd
        gd.faults({"path": "/artifacts$", "error": 307, "location": "http://127.0.0.1:1/elsewhere"},
                  {"path": "/verify$", "error": 500, "message": "boom"})
        r = gd.request("POST", "/api/v4/jobs/1/artifacts", b"")
        self.assertEqual((r.status, r.headers["Location"]), (307, "http://127.0.0.1:1/elsewhere"))
        r = gd.runner_call("POST", "/api/v4/runners/verify")
        self.assertEqual((r.status, r.body), (500, {"message": "boom"}))

    def test_latency(self):
        gd = self.gd
        gd.faults({"path": "/verify$", "latency": 0.5, "times": 1})
        t0 = time.time()
        self.assertEqual(gd.runner_call("POST", "/api/v4/runners/verify").status, 200)
        self.assertGreaterEqual(time.time() - t0, 0.5)

    def test_disconnect(self):
        gd = self.gd
        gd.faults({"path": "/jobs/request$", "disconnect": True, "times": 1})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            gd.request_job()
        self.assertEqual(gd.requests()[-1]["status"], 0)
        self.assertEqual(gd.request_job().status, 204)

    def test_accept_later_k_final_puts(self):
        gd = self.gd
        job = gd.take()
        gd.faults({"method": "PUT", "path": "^/api/v4/jobs/\\d+$", "accept_later": 2, "interval": 3})
        self.assertEqual(gd.put_job(job["id"], job["token"], {"state": "running"}).status, 200)   # not consumed
        for _ in range(2):
            r = gd.put_job(job["id"], job["token"], {"state": "success"})
            self.assertEqual((r.status, r.headers["X-GitLab-Trace-Update-Interval"]), (202, "3"))
            self.assertEqual(gd.job(job["id"])["status"], "running")
        self.assertEqual(gd.put_job(job["id"], job["token"], {"state": "success"}).status, 200)
        self.assertEqual([u["status"] for u in gd.job(job["id"])["updates"]], [200, 200, 202, 202, 200])

    def test_trace_shift_fewer_bytes(self):
        gd = self.gd
        job = gd.take()
        jid, tok = job["id"], job["token"]
        gd.patch_trace(jid, tok, 0, b"0123456789")
        gd.faults({"path": "/trace$", "trace_shift": -4})
        r = gd.patch_trace(jid, tok, 10, b"abc")
        self.assertEqual((r.status, r.headers["Range"]), (416, "0-6"))
        r = gd.patch_trace(jid, tok, 6, b"6789abc")                     # the runner resends from 6
        self.assertEqual((r.status, r.headers["Range"]), (202, "0-13"))
        self.assertEqual(gd.job(jid)["trace"], "0123456789abc")

    def test_trace_shift_more_bytes(self):
        gd = self.gd
        job = gd.take()
        jid, tok = job["id"], job["token"]
        gd.patch_trace(jid, tok, 0, b"0123456789")
        gd.faults({"path": "/trace$", "trace_shift": 5})
        self.assertEqual(gd.patch_trace(jid, tok, 10, b"a").headers["Range"], "0-15")
        r = gd.patch_trace(jid, tok, 15, b"a")                          # believed: a real 416 now
        self.assertEqual((r.status, r.headers["Range"]), (416, "0-10"))
        self.assertEqual(gd.patch_trace(jid, tok, 10, b"a").status, 202)

    def test_wrong_content_type_on_201(self):
        gd = self.gd
        gd.enqueue({})
        gd.faults({"path": "/jobs/request$", "wrong_content_type": True, "times": 1})
        r = gd.request_job()
        self.assertEqual((r.status, r.headers["Content-Type"]), (201, "text/plain"))

    def test_bad_rules_are_refused(self):
        gd = self.gd
        for rule, word in (({"path": "x"}, "exactly one action"), ({"error": 500, "latency": 1}, "exactly one"),
                           ({"error": 500, "colour": "red"}, "colour"), ({"path": "(", "error": 500}, "regular"),
                           ({"error": "500"}, "status code")):
            r = gd.request("PUT", "/_double/faults", {"rules": [rule]})
            self.assertEqual(r.status, 400, rule)
            self.assertIn(word, r.body["message"])
        r = gd.request("PUT", "/_double/settings", {"long_poll": 1})
        self.assertEqual(r.status, 400)
        self.assertIn("unknown setting", r.body["message"])
        r = gd.request("PUT", "/_double/faults", b"{not json", ctype="application/json")
        self.assertEqual(r.status, 400)

    def test_post_adds_rules_delete_clears(self):
        gd = self.gd
        gd.faults({"path": "/a", "error": 500})
        gd.control("POST", "faults", {"path": "/b", "error": 502})
        self.assertEqual([r["path"] for r in gd.control("GET", "faults")["rules"]], ["/a", "/b"])
        self.assertEqual(gd.control("DELETE", "faults")["rules"], [])


if __name__ == "__main__":
    unittest.main()
