"""Object semantics, as the apiserver's registry and the controllers give them: validation,
defaults, create/update/patch/delete, graceful Pod deletion, finalizers, namespace
lifecycle, the garbage collector, and Events.
"""
import base64
import copy
import json
import random
import re
import threading
import time
import uuid

import kd_status as S
from kd_store import RESOURCES, api_version, rfc3339, merge_patch, json_patch, strategic_merge_patch, PatchFailed

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                   "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
                   "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
QUALIFIED_NAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                      "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                      "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
CONFIG_KEY_MSG = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
                  "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
ENV_NAME_MSG = ("a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or "
                "'.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', "
                "regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')")
POD_UPDATE_MSG = ("pod updates may not change fields other than `spec.containers[*].image`,"
                  "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
                  "to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
                  "was previously negative)")
NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"       # k8s.io/apimachinery/pkg/util/rand
RETURNS_DELETED_OBJECT = {"pods", "serviceaccounts", "namespaces"}
F = S.FieldError


class Registry:
    def __init__(self, store, faults, ca_pem):
        self.store = store
        self.faults = faults
        self.ca_pem = ca_pem
        self.kubelet = None
        self.port = 0
        self.gc_wake = threading.Event()
        self.stopping = False
        threading.Thread(target=self._gc_loop, daemon=True, name="garbage-collector").start()

    # ------------------------------------------------------------------ create

    def create(self, resource, ns, body, dry_run=False):
        kind = RESOURCES[resource][0]
        if not isinstance(body, dict):
            raise S.bad_request("Object 'Kind' is missing in '%s'" % json.dumps(body))
        obj = copy.deepcopy(body)
        md = obj.get("metadata")
        if md is None:
            md = obj["metadata"] = {}
        if not isinstance(md, dict):
            raise S.bad_request("%s in version \"v1\" cannot be handled as a %s: metadata must be an object" % (kind, kind))
        if ns is not None and md.get("namespace") not in (None, "", ns):
            raise S.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        if md.get("resourceVersion"):
            raise S.bad_request("resourceVersion should not be set on objects to be created")
        with self.store.cond:
            if ns is not None:
                nsobj = self.store.get("namespaces", None, ns)
                if nsobj is None:
                    raise S.not_found("namespaces", ns)
                if nsobj["metadata"].get("deletionTimestamp"):
                    why = "unable to create new content in namespace %s because it is being terminated" % ns
                    raise S.forbidden(resource, md.get("name", ""), why, causes=[
                        {"reason": "NamespaceTerminating", "message": why, "field": "metadata.namespace"}])
            if not md.get("name") and md.get("generateName"):
                md["name"] = md["generateName"][:58] + "".join(random.choice(NAME_CHARS) for _ in range(5))
                if self.store.get(resource, ns, md["name"]) is not None:
                    raise S.generate_name_conflict(resource, md["name"])
            self.validate_meta(resource, kind, obj)
            if ns is not None:
                md["namespace"] = ns
            else:
                md.pop("namespace", None)
            getattr(self, "prepare_" + resource, lambda o, ns: None)(obj, ns)
            if self.store.get(resource, ns, md["name"]) is not None:
                raise S.already_exists(resource, md["name"])
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "managedFields", "selfLink"):
                md.pop(k, None)
            md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = rfc3339()
            obj = _ordered(obj, kind)
            if dry_run:
                return obj
            self.store.put(resource, obj, "ADDED")
        if resource == "namespaces":
            name = md["name"]
            self.create("serviceaccounts", name, {"metadata": {"name": "default"}})
            self.create("configmaps", name, {"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": self.ca_pem}})
        if resource == "pods" and self.kubelet is not None:
            self.kubelet.start(obj)
        if md.get("ownerReferences"):
            self.gc_wake.set()
        return obj

    def validate_meta(self, resource, kind, obj):
        md = obj["metadata"]
        name = md.get("name") or ""
        errs = []
        if not name:
            errs.append(F("FieldValueRequired", "metadata.name", detail="name or generateName is required",
                          show_value=False))
        elif resource == "namespaces":
            if len(name) > 63:
                errs.append(F("FieldValueInvalid", "metadata.name", name, "must be no more than 63 characters"))
            elif not DNS1123_LABEL.match(name):
                errs.append(F("FieldValueInvalid", "metadata.name", name, LABEL_MSG))
        elif resource != "events":
            if len(name) > 253:
                errs.append(F("FieldValueInvalid", "metadata.name", name, "must be no more than 253 characters"))
            elif not DNS1123_SUBDOMAIN.match(name):
                errs.append(F("FieldValueInvalid", "metadata.name", name, SUBDOMAIN_MSG))
        for k, v in (md.get("labels") or {}).items():
            if not isinstance(v, str) or len(v) > 63 or not LABEL_VALUE.match(v):
                errs.append(F("FieldValueInvalid", "metadata.labels", v,
                              "must be no more than 63 characters" if isinstance(v, str) and len(v) > 63
                              else LABEL_VALUE_MSG))
            nm = k.rsplit("/", 1)[-1]
            if not nm or len(nm) > 63 or not re.match(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$", nm):
                errs.append(F("FieldValueInvalid", "metadata.labels", k, QUALIFIED_NAME_MSG))
        for i, ref in enumerate(md.get("ownerReferences") or []):
            for f in ("apiVersion", "kind", "name", "uid"):
                if not ref.get(f):
                    errs.append(F("FieldValueInvalid" if f != "uid" else "FieldValueInvalid",
                                  "metadata.ownerReferences.%s" % f, ref.get(f, ""),
                                  "%s must not be empty" % f if f != "uid" else "uid must not be empty"))
        if errs:
            raise S.invalid(kind, name, errs)

    # -- per resource: validation and defaults (create and update)

    def prepare_pods(self, pod, ns, old=None):
        name = pod["metadata"]["name"]
        spec = pod.get("spec")
        if not isinstance(spec, dict):
            spec = pod["spec"] = {}
        errs = []
        conts = spec.get("containers") or []
        inits = spec.get("initContainers") or []
        if self.faults.setting("kubernetes_minor") < 29:
            for c in inits:         # the SidecarContainers feature is off: the field is dropped
                c.pop("restartPolicy", None)
        if not conts:
            errs.append(F("FieldValueRequired", "spec.containers", show_value=False))
        vols = set()
        for i, v in enumerate(spec.get("volumes") or []):
            vn = v.get("name", "")
            if not vn:
                errs.append(F("FieldValueRequired", "spec.volumes[%d].name" % i))
            elif not DNS1123_LABEL.match(vn) or len(vn) > 63:
                errs.append(F("FieldValueInvalid", "spec.volumes[%d].name" % i, vn, LABEL_MSG))
            elif vn in vols:
                errs.append(F("FieldValueDuplicate", "spec.volumes[%d].name" % i, vn))
            vols.add(vn)
        names = set()
        for lst, items in (("initContainers", inits), ("containers", conts)):
            for i, c in enumerate(items):
                p = "spec.%s[%d]" % (lst, i)
                cn = c.get("name", "")
                if not cn:
                    errs.append(F("FieldValueRequired", p + ".name", show_value=False))
                elif not DNS1123_LABEL.match(cn) or len(cn) > 63:
                    errs.append(F("FieldValueInvalid", p + ".name", cn, LABEL_MSG))
                elif cn in names:
                    errs.append(F("FieldValueDuplicate", p + ".name", cn))
                names.add(cn)
                if not c.get("image"):
                    errs.append(F("FieldValueRequired", p + ".image", show_value=False))
                rp = c.get("restartPolicy")
                if rp is not None and (lst == "containers" or rp != "Always"):
                    errs.append(F("FieldValueNotSupported", p + ".restartPolicy", rp,
                                  'supported values: "Always"') if lst == "initContainers" else
                                F("FieldValueForbidden", p + ".restartPolicy", detail="may not be set for non-init containers"))
                for j, e in enumerate(c.get("env") or []):
                    if not ENV_NAME.match(e.get("name", "")):
                        errs.append(F("FieldValueInvalid", "%s.env[%d].name" % (p, j), e.get("name", ""), ENV_NAME_MSG))
                paths = set()
                for j, m in enumerate(c.get("volumeMounts") or []):
                    if m.get("name") not in vols:
                        errs.append(F("FieldValueNotFound", "%s.volumeMounts[%d].name" % (p, j), m.get("name", "")))
                    mp = m.get("mountPath", "")
                    if not mp:
                        errs.append(F("FieldValueRequired", "%s.volumeMounts[%d].mountPath" % (p, j)))
                    elif mp in paths:
                        errs.append(F("FieldValueInvalid", "%s.volumeMounts[%d].mountPath" % (p, j), mp, "must be unique"))
                    paths.add(mp)
        rp = spec.get("restartPolicy", "Always")
        if rp not in ("Always", "OnFailure", "Never"):
            errs.append(F("FieldValueNotSupported", "spec.restartPolicy", rp,
                          'supported values: "Always", "OnFailure", "Never"'))
        ads = spec.get("activeDeadlineSeconds")
        if ads is not None and (not isinstance(ads, int) or ads < 1):
            errs.append(F("FieldValueInvalid", "spec.activeDeadlineSeconds", ads,
                          "must be between 1 and 2147483647, inclusive"))
        if errs:
            raise S.invalid("Pod", name, errs)
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("securityContext", {})
        spec.setdefault("schedulerName", "default-scheduler")
        sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = sa
        spec["serviceAccount"] = sa
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        if old is None:
            spec.setdefault("tolerations", [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300}])
        for c in inits + conts:
            c.setdefault("resources", {})
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            if "imagePullPolicy" not in c:
                img = c.get("image", "")
                tagged = ":" in img.rsplit("/", 1)[-1] or "@" in img
                c["imagePullPolicy"] = "IfNotPresent" if tagged and not img.endswith(":latest") else "Always"
        if old is None:
            if self.store.get("serviceaccounts", ns, sa) is None:
                raise S.forbidden("pods", name, "error looking up service account %s/%s: serviceaccount \"%s\" not found"
                                  % (ns, sa, sa))
            limited = any((c.get("resources") or {}).get("limits") or (c.get("resources") or {}).get("requests")
                          for c in conts)
            pod["status"] = {"phase": "Pending", "qosClass": "Burstable" if limited else "BestEffort"}
        else:
            pod["status"] = old.get("status", {})
            a, b = copy.deepcopy(old["spec"]), copy.deepcopy(spec)
            for s in (a, b):
                for c in (s.get("containers") or []) + (s.get("initContainers") or []):
                    c.pop("image", None)
                for k in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
                    s.pop(k, None)
            if a != b:
                raise S.invalid("Pod", name, [F("FieldValueForbidden", "spec", detail=POD_UPDATE_MSG)])

    def prepare_secrets(self, sec, ns, old=None):
        name = sec["metadata"]["name"]
        data = sec.get("data") or {}
        errs = []
        for k, v in data.items():
            try:
                base64.b64decode(v, validate=True)
            except (ValueError, TypeError):
                bad = next((i for i, ch in enumerate(v) if ch not in
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="), len(v))
                raise S.bad_request('Secret in version "v1" cannot be handled as a Secret: illegal base64 data at '
                                    'input byte %d' % bad)
        for k, v in (sec.pop("stringData", None) or {}).items():
            data[k] = base64.b64encode(v.encode()).decode()
        for k in data:
            if not CONFIG_KEY.match(k):
                errs.append(F("FieldValueInvalid", "data[%s]" % k, k, CONFIG_KEY_MSG))
        t = sec.setdefault("type", "Opaque")
        need = {"kubernetes.io/dockercfg": ".dockercfg", "kubernetes.io/dockerconfigjson": ".dockerconfigjson"}.get(t)
        if need and need not in data:
            errs.append(F("FieldValueRequired", "data[%s]" % need, show_value=False))
        if sum(len(base64.b64decode(v)) for v in data.values()) > 1048576:
            errs.append(F("FieldValueTooLong", "data", detail="must have at most 1048576 bytes", show_value=False))
        if old is not None and old.get("immutable") and (data != (old.get("data") or {}) or
                                                         sec.get("immutable") is not True):
            errs.append(F("FieldValueForbidden", "data" if data != (old.get("data") or {}) else "immutable",
                          detail="field is immutable when `immutable` is set"))
        if old is not None and old.get("type") != t:
            errs.append(F("FieldValueInvalid", "type", t, "field is immutable"))
        if errs:
            raise S.invalid("Secret", name, errs)
        sec["data"] = data

    def prepare_configmaps(self, cm, ns, old=None):
        name = cm["metadata"]["name"]
        errs = [F("FieldValueInvalid", "data[%s]" % k, k, CONFIG_KEY_MSG)
                for k in list(cm.get("data") or {}) + list(cm.get("binaryData") or {}) if not CONFIG_KEY.match(k)]
        if old is not None and old.get("immutable") and (cm.get("data") != old.get("data") or
                                                         cm.get("binaryData") != old.get("binaryData")):
            errs.append(F("FieldValueForbidden", "data", detail="field is immutable when `immutable` is set"))
        if errs:
            raise S.invalid("ConfigMap", name, errs)

    def prepare_namespaces(self, obj, ns, old=None):
        name = obj["metadata"]["name"]
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        if old is None:
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        else:
            obj["spec"], obj["status"] = old.get("spec"), old.get("status")

    # ------------------------------------------------------------------ update and patch

    def update(self, resource, ns, name, body, sub=None, dry_run=False):
        kind = RESOURCES[resource][0]
        if not isinstance(body, dict) or not isinstance(body.get("metadata", {}), dict):
            raise S.bad_request("Object 'Kind' is missing in '%s'" % json.dumps(body)[:200])
        md = body.get("metadata") or {}
        if md.get("name") and md["name"] != name:
            raise S.bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                % (md["name"], name))
        if ns is not None and md.get("namespace") not in (None, "", ns):
            raise S.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        with self.store.cond:
            cur = self.store.get(resource, ns, name)
            if cur is None:
                raise S.not_found(resource, name)
            if md.get("resourceVersion") and md["resourceVersion"] != cur["metadata"]["resourceVersion"]:
                raise S.conflict(resource, name, S.MODIFIED)
            if md.get("uid") and md["uid"] != cur["metadata"]["uid"]:
                raise S.conflict(resource, name, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                                 % (md["uid"], cur["metadata"]["uid"]))
            new = copy.deepcopy(body)
            new.setdefault("metadata", {})
            if sub == "status":
                keep = copy.deepcopy(cur)
                keep["status"] = new.get("status", cur.get("status"))
                new = keep
            else:
                nmd = new["metadata"]
                for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                          "generateName"):
                    if k in cur["metadata"]:
                        nmd[k] = cur["metadata"][k]
                    else:
                        nmd.pop(k, None)
                nmd["name"] = name
                if ns is not None:
                    nmd["namespace"] = ns
                self.validate_meta(resource, kind, new)
                prep = getattr(self, "prepare_" + resource, None)
                if prep is not None:
                    prep(new, ns, old=cur)
            new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            new = _ordered(new, kind)
            if new == cur or dry_run:
                return cur if not dry_run else new
            self.store.put(resource, new, "MODIFIED")
            if resource == "pods" and new["spec"].get("activeDeadlineSeconds") != cur["spec"].get("activeDeadlineSeconds"):
                rt = self.kubelet.get(new["metadata"]["uid"]) if self.kubelet else None
                if rt is not None:
                    with rt.cond:
                        rt.deadline = new["spec"].get("activeDeadlineSeconds")
                        rt.cond.notify_all()
            self._maybe_finalize(resource, new)
        if new["metadata"].get("ownerReferences") != cur["metadata"].get("ownerReferences"):
            self.gc_wake.set()
        return new

    PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json",
                   "application/strategic-merge-patch+json", "application/apply-patch+yaml"]

    def patch(self, resource, ns, name, ctype, raw, sub=None, field_manager=None, dry_run=False):
        """The patched object and the status code (201 when an apply patch created it)."""
        if ctype not in self.PATCH_TYPES:
            raise S.unsupported_media_type(self.PATCH_TYPES)
        try:
            body = json.loads(raw.decode() or "null")
        except ValueError as e:
            if ctype == "application/apply-patch+yaml":
                raise S.bad_request("error decoding YAML: kube_double accepts apply patches in JSON only: %s" % e)
            raise S.bad_request("couldn't get version/kind; json parse error: %s" % e)
        with self.store.cond:
            cur = self.store.get(resource, ns, name)
            if ctype == "application/apply-patch+yaml":
                if not field_manager:
                    raise S.invalid("PatchOptions", "", [F("FieldValueRequired", "fieldManager",
                                                            detail="is required for apply patch", show_value=False)],
                                    group="meta.k8s.io")
                if cur is None:
                    if sub:
                        raise S.not_found(resource, name)
                    body = dict(body or {})
                    body.setdefault("metadata", {})["name"] = name
                    return self.create(resource, ns, body, dry_run), 201
            if cur is None:
                raise S.not_found(resource, name)
            try:
                if ctype == "application/json-patch+json":
                    new = json_patch(cur, body)
                elif ctype == "application/strategic-merge-patch+json":
                    if not isinstance(body, dict):
                        raise S.bad_request("json: cannot unmarshal %s into Go value of type map[string]interface {}"
                                            % type(body).__name__)
                    new = strategic_merge_patch(cur, body)
                else:
                    if not isinstance(body, dict):
                        raise S.bad_request("json: cannot unmarshal %s into Go value of type map[string]interface {}"
                                            % type(body).__name__)
                    new = merge_patch(cur, body)
            except PatchFailed as e:
                raise S.ApiError(422, "Invalid", "the server rejected our request due to an error in our request",
                                 {"causes": [{"reason": "UnexpectedServerResponse", "message": str(e)}]})
            except ValueError as e:
                raise S.bad_request(str(e))
            if not isinstance(new, dict):
                raise S.bad_request("the patch does not leave an object")
            return self.update(resource, ns, name, new, sub, dry_run), 200

    # ------------------------------------------------------------------ delete

    def delete(self, resource, ns, name, opts, dry_run=False):
        with self.store.cond:
            cur = self.store.get(resource, ns, name)
            if cur is None:
                raise S.not_found(resource, name)
            md = cur["metadata"]
            pre = opts.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != md["uid"]:
                raise S.conflict(resource, name, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                                 % (pre["uid"], md["uid"]))
            if pre.get("resourceVersion") and pre["resourceVersion"] != md["resourceVersion"]:
                raise S.conflict(resource, name, "Precondition failed: ResourceVersion in precondition: %s, "
                                 "ResourceVersion in object meta: %s" % (pre["resourceVersion"], md["resourceVersion"]))
            if dry_run:
                return cur
            policy = opts.get("propagationPolicy") or ("Orphan" if opts.get("orphanDependents") else "Background")
            if policy not in ("Orphan", "Background", "Foreground"):
                raise S.invalid("DeleteOptions", "", [F("FieldValueNotSupported", "propagationPolicy", policy,
                                                         'supported values: "Foreground", "Background", "Orphan", "nil"')],
                                group="meta.k8s.io")
            if policy == "Orphan":
                self._orphan(md["uid"])
            elif policy == "Foreground":
                for r, o in self._dependents(md["uid"]):
                    try:
                        self.delete(r, o["metadata"].get("namespace"), o["metadata"]["name"], {})
                    except S.ApiError:
                        pass
            if resource == "pods":
                return self._delete_pod(cur, opts)
            if resource == "namespaces":
                return self._delete_namespace(cur)
            if cur["metadata"].get("finalizers"):
                if not md.get("deletionTimestamp"):
                    new = copy.deepcopy(cur)
                    new["metadata"]["deletionTimestamp"] = rfc3339()
                    new["metadata"]["deletionGracePeriodSeconds"] = 0
                    self.store.put(resource, new, "MODIFIED")
                    return new
                return cur
            gone = self._remove(resource, cur)
        if resource in RETURNS_DELETED_OBJECT:
            return gone
        return S.success(name, resource, md["uid"])

    def _delete_pod(self, cur, opts):
        md = cur["metadata"]
        grace = opts.get("gracePeriodSeconds")
        if grace is None:
            grace = md.get("deletionGracePeriodSeconds", cur["spec"].get("terminationGracePeriodSeconds", 30))
        grace = max(int(grace), 0)
        phase = (cur.get("status") or {}).get("phase")
        if not cur["spec"].get("nodeName") or phase in ("Succeeded", "Failed"):
            grace = 0
        if md.get("deletionTimestamp") and grace >= md.get("deletionGracePeriodSeconds", 0) and grace > 0:
            return cur
        if grace > 0:
            new = copy.deepcopy(cur)
            new["metadata"]["deletionTimestamp"] = rfc3339(time.time() + grace)
            new["metadata"]["deletionGracePeriodSeconds"] = grace
            self.store.put("pods", new, "MODIFIED")
            if self.kubelet is not None and self.kubelet.request_delete(md["uid"], grace):
                return new
            cur = new
        if cur["metadata"].get("finalizers"):
            if not cur["metadata"].get("deletionTimestamp"):
                cur = copy.deepcopy(cur)
                cur["metadata"]["deletionTimestamp"] = rfc3339()
                cur["metadata"]["deletionGracePeriodSeconds"] = 0
                self.store.put("pods", cur, "MODIFIED")
            if self.kubelet is not None:
                self.kubelet.request_delete(md["uid"], 0)
            return cur
        gone = self._remove("pods", cur)
        if self.kubelet is not None:
            self.kubelet.forget(md["uid"])
        return gone

    def finish_pod_deletion(self, ns, name, uid):
        """The kubelet stopped every container of a Pod being deleted: the final delete."""
        with self.store.cond:
            cur = self.store.get("pods", ns, name)
            if cur is None or cur["metadata"]["uid"] != uid:
                return
            if cur["metadata"].get("finalizers"):
                return
            self._remove("pods", cur)
        if self.kubelet is not None:
            self.kubelet.forget(uid)

    def _delete_namespace(self, cur):
        if cur["metadata"].get("deletionTimestamp"):
            return cur
        new = copy.deepcopy(cur)
        new["metadata"]["deletionTimestamp"] = rfc3339()
        new["metadata"]["deletionGracePeriodSeconds"] = 0
        new["status"] = {"phase": "Terminating"}
        self.store.put("namespaces", new, "MODIFIED")
        threading.Thread(target=self._finalize_namespace, args=(new["metadata"]["name"],), daemon=True).start()
        return new

    def _finalize_namespace(self, ns):
        """The namespace controller: delete all content, wait for it to go, then the namespace."""
        for _ in range(600):
            left = 0
            for r in RESOURCES:
                if r == "namespaces":
                    continue
                for o in self.store.items(r, ns):
                    left += 1
                    if not o["metadata"].get("deletionTimestamp"):
                        try:
                            self.delete(r, ns, o["metadata"]["name"], {})
                        except S.ApiError:
                            pass
            if left == 0:
                break
            time.sleep(0.1)
        with self.store.cond:
            cur = self.store.get("namespaces", None, ns)
            if cur is not None:
                self._remove("namespaces", cur)

    def _remove(self, resource, cur):
        gone = copy.deepcopy(cur)
        self.store.put(resource, gone, "DELETED")
        self.gc_wake.set()
        return gone

    def _maybe_finalize(self, resource, obj):
        md = obj["metadata"]
        if md.get("deletionTimestamp") and not md.get("finalizers") and resource not in ("namespaces",):
            if resource == "pods":
                rt = self.kubelet.get(md["uid"]) if self.kubelet else None
                if rt is not None and not rt.finished.is_set():
                    return
            self._remove(resource, obj)

    # ------------------------------------------------------------------ garbage collection

    def _dependents(self, uid):
        return [(r, o) for r, o in self.store.all_objects()
                if any(ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences") or [])]

    def _orphan(self, uid):
        for r, o in self._dependents(uid):
            new = copy.deepcopy(o)
            new["metadata"]["ownerReferences"] = [x for x in o["metadata"]["ownerReferences"] if x.get("uid") != uid]
            if not new["metadata"]["ownerReferences"]:
                del new["metadata"]["ownerReferences"]
            self.store.put(r, new, "MODIFIED")

    def collect_garbage(self):
        """Delete every object all of whose owners are gone (the Background policy)."""
        with self.store.cond:
            objs = self.store.all_objects()
            live = {o["metadata"]["uid"] for _, o in objs}
            victims = [(r, o) for r, o in objs if o["metadata"].get("ownerReferences") and
                       not any(ref.get("uid") in live for ref in o["metadata"]["ownerReferences"]) and
                       not o["metadata"].get("deletionTimestamp")]
        for r, o in victims:
            try:
                self.delete(r, o["metadata"].get("namespace"), o["metadata"]["name"],
                            {"preconditions": {"uid": o["metadata"]["uid"]}})
            except S.ApiError:
                pass
        return len(victims)

    def _gc_loop(self):
        while not self.stopping:
            self.gc_wake.wait()
            self.gc_wake.clear()
            time.sleep(0.05)
            try:
                while self.collect_garbage():
                    pass
            except Exception:  # noqa: keep collecting
                pass

    # ------------------------------------------------------------------ kubelet and events

    def kubelet_update(self, ns, name, uid, fn):
        with self.store.cond:
            cur = self.store.get("pods", ns, name)
            if cur is None or cur["metadata"]["uid"] != uid:
                return False
            new = copy.deepcopy(cur)
            fn(new)
            if new != cur:
                self.store.put("pods", new, "MODIFIED")
            return True

    def record_event(self, pod, etype, reason, message, field_path=None, component="kubelet"):
        md = pod["metadata"]
        now = rfc3339()
        with self.store.cond:
            for ev in self.store.items("events", md["namespace"]):
                io = ev["involvedObject"]
                if io.get("uid") == md["uid"] and ev["reason"] == reason and ev["message"] == message and \
                        io.get("fieldPath") == field_path and ev["type"] == etype:
                    new = copy.deepcopy(ev)
                    new["count"] = ev.get("count", 1) + 1
                    new["lastTimestamp"] = now
                    self.store.put("events", new, "MODIFIED")
                    return
            cur = self.store.get("pods", md["namespace"], md["name"])
            io = {"kind": "Pod", "namespace": md["namespace"], "name": md["name"], "uid": md["uid"],
                  "apiVersion": "v1", "resourceVersion": (cur or pod)["metadata"]["resourceVersion"]}
            if field_path:
                io["fieldPath"] = field_path
            ev = {"kind": "Event", "apiVersion": "v1",
                  "metadata": {"name": "%s.%x" % (md["name"], time.time_ns()), "namespace": md["namespace"],
                               "uid": str(uuid.uuid4()), "creationTimestamp": now},
                  "involvedObject": io, "reason": reason, "message": message,
                  "source": {"component": component} if component != "kubelet"
                  else {"component": "kubelet", "host": "kube-double"},
                  "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": etype, "eventTime": None,
                  "reportingComponent": component, "reportingInstance": "" if component != "kubelet" else "kube-double"}
            self.store.put("events", ev, "ADDED")


def _ordered(obj, kind):
    """kind, apiVersion, metadata, then the rest in the order given: as the apiserver serialises."""
    version = next((api_version(r) for r, (k, _) in RESOURCES.items() if k == kind), "v1")
    out = {"kind": kind, "apiVersion": version, "metadata": obj["metadata"]}
    for k, v in obj.items():
        if k not in out:
            out[k] = v
    return out
