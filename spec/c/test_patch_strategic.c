/* Kubernetes strategic merge patch on a PodSpec and on a Pod, and the Pod
 * type check. Every expected document below is what kubectl 1.33
 * (`kubectl patch --local --type strategic`) produces for the same input;
 * spec/patch/strategic_cases.json holds many more, checked the same way. */
#include "check.h"
#include "jsontest.h"
#include "patch/apply.h"
#include "patch/check.h"
#include "patch/podtypes.h"
#include "patch/strategic.h"

/* A PodSpec as the Pod builder makes them, in small. */
static const char *const SPEC =
    "{\"containers\":[{\"name\":\"build\",\"image\":\"alpine\",\"args\":[\"-x\",\"-y\"],"
    "\"env\":[{\"name\":\"A\",\"value\":\"1\"}],\"volumeMounts\":[{\"name\":\"repo\",\"mountPath\":\"/builds\"}],"
    "\"ports\":[{\"containerPort\":80}]},{\"name\":\"helper\",\"image\":\"h\"}],"
    "\"volumes\":[{\"name\":\"repo\",\"emptyDir\":{}},{\"name\":\"cache\",\"hostPath\":{\"path\":\"/c\"}}]}";

/* Applies `patch` to `doc` (a PodSpec, or a Pod when `pod`): the sorted
 * compact result, or "error: <message>". */
static const char *apply_to(const char *doc, const char *patch, int pod) {
  json_t *d = J(doc), *p = J(patch), *out = NULL;
  lunar_error err;
  const lunar_podtype *type = pod ? lunar_podtypes_pod() : lunar_podtypes_podspec();
  int rc = lunar_patch_strategic(d, p, type, pod ? NULL : "spec", &out, &err);
  const char *s = outcome(rc, out, &err, 1);
  CHECK_STR(S(d), N(doc)); /* never changed */
  CHECK_STR(S(p), N(patch));
  json_decref(d);
  json_decref(p);
  json_decref(out);
  return s;
}

static const char *spec_patched(const char *patch) { return apply_to(SPEC, patch, 0); }

/* The result with SPEC's parts that a case does not touch written out. */
#define BUILD_REST "\"image\":\"alpine\",\"name\":\"build\""
#define HELPER "{\"image\":\"h\",\"name\":\"helper\"}"
#define VOLUMES "\"volumes\":[{\"emptyDir\":{},\"name\":\"repo\"},{\"hostPath\":{\"path\":\"/c\"},\"name\":\"cache\"}]"

