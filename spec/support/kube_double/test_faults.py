"""kube_double: fault injection through /_double/faults and a faults file: latency, 500s, 429
with Retry-After, dropped connections and streams, slow scheduling, image pull failures,
watch expiry, matchers and counts."""
import http.client
import json
import os
import tempfile
import time
import unittest

from kd_harness import KubeDouble, cstatus, condition, DoubleTestCase

NS = "/api/v1/namespaces/ci"


def pod(name, image="alpine:3.20", command=("true",)):
    return {"metadata": {"name": name}, "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                                                  "containers": [{"name": "c", "image": image,
                                                                  "command": list(command)}]}}


class FaultsTest(DoubleTestCase):

    def tearDown(self):
        self.kd.faults()

    def test_latency(self):
        kd = self.kd
        kd.faults({"method": "GET", "path": "^/version$", "latency": 0.6, "times": 1})
        t0 = time.time()
        self.assertEqual(kd.get("/version").status, 200)
        self.assertGreaterEqual(time.time() - t0, 0.6)
        kd.get("/version")
        self.assertEqual([e["fault"] for e in kd.requests()[-2:]], ["latency", None])   # once only

    def test_internal_errors_for_n_matching_requests(self):
        kd = self.kd
        kd.faults({"method": "POST", "path": "/namespaces/ci/configmaps$", "error": 500, "times": 2})
        since = kd.requests()[-1]["seq"]
        self.assertEqual(kd.get(NS + "/configmaps").status, 200)          # another method: unaffected
        for _ in range(2):
            r = kd.post(NS + "/configmaps", {"metadata": {"name": "after-500"}})
            self.assertEqual((r.status, r.body), (500, {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Internal error occurred: kube_double: injected fault", "reason": "InternalError",
                "details": {"causes": [{"message": "kube_double: injected fault"}]}, "code": 500}))
        self.assertEqual(kd.post(NS + "/configmaps", {"metadata": {"name": "after-500"}}).status, 201)
        log = [(e["method"], e["status"], e["fault"]) for e in kd.requests(since)]
        self.assertEqual(log, [("GET", 200, None), ("POST", 500, "error"), ("POST", 500, "error"), ("POST", 201, None)])
        rules = kd.get("/_double/faults").body["rules"]
        self.assertEqual((rules[0]["hits"], rules[0]["times"]), (2, 2))
        kd.faults({"path": "/configmaps/x$", "error": 503, "message": "etcdserver: leader changed"})
        r = kd.get(NS + "/configmaps/x")
        self.assertEqual((r.status, r.body["reason"], r.body["message"]),
                         (503, "ServiceUnavailable", "etcdserver: leader changed"))

    def test_too_many_requests_with_retry_after(self):
        kd = self.kd
        kd.faults({"path": "/pods$", "error": 429, "retry_after": 2, "times": 1},
                  {"path": "/secrets$", "error": 429, "retry_after": 3, "body": "status", "times": 1})
        r = kd.get(NS + "/pods")
        self.assertEqual((r.status, r.headers["Retry-After"], r.headers["Content-Type"], r.raw),
                         (429, "2", "text/plain; charset=utf-8", b"Too many requests, please try again later.\n"))
        self.assertEqual(kd.get(NS + "/pods").status, 200)
        r = kd.get(NS + "/secrets")
        self.assertEqual((r.status, r.headers["Retry-After"], r.body), (429, "3", {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Too many requests, please try again later.", "reason": "TooManyRequests",
            "details": {"retryAfterSeconds": 3}, "code": 429}))

    def test_disconnect(self):
        kd = self.kd
        kd.faults({"path": "^/version$", "disconnect": True, "times": 1})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            kd.get("/version")
        self.assertEqual(kd.get("/version").status, 200)

    def test_lost_response_after_the_request_was_carried_out(self):
        kd = self.kd
        kd.faults({"method": "POST", "path": "/configmaps$", "lose_response": True, "times": 1})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            kd.post(NS + "/configmaps", {"metadata": {"name": "lost"}})
        self.assertEqual(kd.get(NS + "/configmaps/lost").status, 200)   # it was created
        r = kd.post(NS + "/configmaps", {"metadata": {"name": "lost"}})
        self.assertEqual((r.status, r.body["reason"]), (409, "AlreadyExists"))

    def test_watch_dropped_mid_stream(self):
        kd = self.kd
        kd.faults({"watch": True, "path": "/configmaps$", "drop_after_events": 2, "times": 1})
        for i in range(3):
            kd.post(NS + "/configmaps", {"metadata": {"name": "drop-%d" % i, "labels": {"drop": "1"}}})
        conn, resp = kd.stream(NS + "/configmaps?watch=true&labelSelector=drop%3D1&timeoutSeconds=10")
        self.assertEqual(json.loads(resp.readline())["type"], "ADDED")
        self.assertEqual(json.loads(resp.readline())["type"], "ADDED")
        with self.assertRaises(http.client.IncompleteRead):
            resp.read()                    # no terminating chunk: the connection was cut
        conn.close()
        conn, resp = kd.stream(NS + "/configmaps?watch=true&labelSelector=drop%3D1&timeoutSeconds=1")
        self.assertEqual(len(resp.read().splitlines()), 3)   # the next watch is whole
        conn.close()

    def test_watch_dropped_after_seconds_and_bytes(self):
        kd = self.kd
        kd.faults({"watch": True, "path": "/events$", "drop_after_seconds": 0.3, "times": 1})
        conn, resp = kd.stream(NS + "/events?watch=true&resourceVersion=%s" % kd.get(NS + "/events").body[
            "metadata"]["resourceVersion"])
        t0 = time.time()
        with self.assertRaises(http.client.IncompleteRead):
            resp.read()
        self.assertLess(time.time() - t0, 5)
        conn.close()
        kd.faults({"watch": True, "path": "/serviceaccounts$", "drop_after_bytes": 20, "times": 1})
        conn, resp = kd.stream(NS + "/serviceaccounts?watch=true")
        with self.assertRaises(http.client.IncompleteRead) as cm:
            resp.read()
        self.assertEqual(len(cm.exception.partial), 20)
        conn.close()

    def test_watch_expiry(self):
        kd = self.kd
        rv = kd.get(NS + "/pods").body["metadata"]["resourceVersion"]
        kd.faults({"watch": True, "path": "/pods$", "expire": True, "times": 1})
        conn, resp = kd.stream(NS + "/pods?watch=true&resourceVersion=%s" % rv)
        ev = json.loads(resp.readline())
        self.assertEqual(resp.read(), b"")
        conn.close()
        self.assertEqual(ev["type"], "ERROR")
        self.assertEqual((ev["object"]["code"], ev["object"]["reason"], ev["object"]["status"]), (410, "Expired", "Failure"))
        self.assertTrue(ev["object"]["message"].startswith("too old resource version: %s (" % rv))
        conn, resp = kd.stream(NS + "/pods?watch=true&resourceVersion=%s&timeoutSeconds=1" % rv)
        self.assertEqual(resp.read(), b"")
        conn.close()

    def test_log_stream_dropped(self):
        kd = self.kd
        kd.post(NS + "/pods", pod("chatty", command=["/bin/sh", "-c", "echo 0123456789; echo abcdefghij; sleep 30"]))
        kd.wait_pod("chatty", lambda p: p["status"]["phase"] == "Running")
        end = time.time() + 10
        while kd.get(NS + "/pods/chatty/log").raw.count(b"\n") < 2 and time.time() < end:
            time.sleep(0.05)
        kd.faults({"path": "/pods/chatty/log$", "drop_after_bytes": 15, "times": 1})
        conn, resp = kd.stream(NS + "/pods/chatty/log?follow=true")
        with self.assertRaises(http.client.IncompleteRead) as cm:
            resp.read()
        conn.close()
        self.assertEqual(cm.exception.partial, b"0123456789\nabcd")
        kd.delete(NS + "/pods/chatty?gracePeriodSeconds=0")

    def test_slow_scheduling(self):
        kd = self.kd
        kd.faults({"pod": "^ci/slow$", "schedule_delay": 1.0, "unschedulable": True})
        t0 = time.time()
        kd.post(NS + "/pods", pod("slow"))
        p = kd.wait_pod("slow", lambda p: condition(p, "PodScheduled") is not None)
        c = condition(p, "PodScheduled")
        self.assertEqual((c["status"], c["reason"], p["status"]["phase"]), ("False", "Unschedulable", "Pending"))
        self.assertNotIn("nodeName", p["spec"])
        p = kd.wait_pod("slow", lambda p: p["status"]["phase"] == "Succeeded")
        self.assertGreaterEqual(time.time() - t0, 1.0)
        evs = kd.get(NS + "/events?fieldSelector=involvedObject.name%3Dslow,type%3DWarning").body["items"]
        self.assertEqual([e["reason"] for e in evs], ["FailedScheduling"])

    def test_image_pull_failure(self):
        kd = self.kd
        kd.settings(image_pull_backoff=0.3)
        kd.faults({"image": "^registry.example.com/broken", "pull_fail": True, "times": 2})
        try:
            kd.post(NS + "/pods", pod("pull", image="registry.example.com/broken:1"))
            p = kd.wait_pod("pull", lambda p: (cstatus(p, "c") or {}).get("state", {}).get("waiting", {}).get(
                "reason") == "ErrImagePull")
            msg = cstatus(p, "c")["state"]["waiting"]["message"]
            self.assertTrue(msg.startswith('rpc error: code = NotFound desc = failed to pull and unpack image '
                                           '"registry.example.com/broken:1"'), msg)
            r = kd.get(NS + "/pods/pull/log")
            self.assertEqual(r.body["message"], 'container "c" in pod "pull" is waiting to start: image can\'t be pulled')
            p = kd.wait_pod("pull", lambda p: cstatus(p, "c")["state"].get("waiting", {}).get("reason") ==
                            "ImagePullBackOff")
            self.assertEqual(cstatus(p, "c")["state"]["waiting"]["message"],
                             'Back-off pulling image "registry.example.com/broken:1"')
            r = kd.get(NS + "/pods/pull/log")
            self.assertEqual(r.body["message"],
                             'container "c" in pod "pull" is waiting to start: trying and failing to pull image')
            p = kd.wait_pod("pull", lambda p: p["status"]["phase"] == "Succeeded")   # the third pull works
            reasons = [e["reason"] for e in kd.get(NS + "/events?fieldSelector=involvedObject.name%3Dpull").body["items"]]
            self.assertIn("BackOff", reasons)
            self.assertIn("Failed", reasons)
            kd.post(NS + "/pods", pod("badref", image="Not/A:Valid Ref"))
            p = kd.wait_pod("badref", lambda p: (cstatus(p, "c") or {}).get("state", {}).get("waiting", {}).get(
                "reason") == "InvalidImageName")
        finally:
            kd.settings(image_pull_backoff=1.0)

    def test_bad_rules_are_refused(self):
        kd = self.kd
        r = kd.put("/_double/faults", {"rules": [{"path": "/x", "eror": 500}]})
        self.assertEqual((r.status, r.body["message"]), (400, "unknown fault rule key(s): eror"))
        r = kd.put("/_double/faults", {"rules": [{"path": "(", "error": 500}]})
        self.assertEqual(r.status, 400)


class FaultsFileTest(unittest.TestCase):
    def test_faults_file_is_read_and_reloaded(self):
        fd, path = tempfile.mkstemp(suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump({"rules": [{"path": "^/version$", "error": 500, "times": 1}]}, f)
            with KubeDouble(faults_file=path) as kd:
                self.assertEqual(kd.get("/version").status, 500)
                self.assertEqual(kd.get("/version").status, 200)
                time.sleep(0.01)
                with open(path, "w") as f:
                    json.dump({"rules": [{"path": "^/version$", "error": 429, "retry_after": 7}]}, f)
                os.utime(path, (time.time() + 5, time.time() + 5))
                r = kd.get("/version")
                self.assertEqual((r.status, r.headers["Retry-After"]), (429, "7"))
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main()
