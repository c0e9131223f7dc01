"""gitlab_double: PUT /api/v4/jobs/:id (two-phase ack, touches, final state, checksums)
and PATCH /api/v4/jobs/:id/trace (ranges, 416 resync, probes, limits)."""
import unittest
import zlib

from gd_harness import DoubleTestCase


def crc(data):
    return "crc32:%08x" % (zlib.crc32(data) & 0xFFFFFFFF)


class UpdateTest(DoubleTestCase):

    def test_ack_touch_and_final_success(self):
        gd = self.gd
        job = gd.enqueue({})
        self.assertEqual(gd.request_job().status, 201)
        jid, tok = job["id"], job["token"]
        r = gd.put_job(jid, tok, {"state": "running", "output": {}})
        self.assertEqual(r.status, 200)
        self.assertEqual((r.headers["Job-Status"], r.headers["X-GitLab-Trace-Update-Interval"]), ("running", "1"))
        self.assertTrue(gd.job(jid)["acked"])
        gd.settings(trace_update_interval=7)
        self.assertEqual(gd.patch_trace(jid, tok, 0, b"line 1\n").headers["X-GitLab-Trace-Update-Interval"], "7")
        r = gd.put_job(jid, tok, {"state": "running", "output": {"checksum": crc(b"line 1\n"), "bytesize": 7}})
        self.assertEqual((r.status, r.headers["X-GitLab-Trace-Update-Interval"]), (200, "7"))
        r = gd.put_job(jid, tok, {"state": "success", "checksum": crc(b"line 1\n"),
                                  "output": {"checksum": crc(b"line 1\n"), "bytesize": 7}})
        self.assertEqual((r.status, r.headers["Job-Status"]), (200, "success"))
        rec = gd.job(jid)
        self.assertEqual(rec["status"], "success")
        self.assertEqual([u["kind"] for u in rec["updates"]], ["ack", "touch", "final"])
        final = rec["updates"][-1]
        self.assertEqual((final["bytesize_ok"], final["checksum_ok"], final["status"]), (True, True, 200))
        r = gd.put_job(jid, tok, {"state": "success"})           # finished: 403 with the status
        self.assertEqual((r.status, r.headers["Job-Status"], r.body), (403, "success", {"message": "403 Forbidden"}))
        self.assertEqual(gd.patch_trace(jid, tok, 7, b"more").status, 403)

    def test_final_failed_with_reason_exit_code_and_wrong_checksum(self):
        gd = self.gd
        job = gd.take()
        jid, tok = job["id"], job["token"]
        gd.patch_trace(jid, tok, 0, b"boom\n")
        r = gd.put_job(jid, tok, {"state": "failed", "failure_reason": "script_failure", "exit_code": 2,
                                  "output": {"checksum": "crc32:00000000", "bytesize": 4}})
        self.assertEqual((r.status, r.headers["Job-Status"]), (200, "failed"))
        rec = gd.job(jid)
        self.assertEqual((rec["status"], rec["failure_reason"], rec["exit_code"]), ("failed", "script_failure", 2))
        u = rec["updates"][-1]
        self.assertEqual((u["bytesize_ok"], u["checksum_ok"]), (False, False))
        self.assertEqual(rec["trace_checksum"], crc(b"boom\n"))

    def test_bad_token_bad_state_unknown_job(self):
        gd = self.gd
        job = gd.take()
        jid = job["id"]
        r = gd.put_job(jid, "glcbt-wrong", {"state": "running"})
        self.assertEqual((r.status, r.body), (403, {"message": "403 Forbidden"}))
        self.assertEqual(gd.put_job(99999, job["token"], {"state": "running"}).status, 403)
        r = gd.put_job(jid, job["token"], {"state": "exploded"})
        self.assertEqual(r.status, 400)
        self.assertIn("state", r.body["message"])
        self.assertEqual(gd.job(jid)["status"], "running")
        # the token may come in the body alone
        r = gd.request("PUT", "/api/v4/jobs/%d" % jid, {"token": job["token"], "state": "running"})
        self.assertEqual(r.status, 200)

    def test_job_not_handed_out_is_forbidden(self):
        gd = self.gd
        job = gd.enqueue({})
        self.assertEqual(gd.put_job(job["id"], job["token"], {"state": "running"}).status, 403)

    def test_pending_keepalive_before_ack(self):
        gd = self.gd
        job = gd.enqueue({})
        gd.request_job()
        r = gd.put_job(job["id"], job["token"], {"state": "pending"})
        self.assertEqual((r.status, r.headers["Job-Status"]), (200, "pending"))
        rec = gd.job(job["id"])
        self.assertEqual((rec["acked"], rec["updates"][0]["kind"]), (False, "keepalive"))