static void test_the_table_carries_kubernetes_merge_keys(void) {
  static const struct { const char *type, *field, *key; int strategy; } want[] = {
      {"PodSpec", "containers", "name", LUNAR_PODTYPES_MERGE},
      {"PodSpec", "initContainers", "name", LUNAR_PODTYPES_MERGE},
      {"PodSpec", "ephemeralContainers", "name", LUNAR_PODTYPES_MERGE},
      {"PodSpec", "volumes", "name", LUNAR_PODTYPES_MERGE | LUNAR_PODTYPES_RETAIN_KEYS},
      {"PodSpec", "imagePullSecrets", "name", LUNAR_PODTYPES_MERGE},
      {"PodSpec", "hostAliases", "ip", LUNAR_PODTYPES_MERGE},
      {"PodSpec", "topologySpreadConstraints", "topologyKey", LUNAR_PODTYPES_MERGE},
      {"PodSpec", "schedulingGates", "name", LUNAR_PODTYPES_MERGE},
      {"PodSpec", "resourceClaims", "name", LUNAR_PODTYPES_MERGE | LUNAR_PODTYPES_RETAIN_KEYS},
      {"PodSpec", "tolerations", NULL, 0},
      {"PodSpec", "readinessGates", NULL, 0},
      {"Container", "env", "name", LUNAR_PODTYPES_MERGE},
      {"Container", "volumeMounts", "mountPath", LUNAR_PODTYPES_MERGE},
      {"Container", "volumeDevices", "devicePath", LUNAR_PODTYPES_MERGE},
      {"Container", "ports", "containerPort", LUNAR_PODTYPES_MERGE},
      {"Container", "args", NULL, 0},
      {"Container", "envFrom", NULL, 0},
      {"Container", "resizePolicy", NULL, 0},
      {"EphemeralContainer", "env", "name", LUNAR_PODTYPES_MERGE},
      {"ObjectMeta", "finalizers", NULL, LUNAR_PODTYPES_MERGE},
      {"ObjectMeta", "ownerReferences", "uid", LUNAR_PODTYPES_MERGE},
      {"PodStatus", "conditions", "type", LUNAR_PODTYPES_MERGE},
      {"PodSecurityContext", "supplementalGroups", NULL, 0},
      {"NodeSelectorTerm", "matchExpressions", NULL, 0},
      {"ProjectedVolumeSource", "sources", NULL, 0},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const lunar_podtype_field *f =
        lunar_podtypes_field(lunar_podtypes_find(want[i].type), want[i].field);
    CHECK(f != NULL);
    if (!f) continue;
    CHECK_INT(f->kind, LUNAR_PODTYPES_LIST);
    CHECK_INT(f->strategy, want[i].strategy);
    CHECK_STR(f->merge_key ? f->merge_key : "-", want[i].key ? want[i].key : "-");
  }
  const lunar_podtype_field *f = lunar_podtypes_field(lunar_podtypes_find("ResourceRequirements"), "limits");
  CHECK(f && f->kind == LUNAR_PODTYPES_MAP && f->item == LUNAR_PODTYPES_QUANTITY);
  f = lunar_podtypes_field(lunar_podtypes_find("HTTPGetAction"), "port");
  CHECK(f && f->kind == LUNAR_PODTYPES_INT_OR_STRING);
  CHECK(lunar_podtypes_field(lunar_podtypes_podspec(), "nodeSelecter") == NULL);
}

static void test_containers_merge_by_name_with_env_and_volume_mounts_inside(void) {
  CHECK_STR(spec_patched("{\"containers\":[{\"name\":\"build\",\"env\":[{\"name\":\"B\",\"value\":\"2\"},"
                         "{\"name\":\"A\",\"value\":\"9\"}],\"volumeMounts\":[{\"name\":\"fuse\",\"mountPath\":\"/dev/fuse\"}]}]}"),
            N("{\"containers\":[{\"args\":[\"-x\",\"-y\"],\"env\":[{\"name\":\"B\",\"value\":\"2\"},{\"name\":\"A\",\"value\":\"9\"}],"
              BUILD_REST ",\"ports\":[{\"containerPort\":80}],\"volumeMounts\":[{\"mountPath\":\"/dev/fuse\",\"name\":\"fuse\"},"
              "{\"mountPath\":\"/builds\",\"name\":\"repo\"}]}," HELPER "]," VOLUMES "}"));
}

static void test_ports_merge_by_container_port(void) {
  CHECK_STR(spec_patched("{\"containers\":[{\"name\":\"build\",\"ports\":[{\"containerPort\":8080},"
                         "{\"containerPort\":80,\"name\":\"http\"}]}]}"),
            N("{\"containers\":[{\"args\":[\"-x\",\"-y\"],\"env\":[{\"name\":\"A\",\"value\":\"1\"}]," BUILD_REST ","
              "\"ports\":[{\"containerPort\":8080},{\"containerPort\":80,\"name\":\"http\"}],"
              "\"volumeMounts\":[{\"mountPath\":\"/builds\",\"name\":\"repo\"}]}," HELPER "]," VOLUMES "}"));
}

static void test_a_new_container_comes_first_and_patch_delete_removes_one(void) {
  CHECK_STR(apply_to("{\"containers\":[{\"name\":\"build\"},{\"name\":\"helper\"}]}",
                     "{\"containers\":[{\"name\":\"helper\",\"$patch\":\"delete\"},{\"name\":\"sidecar\",\"image\":\"s\"}]}", 0),
            N("{\"containers\":[{\"image\":\"s\",\"name\":\"sidecar\"},{\"name\":\"build\"}]}"));
  CHECK_STR(apply_to("{\"containers\":[{\"name\":\"build\"}]}",
                     "{\"containers\":[{\"name\":\"nope\",\"$patch\":\"delete\"}]}", 0),
            N("{\"containers\":[{\"name\":\"build\"}]}"));
}

