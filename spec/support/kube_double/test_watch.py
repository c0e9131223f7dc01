"""kube_double: watch streams: ordered events with resourceVersions, selectors, bookmarks,
410 for a compacted resourceVersion, timeoutSeconds, chunked framing."""
import json
import threading
import time
import unittest

from kd_harness import DoubleTestCase, close_stream

NS = "/api/v1/namespaces/ci"


class Watcher:
    """Reads a watch stream in a thread, one decoded event per line."""

    def __init__(self, kd, path):
        self.conn, self.resp = kd.stream(path)
        self.events = []
        self.ended = None            # "clean" after the terminating chunk, else the exception
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                with self.cond:
                    self.events.append(json.loads(line))
                    self.cond.notify_all()
            ended = "clean"
        except Exception as e:  # noqa
            ended = e
        with self.cond:
            self.ended = ended
            self.cond.notify_all()

    def wait(self, pred, timeout=10):
        end = time.time() + timeout
        with self.cond:
            while not pred(self.events):
                if time.time() > end or self.ended is not None and not pred(self.events):
                    if self.ended is not None or time.time() > end:
                        raise AssertionError("watch: condition not met; events %s ended %r" %
                                             ([(e["type"], e["object"].get("metadata", {}).get("name"))
                                               for e in self.events], self.ended))
                self.cond.wait(0.1)
            return list(self.events)

    def wait_end(self, timeout=10):
        end = time.time() + timeout
        with self.cond:
            while self.ended is None and time.time() < end:
                self.cond.wait(0.1)
            return self.ended

    def close(self):
        close_stream(self.conn, self.resp)


