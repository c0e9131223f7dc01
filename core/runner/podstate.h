/* Reading a job's Pod (the object the watch delivers): which containers run
 * the job's stages and in which order, where each one is, why the Pod waits,
 * and how the job ended. Pure functions over jansson values (borrowed); no
 * I/O, no allocation beyond what the caller frees.
 */
#ifndef LUNAR_RUNNER_PODSTATE_H
#define LUNAR_RUNNER_PODSTATE_H

#include <jansson.h>
#include <stddef.h>

#define LUNAR_POD_MAX_STAGES 16

/* Stage containers, in the order their logs make up the job's trace: the
 * init containers that run to completion (not native sidecars), then
 * `build`, then `helper`. Service containers are not stages. Returns how
 * many names were written to names[] (borrowed from pod). */
int lunar_pod_stages(const json_t *pod, const char **names, int max);

enum {
  LUNAR_CSTATE_UNKNOWN = 0, /* no status yet */
  LUNAR_CSTATE_WAITING,
  LUNAR_CSTATE_RUNNING,
  LUNAR_CSTATE_TERMINATED
};

typedef struct lunar_cstate {
  int state;
  int exit_code;          /* terminated */
  const char *reason;     /* waiting or terminated reason (borrowed), or NULL */
  const char *message;    /* (borrowed) or NULL */
  const char *started_at; /* running/terminated (borrowed) or NULL */
  const char *finished_at;
} lunar_cstate;

/* The state of container `name` (init, regular or sidecar) in pod.status. */
void lunar_pod_container(const json_t *pod, const char *name, lunar_cstate *out);

/* status.phase, or "" (borrowed). */
const char *lunar_pod_phase(const json_t *pod);

/* 1 when phase is Succeeded or Failed. */
int lunar_pod_terminal(const json_t *pod);

/* An image that cannot be pulled: when a container waits with ErrImagePull,
 * ImagePullBackOff, InvalidImageName or ErrImageNeverPull, writes its name,
 * image and message (borrowed) and returns 1. */
int lunar_pod_pull_failure(const json_t *pod, const char **container, const char **image,
                           const char **message);

/* Why the Pod is not running yet, as one line for the trace ("" when there
 * is nothing worth saying): unschedulable, a container's waiting reason and
 * message other than the routine ContainerCreating/PodInitializing. */
void lunar_pod_waiting_reason(const json_t *pod, char *buf, size_t size);

/* metadata.annotations[key] (borrowed) or NULL. */
const char *lunar_pod_annotation(const json_t *pod, const char *key);

/* The job's outcome from its Pod once every stage has ended. */
typedef struct lunar_pod_outcome {
  int success;
  int exit_code;              /* of the failing stage (0 when it has none) */
  const char *failure_reason; /* script_failure, job_execution_timeout, ... or NULL */
  const char *stage;          /* the failing stage container, or NULL */
} lunar_pod_outcome;
void lunar_pod_outcome_of(const json_t *pod, lunar_pod_outcome *out);

#endif