static void test_patch_replace_in_a_list_replaces_it(void) {
  CHECK_STR(apply_to("{\"containers\":[{\"name\":\"build\",\"env\":[{\"name\":\"A\"},{\"name\":\"B\"}]}]}",
                     "{\"containers\":[{\"name\":\"build\",\"env\":[{\"$patch\":\"replace\"},{\"name\":\"Q\",\"value\":\"q\"}]}]}", 0),
            N("{\"containers\":[{\"env\":[{\"name\":\"Q\",\"value\":\"q\"}],\"name\":\"build\"}]}"));
}

static void test_set_element_order(void) {
  CHECK_STR(apply_to("{\"containers\":[{\"name\":\"build\"},{\"name\":\"helper\"}]}",
                     "{\"$setElementOrder/containers\":[{\"name\":\"helper\"},{\"name\":\"new\"},{\"name\":\"build\"}],"
                     "\"containers\":[{\"name\":\"new\",\"image\":\"n\"}]}", 0),
            N("{\"containers\":[{\"name\":\"helper\"},{\"image\":\"n\",\"name\":\"new\"},{\"name\":\"build\"}]}"));
  CHECK_STR(apply_to("{\"containers\":[{\"name\":\"build\",\"env\":[{\"name\":\"A\"},{\"name\":\"B\"}],\"args\":[\"x\",\"y\",\"z\"]}]}",
                     "{\"containers\":[{\"name\":\"build\",\"$setElementOrder/env\":[{\"name\":\"B\"},{\"name\":\"A\"}],"
                     "\"$setElementOrder/args\":[\"z\",\"x\",\"y\"]}]}", 0),
            N("{\"containers\":[{\"args\":[\"z\",\"x\",\"y\"],\"env\":[{\"name\":\"B\"},{\"name\":\"A\"}],\"name\":\"build\"}]}"));
  CHECK_STR(apply_to("{\"containers\":[{\"name\":\"build\"},{\"name\":\"helper\"}]}",
                     "{\"$setElementOrder/containers\":[{\"name\":\"helper\"}],\"containers\":[{\"name\":\"new\"}]}", 0),
            "error: strategic merge patch: spec.$setElementOrder/containers: the items of containers in the patch are "
            "missing from \"$setElementOrder/containers\" or in another order");
  CHECK_STR(apply_to("{\"containers\":[{\"name\":\"b\"}],\"tolerations\":[{\"key\":\"a\"}]}",
                     "{\"$setElementOrder/tolerations\":[{\"key\":\"a\"}]}", 0),
            "error: strategic merge patch: spec.$setElementOrder/tolerations: tolerations is replaced as a whole "
            "(it has no merge key), so it cannot be ordered");
}

static void test_delete_from_primitive_list(void) {
  CHECK_STR(spec_patched("{\"containers\":[{\"name\":\"build\",\"$deleteFromPrimitiveList/args\":[\"-x\",\"-z\"]},"
                         "{\"name\":\"helper\",\"$deleteFromPrimitiveList/args\":[\"-x\"]}]}"),
            N("{\"containers\":[{\"args\":[\"-y\"],\"env\":[{\"name\":\"A\",\"value\":\"1\"}]," BUILD_REST ","
              "\"ports\":[{\"containerPort\":80}],\"volumeMounts\":[{\"mountPath\":\"/builds\",\"name\":\"repo\"}]},"
              HELPER "]," VOLUMES "}"));
}

