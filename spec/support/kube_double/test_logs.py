"""kube_double: pods/log: follow of a running container, timestamps, sinceTime, tailLines,
limitBytes, previous, and the kubelet's and apiserver's 400s."""
import datetime
import re
import time
import unittest

from kd_harness import DoubleTestCase

NS = "/api/v1/namespaces/ci"
STAMP = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z (.*)\n$")


def bad_request(message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": "BadRequest", "code": 400}


class LogsTest(DoubleTestCase):

    def test_follow_running_container_with_timestamps(self):
        kd = self.kd
        kd.post(NS + "/pods", {"metadata": {"name": "logger"}, "spec": {"restartPolicy": "Never", "containers": [
            {"name": "c", "image": "alpine",
             "command": ["/bin/sh", "-c", "for i in 1 2 3 4 5; do echo line-$i; sleep 0.4; done; printf tail"]}]}})
        kd.wait_pod("logger", lambda p: p["status"]["phase"] == "Running")
        conn, resp = kd.stream(NS + "/pods/logger/log?follow=true&timestamps=true")
        self.assertEqual((resp.status, resp.getheader("Content-Type"), resp.getheader("Transfer-Encoding")),
                         (200, "text/plain", "chunked"))
        first = resp.readline()
        self.assertEqual(kd.pod("logger")["status"]["phase"], "Running")   # streamed while it runs
        rest = resp.read()          # ends when the container does, with the terminating chunk
        conn.close()
        lines = [first] + [ln + b"\n" for ln in rest.split(b"\n") if ln]
        self.assertTrue(rest.endswith(b" tail"))
        lines[-1] = lines[-1][:-1]
        texts = []
        stamps = []
        for ln in lines[:-1]:
            m = STAMP.match(ln)
            self.assertIsNotNone(m, ln)
            texts.append(m.group(3).decode())
            stamps.append(m.group(1).decode())
        self.assertEqual(texts, ["line-1", "line-2", "line-3", "line-4", "line-5"])
        p = kd.wait_pod("logger", lambda p: p["status"]["phase"] == "Succeeded")
        self.assertEqual(kd.get(NS + "/pods/logger/log").raw, b"line-1\nline-2\nline-3\nline-4\nline-5\ntail")
        self.assertEqual(kd.get(NS + "/pods/logger/log?tailLines=2").raw, b"line-5\ntail")
        self.assertEqual(kd.get(NS + "/pods/logger/log?limitBytes=9").raw, b"line-1\nli")
        # sinceTime has one-second precision: exactly the lines stamped at or after it
        since = stamps[3]
        got = kd.get(NS + "/pods/logger/log?timestamps=true&sinceTime=%sZ" % since).raw.splitlines()
        expect = [t for t, s in zip(texts, stamps) if s >= since]
        self.assertEqual([STAMP.match(ln + b"\n").group(3).decode() for ln in got[:-1]], expect)
        future = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(kd.get(NS + "/pods/logger/log?sinceTime=" + future).raw, b"")
        r = kd.get(NS + "/pods/logger/log?previous=true")
        self.assertEqual((r.status, r.body), (400, bad_request(
            'previous terminated container "c" in pod "logger" not found')))
        r = kd.get(NS + "/pods/logger/log?sinceTime=yesterday")
        self.assertEqual((r.status, r.body["reason"]), (400, "BadRequest"))
        r = kd.get(NS + "/pods/logger/log?tailLines=-1")
        self.assertEqual((r.status, r.body["reason"]), (422, "Invalid"))
        self.assertEqual(p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 0)

    def test_log_errors(self):
        kd = self.kd
        kd.post(NS + "/pods", {"metadata": {"name": "p"}, "spec": {
            "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
            "initContainers": [{"name": "init", "image": "alpine", "command": ["/bin/sh", "-c", "echo init-out; sleep 30"]}],
            "containers": [{"name": "main", "image": "alpine", "command": ["true"]},
                           {"name": "side", "image": "alpine", "command": ["true"]}]}})
        kd.wait_pod("p", lambda p: "running" in p["status"]["initContainerStatuses"][0]["state"])
        r = kd.get(NS + "/pods/p/log?container=main")
        self.assertEqual((r.status, r.body), (400, bad_request(
            'container "main" in pod "p" is waiting to start: PodInitializing')))
        r = kd.get(NS + "/pods/p/log")
        self.assertEqual((r.status, r.body), (400, bad_request(
            "a container name must be specified for pod p, choose one of: [init main side]")))
        r = kd.get(NS + "/pods/p/log?container=nope")
        self.assertEqual((r.status, r.body), (400, bad_request("container nope is not valid for pod p")))
        r = kd.get(NS + "/pods/nope/log")
        self.assertEqual(r.status, 404)
        end = time.time() + 10
        while kd.get(NS + "/pods/p/log?container=init").raw != b"init-out\n" and time.time() < end:
            time.sleep(0.05)
        self.assertEqual(kd.get(NS + "/pods/p/log?container=init").raw, b"init-out\n")
        # a follow ends when the Pod goes away
        conn, resp = kd.stream(NS + "/pods/p/log?container=init&follow=true")
        self.assertEqual(resp.readline(), b"init-out\n")
        kd.delete(NS + "/pods/p?gracePeriodSeconds=0")
        self.assertEqual(resp.read(), b"")
        conn.close()

    def test_unscheduled_pod_streams_nothing(self):
        kd = self.kd
        kd.faults({"schedule_delay": 3, "pod": "ci/unscheduled", "times": 1})
        kd.post(NS + "/pods", {"metadata": {"name": "unscheduled"}, "spec": {"containers": [
            {"name": "c", "image": "alpine", "command": ["true"]}]}})
        r = kd.get(NS + "/pods/unscheduled/log?follow=true")
        self.assertEqual((r.status, r.raw), (200, b""))
        kd.delete(NS + "/pods/unscheduled")
        self.assertEqual(kd.get(NS + "/pods/unscheduled").status, 404)   # never scheduled: deleted at once


if __name__ == "__main__":
    unittest.main()
