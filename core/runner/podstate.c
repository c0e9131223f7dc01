#include "runner/podstate.h"

#include <stdio.h>
#include <string.h>

static const char *str(const json_t *obj, const char *key) {
  return json_string_value(json_object_get(obj, key));
}

int lunar_pod_stages(const json_t *pod, const char **names, int max) {
  const json_t *spec = json_object_get(pod, "spec");
  int n = 0;
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(spec, "initContainers"), i, c) {
    const char *policy = str(c, "restartPolicy");
    if (policy && !strcmp(policy, "Always")) continue; /* a native sidecar: a service */
    if (n < max && str(c, "name")) names[n++] = str(c, "name");
  }
  const char *order[] = {"build", "helper"};
  for (int k = 0; k < 2; k++) {
    json_array_foreach(json_object_get(spec, "containers"), i, c) {
      const char *name = str(c, "name");
      if (name && !strcmp(name, order[k]) && n < max) names[n++] = name;
    }
  }
  return n;
}

static const json_t *find_status(const json_t *pod, const char *name) {
  const json_t *st = json_object_get(pod, "status");
  const char *lists[] = {"initContainerStatuses", "containerStatuses"};
  for (int k = 0; k < 2; k++) {
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(st, lists[k]), i, c) {
      const char *n = str(c, "name");
      if (n && !strcmp(n, name)) return c;
    }
  }
  return NULL;
}

void lunar_pod_container(const json_t *pod, const char *name, lunar_cstate *out) {
  memset(out, 0, sizeof *out);
  const json_t *cs = find_status(pod, name);
  if (!cs) return;
  const json_t *state = json_object_get(cs, "state");
  const json_t *w = json_object_get(state, "waiting");
  const json_t *r = json_object_get(state, "running");
  const json_t *t = json_object_get(state, "terminated");
  if (t) {
    out->state = LUNAR_CSTATE_TERMINATED;
    out->exit_code = (int)json_integer_value(json_object_get(t, "exitCode"));
    out->reason = str(t, "reason");
    out->message = str(t, "message");
    out->started_at = str(t, "startedAt");
    out->finished_at = str(t, "finishedAt");
  } else if (r) {
    out->state = LUNAR_CSTATE_RUNNING;
    out->started_at = str(r, "startedAt");
  } else if (w) {
    out->state = LUNAR_CSTATE_WAITING;
    out->reason = str(w, "reason");
    out->message = str(w, "message");
  }
}

const char *lunar_pod_phase(const json_t *pod) {
  const char *p = str(json_object_get(pod, "status"), "phase");
  return p ? p : "";
}

int lunar_pod_terminal(const json_t *pod) {
  const char *p = lunar_pod_phase(pod);
  return !strcmp(p, "Succeeded") || !strcmp(p, "Failed");
}

static int is_pull_reason(const char *r) {
  return r && (!strcmp(r, "ErrImagePull") || !strcmp(r, "ImagePullBackOff") ||
               !strcmp(r, "InvalidImageName") || !strcmp(r, "ErrImageNeverPull"));
}

int lunar_pod_pull_failure(const json_t *pod, const char **container, const char **image,
                           const char **message) {
  const json_t *st = json_object_get(pod, "status");
  const char *lists[] = {"initContainerStatuses", "containerStatuses"};
  for (int k = 0; k < 2; k++) {
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(st, lists[k]), i, c) {
      const json_t *w = json_object_get(json_object_get(c, "state"), "waiting");
      if (w && is_pull_reason(str(w, "reason"))) {
        *container = str(c, "name");
        *image = str(c, "image");
        *message = str(w, "message") ? str(w, "message") : str(w, "reason");
        return 1;
      }
    }
  }
  return 0;
}

void lunar_pod_waiting_reason(const json_t *pod, char *buf, size_t size) {
  buf[0] = '\0';
  const json_t *st = json_object_get(pod, "status");
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(st, "conditions"), i, c) {
    const char *type = str(c, "type"), *status = str(c, "status");
    if (type && status && !strcmp(type, "PodScheduled") && !strcmp(status, "False")) {
      snprintf(buf, size, "%s: %s", str(c, "reason") ? str(c, "reason") : "Unschedulable",
               str(c, "message") ? str(c, "message") : "the Pod cannot be scheduled");
      return;
    }
  }
  const char *lists[] = {"initContainerStatuses", "containerStatuses"};
  for (int k = 0; k < 2; k++) {
    json_array_foreach(json_object_get(st, lists[k]), i, c) {
      const json_t *w = json_object_get(json_object_get(c, "state"), "waiting");
      const char *reason = w ? str(w, "reason") : NULL;
      if (!reason || !strcmp(reason, "ContainerCreating") || !strcmp(reason, "PodInitializing"))
        continue;
      const char *msg = str(w, "message");
      snprintf(buf, size, "container %s: %s%s%s", str(c, "name") ? str(c, "name") : "?", reason,
               msg ? ": " : "", msg ? msg : "");
      return;
    }
  }
}

const char *lunar_pod_annotation(const json_t *pod, const char *key) {
  return str(json_object_get(json_object_get(pod, "metadata"), "annotations"), key);
}

void lunar_pod_outcome_of(const json_t *pod, lunar_pod_outcome *out) {
  memset(out, 0, sizeof *out);
  const char *reason = str(json_object_get(pod, "status"), "reason");
  if (reason && !strcmp(reason, "DeadlineExceeded")) {
    out->failure_reason = "job_execution_timeout";
    return;
  }
  const char *names[LUNAR_POD_MAX_STAGES];
  int n = lunar_pod_stages(pod, names, LUNAR_POD_MAX_STAGES);
  int ran = 0;
  for (int i = 0; i < n; i++) {
    lunar_cstate cs;
    lunar_pod_container(pod, names[i], &cs);
    if (cs.state != LUNAR_CSTATE_TERMINATED) continue;
    ran++;
    if (cs.exit_code != 0) {
      out->exit_code = cs.exit_code;
      out->stage = names[i];
      out->failure_reason = "script_failure";
      return;
    }
  }
  if (ran == n && n > 0) {
    out->success = 1;
    return;
  }
  /* stages that never ran, without a failing one: the Pod failed around them */
  out->failure_reason = "runner_system_failure";
}