static void test_retain_keys_switches_a_volume_source(void) {
  const char *doc = "{\"containers\":[{\"name\":\"b\"}],\"volumes\":[{\"name\":\"cache\",\"hostPath\":{\"path\":\"/c\"}}]}";
  CHECK_STR(apply_to(doc, "{\"volumes\":[{\"name\":\"cache\",\"$retainKeys\":[\"name\",\"emptyDir\"],"
                          "\"emptyDir\":{\"medium\":\"Memory\"}}]}", 0),
            N("{\"containers\":[{\"name\":\"b\"}],\"volumes\":[{\"emptyDir\":{\"medium\":\"Memory\"},\"name\":\"cache\"}]}"));
  /* without the directive both sources stay, which Kubernetes then rejects */
  CHECK_STR(apply_to(doc, "{\"volumes\":[{\"name\":\"cache\",\"emptyDir\":{}}]}", 0),
            N("{\"containers\":[{\"name\":\"b\"}],\"volumes\":[{\"emptyDir\":{},\"hostPath\":{\"path\":\"/c\"},\"name\":\"cache\"}]}"));
  CHECK_STR(apply_to(doc, "{\"volumes\":[{\"name\":\"cache\",\"$retainKeys\":[\"name\"],\"emptyDir\":{}}]}", 0),
            "error: strategic merge patch: spec.volumes[0]: \"emptyDir\" is in the patch but not in its \"$retainKeys\" list");
}

static void test_every_merge_key_of_the_pod_spec(void) {
  const char *doc =
      "{\"containers\":[{\"name\":\"b\",\"volumeDevices\":[{\"name\":\"d1\",\"devicePath\":\"/dev/a\"}],"
      "\"envFrom\":[{\"configMapRef\":{\"name\":\"a\"}}]}],"
      "\"initContainers\":[{\"name\":\"init\",\"image\":\"i\"}],\"ephemeralContainers\":[{\"name\":\"dbg\",\"image\":\"b\"}],"
      "\"imagePullSecrets\":[{\"name\":\"s1\"}],\"hostAliases\":[{\"ip\":\"1.2.3.4\",\"hostnames\":[\"a\"]}],"
      "\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}],\"readinessGates\":[{\"conditionType\":\"c1\"}],"
      "\"topologySpreadConstraints\":[{\"topologyKey\":\"zone\",\"maxSkew\":1}],\"schedulingGates\":[{\"name\":\"g1\"}],"
      "\"resourceClaims\":[{\"name\":\"rc1\",\"resourceClaimName\":\"x\"}]}";
  CHECK_STR(apply_to(doc,
                     "{\"containers\":[{\"name\":\"b\",\"volumeDevices\":[{\"name\":\"d2\",\"devicePath\":\"/dev/b\"}],"
                     "\"envFrom\":[{\"secretRef\":{\"name\":\"s\"}}]}],"
                     "\"initContainers\":[{\"name\":\"init\",\"command\":[\"a\"]},{\"name\":\"init2\",\"image\":\"i2\"}],"
                     "\"ephemeralContainers\":[{\"name\":\"dbg\",\"image\":\"b2\"}],\"imagePullSecrets\":[{\"name\":\"s2\"}],"
                     "\"hostAliases\":[{\"ip\":\"5.6.7.8\",\"hostnames\":[\"b\"]},{\"ip\":\"1.2.3.4\",\"hostnames\":[\"c\"]}],"
                     "\"tolerations\":[{\"key\":\"b\",\"operator\":\"Exists\"}],\"readinessGates\":[{\"conditionType\":\"c2\"}],"
                     "\"topologySpreadConstraints\":[{\"topologyKey\":\"host\",\"maxSkew\":2},{\"topologyKey\":\"zone\",\"maxSkew\":3}],"
                     "\"schedulingGates\":[{\"name\":\"g2\"}],\"resourceClaims\":[{\"name\":\"rc2\",\"resourceClaimTemplateName\":\"t\"}]}",
                     0),
            N("{\"containers\":[{\"envFrom\":[{\"secretRef\":{\"name\":\"s\"}}],\"name\":\"b\","
              "\"volumeDevices\":[{\"devicePath\":\"/dev/b\",\"name\":\"d2\"},{\"devicePath\":\"/dev/a\",\"name\":\"d1\"}]}],"
              "\"ephemeralContainers\":[{\"image\":\"b2\",\"name\":\"dbg\"}],"
              "\"hostAliases\":[{\"hostnames\":[\"b\"],\"ip\":\"5.6.7.8\"},{\"hostnames\":[\"c\"],\"ip\":\"1.2.3.4\"}],"
              "\"imagePullSecrets\":[{\"name\":\"s2\"},{\"name\":\"s1\"}],"
              "\"initContainers\":[{\"command\":[\"a\"],\"image\":\"i\",\"name\":\"init\"},{\"image\":\"i2\",\"name\":\"init2\"}],"
              "\"readinessGates\":[{\"conditionType\":\"c2\"}],"
              "\"resourceClaims\":[{\"name\":\"rc2\",\"resourceClaimTemplateName\":\"t\"},{\"name\":\"rc1\",\"resourceClaimName\":\"x\"}],"
              "\"schedulingGates\":[{\"name\":\"g2\"},{\"name\":\"g1\"}],\"tolerations\":[{\"key\":\"b\",\"operator\":\"Exists\"}],"
              "\"topologySpreadConstraints\":[{\"maxSkew\":2,\"topologyKey\":\"host\"},{\"maxSkew\":3,\"topologyKey\":\"zone\"}]}"));
}

