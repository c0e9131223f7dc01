"""The coordinator's state: the runner token, the job queue and its version, and one
record per job (status, ack, trace, patches, updates, artifacts). Every change happens
under one condition variable, so long polls and waits wake up on it."""
import secrets
import threading
import time
import zlib

FINAL = ("success", "failed", "canceled")
ACTIVE = ("running", "canceling")


def crc32_text(data):
    return "crc32:%08x" % (zlib.crc32(bytes(data)) & 0xFFFFFFFF)


class Job:
    def __init__(self, jid, token, payload, pending_deps):
        self.id, self.token, self.payload = jid, token, payload
        self.pending_deps = pending_deps       # dependency ids resolved when the job is handed out
        self.status = "pending"
        self.picked = False                    # handed out by jobs/request
        self.acked = False                     # the runner's PUT state=running arrived
        self.cancel = None                     # "graceful" or "hard" once asked
        self.runner = None                     # {"system_id": ...} of the manager that took it
        self.trace = bytearray()
        self.patches, self.updates = [], []
        self.artifacts, self.downloads = [], []
        self.archive = None                    # the stored archive blob dependents download
        self.failure_reason = self.exit_code = None
        self.created = time.time()
        self.picked_at = None                  # when jobs/request handed it out
        self.finished = None

    def record(self, with_payload=True):
        r = {
            "id": self.id, "token": self.token, "name": self.payload.get("job_info", {}).get("name"),
            "status": self.status, "picked": self.picked, "acked": self.acked, "cancel": self.cancel,
            "runner": self.runner, "failure_reason": self.failure_reason, "exit_code": self.exit_code,
            "trace": bytes(self.trace).decode("utf-8", "replace"), "trace_bytes": len(self.trace),
            "trace_checksum": crc32_text(self.trace), "patches": list(self.patches),
            "updates": list(self.updates), "artifacts": [dict(a) for a in self.artifacts],
            "downloads": list(self.downloads), "created": self.created, "picked_at": self.picked_at,
            "finished": self.finished,
        }
        if self.archive:
            r["artifacts_file"] = {"filename": self.archive["filename"], "size": self.archive["size"]}
        if with_payload:
            r["payload"] = self.payload
        return r


class State:
    def __init__(self):
        self.cond = threading.Condition()
        self.version = secrets.token_hex(16)
        self.runner_token = "glrt-" + secrets.token_urlsafe(15).replace("-", "x").replace("_", "y")
        self.runner = {"id": 73, "verified": False, "system_ids": [], "deleted_system_ids": [],
                       "info": None, "last_update": None}
        self.queue = []                        # job ids waiting to be handed out, oldest first
        self.jobs = {}
        self.next_id = 1001
        self.next_pipeline = 501

    # -- the queue version: changes whenever a job is queued or changes status

    def tick(self):
        """Call with the lock held."""
        self.version = secrets.token_hex(16)
        self.cond.notify_all()

    def new_identity(self):
        with self.cond:
            jid = self.next_id
            self.next_id += 1
            self.next_pipeline += 1
            return jid, self.next_pipeline - 1, "glcbt-" + secrets.token_hex(12)

    def enqueue(self, job):
        with self.cond:
            self.jobs[job.id] = job
            self.queue.append(job.id)
            self.tick()
        return job

    def job(self, jid):
        with self.cond:
            return self.jobs.get(jid)

    def by_token(self, token):
        if not token:
            return None
        with self.cond:
            for j in self.jobs.values():
                if j.token == token:
                    return j
        return None

    def active_token(self, token):
        """The job this token belongs to when that job is running (or canceling)."""
        j = self.by_token(token)
        return j if j is not None and j.status in ACTIVE else None

    def pop(self):
        """The next queued job, marked as handed out; None when the queue is empty."""
        with self.cond:
            while self.queue:
                j = self.jobs[self.queue.pop(0)]
                if j.status == "pending":
                    j.picked = True
                    j.picked_at = time.time()
                    return j
            return None

    def wait_change(self, version, seconds):
        """Block until the version differs from `version` or `seconds` pass."""
        end = time.time() + seconds
        with self.cond:
            while self.version == version:
                left = end - time.time()
                if left <= 0:
                    break
                self.cond.wait(left)

    def wait_final(self, jid, seconds):
        end = time.time() + seconds
        with self.cond:
            j = self.jobs.get(jid)
            while j is not None and j.status not in FINAL:
                left = end - time.time()
                if left <= 0:
                    break
                self.cond.wait(left)
            return j

    def set_status(self, job, status):
        """Call with the lock held."""
        if job.status != status:
            job.status = status
            if status in FINAL:
                job.finished = time.time()
            self.tick()

    def cancel(self, job, graceful):
        """Server-side cancel (reference §12.3): a queued job is dropped as canceled; a graceful
        cancel of a handed-out job is `canceling` when the runner that took it declared
        cancel_gracefully in its request's info.features,
        else (and for a hard cancel) `canceled`. Returns the new status."""
        with self.cond:
            if job.status in FINAL:
                return job.status
            job.cancel = "graceful" if graceful else "hard"
            if not job.picked:
                if job.id in self.queue:
                    self.queue.remove(job.id)
                self.set_status(job, "canceled")
            elif graceful and (job.runner or {}).get("cancel_gracefully"):
                self.set_status(job, "canceling")
            else:
                self.set_status(job, "canceled")
            return job.status
