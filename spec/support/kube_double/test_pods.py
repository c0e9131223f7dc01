"""kube_double: Pods run for real: phases, conditions and container states, init containers,
native sidecars, volumes, env, exit codes, restarts, activeDeadlineSeconds, graceful delete."""
import json
import os
import shutil
import tempfile
import threading
import time
import unittest

from kd_harness import KubeDouble, cstatus, condition, DoubleTestCase, close_stream

NS = "/api/v1/namespaces/ci"


def sh(script):
    return ["/bin/sh", "-c", script]


class PodWatch:
    """Every version of one Pod seen through a watch, in order."""

    def __init__(self, kd, name):
        self.conn, self.resp = kd.stream(NS + "/pods?watch=true&fieldSelector=metadata.name%%3D%s&timeoutSeconds=60"
                                         % name, timeout=70)
        self.events = []
        self.done = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for line in iter(self.resp.readline, b""):
                ev = json.loads(line)
                self.events.append(ev)
                if ev["type"] == "DELETED":
                    break
        except Exception:  # noqa
            pass
        self.done.set()

    def close(self):
        close_stream(self.conn, self.resp)


class PodsTest(DoubleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kd.settings(crashloop_backoff=0.2)

    def create(self, pod):
        r = self.kd.post(NS + "/pods", pod)
        self.assertEqual(r.status, 201, r)
        return r.body

    def log(self, name, query=""):
        r = self.kd.get(NS + "/pods/%s/log%s" % (name, query))
        self.assertEqual(r.status, 200, r)
        return r.raw.decode()

    def runtime_dir(self, name):
        for p in self.kd.get("/_double/pods").body["pods"]:
            if p["name"] == name:
                return p["dir"]
        return None

    def test_init_sidecar_and_two_containers(self):
        kd = self.kd
        kd.post(NS + "/secrets", {"metadata": {"name": "job-secret"}, "stringData": {
            "TOKEN": "s3cr3t", "script.sh": "#!/bin/sh\necho from-secret-volume\n", "unused": "x"}})
        kd.post(NS + "/configmaps", {"metadata": {"name": "job-config"}, "data": {"greeting": "hello"}})
        tmp = tempfile.mkdtemp(prefix="kube-double-hostpath-")
        self.addCleanup(shutil.rmtree, tmp, True)
        out = os.path.join(tmp, "out")
        w = PodWatch(kd, "full")
        pod = self.create({"metadata": {"name": "full", "labels": {"job": "1"}}, "spec": {
            "restartPolicy": "Never", "terminationGracePeriodSeconds": 2,
            "volumes": [{"name": "repo", "emptyDir": {}},
                        {"name": "scripts", "secret": {"secretName": "job-secret", "defaultMode": 0o400,
                                                       "items": [{"key": "script.sh", "path": "bin/run.sh",
                                                                  "mode": 0o755}, {"key": "TOKEN", "path": "token"}]}},
                        {"name": "out", "hostPath": {"path": out, "type": "DirectoryOrCreate"}},
                        {"name": "config", "configMap": {"name": "job-config"}}],
            "initContainers": [
                {"name": "init-a", "image": "alpine:3.20", "command": sh("echo init-a > /builds/order"),
                 "volumeMounts": [{"name": "repo", "mountPath": "/builds"}]},
                {"name": "init-b", "image": "alpine:3.20", "command": sh("sleep 0.2; echo init-b >> /builds/order"),
                 "volumeMounts": [{"name": "repo", "mountPath": "/builds"}]},
                {"name": "svc", "image": "postgres:16", "restartPolicy": "Always",
                 "command": sh('trap "echo svc-stopped >> /builds/order; exit 0" TERM; echo svc-up >> /builds/order; '
                               'while true; do sleep 0.05; done'),
                 "volumeMounts": [{"name": "repo", "mountPath": "/builds"}]}],
            "containers": [
                {"name": "build", "image": "alpine:3.20", "workingDir": "/builds",
                 "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "job-secret", "key": "TOKEN"}}},
                         {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                         {"name": "PODNS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                         {"name": "A", "value": "x"}, {"name": "B", "value": "$(A)-y"},
                         {"name": "C", "value": "$$(A)"}, {"name": "D", "value": "$(UNDEFINED)"}],
                 "envFrom": [{"prefix": "S_", "secretRef": {"name": "job-secret"}}],
                 "command": ["/bin/sh", "-c"],
                 "args": ['echo "token=$TOKEN pod=$POD ns=$PODNS b=$B c=$C d=$D arg=$(B) from=$S_unused"; pwd; '
                          'sleep 0.3; cat order; /scripts/bin/run.sh; stat -c %a /scripts/bin/run.sh /scripts/token; '
                          'ls /scripts/bin; cat /config/greeting; echo; touch /scripts/x 2>/dev/null || echo ro; '
                          'sleep 0.5; exit 3'],
                 "volumeMounts": [{"name": "repo", "mountPath": "/builds"},
                                  {"name": "scripts", "mountPath": "/scripts", "readOnly": True},
                                  {"name": "config", "mountPath": "/config"}]},
                {"name": "helper", "image": "registry.example.com/helper:1",
                 "command": sh("echo helper > /builds/helper.out; cp /builds/helper.out /out/"),
                 "volumeMounts": [{"name": "repo", "mountPath": "/builds"},
                                  {"name": "out", "mountPath": "/out"}]}]}})
        self.assertEqual(pod["status"]["phase"], "Pending")
        final = kd.wait_pod("full", lambda p: p["status"]["phase"] in ("Succeeded", "Failed"), timeout=30)
        w.close()
        st = final["status"]
        self.assertEqual(st["phase"], "Failed")
        self.assertEqual(final["spec"]["nodeName"], "kube-double")
        build, helper = cstatus(final, "build"), cstatus(final, "helper")
        self.assertEqual((build["state"]["terminated"]["exitCode"], build["state"]["terminated"]["reason"]), (3, "Error"))
        self.assertEqual((helper["state"]["terminated"]["exitCode"], helper["state"]["terminated"]["reason"]),
                         (0, "Completed"))
        for name in ("init-a", "init-b"):
            t = cstatus(final, name)["state"]["terminated"]
            self.assertEqual((t["exitCode"], t["reason"]), (0, "Completed"))
        svc = cstatus(final, "svc")["state"]["terminated"]
        self.assertEqual((svc["exitCode"], svc["reason"]), (0, "Completed"))
        self.assertGreaterEqual(svc["finishedAt"], build["state"]["terminated"]["finishedAt"])
        self.assertEqual([c["name"] for c in st["initContainerStatuses"]], ["init-a", "init-b", "svc"])
        self.assertEqual((condition(final, "Ready")["status"], condition(final, "Ready")["reason"]), ("False", "PodFailed"))
        self.assertEqual(condition(final, "Initialized")["status"], "True")
        self.assertRegex(build["containerID"], r"^containerd://[0-9a-f]{64}$")
        # what the processes saw
        log = self.log("full", "?container=build")
        self.assertIn("token=s3cr3t pod=full ns=ci b=x-y c=$(A) d=$(UNDEFINED) arg=x-y from=x\n/builds\n"
                      "init-a\ninit-b\nsvc-up\nfrom-secret-volume\n755\n400\nrun.sh\nhello\nro\n", log)
        with open(os.path.join(self.runtime_dir("full"), "volumes", "repo", "order")) as f:
            self.assertEqual(f.read(), "init-a\ninit-b\nsvc-up\nsvc-stopped\n")
        with open(os.path.join(out, "helper.out")) as f:
            self.assertEqual(f.read(), "helper\n")
        # the sequence a watcher saw
        w.done.wait(2)
        phases = []
        for ev in w.events:
            ph = ev["object"]["status"]["phase"]
            if not phases or phases[-1] != ph:
                phases.append(ph)
        self.assertEqual(phases, ["Pending", "Running", "Failed"])
        seen = [ev["object"] for ev in w.events]
        self.assertTrue(any(condition(p, "PodScheduled") and condition(p, "PodScheduled")["status"] == "True" and
                            p["status"]["phase"] == "Pending" for p in seen))
        self.assertTrue(any((cstatus(p, "build") or {}).get("state", {}).get("waiting", {}).get("reason") ==
                            "PodInitializing" for p in seen))
        self.assertTrue(any((cstatus(p, "init-b") or {}).get("state", {}).get("running") and
                            "terminated" in cstatus(p, "init-a")["state"] for p in seen))
        both = [p for p in seen if cstatus(p, "svc") and "running" in cstatus(p, "svc")["state"] and
                "running" in cstatus(p, "build")["state"]]
        self.assertTrue(both)
        self.assertTrue(cstatus(both[0], "svc")["started"])
        self.assertTrue(any(condition(p, "Ready") and condition(p, "Ready")["status"] == "True" for p in seen))
        rvs = [int(ev["object"]["metadata"]["resourceVersion"]) for ev in w.events]
        self.assertEqual(rvs, sorted(rvs))
        # the events the kubelet recorded
        evs = kd.get(NS + "/events?fieldSelector=involvedObject.name%3Dfull").body["items"]
        reasons = [e["reason"] for e in evs]
        for r in ("Scheduled", "Pulling", "Pulled", "Created", "Started"):
            self.assertIn(r, reasons)
        kd.delete(NS + "/pods/full")
        self.assertEqual(kd.get(NS + "/pods/full").status, 404)

    def test_two_pods_mount_builds_privately(self):
        kd = self.kd
        if kd.ready["mount_mode"] == "rewrite":
            self.skipTest("needs mount namespaces")
        existed = os.path.exists("/builds")
        for name in ("iso-a", "iso-b"):
            self.create({"metadata": {"name": name}, "spec": {
                "restartPolicy": "Never", "volumes": [{"name": "repo", "emptyDir": {}}],
                "containers": [{"name": "c", "image": "alpine", "workingDir": "/builds",
                                "env": [{"name": "ME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                                "command": sh("echo $ME > who; sleep 0.8; cat /builds/who; ls /builds"),
                                "volumeMounts": [{"name": "repo", "mountPath": "/builds"}]}]}})
        for name in ("iso-a", "iso-b"):
            p = kd.wait_pod(name, lambda p: p["status"]["phase"] == "Succeeded", timeout=20)
            self.assertEqual(self.log(name), "%s\nwho\n" % name)
            self.assertEqual(cstatus(p, "c")["state"]["terminated"]["exitCode"], 0)
        self.assertEqual(os.path.exists("/builds"), existed)

    def test_active_deadline_seconds(self):
        kd = self.kd
        t0 = time.time()
        self.create({"metadata": {"name": "deadline"}, "spec": {
            "restartPolicy": "Never", "activeDeadlineSeconds": 1, "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": "alpine", "command": ["sleep", "30"]}]}})
        p = kd.wait_pod("deadline", lambda p: p["status"]["phase"] == "Failed" and
                        "terminated" in cstatus(p, "c")["state"], timeout=20)
        self.assertLess(time.time() - t0, 10)
        st = p["status"]
        self.assertEqual((st["reason"], st["message"]),
                         ("DeadlineExceeded", "Pod was active on the node longer than the specified deadline"))
        t = cstatus(p, "c")["state"]["terminated"]
        self.assertEqual((t["exitCode"], t["reason"]), (137, "Error"))   # sleep as PID 1 ignores SIGTERM
        self.assertEqual(kd.get(NS + "/pods/deadline").status, 200)        # a Failed Pod stays until deleted
        r = kd.delete(NS + "/pods/deadline")
        self.assertEqual(r.status, 200)
        self.assertEqual(kd.get(NS + "/pods/deadline").status, 404)

    def test_delete_sends_sigterm_then_sigkill_after_grace(self):
        kd = self.kd
        self.create({"metadata": {"name": "graceful"}, "spec": {"restartPolicy": "Never", "containers": [
            {"name": "c", "image": "alpine",
             "command": sh('trap "echo got-TERM; exit 7" TERM; echo ready; while true; do sleep 0.05; done')}]}})
        self.create({"metadata": {"name": "stubborn"}, "spec": {"restartPolicy": "Never", "containers": [
            {"name": "c", "image": "alpine", "command": ["sh"], "stdin": True}]}})   # an idle shell on stdin
        for name in ("graceful", "stubborn"):
            kd.wait_pod(name, lambda p: p["status"]["phase"] == "Running", timeout=20)
        end = time.time() + 10
        while "ready" not in self.log("graceful") and time.time() < end:
            time.sleep(0.05)
        pids = {p["name"]: p["containers"][0]["pid"] for p in kd.get("/_double/pods").body["pods"]
                if p["name"] in ("graceful", "stubborn")}
        self.assertTrue(all(pids.values()))
        wg, ws = PodWatch(kd, "graceful"), PodWatch(kd, "stubborn")
        t0 = time.time()
        r = kd.delete(NS + "/pods/graceful", {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 10})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body["metadata"]["deletionGracePeriodSeconds"], 10)
        self.assertIn("deletionTimestamp", r.body["metadata"])
        r = kd.delete(NS + "/pods/stubborn?gracePeriodSeconds=1")
        self.assertEqual(r.body["metadata"]["deletionGracePeriodSeconds"], 1)
        self.assertTrue(wg.done.wait(15) and ws.done.wait(15))
        for w in (wg, ws):
            w.close()
        self.assertEqual(wg.events[-1]["type"], "DELETED")
        self.assertEqual(ws.events[-1]["type"], "DELETED")
        last_g = [e["object"] for e in wg.events if e["type"] == "MODIFIED"][-1]
        last_s = [e["object"] for e in ws.events if e["type"] == "MODIFIED"][-1]
        self.assertEqual(cstatus(last_g, "c")["state"]["terminated"]["exitCode"], 7)
        self.assertEqual(cstatus(last_s, "c")["state"]["terminated"]["exitCode"], 137)
        self.assertGreaterEqual(time.time() - t0, 0.9)
        self.assertIsNone(kd.pod("graceful"))
        for pid in pids.values():
            with self.assertRaises(OSError):
                os.kill(pid, 0)
        listed = [p["name"] for p in kd.get("/_double/pods").body["pods"]]
        self.assertNotIn("graceful", listed)

    def test_restart_on_failure_and_previous_logs(self):
        kd = self.kd
        self.create({"metadata": {"name": "flaky"}, "spec": {
            "restartPolicy": "OnFailure", "volumes": [{"name": "data", "emptyDir": {}}],
            "containers": [{"name": "c", "image": "alpine", "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            "command": sh("if [ -e /data/once ]; then echo second; exit 0; fi; "
                                          "touch /data/once; echo first; exit 1")}]}})
        p = kd.wait_pod("flaky", lambda p: p["status"]["phase"] == "Succeeded", timeout=20)
        cs = cstatus(p, "c")
        self.assertEqual(cs["restartCount"], 1)
        self.assertEqual(cs["lastState"]["terminated"]["exitCode"], 1)
        self.assertEqual(cs["state"]["terminated"]["exitCode"], 0)
        self.assertEqual(self.log("flaky"), "second\n")
        self.assertEqual(self.log("flaky", "?previous=true"), "first\n")
        r = kd.get(NS + "/pods/full-nope/log")
        self.assertEqual(r.status, 404)

    def test_missing_secret_is_create_container_config_error(self):
        kd = self.kd
        self.create({"metadata": {"name": "needs-secret"}, "spec": {"restartPolicy": "Never", "containers": [
            {"name": "c", "image": "alpine", "command": sh("echo value=$V"),
             "env": [{"name": "V", "valueFrom": {"secretKeyRef": {"name": "late", "key": "v"}}}]}]}})
        p = kd.wait_pod("needs-secret", lambda p: (cstatus(p, "c") or {}).get("state", {}).get("waiting", {}).get(
            "reason") == "CreateContainerConfigError")
        self.assertEqual(cstatus(p, "c")["state"]["waiting"]["message"], 'secret "late" not found')
        self.assertEqual(p["status"]["phase"], "Pending")
        kd.post(NS + "/secrets", {"metadata": {"name": "late"}, "stringData": {"v": "42"}})
        kd.wait_pod("needs-secret", lambda p: p["status"]["phase"] == "Succeeded")
        self.assertEqual(self.log("needs-secret"), "value=42\n")

    def test_init_failure_fails_the_pod_and_sidecar_first(self):
        kd = self.kd
        self.create({"metadata": {"name": "init-fails"}, "spec": {
            "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
            "initContainers": [
                {"name": "proxy", "image": "alpine", "restartPolicy": "Always", "command": ["sleep", "30"]},
                {"name": "setup", "image": "alpine", "command": sh("echo setting up; exit 4")}],
            "containers": [{"name": "main", "image": "alpine", "command": ["true"]}]}})
        p = kd.wait_pod("init-fails", lambda p: p["status"]["phase"] == "Failed" and
                        "terminated" in cstatus(p, "proxy")["state"])
        t = cstatus(p, "setup")["state"]["terminated"]
        self.assertEqual((t["exitCode"], t["reason"]), (4, "Error"))
        self.assertEqual(cstatus(p, "proxy")["state"]["terminated"]["exitCode"], 137)
        self.assertEqual(cstatus(p, "main")["state"], {"waiting": {"reason": "PodInitializing"}})
        c = condition(p, "Initialized")
        self.assertEqual((c["status"], c["reason"], c["message"]),
                         ("False", "ContainersNotInitialized", "containers with incomplete status: [setup]"))
        self.assertEqual(self.log("init-fails", "?container=setup"), "setting up\n")

    def test_restart_always_crash_loop(self):
        kd = self.kd
        self.create({"metadata": {"name": "crashy"}, "spec": {"terminationGracePeriodSeconds": 1, "containers": [
            {"name": "c", "image": "alpine", "command": sh("echo boom; exit 2")}]}})
        p = kd.wait_pod("crashy", lambda p: (cstatus(p, "c") or {}).get("restartCount", 0) >= 2 and
                        "waiting" in cstatus(p, "c")["state"])
        cs = cstatus(p, "c")
        self.assertEqual(p["status"]["phase"], "Running")
        self.assertEqual(cs["state"]["waiting"]["reason"], "CrashLoopBackOff")
        self.assertRegex(cs["state"]["waiting"]["message"],
                         r"^back-off \S+ restarting failed container=c pod=crashy_ci\([0-9a-f-]{36}\)$")
        self.assertEqual(cs["lastState"]["terminated"]["exitCode"], 2)
        self.assertEqual(self.log("crashy", "?previous=true"), "boom\n")
        kd.delete(NS + "/pods/crashy")
        kd.wait_pod("crashy", lambda p: p is None)

    def test_command_not_found_is_start_error(self):
        kd = self.kd
        self.create({"metadata": {"name": "nocmd"}, "spec": {"restartPolicy": "Never", "containers": [
            {"name": "c", "image": "alpine", "command": ["no-such-command-x"]}]}})
        p = kd.wait_pod("nocmd", lambda p: p["status"]["phase"] == "Failed")
        t = cstatus(p, "c")["state"]["terminated"]
        self.assertEqual((t["exitCode"], t["reason"]), (128, "StartError"))
        self.assertIn('exec: "no-such-command-x": executable file not found in $PATH', t["message"])