static void test_objects_merge_and_null_deletes(void) {
  const char *doc = "{\"containers\":[{\"name\":\"b\"}],\"nodeSelector\":{\"arch\":\"amd64\",\"x\":\"y\"},"
                    "\"securityContext\":{\"runAsUser\":1000},\"dnsPolicy\":\"ClusterFirst\"}";
  CHECK_STR(apply_to(doc, "{\"nodeSelector\":{\"x\":null,\"z\":\"w\"},\"dnsPolicy\":null,\"securityContext\":{\"fsGroup\":5}}", 0),
            N("{\"containers\":[{\"name\":\"b\"}],\"nodeSelector\":{\"arch\":\"amd64\",\"z\":\"w\"},"
              "\"securityContext\":{\"fsGroup\":5,\"runAsUser\":1000}}"));
  /* $patch on an object: replace it, or empty it */
  CHECK_STR(apply_to(doc, "{\"securityContext\":{\"$patch\":\"replace\",\"fsGroup\":5}}", 0),
            N("{\"containers\":[{\"name\":\"b\"}],\"dnsPolicy\":\"ClusterFirst\",\"nodeSelector\":{\"arch\":\"amd64\",\"x\":\"y\"},"
              "\"securityContext\":{\"fsGroup\":5}}"));
  CHECK_STR(apply_to(doc, "{\"securityContext\":{\"$patch\":\"delete\"},\"dnsConfig\":{\"$patch\":\"delete\"}}", 0),
            N("{\"containers\":[{\"name\":\"b\"}],\"dnsPolicy\":\"ClusterFirst\",\"nodeSelector\":{\"arch\":\"amd64\",\"x\":\"y\"},"
              "\"securityContext\":{}}"));
  /* a new value loses its nulls and directives */
  CHECK_STR(apply_to("{\"containers\":[{\"name\":\"b\"}]}",
                     "{\"affinity\":{\"nodeAffinity\":null,\"podAffinity\":{\"x\":{\"$patch\":\"delete\"},\"y\":[{\"$patch\":\"delete\"},1]}}}", 0),
            N("{\"affinity\":{\"podAffinity\":{\"y\":[1]}},\"containers\":[{\"name\":\"b\"}]}"));
}

static void test_lists_without_a_strategy_are_replaced_as_written(void) {
  CHECK_STR(apply_to("{\"containers\":[{\"name\":\"b\",\"args\":[\"a\"]}],\"tolerations\":[{\"key\":\"a\"}]}",
                     "{\"containers\":[{\"name\":\"b\",\"args\":[\"c\"]}],\"tolerations\":[{\"key\":\"b\"}]}", 0),
            N("{\"containers\":[{\"args\":[\"c\"],\"name\":\"b\"}],\"tolerations\":[{\"key\":\"b\"}]}"));
}

