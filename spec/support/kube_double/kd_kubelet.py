"""The scheduler and kubelet of the double: each Pod's containers run as local processes.

One thread per Pod runs a sync loop like the kubelet's SyncPod: it schedules the Pod,
prepares its volumes, runs init containers in order (native sidecars keep running),
starts the regular containers, restarts them as restartPolicy says, stops sidecars once
the regular containers have ended, enforces activeDeadlineSeconds, and carries out
graceful deletion (SIGTERM to each container's main process, the grace period, SIGKILL).
Every change is published to the Pod's status, so watchers see the real sequence.

How a container runs (mount modes, chosen once at start):
  namespace  (root) setpriv --pdeathsig KILL unshare --mount --pid --fork --kill-child
             --mount-proc, then MOUNT_SCRIPT builds a private root: a tmpfs with the host's
             top-level entries bind-mounted in, each volume bind-mounted at its mountPath,
             then chroot (with --userspec for runAsUser/runAsGroup). The command is PID 1
             of its own PID namespace, as in a container: SIGTERM reaches only it.
  userns     (not root, user namespaces allowed) the same inside `unshare --user --map-root-user`;
             runAsUser is ignored.
  rewrite    (neither) no isolation: mountPath prefixes in command, args, env values and
             workingDir are rewritten to the volume's host directory.
"""
import base64
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback

from kd_store import rfc3339

MOUNT_SCRIPT = r'''
set -e
exec 2>&1
__kd_root=$1 __kd_wd=$2 __kd_user=$3
shift 3
mount -t tmpfs -o mode=755 kube-double-root "$__kd_root"
for __kd_e in /* /.[!.]*; do
  [ -e "$__kd_e" ] || [ -L "$__kd_e" ] || continue
  __kd_n=${__kd_e#/}
  if [ -L "$__kd_e" ]; then ln -s "$(readlink "$__kd_e")" "$__kd_root/$__kd_n"
  elif [ -d "$__kd_e" ]; then mkdir "$__kd_root/$__kd_n"; mount --rbind "$__kd_e" "$__kd_root/$__kd_n"
  else : > "$__kd_root/$__kd_n"; mount --bind "$__kd_e" "$__kd_root/$__kd_n"; fi
done
while [ "$1" != "--" ]; do
  __kd_t="$__kd_root$2"
  if [ -d "$1" ]; then mkdir -p "$__kd_t"; else mkdir -p "$(dirname "$__kd_t")"; [ -e "$__kd_t" ] || : > "$__kd_t"; fi
  mount --bind "$1" "$__kd_t"
  if [ "$3" = 1 ]; then mount -o remount,bind,ro "$__kd_t"; fi
  shift 3
done
shift
mkdir -p "$__kd_root$__kd_wd"
if [ -n "$__kd_user" ]; then
  exec chroot --userspec="$__kd_user" "$__kd_root" /bin/sh -c 'cd "$1" && shift && exec "$@"' kube-double "$__kd_wd" "$@"
fi
exec chroot "$__kd_root" /bin/sh -c 'cd "$1" && shift && exec "$@"' kube-double "$__kd_wd" "$@"
'''