class FallbackModesTest(unittest.TestCase):
    """Without root the double uses a user namespace, or rewrites paths when it has none."""

    def run_in_mode(self, mode):
        with KubeDouble(env={"KUBE_DOUBLE_MOUNT_MODE": mode}) as kd:
            self.assertEqual(kd.ready["mount_mode"], mode)
            r = kd.post(NS + "/pods", {"metadata": {"name": "p"}, "spec": {
                "restartPolicy": "Never", "volumes": [{"name": "repo", "emptyDir": {}}],
                "containers": [{"name": "c", "image": "alpine", "workingDir": "/builds/proj",
                                "command": sh("echo hi > /builds/proj/f && cat f"),
                                "volumeMounts": [{"name": "repo", "mountPath": "/builds"}]}]}})
            self.assertEqual(r.status, 201)
            p = kd.wait_pod("p", lambda p: p["status"]["phase"] in ("Succeeded", "Failed"))
            self.assertEqual(p["status"]["phase"], "Succeeded", kd.get(NS + "/pods/p/log").raw)
            self.assertEqual(kd.get(NS + "/pods/p/log").raw, b"hi\n")

    def test_rewrite_mode(self):
        self.run_in_mode("rewrite")

    def test_user_namespace_mode(self):
        self.run_in_mode("userns")


if __name__ == "__main__":
    unittest.main()