static void test_on_a_whole_pod_finalizers_merge_as_a_set(void) {
  const char *pod = "{\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":\"1\"},\"finalizers\":[\"f1\",\"f2\",\"f3\"],"
                    "\"ownerReferences\":[{\"kind\":\"Secret\",\"name\":\"s\",\"uid\":\"u1\"}]},"
                    "\"spec\":{\"containers\":[{\"name\":\"build\"}]}}";
  CHECK_STR(apply_to(pod, "{\"metadata\":{\"finalizers\":[\"f4\",\"f1\"],\"labels\":{\"a\":null,\"c\":\"3\"},"
                          "\"ownerReferences\":[{\"kind\":\"ConfigMap\",\"name\":\"c\",\"uid\":\"u2\"}]},"
                          "\"spec\":{\"containers\":[{\"name\":\"build\",\"image\":\"x\"}]}}", 1),
            N("{\"metadata\":{\"finalizers\":[\"f4\",\"f1\",\"f2\",\"f3\"],\"labels\":{\"c\":\"3\"},\"name\":\"p\","
              "\"ownerReferences\":[{\"kind\":\"ConfigMap\",\"name\":\"c\",\"uid\":\"u2\"},{\"kind\":\"Secret\",\"name\":\"s\",\"uid\":\"u1\"}]},"
              "\"spec\":{\"containers\":[{\"image\":\"x\",\"name\":\"build\"}]}}"));
  CHECK_STR(apply_to(pod, "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"f2\"],\"$setElementOrder/finalizers\":[\"f3\",\"f1\"]}}", 1),
            N("{\"metadata\":{\"finalizers\":[\"f3\",\"f1\"],\"labels\":{\"a\":\"1\"},\"name\":\"p\","
              "\"ownerReferences\":[{\"kind\":\"Secret\",\"name\":\"s\",\"uid\":\"u1\"}]},\"spec\":{\"containers\":[{\"name\":\"build\"}]}}"));
}

static void test_errors_kubernetes_rejects(void) {
  const char *doc = "{\"containers\":[{\"name\":\"build\"}],\"securityContext\":{\"runAsUser\":1}}";
  CHECK_STR(apply_to(doc, "{\"containers\":[{\"image\":\"x\"}]}", 0),
            "error: strategic merge patch: spec.containers[0]: the patch item {\"image\":\"x\"} has no \"name\" "
            "(the merge key of this list)");
  CHECK_STR(apply_to(doc, "{\"containers\":[{\"$patch\":\"delete\"}]}", 0),
            "error: strategic merge patch: spec.containers[0]: \"$patch: delete\" needs \"name\" (the merge key of this list) "
            "to name the item to delete");
  CHECK_STR(apply_to(doc, "{\"containers\":[{\"name\":\"build\",\"$patch\":\"merge\"}]}", 0),
            "error: strategic merge patch: spec.containers[0]: \"$patch: merge\" is not supported in a list "
            "(lists with a merge key merge by default)");
  CHECK_STR(apply_to(doc, "{\"containers\":[{\"name\":\"build\",\"$patch\":\"frob\"}]}", 0),
            "error: strategic merge patch: spec.containers[0]: unknown \"$patch\" value \"frob\" (use delete or replace)");
  CHECK_STR(apply_to(doc, "{\"securityContext\":{\"$patch\":\"merge\",\"fsGroup\":5}}", 0),
            "error: strategic merge patch: spec.securityContext: \"$patch: merge\" is not valid on an object "
            "(use replace or delete; objects merge by default)");
  CHECK_STR(apply_to("{\"containers\":[],\"bogus\":{\"a\":1}}", "{\"bogus\":{\"b\":1}}", 0),
            "error: strategic merge patch: spec.bogus: unknown field \"bogus\" of PodSpec");
  CHECK_STR(apply_to(doc, "{\"$retainKeys\":\"containers\"}", 0),
            "error: strategic merge patch: spec: \"$retainKeys\" must be a list of field names");
  CHECK_STR(apply_to(doc, "{\"$deleteFromPrimitiveListargs\":[]}", 0),
            "error: strategic merge patch: spec.$deleteFromPrimitiveListargs: write the directive as "
            "\"$deleteFromPrimitiveList/<field>\"");
  CHECK_STR(apply_to("{\"containers\":[{\"image\":\"nameless\"}]}", "{\"containers\":[{\"name\":\"x\"}]}", 0),
            "error: strategic merge patch: spec.containers: the item {\"image\":\"nameless\"} has no \"name\" "
            "(the merge key of this list)");
  CHECK_STR(apply_to(doc, "[]", 0), "error: strategic merge patch: expected an object, got a list");
}