def probe_mount_mode():
    forced = os.environ.get("KUBE_DOUBLE_MOUNT_MODE")
    if forced:
        return forced
    base = ["unshare", "--mount", "--pid", "--fork", "--mount-proc", "true"]
    if os.geteuid() == 0 and shutil.which("unshare") and shutil.which("chroot"):
        if subprocess.run(base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            return "namespace"
    if shutil.which("unshare"):
        r = subprocess.run(["unshare", "--user", "--map-root-user"] + base[1:],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            return "userns"
    return "rewrite"


def expand(s, lookup):
    """Kubernetes $(VAR) expansion (third_party/forked/golang/expansion): $$ is a literal $,
    an undefined $(VAR) stays as written."""
    out, i, n = [], 0, len(s)
    while i < n:
        ch = s[i]
        if ch == "$" and i + 1 < n:
            nx = s[i + 1]
            if nx == "$":
                out.append("$")
                i += 2
                continue
            if nx == "(":
                j = s.find(")", i + 2)
                if j >= 0:
                    name = s[i + 2:j]
                    val = lookup(name)
                    out.append(val if val is not None else "$(" + name + ")")
                    i = j + 1
                    continue
                out.append("$(")
                i += 2
                continue
            out.append("$" + nx)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class ConfigError(Exception):
    """CreateContainerConfigError: a referenced Secret, ConfigMap or key is missing."""


class MountError(Exception):
    """FailedMount: a volume cannot be set up yet."""


class StartError(Exception):
    """The runtime cannot start the process (StartError, exit code 128)."""


class Interrupted(Exception):
    pass


class Run:
    """One start of one container: its process, its log and how it ended."""

    def __init__(self, pod_uid, cname, attempt):
        self.proc = None
        self.unshare_err = None
        self.log = []                 # [(ns timestamp, bytes)]
        self.eof = False
        self.started = time.time()
        self.finished = None
        self.exit_code = None
        self.killed = False           # the kubelet sent SIGKILL
        self.reader = None
        self.container_id = "containerd://" + hashlib.sha256(
            ("%s/%s/%d" % (pod_uid, cname, attempt)).encode()).hexdigest()


class Container:
    def __init__(self, spec, kind, index):
        self.spec = spec
        self.name = spec["name"]
        self.kind = kind              # init, sidecar or regular
        self.index = index
        self.runs = []
        self.state = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state = {}
        self.ready = False
        self.started = False
        self.restarts = 0
        self.image_id = ""
        self.next_try = 0.0           # monotonic time of the next pull/start attempt
        self.backoff = 0.0
        self.pull_failures = 0
        self.done = False             # will not run again (terminated for good)

    @property
    def run(self):
        return self.runs[-1] if self.runs else None

    @property
    def field_path(self):
        return "spec.%s{%s}" % ("initContainers" if self.kind != "regular" else "containers", self.name)

    def status(self):
        st = {"name": self.name, "state": self.state, "lastState": self.last_state, "ready": self.ready,
              "restartCount": self.restarts, "image": self.spec.get("image", ""), "imageID": self.image_id}
        if self.run is not None:
            st["containerID"] = self.run.container_id
        st["started"] = self.started
        return st


class Kubelet:
    """All Pod runtimes, and the condition log followers and runtimes wait on.

    Lock order: a thread holding the store's lock may take self.cond, never the reverse."""

    def __init__(self, registry, state_dir, faults):
        self.registry = registry
        self.faults = faults
        self.dir = os.path.join(state_dir, "pods")
        os.makedirs(self.dir, exist_ok=True)
        self.cond = threading.Condition(threading.RLock())
        self.runtimes = {}            # pod uid -> PodRuntime
        self.stopping = False
        self.mode = probe_mount_mode()
        self.pulled = set()
        self.has_setpriv = shutil.which("setpriv") is not None

    def start(self, pod):
        rt = PodRuntime(self, pod)
        with self.cond:
            self.runtimes[pod["metadata"]["uid"]] = rt
        rt.start()

    def get(self, uid):
        with self.cond:
            return self.runtimes.get(uid)

    def request_delete(self, uid, grace):
        """True when the runtime carries out the graceful deletion itself."""
        rt = self.get(uid)
        return rt is not None and rt.request_delete(grace)

    def forget(self, uid):
        """The Pod object is gone: kill what still runs, drop the runtime."""
        rt = self.get(uid)
        if rt is None:
            return
        rt.request_delete(0, gone=True)
        with self.cond:
            self.runtimes.pop(uid, None)
        threading.Thread(target=rt.cleanup_when_done, daemon=True).start()

    def describe(self):
        with self.cond:
            out = []
            for uid, rt in self.runtimes.items():
                out.append({"namespace": rt.ns, "name": rt.name, "uid": uid, "phase": rt.phase, "dir": rt.dir,
                            "containers": [{"name": c.name, "kind": c.kind,
                                            "pid": (c.run.proc.pid if c.run and c.run.proc else None),
                                            "running": bool(c.run and c.run.exit_code is None)}
                                           for c in rt.containers]})
            return {"mount_mode": self.mode, "pods": out}

    def shutdown(self):
        with self.cond:
            self.stopping = True
            rts = list(self.runtimes.values())
            self.cond.notify_all()
        for rt in rts:
            rt.kill_all(signal.SIGKILL)
        for rt in rts:
            rt.join(5)
            rt.cleanup()


class PodRuntime(threading.Thread):
    def __init__(self, kubelet, pod):
        md = pod["metadata"]
        super().__init__(daemon=True, name="pod-%s/%s" % (md["namespace"], md["name"]))
        self.k = kubelet
        self.reg = kubelet.registry
        self.cond = kubelet.cond
        self.ns, self.name, self.uid = md["namespace"], md["name"], md["uid"]
        self.pod = pod                        # the Pod as created (spec does not change)
        self.spec = pod["spec"]
        self.dir = os.path.join(kubelet.dir, "%s_%s_%s" % (self.ns, self.name, self.uid[:8]))
        self.containers = []
        for i, c in enumerate(self.spec.get("initContainers") or []):
            self.containers.append(Container(c, "sidecar" if c.get("restartPolicy") == "Always" else "init", i))
        for i, c in enumerate(self.spec.get("containers") or []):
            self.containers.append(Container(c, "regular", i))
        self.inits = [c for c in self.containers if c.kind != "regular"]
        self.regular = [c for c in self.containers if c.kind == "regular"]
        self.sidecars = [c for c in self.containers if c.kind == "sidecar"]
        for c in self.regular:
            c.state = {"waiting": {"reason": "PodInitializing" if self.inits else "ContainerCreating"}}
        for c in self.inits:
            c.state = {"waiting": {"reason": "PodInitializing"}}
        self.phase = "Pending"
        self.reason = self.message = None
        self.conditions = {}
        self.start_time = None                # wall clock, status.startTime
        self.start_mono = None
        self.deadline = self.spec.get("activeDeadlineSeconds")
        self.delete_grace = None              # set by a graceful delete
        self.delete_at = None
        self.gone = False                     # the Pod object no longer exists
        self.dirty = True
        self.initialized = False
        self.volumes = None
        self.sandbox = False
        self.scheduled = False
        self.finished = threading.Event()
        self.accepting = True
        self.published = None

    # ------------------------------------------------------------------ control

    def request_delete(self, grace, gone=False):
        """Begin graceful deletion; False when this runtime has already finished (delete at once)."""
        with self.cond:
            if gone:
                self.gone = True
                self.cond.notify_all()
            if not self.accepting:
                return False
            now = time.monotonic()
            at = now + max(grace, 0)
            if self.delete_at is None or at < self.delete_at:
                self.delete_at = at
                self.delete_grace = grace
            self.cond.notify_all()
            return True

    def cleanup_when_done(self):
        self.finished.wait(60)
        self.cleanup()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def wait(self, timeout=None, pred=None):
        """Sleep until pred() or something happens (a process ended, a delete); raise Interrupted
        on deletion, on the active deadline or at shutdown."""
        end = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while True:
                if self.delete_at is not None or self.k.stopping or self.deadline_passed():
                    raise Interrupted()
                if pred is not None and pred():
                    return True
                if self.dirty and pred is None:
                    return True
                now = time.monotonic()
                if end is not None and now >= end:
                    return False
                w = 0.5 if end is None else min(0.5, end - now)
                if self.deadline is not None and self.start_mono is not None:
                    w = min(w, max(0.01, self.start_mono + self.deadline - now))
                self.cond.wait(max(w, 0.005))

    def deadline_passed(self):
        return (self.deadline is not None and self.start_mono is not None
                and time.monotonic() >= self.start_mono + float(self.deadline))

    # ------------------------------------------------------------------ status

    def set_cond(self, ctype, status, reason=None, message=None):
        c = self.conditions.get(ctype)
        if c is None or c["status"] != status:
            c = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": rfc3339()}
        else:
            c = dict(c)
        c.pop("reason", None)
        c.pop("message", None)
        if reason:
            c["reason"] = reason
        if message:
            c["message"] = message
        self.conditions[ctype] = c

    def compute_conditions(self):
        if not self.scheduled:
            return
        self.set_cond("PodScheduled", "True")
        if not self.sandbox:
            return
        terminal = self.phase in ("Succeeded", "Failed")
        self.set_cond("PodReadyToStartContainers", "False" if terminal and self.all_stopped() else "True")
        pending = [c.name for c in self.inits if not (
            (c.kind == "init" and "terminated" in c.state and c.state["terminated"]["exitCode"] == 0) or
            (c.kind == "sidecar" and (c.started or c.runs)))]
        if self.initialized or not pending:
            self.set_cond("Initialized", "True")
        else:
            self.set_cond("Initialized", "False", "ContainersNotInitialized",
                          "containers with incomplete status: [%s]" % " ".join(pending))
        if terminal:
            r = "PodCompleted" if self.phase == "Succeeded" else "PodFailed"
            self.set_cond("Ready", "False", r)
            self.set_cond("ContainersReady", "False", r)
            return
        unready = [c.name for c in self.sidecars + self.regular if not c.ready]
        if unready:
            msg = "containers with unready status: [%s]" % " ".join(unready)
            self.set_cond("Ready", "False", "ContainersNotReady", msg)
            self.set_cond("ContainersReady", "False", "ContainersNotReady", msg)
        else:
            self.set_cond("Ready", "True")
            self.set_cond("ContainersReady", "True")

    def all_stopped(self):
        return all(c.run is None or c.run.exit_code is not None for c in self.containers)

    def status(self):
        self.compute_conditions()
        st = {"phase": self.phase}
        order = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
        conds = [self.conditions[t] for t in order if t in self.conditions]
        if conds:
            st["conditions"] = conds
        if self.reason:
            st["reason"] = self.reason
            st["message"] = self.message
        if self.sandbox:
            st["hostIP"] = "127.0.0.1"
            st["hostIPs"] = [{"ip": "127.0.0.1"}]
            st["podIP"] = "127.0.0.1"
            st["podIPs"] = [{"ip": "127.0.0.1"}]
        if self.start_time is not None:
            st["startTime"] = rfc3339(self.start_time)
        if self.sandbox:
            if self.inits:
                st["initContainerStatuses"] = [c.status() for c in self.inits]
            st["containerStatuses"] = [c.status() for c in self.regular]
        st["qosClass"] = self.pod.get("status", {}).get("qosClass", "BestEffort")
        return st

    def publish(self):
        """Write the status to the Pod object (one MODIFIED event) if it changed."""
        st = self.status()
        if st == self.published:
            return
        self.published = st
        sched = self.scheduled

        def fn(o):
            o["status"] = st
            if sched and not o["spec"].get("nodeName"):
                o["spec"]["nodeName"] = "kube-double"
        if not self.reg.kubelet_update(self.ns, self.name, self.uid, fn):
            with self.cond:
                self.gone = True
                if self.delete_at is None:
                    self.delete_at = time.monotonic()
                    self.delete_grace = 0
            raise Interrupted()

    def event(self, etype, reason, message, c=None, component="kubelet"):
        self.reg.record_event(self.pod, etype, reason, message, c.field_path if c else None, component)

    # ------------------------------------------------------------------ lifecycle

    def run(self):
        try:
            try:
                self.lifecycle()
            except Interrupted:
                self.interrupted()
        except Exception:  # noqa: a broken Pod must not take the server down
            sys.stderr.write("kube_double: pod %s/%s:\n%s" % (self.ns, self.name, traceback.format_exc()))
            self.kill_all(signal.SIGKILL)
        finally:
            with self.cond:
                self.accepting = False
                pending = self.delete_at is not None and not self.gone
            if pending and not self.k.stopping:
                self.reg.finish_pod_deletion(self.ns, self.name, self.uid)
            self.finished.set()
            with self.cond:
                self.cond.notify_all()

    def lifecycle(self):
        # scheduling
        rule = self.k.faults.take("schedule_delay", pod="%s/%s" % (self.ns, self.name))
        if rule:
            if rule.get("unschedulable"):
                msg = rule.get("message") or ("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes "
                                              "are available: 1 No preemption victims found for incoming pod.")
                self.conditions["PodScheduled"] = {"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                                                   "lastTransitionTime": rfc3339(), "reason": "Unschedulable",
                                                   "message": msg}
                self.publish()
                self.event("Warning", "FailedScheduling", msg, component="default-scheduler")
            self.wait(float(rule["schedule_delay"]), pred=lambda: False)
        self.scheduled = True
        self.publish()
        self.event("Normal", "Scheduled", "Successfully assigned %s/%s to kube-double" % (self.ns, self.name),
                   component="default-scheduler")
        # the kubelet takes the Pod: sandbox, start time, waiting statuses
        self.start_time = time.time()
        self.start_mono = time.monotonic()
        self.sandbox = True
        self.publish()
        os.makedirs(self.dir, exist_ok=True)
        while self.volumes is None:
            try:
                self.volumes = self.prepare_volumes()
            except MountError as e:
                self.event("Warning", "FailedMount", str(e))
                self.wait(1.0, pred=lambda: False)
        while True:
            with self.cond:
                self.dirty = False
            self.sync()
            self.publish()
            if self.phase in ("Succeeded", "Failed"):
                return
            self.wait(self.next_wakeup())

    def next_wakeup(self):
        now = time.monotonic()
        times = [c.next_try - now for c in self.containers if c.next_try > now]
        return max(0.01, min(times)) if times else None

    def sync(self):
        now = time.monotonic()
        self.collect_exits()
        policy = self.spec.get("restartPolicy", "Always")
        if not self.initialized:
            for c in self.inits:
                if c.kind == "sidecar":
                    if c.run is None:
                        if not self.act(c, now):
                            return
                    elif c.run.exit_code is not None:
                        self.maybe_restart(c, now)
                    if not c.started:
                        return
                    continue
                if "terminated" in c.state and c.state["terminated"]["exitCode"] == 0:
                    continue
                if c.run is not None and c.run.exit_code is None:
                    return
                if c.run is not None and c.run.exit_code is not None:
                    if policy == "Never":
                        self.fail_init()
                        return
                    self.maybe_restart(c, now)
                    return
                self.act(c, now)
                return
            self.initialized = True
        for c in self.sidecars:
            if c.run is not None and c.run.exit_code is not None:
                self.maybe_restart(c, now)
        for c in self.regular:
            if c.run is None:
                self.act(c, now)
            elif c.run.exit_code is not None and not c.done:
                self.maybe_restart(c, now)
        if all(c.done for c in self.regular):
            self.complete()
        elif self.phase == "Pending" and all(c.runs for c in self.regular):
            self.phase = "Running"

    def collect_exits(self):
        for c in self.containers:
            r = c.run
            if r is None or r.exit_code is None or "running" not in c.state:
                continue
            term = {"exitCode": r.exit_code, "reason": "Completed" if r.exit_code == 0 else "Error",
                    "startedAt": rfc3339(r.started), "finishedAt": rfc3339(r.finished), "containerID": r.container_id}
            if r.exit_code != 0 and c.spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
                tail = b"".join(d for _, d in r.log[-80:])[-2048:]
                if tail:
                    term["message"] = tail.decode("utf-8", "replace")
            c.state = {"terminated": term}
            c.ready = False
            c.started = False
            policy = self.spec.get("restartPolicy", "Always")
            if c.kind == "regular":
                c.done = policy == "Never" or (policy == "OnFailure" and r.exit_code == 0)

    def maybe_restart(self, c, now):
        """A container that ended and restarts: CrashLoopBackOff, then a new run."""
        if c.next_try == 0.0 or "terminated" in c.state:
            base = self.k.faults.setting("crashloop_backoff")
            c.backoff = base if c.backoff == 0 else min(c.backoff * 2, 300.0)
            c.next_try = now + c.backoff
            c.last_state = c.state
            c.state = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off %s restarting failed container=%s pod=%s_%s(%s)"
                                   % (_godur(c.backoff), c.name, self.name, self.ns, self.uid)}}
            self.event("Warning", "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)"
                       % (c.name, self.name, self.ns, self.uid), c)
            return
        if now >= c.next_try:
            last = c.last_state
            if self.act(c, now, restart=True):
                c.restarts += 1
                c.last_state = last

    def act(self, c, now, restart=False):
        """Pull, configure and start c when its back-off allows. True once it runs."""
        if now < c.next_try:
            return False
        if not self.pull(c):
            return False
        try:
            argv, env, cwd, mounts, user = self.container_config(c)
        except ConfigError as e:
            c.state = {"waiting": {"reason": "CreateContainerConfigError", "message": str(e)}}
            c.next_try = now + 1.0
            self.event("Warning", "Failed", "Error: %s" % e, c)
            return False
        c.next_try = 0.0
        self.event("Normal", "Created", "Created container %s" % c.name, c)
        try:
            self.spawn(c, argv, env, cwd, mounts, user)
        except StartError as e:
            r = c.run
            with self.cond:
                r.exit_code, r.finished, r.eof = 128, time.time(), True
            c.state = {"terminated": {"exitCode": 128, "reason": "StartError", "message": str(e),
                                      "startedAt": "1970-01-01T00:00:00Z", "finishedAt": rfc3339(r.finished),
                                      "containerID": r.container_id}}
            self.event("Warning", "Failed", "Error: %s" % e, c)
            if c.kind == "regular":
                policy = self.spec.get("restartPolicy", "Always")
                c.done = policy == "Never"
            return True
        self.event("Normal", "Started", "Started container %s" % c.name, c)
        c.state = {"running": {"startedAt": rfc3339(c.run.started)}}
        c.started = True
        c.ready = c.kind != "init"
        if c.kind == "sidecar":
            c.started = True
        return True

    def pull(self, c):
        image = c.spec.get("image", "")
        if not valid_image(image):
            msg = 'Failed to apply default image tag "%s": couldn\'t parse image name "%s": invalid reference format' % (
                image, image)
            if c.state.get("waiting", {}).get("reason") != "InvalidImageName":
                self.event("Warning", "InspectFailed", msg, c)
            c.state = {"waiting": {"reason": "InvalidImageName", "message": msg}}
            c.next_try = time.monotonic() + 3600
            return False
        if c.image_id:
            return True
        rule = self.k.faults.take("pull_fail", image=image, pod="%s/%s" % (self.ns, self.name))
        now = time.monotonic()
        if rule:
            c.pull_failures += 1
            why = rule.get("message") or ('failed to pull and unpack image "%s": failed to resolve reference '
                                          '"%s": %s: not found' % (_qualify(image), _qualify(image), _qualify(image)))
            msg = "rpc error: code = NotFound desc = %s" % why
            self.event("Normal", "Pulling", 'Pulling image "%s"' % image, c)
            self.event("Warning", "Failed", 'Failed to pull image "%s": %s' % (image, msg), c)
            self.event("Warning", "Failed", "Error: ErrImagePull", c)
            c.state = {"waiting": {"reason": "ErrImagePull", "message": msg}}
            backoff = self.k.faults.setting("image_pull_backoff")
            self.publish()
            self.wait(backoff, pred=lambda: False)
            c.state = {"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "%s"' % image}}
            self.event("Normal", "BackOff", 'Back-off pulling image "%s"' % image, c)
            self.event("Warning", "Failed", "Error: ImagePullBackOff", c)
            c.next_try = now + 2 * backoff
            return False
        policy = c.spec.get("imagePullPolicy") or "IfNotPresent"
        if policy != "Always" and image in self.k.pulled:
            self.event("Normal", "Pulled", 'Container image "%s" already present on machine' % image, c)
        else:
            self.event("Normal", "Pulling", 'Pulling image "%s"' % image, c)
            self.event("Normal", "Pulled", 'Successfully pulled image "%s" in 1ms (1ms including waiting). '
                       'Image size: 0 bytes.' % image, c)
            self.k.pulled.add(image)
        c.image_id = "%s@sha256:%s" % (_repository(image), hashlib.sha256(image.encode()).hexdigest())
        return True

    def fail_init(self):
        self.phase = "Failed"
        self.stop(self.sidecars, float(self.spec.get("terminationGracePeriodSeconds", 30)))
        self.collect_exits()

    def complete(self):
        """Every regular container ended for good: stop the sidecars, then the terminal phase."""
        self.stop(list(reversed(self.sidecars)), float(self.spec.get("terminationGracePeriodSeconds", 30)))
        self.collect_exits()
        ok = all(c.run is not None and c.run.exit_code == 0 for c in self.regular)
        self.phase = "Succeeded" if ok else "Failed"

    def interrupted(self):
        """Deletion, the active deadline or shutdown ended the normal course."""
        if self.k.stopping:
            self.kill_all(signal.SIGKILL)
            return
        deadline = self.delete_at is None and self.deadline_passed()
        if deadline:
            self.phase = "Failed"
            self.reason = "DeadlineExceeded"
            self.message = "Pod was active on the node longer than the specified deadline"
            self.event("Normal", "DeadlineExceeded", self.message)
            try:
                self.publish()
            except Interrupted:
                pass
        grace = float(self.spec.get("terminationGracePeriodSeconds", 30))
        if self.delete_at is not None:
            grace = max(0.0, self.delete_at - time.monotonic())
        running = [c for c in self.containers if c.run is not None and c.run.exit_code is None]
        for c in running:
            self.event("Normal", "Killing", "Stopping container %s" % c.name, c)
        regular_first = [c for c in running if c.kind != "sidecar"] + \
            list(reversed([c for c in running if c.kind == "sidecar"]))
        self.stop(regular_first, grace, interruptible=False)
        self.collect_exits()
        for c in self.containers:
            if c.kind == "regular":
                c.done = True
            c.next_try = 0.0
        if self.phase not in ("Succeeded", "Failed"):
            ok = all(c.run is not None and c.run.exit_code == 0 for c in self.regular)
            self.phase = "Succeeded" if ok else "Failed"
        if self.gone:
            return
        try:
            self.publish()
        except Interrupted:
            return
        # a deletion is finished by run(); after a deadline the Pod stays, Failed, until deleted

    # ------------------------------------------------------------------ processes

    def stop(self, containers, grace, interruptible=True):
        """SIGTERM each container's main process in order, SIGKILL what is left when grace runs out."""
        end = time.monotonic() + max(grace, 0.0)
        for c in containers:
            r = c.run
            if r is None or r.exit_code is not None:
                continue
            self.signal(r, signal.SIGTERM)
            with self.cond:
                while r.exit_code is None and time.monotonic() < end:
                    if self.delete_at is not None and self.delete_at < end:
                        end = self.delete_at
                    if self.k.stopping:
                        break
                    self.cond.wait(min(0.2, max(0.005, end - time.monotonic())))
        for c in containers:
            if c.run is not None and c.run.exit_code is None:
                c.run.killed = True
                self.signal(c.run, signal.SIGKILL)
        with self.cond:
            limit = time.monotonic() + 5
            while any(c.run is not None and c.run.exit_code is None for c in containers) and \
                    time.monotonic() < limit:
                self.cond.wait(0.1)

    def kill_all(self, sig):
        for c in self.containers:
            if c.run is not None and c.run.exit_code is None:
                c.run.killed = True
                self.signal(c.run, sig)

    def signal(self, r, sig):
        """Send sig to the container's main process: PID 1 of its PID namespace."""
        if getattr(r, "stop_event", None) is not None:
            r.stop_event.set()                        # a scripted container stops on any signal
            return
        if r.proc is None:
            return
        target = r.proc.pid
        if self.k.mode in ("namespace", "userns"):
            child = _child_of(r.proc.pid)
            if child is not None:
                target = child
            elif sig == signal.SIGTERM:
                return
        try:
            os.kill(target, sig)
        except OSError:
            pass

    def spawn(self, c, argv, env, cwd, mounts, user):
        if self.k.faults.setting("scripted_output"):
            return self.spawn_scripted(c)
        r = Run(self.uid, c.name, len(c.runs))
        c.runs.append(r)
        mode = self.k.mode
        if mode == "rewrite":
            prefix = []
        else:
            prefix = ["setpriv", "--pdeathsig", "KILL"] if self.k.has_setpriv else []
            prefix += ["unshare"] + (["--user", "--map-root-user"] if mode == "userns" else []) + \
                ["--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private"]
        self.check_executable(argv[0], env, mounts, cwd)
        if mode == "rewrite":
            full = argv
            workdir = cwd
        else:
            root = os.path.join(self.dir, "root-%s-%d" % (c.name, len(c.runs)))
            os.makedirs(root, exist_ok=True)
            full = prefix + ["sh", "-c", MOUNT_SCRIPT, "kube-double", root, cwd or "/",
                             user if mode == "namespace" else ""]
            for src, dst, ro in mounts:
                full += [src, dst, "1" if ro else "0"]
            full += ["--"] + argv
            workdir = None
        try:
            # stdin: true gets a pipe nobody writes to, as an unattached container's stdin
            r.proc = subprocess.Popen(full, stdin=subprocess.PIPE if c.spec.get("stdin") else subprocess.DEVNULL,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT if mode == "rewrite" else subprocess.PIPE,
                                      env=env, cwd=workdir, start_new_session=True)
        except OSError as e:
            raise StartError(_start_error(str(e)))
        r.started = time.time()
        r.reader = threading.Thread(target=self._read, args=(r,), daemon=True)
        r.reader.start()
        if r.proc.stderr is not None:
            threading.Thread(target=self._drain, args=(r,), daemon=True).start()
        threading.Thread(target=self._wait, args=(r,), daemon=True).start()

    def spawn_scripted(self, c):
        """A container without a process: scripted log lines, then exit 0 (see scripted_output)."""
        r = Run(self.uid, c.name, len(c.runs))
        c.runs.append(r)
        r.stop_event = threading.Event()
        setting = self.k.faults.setting
        if c.kind == "sidecar" or (c.kind == "regular" and c.name not in ("build", "helper")):
            lines, seconds = 0, None                  # a service: runs until stopped
        elif c.name == "build":
            lines, seconds = int(setting("scripted_build_lines")), setting("scripted_build_seconds")
        else:
            lines, seconds = 1, 0.0
        width = max(8, int(setting("scripted_line_bytes")))

        def play():
            start = time.monotonic()
            code = 0
            for i in range(lines):
                due = start + (seconds or 0.0) * (i + 1) / (lines + 1)
                if r.stop_event.wait(max(0.0, due - time.monotonic())):
                    code = 143
                    break
                # the wall time it was printed: benchmarks measure when it reached GitLab
                text = ("%s line %d t=%.3f " % (c.name, i + 1, time.time())).ljust(width - 1, "x")[:width - 1] + "\n"
                with self.cond:
                    r.log.append((time.time_ns(), text.encode()))
                    self.cond.notify_all()
            if code == 0:
                if seconds is None:
                    r.stop_event.wait()
                    code = 143
                elif r.stop_event.wait(max(0.0, start + seconds - time.monotonic())):
                    code = 143
            with self.cond:
                r.eof = True
                r.finished = time.time()
                r.exit_code = 137 if r.killed else code
                self.dirty = True
                self.cond.notify_all()

        r.started = time.time()
        threading.Thread(target=play, daemon=True).start()

    def check_executable(self, cmd, env, mounts, cwd):
        """What runc reports when the command cannot be executed."""
        def host(p):
            for src, dst, _ in sorted(mounts, key=lambda m: -len(m[1])):
                if p == dst or p.startswith(dst.rstrip("/") + "/"):
                    return src + p[len(dst.rstrip("/")):]
            return p
        if "/" in cmd:
            p = cmd if cmd.startswith("/") else os.path.join(cwd or "/", cmd)
            if not os.path.exists(host(p)):
                raise StartError(_start_error('exec: "%s": stat %s: no such file or directory' % (cmd, p)))
            return
        for d in (env.get("PATH") or "").split(":"):
            if d and os.access(host(os.path.join(d, cmd)), os.X_OK):
                return
        raise StartError(_start_error('exec: "%s": executable file not found in $PATH' % cmd))

    def _read(self, r):
        fd = r.proc.stdout.fileno()
        buf = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            t = time.time_ns()
            with self.cond:
                if chunk:
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for ln in lines:
                        r.log.append((t, ln + b"\n"))
                    if len(buf) >= 16384:
                        r.log.append((t, buf))
                        buf = b""
                else:
                    if buf:
                        r.log.append((t, buf))
                    r.eof = True
                self.cond.notify_all()
            if not chunk:
                break
        r.proc.stdout.close()

    def _drain(self, r):
        err = r.proc.stderr.read()
        r.proc.stderr.close()
        if err.strip() and os.environ.get("KUBE_DOUBLE_VERBOSE"):
            sys.stderr.write("kube_double: %s/%s: %s" % (self.ns, self.name, err.decode("utf-8", "replace")))

    def _wait(self, r):
        rc = r.proc.wait()
        try:
            os.killpg(r.proc.pid, signal.SIGKILL)   # what is left of the container dies with it
        except OSError:
            pass
        r.reader.join(5)
        if r.proc.stdin is not None:
            try:
                r.proc.stdin.close()
            except OSError:
                pass
        with self.cond:
            if r.killed and (rc == 1 or rc < 0) and self.k.mode != "rewrite":
                code = 137                           # unshare reports a SIGKILLed child as 1
            elif rc < 0:
                code = 128 - rc
            else:
                code = rc
            r.finished = time.time()
            r.exit_code = code
            self.dirty = True
            self.cond.notify_all()

    # ------------------------------------------------------------------ configuration

    def container_config(self, c):
        spec = c.spec
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOSTNAME": self.spec.get("hostname") or self.name,
               "HOME": "/root"}
        if self.spec.get("enableServiceLinks", True):
            port = str(self.reg.port)
            env.update({"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port,
                        "KUBERNETES_SERVICE_PORT_HTTPS": port, "KUBERNETES_PORT": "tcp://127.0.0.1:" + port,
                        "KUBERNETES_PORT_443_TCP": "tcp://127.0.0.1:" + port,
                        "KUBERNETES_PORT_443_TCP_PROTO": "tcp", "KUBERNETES_PORT_443_TCP_PORT": port,
                        "KUBERNETES_PORT_443_TCP_ADDR": "127.0.0.1"})
        svc = {k: v for k, v in env.items() if k.startswith("KUBERNETES_")}
        defined = {}
        for ef in spec.get("envFrom") or []:
            ref = ef.get("secretRef") or ef.get("configMapRef")
            if not ref:
                continue
            is_secret = "secretRef" in ef
            data = self.lookup_data("secrets" if is_secret else "configmaps", ref.get("name"), ref.get("optional"))
            for k, v in (data or {}).items():
                if re.match(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$", ef.get("prefix", "") + k):
                    defined[ef.get("prefix", "") + k] = v

        def lookup(k):
            return defined[k] if k in defined else svc.get(k)
        for e in spec.get("env") or []:
            n = e["name"]
            if "valueFrom" in e:
                v = self.value_from(e["valueFrom"], c)
                if v is None:
                    continue
                defined[n] = v
            else:
                defined[n] = expand(e.get("value") or "", lookup)
        env.update(defined)
        argv = [expand(x, lookup) for x in spec.get("command") or []] + \
            [expand(x, lookup) for x in spec.get("args") or []]
        if not argv:
            argv = ["sleep", "infinity"]     # the image's own entrypoint is unknown: keep the container up
        cwd = spec.get("workingDir") or "/"
        mounts = []
        for m in spec.get("volumeMounts") or []:
            src = self.volumes.get(m["name"])
            sub = m.get("subPath") or (expand(m["subPathExpr"], lookup) if m.get("subPathExpr") else "")
            if sub:
                src = os.path.join(src, sub)
                if not os.path.exists(src):
                    os.makedirs(src, mode=0o777, exist_ok=True)
            mounts.append((src, m["mountPath"], bool(m.get("readOnly"))))
        sc = dict(self.spec.get("securityContext") or {})
        sc.update(spec.get("securityContext") or {})
        user = ""
        if sc.get("runAsUser") is not None or sc.get("runAsGroup") is not None:
            user = "%s:%s" % (sc.get("runAsUser", 0), sc.get("runAsGroup", sc.get("runAsUser", 0)))
        if self.k.mode == "rewrite":
            def rw(s):
                for src, dst, _ in sorted(mounts, key=lambda m: -len(m[1])):
                    s = s.replace(dst, src)
                return s
            argv = [rw(a) for a in argv]
            env = {k: rw(v) for k, v in env.items()}
            cwd = rw(cwd)
            os.makedirs(cwd, exist_ok=True)
        return argv, env, cwd, mounts, user

    def lookup_data(self, resource, name, optional):
        obj = self.reg.store.get(resource, self.ns, name)
        kind = "secret" if resource == "secrets" else "configmap"
        if obj is None:
            if optional:
                return None
            raise ConfigError('%s "%s" not found' % (kind, name))
        if resource == "secrets":
            return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (obj.get("data") or {}).items()}
        return dict(obj.get("data") or {})

    def value_from(self, vf, c):
        if "secretKeyRef" in vf or "configMapKeyRef" in vf:
            is_secret = "secretKeyRef" in vf
            ref = vf["secretKeyRef" if is_secret else "configMapKeyRef"]
            data = self.lookup_data("secrets" if is_secret else "configmaps", ref.get("name"), ref.get("optional"))
            if data is None:
                return None
            if ref.get("key") not in data:
                if ref.get("optional"):
                    return None
                raise ConfigError("couldn't find key %s in %s %s/%s" % (
                    ref.get("key"), "Secret" if is_secret else "ConfigMap", self.ns, ref.get("name")))
            return data[ref["key"]]
        if "fieldRef" in vf:
            return self.field_ref(vf["fieldRef"].get("fieldPath", ""))
        if "resourceFieldRef" in vf:
            res = vf["resourceFieldRef"].get("resource", "")
            kind, _, what = res.partition(".")
            val = ((c.spec.get("resources") or {}).get(kind) or {}).get(what)
            return str(val) if val is not None else ("2" if what == "cpu" else "8589934592")
        return None

    def field_ref(self, fp):
        md = self.pod["metadata"]
        m = re.match(r"^metadata\.(labels|annotations)\['(.*)'\]$", fp)
        if m:
            return (md.get(m.group(1)) or {}).get(m.group(2), "")
        if fp in ("metadata.labels", "metadata.annotations"):
            d = md.get(fp.split(".")[1]) or {}
            return "\n".join('%s="%s"' % (k, d[k]) for k in sorted(d))
        simple = {"metadata.name": self.name, "metadata.namespace": self.ns, "metadata.uid": self.uid,
                  "spec.nodeName": "kube-double", "spec.serviceAccountName": self.spec.get("serviceAccountName", ""),
                  "status.hostIP": "127.0.0.1", "status.hostIPs": "127.0.0.1", "status.podIP": "127.0.0.1",
                  "status.podIPs": "127.0.0.1"}
        return simple.get(fp, "")

    def prepare_volumes(self):
        vols = {}
        for v in self.spec.get("volumes") or []:
            name = v["name"]
            d = os.path.join(self.dir, "volumes", name)
            if "hostPath" in v:
                hp = v["hostPath"]
                p, t = hp.get("path", ""), hp.get("type", "")
                if t == "DirectoryOrCreate":
                    os.makedirs(p, mode=0o755, exist_ok=True)
                elif t == "FileOrCreate" and not os.path.exists(p):
                    os.makedirs(os.path.dirname(p), exist_ok=True)
                    open(p, "a").close()
                elif t in ("Directory", "File") and not os.path.exists(p):
                    raise MountError('MountVolume.SetUp failed for volume "%s" : hostPath type check failed: %s is not a %s'
                                     % (name, p, "directory" if t == "Directory" else "file"))
                vols[name] = p
                continue
            if os.path.isdir(d):
                shutil.rmtree(d)
            os.makedirs(d)
            os.chmod(d, 0o777)
            if "emptyDir" in v:
                pass
            elif "secret" in v or "configMap" in v:
                src = v.get("secret") or v.get("configMap")
                self.write_files(name, d, "secrets" if "secret" in v else "configmaps",
                                 src.get("secretName") if "secret" in v else src.get("name"), src)
            elif "downwardAPI" in v:
                self.write_downward(d, v["downwardAPI"])
            elif "projected" in v:
                for s in v["projected"].get("sources") or []:
                    if "secret" in s or "configMap" in s:
                        src = s.get("secret") or s.get("configMap")
                        self.write_files(name, d, "secrets" if "secret" in s else "configmaps", src.get("name"),
                                         dict(src, defaultMode=v["projected"].get("defaultMode", 420)))
                    elif "downwardAPI" in s:
                        self.write_downward(d, s["downwardAPI"])
            else:
                kinds = [k for k in v if k != "name"]
                raise MountError('MountVolume.SetUp failed for volume "%s" : kube_double does not emulate %s volumes'
                                 % (name, kinds[0] if kinds else "such"))
            vols[name] = d
        return vols

    def write_files(self, vname, d, resource, oname, src):
        obj = self.reg.store.get(resource, self.ns, oname)
        kind = "secret" if resource == "secrets" else "configmap"
        if obj is None:
            if src.get("optional"):
                return
            raise MountError('MountVolume.SetUp failed for volume "%s" : %s "%s" not found' % (vname, kind, oname))
        data = {}
        for k, val in (obj.get("data") or {}).items():
            data[k] = base64.b64decode(val) if resource == "secrets" else val.encode()
        for k, val in (obj.get("binaryData") or {}).items():
            data[k] = base64.b64decode(val)
        mode = src.get("defaultMode", 420)
        items = src.get("items")
        if items:
            for it in items:
                if it["key"] not in data and not src.get("optional"):
                    raise MountError('MountVolume.SetUp failed for volume "%s" : configmap references non-existent '
                                     'config key: %s' % (vname, it["key"]) if kind == "configmap" else
                                     'MountVolume.SetUp failed for volume "%s" : references non-existent secret key: %s'
                                     % (vname, it["key"]))
            files = [(it["key"], it["path"], it.get("mode", mode)) for it in items if it["key"] in data]
        else:
            files = [(k, k, mode) for k in data]
        for key, path, m in files:
            fp = os.path.join(d, path)
            os.makedirs(os.path.dirname(fp), exist_ok=True)
            with open(fp, "wb") as f:
                f.write(data[key])
            os.chmod(fp, m)

    def write_downward(self, d, spec):
        for it in spec.get("items") or []:
            if "fieldRef" not in it:
                continue
            fp = os.path.join(d, it["path"])
            os.makedirs(os.path.dirname(fp), exist_ok=True)
            with open(fp, "w") as f:
                f.write(self.field_ref(it["fieldRef"].get("fieldPath", "")))
            os.chmod(fp, it.get("mode", spec.get("defaultMode", 420)))