class WatchTest(DoubleTestCase):

    def list_rv(self, path):
        return self.kd.get(path).body["metadata"]["resourceVersion"]

    def test_events_in_order_with_resource_versions(self):
        kd = self.kd
        rv = self.list_rv(NS + "/configmaps")
        w = Watcher(kd, NS + "/configmaps?watch=true&resourceVersion=%s&timeoutSeconds=20" % rv)
        self.assertEqual(w.resp.status, 200)
        self.assertEqual(w.resp.getheader("Transfer-Encoding"), "chunked")
        self.assertEqual(w.resp.getheader("Content-Type"), "application/json")
        created = kd.post(NS + "/configmaps", {"metadata": {"name": "w1"}, "data": {"a": "1"}}).body
        patched = kd.patch(NS + "/configmaps/w1", {"data": {"a": "2"}}).body
        kd.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "elsewhere"}})
        kd.delete(NS + "/configmaps/w1")
        evs = w.wait(lambda e: len(e) >= 3)
        w.close()
        self.assertEqual([e["type"] for e in evs], ["ADDED", "MODIFIED", "DELETED"])
        self.assertEqual([e["object"]["kind"] for e in evs], ["ConfigMap"] * 3)
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
        self.assertEqual(rvs[0], int(created["metadata"]["resourceVersion"]))
        self.assertEqual(rvs[1], int(patched["metadata"]["resourceVersion"]))
        self.assertTrue(int(rv) < rvs[0] < rvs[1] < rvs[2])
        self.assertEqual(evs[1]["object"]["data"], {"a": "2"})
        # resuming from the middle replays exactly what followed
        w = Watcher(kd, NS + "/configmaps?watch=1&resourceVersion=%d&timeoutSeconds=20" % rvs[0])
        evs = w.wait(lambda e: len(e) >= 2)
        w.close()
        self.assertEqual([(e["type"], int(e["object"]["metadata"]["resourceVersion"])) for e in evs],
                         [("MODIFIED", rvs[1]), ("DELETED", rvs[2])])

    def test_initial_state_and_single_object_watch(self):
        kd = self.kd
        kd.post(NS + "/secrets", {"metadata": {"name": "pre-1"}})
        kd.post(NS + "/secrets", {"metadata": {"name": "pre-2"}})
        w = Watcher(kd, NS + "/secrets?watch=true&fieldSelector=metadata.name%3Dpre-2&timeoutSeconds=20")
        evs = w.wait(lambda e: len(e) >= 1)
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in evs], [("ADDED", "pre-2")])
        kd.patch(NS + "/secrets/pre-1", {"metadata": {"labels": {"x": "y"}}})
        kd.patch(NS + "/secrets/pre-2", {"metadata": {"labels": {"x": "y"}}})
        evs = w.wait(lambda e: len(e) >= 2)
        w.close()
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in evs],
                         [("ADDED", "pre-2"), ("MODIFIED", "pre-2")])

    def test_label_selector_transitions(self):
        kd = self.kd
        rv = self.list_rv(NS + "/configmaps")
        w = Watcher(kd, NS + "/configmaps?watch=true&labelSelector=job%%3D1&resourceVersion=%s&timeoutSeconds=20" % rv)
        kd.post(NS + "/configmaps", {"metadata": {"name": "t1"}})
        kd.patch(NS + "/configmaps/t1", {"metadata": {"labels": {"job": "1"}}})
        kd.patch(NS + "/configmaps/t1", {"data": {"a": "b"}})
        kd.patch(NS + "/configmaps/t1", {"metadata": {"labels": {"job": "2"}}})
        evs = w.wait(lambda e: len(e) >= 3)
        w.close()
        self.assertEqual([e["type"] for e in evs], ["ADDED", "MODIFIED", "DELETED"])
        self.assertEqual(evs[2]["object"]["metadata"]["labels"], {"job": "2"})

    def test_bookmarks(self):
        kd = self.kd
        kd.settings(bookmark_interval=0.2)
        try:
            rv = self.list_rv(NS + "/pods")
            w = Watcher(kd, NS + "/pods?watch=true&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=20" % rv)
            evs = w.wait(lambda e: any(x["type"] == "BOOKMARK" for x in e))
            bm = next(x for x in evs if x["type"] == "BOOKMARK")["object"]
            self.assertEqual((bm["kind"], bm["apiVersion"]), ("Pod", "v1"))
            self.assertGreaterEqual(int(bm["metadata"]["resourceVersion"]), int(rv))
            kd.post(NS + "/configmaps", {"metadata": {"name": "bump"}})
            evs = w.wait(lambda e: any(x["type"] == "BOOKMARK" and
                                       int(x["object"]["metadata"]["resourceVersion"]) > int(rv) for x in e))
            w.close()
            self.assertTrue(all(x["type"] == "BOOKMARK" for x in evs))
            # no bookmarks unless asked for
            w = Watcher(kd, NS + "/pods?watch=true&resourceVersion=%s&timeoutSeconds=1" % rv)
            self.assertEqual(w.wait_end(), "clean")
            w.close()
            self.assertEqual(w.events, [])
        finally:
            kd.settings(bookmark_interval=1.0)

    def test_compacted_resource_version_is_410(self):
        kd = self.kd
        old = self.list_rv(NS + "/configmaps")
        kd.post(NS + "/configmaps", {"metadata": {"name": "before-compaction"}})
        now = kd.compact()["resourceVersion"]
        w = Watcher(kd, NS + "/configmaps?watch=true&resourceVersion=%s&timeoutSeconds=20" % old)
        self.assertEqual(w.resp.status, 200)
        self.assertEqual(w.wait_end(), "clean")
        w.close()
        self.assertEqual(w.events, [{"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "too old resource version: %s (%s)" % (old, now), "reason": "Expired", "code": 410}}])
        # from the current resourceVersion the watch works
        w = Watcher(kd, NS + "/configmaps?watch=true&resourceVersion=%s&timeoutSeconds=20" % now)
        kd.post(NS + "/configmaps", {"metadata": {"name": "after-compaction"}})
        evs = w.wait(lambda e: len(e) >= 1)
        w.close()
        self.assertEqual((evs[0]["type"], evs[0]["object"]["metadata"]["name"]), ("ADDED", "after-compaction"))

    def test_history_window_expires_old_versions(self):
        kd = self.kd
        old = self.list_rv(NS + "/configmaps")
        kd.settings(history_size=5)
        try:
            for i in range(8):
                kd.post(NS + "/configmaps", {"metadata": {"name": "churn-%d" % i}})
            w = Watcher(kd, NS + "/configmaps?watch=true&resourceVersion=%s&timeoutSeconds=5" % old)
            evs = w.wait(lambda e: len(e) >= 1)
            w.close()
            self.assertEqual((evs[0]["type"], evs[0]["object"]["code"], evs[0]["object"]["reason"]),
                             ("ERROR", 410, "Expired"))
        finally:
            kd.settings(history_size=1000)

    def test_timeout_seconds_ends_cleanly(self):
        t0 = time.time()
        w = Watcher(self.kd, NS + "/events?watch=true&resourceVersion=%s&timeoutSeconds=1" % self.list_rv(NS + "/events"))
        self.assertEqual(w.wait_end(), "clean")
        w.close()
        self.assertLess(time.time() - t0, 5)
        self.assertGreaterEqual(time.time() - t0, 0.9)

    def test_restricted_user_may_watch_pods_only(self):
        kd = self.kd
        conn, resp = kd.stream(NS + "/pods?watch=true&timeoutSeconds=1", auth="restricted")
        self.assertEqual(resp.status, 200)
        conn.close()
        conn, resp = kd.stream(NS + "/secrets?watch=true&timeoutSeconds=1", auth="restricted")
        body = json.loads(resp.read())
        conn.close()
        self.assertEqual((resp.status, body["message"]), (403, 'secrets is forbidden: User "system:serviceaccount:ci:'
                                                          'restricted" cannot watch resource "secrets" in API group "" '
                                                          'in the namespace "ci"'))


if __name__ == "__main__":
    unittest.main()