/* ---- type check ------------------------------------------------------------ */

static const char *checked(const char *doc, int pod) {
  json_t *d = J(doc);
  lunar_error err;
  int rc = lunar_patch_check(d, pod ? lunar_podtypes_pod() : lunar_podtypes_podspec(),
                             pod ? NULL : "spec", &err);
  json_decref(d);
  return rc ? keep(err.msg) : "ok";
}

static void test_type_check_names_the_field(void) {
  CHECK_STR(checked("{\"containers\":[{\"name\":\"b\",\"env\":\"A=1\"}]}", 0),
            "spec.containers[0].env: expected a list, got a string (\"A=1\")");
  CHECK_STR(checked("{\"containers\":[{\"name\":{\"first\":\"b\"}}]}", 0),
            "spec.containers[0].name: expected a string, got an object ({\"first\":\"b\"})");
  CHECK_STR(checked("{\"containers\":{\"name\":\"b\"}}", 0),
            "spec.containers: expected a list, got an object ({\"name\":\"b\"})");
  CHECK_STR(checked("{\"containers\":[{\"name\":\"b\",\"ports\":[{\"containerPort\":\"80\"}]}]}", 0),
            "spec.containers[0].ports[0].containerPort: expected an integer, got a string (\"80\")");
  CHECK_STR(checked("{\"containers\":[],\"securityContext\":{\"fsGroup\":1000.0}}", 0),
            "spec.securityContext.fsGroup: expected an integer, got a number (1000.0)");
  CHECK_STR(checked("{\"containers\":[],\"hostNetwork\":\"true\"}", 0),
            "spec.hostNetwork: expected a boolean, got a string (\"true\")");
  CHECK_STR(checked("{\"containers\":[],\"nodeSelector\":{\"arch\":1}}", 0),
            "spec.nodeSelector.arch: expected a string, got an integer (1)");
  CHECK_STR(checked("{\"containers\":[{\"name\":\"b\",\"resources\":{\"limits\":{\"cpu\":[1]}}}]}", 0),
            "spec.containers[0].resources.limits.cpu: expected a quantity (a string such as \"500m\", or a number), "
            "got a list ([1])");
  CHECK_STR(checked("{\"containers\":[{\"name\":\"b\",\"livenessProbe\":{\"httpGet\":{\"port\":8.5}}}]}", 0),
            "spec.containers[0].livenessProbe.httpGet.port: expected an integer or a string, got a number (8.5)");
  CHECK_STR(checked("{\"spec\":{\"containers\":[{\"name\":\"b\"}]}}", 1), "ok");
  CHECK_STR(checked("{\"metadata\":{\"labels\":{\"a\":true}}}", 1), "metadata.labels.a: expected a string, got a boolean (true)");
  CHECK_STR(checked("[]", 0), "spec: expected an object, got a list");
}

static void test_type_check_accepts_what_kubernetes_decodes(void) {
  CHECK_STR(checked("{\"containers\":[{\"name\":\"b\",\"env\":null,\"resources\":{\"limits\":{\"cpu\":1,\"memory\":\"1Gi\"},"
                    "\"requests\":{\"cpu\":0.5}},\"livenessProbe\":{\"httpGet\":{\"port\":\"http\"},\"tcpSocket\":{\"port\":80}}}],"
                    "\"volumes\":[{\"name\":\"v\",\"emptyDir\":{\"sizeLimit\":\"1Gi\"}}],\"overhead\":{\"cpu\":\"100m\"},"
                    "\"securityContext\":{\"supplementalGroups\":[1,2]},\"affinity\":{}}", 0),
            "ok");
}