def _child_of(pid):
    for _ in range(50):
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except OSError:
            return None
        time.sleep(0.01)
    return None


def valid_image(image):
    """A reference containerd can parse: lowercase repository path, optional tag and digest."""
    m = re.match(r"^(?:([a-zA-Z0-9.-]+(?::[0-9]+)?)/)?([a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
                 r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
                 r"(?:@sha256:[a-f0-9]{64})?$", image)
    return m is not None


def _repository(image):
    name = image.split("@")[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[:len(name) - len(last)] + last.split(":")[0]
    return _qualify(name)


def _qualify(image):
    """docker.io/library/alpine:3.20 for alpine:3.20, as containerd names images."""
    first = image.split("/")[0]
    if "/" not in image:
        image = "docker.io/library/" + image
    elif "." not in first and ":" not in first and first != "localhost":
        image = "docker.io/" + image
    return image


def _godur(seconds):
    """A Go time.Duration string for whole or fractional seconds: 10s, 2m40s, 500ms."""
    if seconds < 1:
        return "%dms" % round(seconds * 1000)
    s = int(seconds) if float(seconds).is_integer() else seconds
    if isinstance(s, int) and s >= 60:
        return "%dm%ds" % divmod(s, 60)
    return "%ss" % s


def _start_error(why):
    return ("failed to create containerd task: failed to create shim task: OCI runtime create failed: "
            "runc create failed: unable to start container process: %s: unknown" % why)
