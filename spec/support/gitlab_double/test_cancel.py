"""gitlab_double: server-side cancellation (reference §12.3): graceful, hard, before the
ack, a queued job, a runner without cancel_gracefully; cancels wake long polls."""
import threading
import time
import unittest

from gd_harness import DoubleTestCase, INFO


class CancelTest(DoubleTestCase):


    def test_graceful_cancel(self):
        gd = self.gd
        job = gd.take()
        jid, tok = job["id"], job["token"]
        self.assertEqual(gd.cancel(jid, graceful=True)["status"], "canceling")
        r = gd.patch_trace(jid, tok, 0, b"running after_script\n")
        self.assertEqual((r.status, r.headers["Job-Status"]), (202, "canceling"))
        r = gd.put_job(jid, tok, {"state": "running"})
        self.assertEqual((r.status, r.headers["Job-Status"]), (200, "canceling"))
        r = gd.put_job(jid, tok, {"state": "failed", "failure_reason": "unknown_failure"})
        self.assertEqual((r.status, r.headers["Job-Status"]), (200, "canceled"))
        rec = gd.wait_final(jid, 5)
        self.assertEqual((rec["status"], rec["cancel"], rec["failure_reason"]),
                         ("canceled", "graceful", "unknown_failure"))
        self.assertEqual(rec["trace"], "running after_script\n")

    def test_hard_cancel(self):
        gd = self.gd
        job = gd.take()
        jid, tok = job["id"], job["token"]
        self.assertEqual(gd.cancel(jid, graceful=False)["status"], "canceled")
        r = gd.patch_trace(jid, tok, 0, b"x")
        self.assertEqual((r.status, r.headers["Job-Status"]), (403, "canceled"))
        r = gd.put_job(jid, tok, {"state": "failed", "failure_reason": "job_canceled"})
        self.assertEqual((r.status, r.headers["Job-Status"]), (403, "canceled"))
        self.assertEqual(gd.job(jid)["updates"][-1]["kind"], "late")

    def test_cancel_before_ack(self):
        gd = self.gd
        job = gd.enqueue({})
        gd.request_job()
        self.assertEqual(gd.cancel(job["id"])["status"], "canceling")
        r = gd.put_job(job["id"], job["token"], {"state": "running"})
        self.assertEqual((r.status, r.headers["Job-Status"]), (200, "canceling"))
        r = gd.put_job(job["id"], job["token"], {"state": "failed", "failure_reason": "job_canceled"})
        self.assertEqual((r.status, r.headers["Job-Status"]), (200, "canceled"))
        rec = gd.job(job["id"])
        self.assertEqual((rec["status"], rec["acked"], rec["failure_reason"]), ("canceled", True, "job_canceled"))

    def test_queued_job_is_dropped(self):
        gd = self.gd
        gd.settings(long_poll_seconds=0)
        job = gd.enqueue({})
        self.assertEqual(gd.cancel(job["id"])["status"], "canceled")
        self.assertEqual(gd.request_job().status, 204)

    def test_runner_without_cancel_gracefully_gets_a_hard_cancel(self):
        gd = self.gd
        job = gd.enqueue({})
        info = dict(INFO, features=dict(INFO["features"], cancel_gracefully=False))
        self.assertEqual(gd.request_job(extra={"info": info}).status, 201)
        gd.put_job(job["id"], job["token"], {"state": "running"})
        self.assertEqual(gd.cancel(job["id"], graceful=True)["status"], "canceled")

    def test_cancel_of_a_finished_job_changes_nothing(self):
        gd = self.gd
        job = gd.take()
        gd.put_job(job["id"], job["token"], {"state": "success"})
        self.assertEqual(gd.cancel(job["id"])["status"], "success")

    def test_cancel_wakes_a_long_poll(self):
        gd = self.gd
        gd.settings(long_poll_seconds=20)
        job = gd.take()
        v = gd.request_job().headers["X-GitLab-Last-Update"]
        out = {}
        th = threading.Thread(target=lambda: out.setdefault("r", gd.request_job(v)))
        th.start()
        time.sleep(0.3)
        t0 = time.time()
        gd.cancel(job["id"])
        th.join(10)
        self.assertLess(time.time() - t0, 5)
        self.assertEqual(out["r"].status, 204)
        self.assertNotEqual(out["r"].headers["X-GitLab-Last-Update"], v)

    def test_wait_final_times_out_with_408(self):
        gd = self.gd
        job = gd.take()
        r = gd.control("GET", "jobs/%d/wait?timeout=0.2" % job["id"], expect=408)
        self.assertIn("still running", r["message"])
        self.assertEqual(r["job"]["status"], "running")
        threading.Timer(0.3, lambda: gd.put_job(job["id"], job["token"], {"state": "success"})).start()
        self.assertEqual(gd.wait_final(job["id"], 10)["status"], "success")


if __name__ == "__main__":
    unittest.main()