static void test_type_check_rejects_unknown_fields_with_a_suggestion(void) {
  CHECK_STR(checked("{\"containers\":[],\"nodeSelecter\":{}}", 0), "spec.nodeSelecter: unknown field (did you mean \"nodeSelector\"?)");
  CHECK_STR(checked("{\"containers\":[{\"name\":\"b\",\"imagepullpolicy\":\"Always\"}]}", 0),
            "spec.containers[0].imagepullpolicy: unknown field (did you mean \"imagePullPolicy\"?)");
  /* a directive Kubernetes kept as a plain key (tolerations are replaced whole) passes; other $ keys do not */
  CHECK_STR(checked("{\"containers\":[],\"tolerations\":[{\"key\":\"a\",\"$patch\":\"delete\"}]}", 0), "ok");
  CHECK_STR(checked("{\"containers\":[],\"tolerations\":[{\"key\":\"a\",\"$patches\":\"delete\"}]}", 0),
            "spec.tolerations[0].$patches: unknown field (Toleration has no field \"$patches\")");
}

/* ---- one pod_spec entry: parse, patch, check ---------------------------------- */

static const char *applied(const char *type, const char *text) {
  json_t *spec = J(SPEC), *patch = NULL, *out = NULL;
  lunar_error err;
  int rc = lunar_patch_parse(text, strlen(text), "patch", &patch, &err);
  if (!rc) rc = lunar_patch_apply(spec, type, patch, &out, &err);
  const char *s = outcome(rc, out, &err, 0);
  json_decref(spec);
  json_decref(patch);
  json_decref(out);
  return s;
}

static void test_apply_parses_yaml_patches_and_checks_the_result(void) {
  CHECK_STR(applied("strategic", "containers:\n  - name: helper\n    image: h2\nhostname: ci\n"),
            N("{\"containers\":[{\"args\":[\"-x\",\"-y\"],\"env\":[{\"name\":\"A\",\"value\":\"1\"}]," BUILD_REST ","
              "\"ports\":[{\"containerPort\":80}],\"volumeMounts\":[{\"mountPath\":\"/builds\",\"name\":\"repo\"}]},"
              "{\"image\":\"h2\",\"name\":\"helper\"}],\"hostname\":\"ci\"," VOLUMES "}"));
  CHECK_STR(applied("merge", "{\"containers\": [{\"name\": \"only\"}]}"),
            N("{\"containers\":[{\"name\":\"only\"}]," VOLUMES "}"));
  CHECK_STR(applied("json", "- op: test\n  path: /containers/1/name\n  value: build\n"),
            "json patch operation 0 (test): /containers/1/name is \"helper\", expected \"build\"");
  CHECK_STR(applied("strategic", "containers:\n  - name: build\n    env: A=1\n"),
            "spec.containers[0].env: expected a list, got a string (\"A=1\")");
  CHECK_STR(applied("merge", "hostNetwork: \"yes\"\n"), "spec.hostNetwork: expected a boolean, got a string (\"yes\")");
  CHECK_STR(applied("strategik", "{}"), "unknown patch_type \"strategik\" (use \"strategic\", \"merge\" or \"json\")");
  CHECK_STR(applied("strategic", "containers:\n  - name: a\n    image: b: c\n"),
            "patch:3:13: mapping values are not allowed in this context");
}

int main(void) {
  RUN(test_the_table_carries_kubernetes_merge_keys);
  RUN(test_containers_merge_by_name_with_env_and_volume_mounts_inside);
  RUN(test_ports_merge_by_container_port);
  RUN(test_a_new_container_comes_first_and_patch_delete_removes_one);
  RUN(test_patch_replace_in_a_list_replaces_it);
  RUN(test_set_element_order);
  RUN(test_delete_from_primitive_list);
  RUN(test_retain_keys_switches_a_volume_source);
  RUN(test_every_merge_key_of_the_pod_spec);
  RUN(test_objects_merge_and_null_deletes);
  RUN(test_lists_without_a_strategy_are_replaced_as_written);
  RUN(test_on_a_whole_pod_finalizers_merge_as_a_set);
  RUN(test_errors_kubernetes_rejects);
  RUN(test_type_check_names_the_field);
  RUN(test_type_check_accepts_what_kubernetes_decodes);
  RUN(test_type_check_rejects_unknown_fields_with_a_suggestion);
  RUN(test_apply_parses_yaml_patches_and_checks_the_result);
  return check_summary();
}