class TraceTest(DoubleTestCase):

    def test_append_and_range(self):
        gd = self.gd
        job = gd.take()
        jid, tok = job["id"], job["token"]
        r = gd.patch_trace(jid, tok, 0, b"hello ")
        self.assertEqual((r.status, r.headers["Range"], r.headers["Job-Status"]), (202, "0-6", "running"))
        self.assertEqual(r.headers["X-GitLab-Trace-Update-Interval"], "1")
        r = gd.patch_trace(jid, tok, 6, "wörld\n".encode())
        self.assertEqual((r.status, r.headers["Range"]), (202, "0-13"))
        rec = gd.job(jid)
        self.assertEqual((rec["trace"], rec["trace_bytes"]), ("hello wörld\n", 13))
        self.assertEqual([(p["start"], p["len"], p["status"], p["range"]) for p in rec["patches"]],
                         [(0, 6, 202, "0-6"), (6, 7, 202, "0-13")])
        self.assertEqual(gd.control("GET", "jobs/%d/trace" % jid), "hello wörld\n")

    def test_wrong_start_is_416_with_the_stored_length(self):
        gd = self.gd
        job = gd.take()
        jid, tok = job["id"], job["token"]
        gd.patch_trace(jid, tok, 0, b"0123456789")
        for start in (0, 5, 11):
            r = gd.patch_trace(jid, tok, start, b"x")
            self.assertEqual((r.status, r.headers["Range"]), (416, "0-10"))
        self.assertEqual(gd.job(jid)["trace_bytes"], 10)

    def test_empty_probe(self):
        gd = self.gd
        job = gd.take()
        jid, tok = job["id"], job["token"]
        h = {"JOB-TOKEN": tok, "Content-Range": "0--1", "Content-Type": "text/plain"}
        r = gd.request("PATCH", "/api/v4/jobs/%d/trace?debug_trace=false" % jid, b"", headers=h)
        self.assertEqual((r.status, r.headers["Range"]), (202, "0-0"))      # nothing stored yet
        gd.patch_trace(jid, tok, 0, b"abc")
        h["Content-Range"] = "0-0"
        r = gd.request("PATCH", "/api/v4/jobs/%d/trace?debug_trace=false" % jid, b"", headers=h)
        self.assertEqual((r.status, r.headers["Range"]), (416, "0-3"))      # how much is stored

    def test_missing_content_range_bad_token_not_running(self):
        gd = self.gd
        job = gd.take()
        jid, tok = job["id"], job["token"]
        r = gd.patch_trace(jid, tok, None, b"x")
        self.assertEqual(r.status, 400)
        self.assertIn("Content-Range", r.body["message"])
        self.assertEqual(gd.patch_trace(jid, "glcbt-wrong", 0, b"x").status, 403)
        pending = gd.enqueue({})
        gd.request_job()
        r = gd.patch_trace(pending["id"], pending["token"], 0, b"x")     # not acked: not running yet
        self.assertEqual((r.status, r.headers["Job-Status"]), (403, "pending"))

    def test_chunk_larger_than_one_mib(self):
        gd = self.gd
        job = gd.take()
        r = gd.patch_trace(job["id"], job["token"], 0, b"a" * (1024 * 1024 + 1))
        self.assertEqual(r.status, 413)
        self.assertEqual(gd.patch_trace(job["id"], job["token"], 0, b"a" * (1024 * 1024)).status, 202)

    def test_trace_limit_fails_the_job(self):
        gd = self.gd
        gd.settings(trace_limit=10)
        job = gd.take()
        self.assertEqual(gd.patch_trace(job["id"], job["token"], 0, b"12345").status, 202)
        r = gd.patch_trace(job["id"], job["token"], 5, b"1234567890")
        self.assertEqual((r.status, r.headers["Job-Status"]), (403, "failed"))
        rec = gd.job(job["id"])
        self.assertEqual((rec["status"], rec["failure_reason"]), ("failed", "trace_size_exceeded"))


if __name__ == "__main__":
    unittest.main()
