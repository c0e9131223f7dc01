"""kube_double: authentication, discovery, CRUD, error bodies, patches, selectors, pagination,
garbage collection, SelfSubjectAccessReview and the request log, over real HTTPS."""
import http.client
import ssl
import time
import unittest

from kd_harness import DoubleTestCase

NS = "/api/v1/namespaces/ci"
RESTRICTED = "system:serviceaccount:ci:restricted"


def status(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason}
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def sleeper(name, **meta):
    return {"metadata": dict(name=name, **meta), "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": "alpine:3.20", "command": ["sleep", "30"]}]}}


class ApiTest(DoubleTestCase):

    def wait_for(self, fn, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            v = fn()
            if v:
                return v
            time.sleep(0.05)
        self.fail("condition not reached")

    # -- connection, discovery, authentication

    def test_ready_json_and_discovery(self):
        kd = self.kd
        for k in ("url", "ca_file", "admin_token", "restricted_token", "client_cert", "client_key", "kubeconfig",
                  "token_file", "namespace", "control_url"):
            self.assertIn(k, kd.ready)
        self.assertTrue(kd.ready["url"].startswith("https://127.0.0.1:"))
        r = kd.get("/version")
        self.assertEqual((r.status, r.body["major"], r.body["gitVersion"][:5]), (200, "1", "v1.30"))
        self.assertEqual(kd.get("/api").body["versions"], ["v1"])
        names = {x["name"] for x in kd.get("/api/v1").body["resources"]}
        self.assertTrue({"pods", "pods/log", "pods/status", "secrets", "configmaps", "events", "namespaces",
                         "serviceaccounts"} <= names)
        groups = kd.get("/apis").body["groups"]
        self.assertEqual(groups[0]["name"], "authorization.k8s.io")
        self.assertEqual(kd.get("/healthz", auth="none").raw, b"ok")
        r = kd.get("/api/v1/nodes")
        self.assertEqual((r.status, r.body), (404, status(404, "NotFound", "the server could not find the requested resource", {})))

    def test_older_kubernetes_has_no_native_sidecars(self):
        kd = self.kd
        kd.settings(kubernetes_minor=28)
        try:
            self.assertEqual(kd.get("/version").body["gitVersion"], "v1.28.0-kube-double")
            pod = sleeper("old-sidecar")
            pod["spec"]["initContainers"] = [{"name": "svc", "image": "redis", "restartPolicy": "Always",
                                              "command": ["sleep", "30"]}]
            r = kd.post(NS + "/pods", pod)
            self.assertEqual(r.status, 201)
            self.assertNotIn("restartPolicy", r.body["spec"]["initContainers"][0])
            kd.delete(NS + "/pods/old-sidecar?gracePeriodSeconds=0")
        finally:
            kd.settings(kubernetes_minor=30)
        self.assertEqual(kd.get("/version").body["minor"], "30")

    def test_unauthorized(self):
        expect = status(401, "Unauthorized", "Unauthorized")
        for auth in ("bad", "none"):
            r = self.kd.get(NS + "/pods", auth=auth)
            self.assertEqual((r.status, r.body), (401, expect))
            self.assertEqual(r.headers["Content-Type"], "application/json")

    def test_untrusted_ca_is_refused(self):
        conn = http.client.HTTPSConnection(self.kd.host, self.kd.port, context=ssl.create_default_context())
        with self.assertRaises(ssl.SSLError):
            conn.request("GET", "/version")
        conn.close()

    def test_client_certificate(self):
        r = self.kd.get(NS + "/pods", auth="cert")
        self.assertEqual((r.status, r.body["kind"]), (200, "PodList"))
        log = [e for e in self.kd.requests() if e["path"] == NS + "/pods" and e["user"] == "lunar-admin"]
        self.assertTrue(log)

    def test_restricted_token_gets_real_403(self):
        kd = self.kd
        self.assertEqual(kd.get(NS + "/pods", auth="restricted").status, 200)
        r = kd.post(NS + "/pods", sleeper("forbidden"), auth="restricted")
        self.assertEqual((r.status, r.body), (403, status(403, "Forbidden",
            'pods is forbidden: User "system:serviceaccount:ci:restricted" cannot create resource "pods" in API '
            'group "" in the namespace "ci"', {"kind": "pods"})))
        r = kd.get(NS + "/secrets/x", auth="restricted")
        self.assertEqual((r.status, r.body), (403, status(403, "Forbidden",
            'secrets "x" is forbidden: User "system:serviceaccount:ci:restricted" cannot get resource "secrets" in '
            'API group "" in the namespace "ci"', {"name": "x", "kind": "secrets"})))
        r = kd.get("/api/v1/namespaces", auth="restricted")
        self.assertEqual(r.body["message"], 'namespaces is forbidden: User "system:serviceaccount:ci:restricted" '
                         'cannot list resource "namespaces" in API group "" at the cluster scope')
        r = kd.post(NS + "/pods", sleeper("forbidden"), auth="restricted-cert")
        self.assertEqual(r.status, 403)
        self.assertIn('User "system:serviceaccount:ci:restricted" cannot create', r.body["message"])
        self.assertEqual(kd.get("/_double/requests", auth="restricted").status, 403)
        self.assertIsNone(kd.pod("forbidden"))

    def test_self_subject_access_review(self):
        kd = self.kd
        path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"

        def review(auth, verb, resource="pods", sub=""):
            r = kd.post(path, {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                               "spec": {"resourceAttributes": {"namespace": "ci", "verb": verb,
                                                               "resource": resource, "subresource": sub}}}, auth=auth)
            self.assertEqual((r.status, r.body["kind"]), (201, "SelfSubjectAccessReview"))
            return r.body["status"]["allowed"]
        self.assertTrue(review("admin", "create"))
        self.assertTrue(review("cert", "delete", "secrets"))
        self.assertFalse(review("restricted", "create"))
        self.assertTrue(review("restricted", "watch"))
        self.assertTrue(review("restricted", "get", "pods", "log"))
        self.assertFalse(review("restricted", "get", "pods", "exec"))
        r = kd.post(path, {"spec": {}}, auth="restricted")
        self.assertEqual((r.status, r.body["reason"]), (422, "Invalid"))

    def test_self_subject_review(self):
        kd = self.kd
        path = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
        body = {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1"}
        r = kd.post(path, body, auth="restricted")
        self.assertEqual((r.status, r.body["kind"]), (201, "SelfSubjectReview"))
        self.assertEqual(r.body["status"]["userInfo"]["username"], "system:serviceaccount:ci:restricted")
        self.assertIn("system:authenticated", r.body["status"]["userInfo"]["groups"])
        r = kd.post(path, body, auth="cert")
        self.assertEqual(r.body["status"]["userInfo"]["username"], "lunar-admin")
        self.assertIn("system:masters", r.body["status"]["userInfo"]["groups"])
        self.assertEqual(kd.get(path, auth="admin").status, 405)

    # -- CRUD and error bodies

    def test_secret_crud_and_errors(self):
        kd = self.kd
        r = kd.post(NS + "/secrets", {"metadata": {"name": "s1", "labels": {"a": "b"}}, "stringData": {"k": "v"}})
        self.assertEqual(r.status, 201)
        s = r.body
        self.assertEqual((s["kind"], s["apiVersion"], s["type"], s["data"]), ("Secret", "v1", "Opaque", {"k": "dg=="}))
        self.assertNotIn("stringData", s)
        md = s["metadata"]
        self.assertEqual((md["name"], md["namespace"]), ("s1", "ci"))
        self.assertRegex(md["uid"], r"^[0-9a-f-]{36}$")
        self.assertRegex(md["creationTimestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(kd.get(NS + "/secrets/s1").body, s)
        r = kd.post(NS + "/secrets", {"metadata": {"name": "s1"}})
        self.assertEqual((r.status, r.body), (409, status(409, "AlreadyExists", 'secrets "s1" already exists',
                                                          {"name": "s1", "kind": "secrets"})))
        stale = dict(s, data={"k": "eA=="})
        ok = kd.put(NS + "/secrets/s1", stale)
        self.assertEqual(ok.status, 200)
        self.assertGreater(int(ok.body["metadata"]["resourceVersion"]), int(md["resourceVersion"]))
        self.assertEqual(ok.body["metadata"]["uid"], md["uid"])
        r = kd.put(NS + "/secrets/s1", stale)
        self.assertEqual((r.status, r.body), (409, status(409, "Conflict",
            'Operation cannot be fulfilled on secrets "s1": the object has been modified; please apply your changes '
            'to the latest version and try again', {"name": "s1", "kind": "secrets"})))
        r = kd.get(NS + "/secrets/nope")
        self.assertEqual((r.status, r.body), (404, status(404, "NotFound", 'secrets "nope" not found',
                                                          {"name": "nope", "kind": "secrets"})))
        r = kd.delete(NS + "/secrets/s1")
        self.assertEqual((r.status, r.body), (200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                    "status": "Success", "details": {"name": "s1", "kind": "secrets",
                                                                                     "uid": md["uid"]}}))
        self.assertEqual(kd.delete(NS + "/secrets/s1").status, 404)
        r = kd.post(NS + "/secrets", {"metadata": {"name": "bad64"}, "data": {"k": "%%%"}})
        self.assertEqual((r.status, r.body["reason"]), (400, "BadRequest"))
        self.assertIn("illegal base64 data at input byte 0", r.body["message"])

    def test_invalid_names_and_generate_name(self):
        kd = self.kd
        r = kd.post(NS + "/configmaps", {"metadata": {"name": "Bad_Name"}})
        self.assertEqual(r.status, 422)
        self.assertEqual(r.body["reason"], "Invalid")
        self.assertTrue(r.body["message"].startswith(
            'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'))
        self.assertEqual(r.body["details"]["causes"][0]["field"], "metadata.name")
        self.assertEqual(r.body["details"]["causes"][0]["reason"], "FieldValueInvalid")
        r = kd.post(NS + "/configmaps", {"metadata": {}})
        self.assertEqual(r.body, status(422, "Invalid",
            'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required',
            {"kind": "ConfigMap", "causes": [{"reason": "FieldValueRequired", "message":
                                              "Required value: name or generateName is required",
                                              "field": "metadata.name"}]}))
        r = kd.post(NS + "/configmaps", {"metadata": {"generateName": "job-"}, "data": {"a": "1"}})
        self.assertEqual(r.status, 201)
        self.assertRegex(r.body["metadata"]["name"], r"^job-[bcdfghjklmnpqrstvwxz2456789]{5}$")
        self.assertEqual(r.body["metadata"]["generateName"], "job-")
        r = kd.post(NS + "/configmaps", {"metadata": {"name": "lbl", "labels": {"a": "not ok!"}}})
        self.assertEqual(r.status, 422)
        self.assertIn('metadata.labels: Invalid value: "not ok!"', r.body["message"])
        r = kd.post("/api/v1/namespaces/nope/configmaps", {"metadata": {"name": "x"}})
        self.assertEqual((r.status, r.body), (404, status(404, "NotFound", 'namespaces "nope" not found',
                                                          {"name": "nope", "kind": "namespaces"})))
        r = kd.post(NS + "/configmaps", b"{not json")
        self.assertEqual((r.status, r.body["reason"]), (400, "BadRequest"))

    def test_pod_validation(self):
        kd = self.kd
        r = kd.post(NS + "/pods", {"metadata": {"name": "empty"}, "spec": {}})
        self.assertEqual(r.body, status(422, "Invalid", 'Pod "empty" is invalid: spec.containers: Required value',
                                        {"name": "empty", "kind": "Pod", "causes": [
                                            {"reason": "FieldValueRequired", "message": "Required value",
                                             "field": "spec.containers"}]}))
        bad = sleeper("badmount")
        bad["spec"]["containers"][0]["volumeMounts"] = [{"name": "v", "mountPath": "/x"}]
        bad["spec"]["restartPolicy"] = "Sometimes"
        r = kd.post(NS + "/pods", bad)
        self.assertEqual(r.body["message"], 'Pod "badmount" is invalid: [spec.containers[0].volumeMounts[0].name: '
                         'Not found: "v", spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
                         '"Always", "OnFailure", "Never"]')
        self.assertEqual(len(r.body["details"]["causes"]), 2)
        nosa = sleeper("nosa")
        nosa["spec"]["serviceAccountName"] = "ghost"
        r = kd.post(NS + "/pods", nosa)
        self.assertEqual((r.status, r.body["message"]), (403, 'pods "nosa" is forbidden: error looking up service '
                                                         'account ci/ghost: serviceaccount "ghost" not found'))
        r = kd.post(NS + "/pods", sleeper("defaults"))
        spec = r.body["spec"]
        self.assertEqual((spec["dnsPolicy"], spec["serviceAccountName"], spec["containers"][0]["imagePullPolicy"],
                          r.body["status"]["phase"]), ("ClusterFirst", "default", "IfNotPresent", "Pending"))
        r = kd.patch(NS + "/pods/defaults", {"spec": {"containers": [{"name": "c", "command": ["true"]}]}},
                     ctype="application/strategic-merge-patch+json")
        self.assertEqual((r.status, r.body["details"]["causes"][0]["field"]), (422, "spec"))
        self.assertIn("pod updates may not change fields other than", r.body["message"])
        kd.delete(NS + "/pods/defaults?gracePeriodSeconds=0")

    def test_patch_types(self):
        kd = self.kd
        kd.post(NS + "/configmaps", {"metadata": {"name": "p1", "labels": {"a": "1"}}, "data": {"x": "1", "y": "2"}})
        r = kd.patch(NS + "/configmaps/p1", {"metadata": {"labels": {"b": "2"}}, "data": {"y": None}})
        self.assertEqual((r.status, r.body["metadata"]["labels"], r.body["data"]), (200, {"a": "1", "b": "2"}, {"x": "1"}))
        r = kd.patch(NS + "/configmaps/p1", [{"op": "add", "path": "/data/z", "value": "3"},
                                             {"op": "replace", "path": "/metadata/labels/a", "value": "9"}],
                     ctype="application/json-patch+json")
        self.assertEqual((r.status, r.body["data"]["z"], r.body["metadata"]["labels"]["a"]), (200, "3", "9"))
        r = kd.patch(NS + "/configmaps/p1", [{"op": "test", "path": "/data/x", "value": "nope"}],
                     ctype="application/json-patch+json")
        self.assertEqual((r.status, r.body["reason"]), (422, "Invalid"))
        r = kd.patch(NS + "/configmaps/p1", {"data": {"x": "2"}}, ctype="application/strategic-merge-patch+json")
        self.assertEqual(r.body["data"], {"x": "2", "z": "3"})
        r = kd.patch(NS + "/configmaps/p1", {"data": {}}, ctype="text/plain")
        self.assertEqual((r.status, r.body), (415, status(415, "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, "
            "application/apply-patch+yaml")))
        rv = r = kd.get(NS + "/configmaps/p1").body["metadata"]["resourceVersion"]
        r = kd.patch(NS + "/configmaps/p1", {"metadata": {"resourceVersion": str(int(rv) - 1)}, "data": {"q": "1"}})
        self.assertEqual((r.status, r.body["reason"]), (409, "Conflict"))
        r = kd.patch(NS + "/configmaps/nope", {"data": {}})
        self.assertEqual(r.status, 404)
        r = kd.patch(NS + "/configmaps/applied", {"data": {"a": "1"}}, ctype="application/apply-patch+yaml")
        self.assertEqual((r.status, r.body["message"]), (422, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                                                         'Required value: is required for apply patch'))
        r = kd.patch(NS + "/configmaps/applied?fieldManager=t", {"data": {"a": "1"}}, ctype="application/apply-patch+yaml")
        self.assertEqual((r.status, r.body["data"]), (201, {"a": "1"}))

    # -- selectors and pagination

    def test_label_and_field_selectors(self):
        kd = self.kd
        for i, (tier, team) in enumerate([("web", "a"), ("db", "a"), ("web", "b"), ("cache", None)]):
            labels = {"sel": "yes", "tier": tier}
            if team:
                labels["team"] = team
            kd.post(NS + "/configmaps", {"metadata": {"name": "sel-%d" % i, "labels": labels}})

        def names(q):
            r = kd.get(NS + "/configmaps?" + q)
            self.assertEqual(r.status, 200, r)
            self.assertNotIn("kind", r.body["items"][0] if r.body["items"] else {})
            return [o["metadata"]["name"] for o in r.body["items"]]
        self.assertEqual(names("labelSelector=sel%3Dyes,tier%3Dweb"), ["sel-0", "sel-2"])
        self.assertEqual(names("labelSelector=sel%3Dyes,tier!%3Dweb"), ["sel-1", "sel-3"])
        self.assertEqual(names("labelSelector=sel,tier+in+(db,cache)"), ["sel-1", "sel-3"])
        self.assertEqual(names("labelSelector=sel,tier+notin+(db,cache)"), ["sel-0", "sel-2"])
        self.assertEqual(names("labelSelector=sel,!team"), ["sel-3"])
        self.assertEqual(names("labelSelector=sel%3Dyes&fieldSelector=metadata.name%3Dsel-2"), ["sel-2"])
        self.assertEqual(names("labelSelector=sel%3Dyes&fieldSelector=metadata.name!%3Dsel-2"), ["sel-0", "sel-1", "sel-3"])
        r = kd.get(NS + "/configmaps?fieldSelector=spec.bogus%3D1")
        self.assertEqual((r.status, r.body), (400, status(400, "BadRequest", "field label not supported: spec.bogus")))
        r = kd.get("/api/v1/secrets?fieldSelector=type%3Dkubernetes.io/dockercfg")
        self.assertEqual(r.status, 200)

    def test_pagination_with_continue(self):
        kd = self.kd
        for i in range(5):
            kd.post(NS + "/configmaps", {"metadata": {"name": "page-%d" % i, "labels": {"page": "x"}}})
        r = kd.get(NS + "/configmaps?labelSelector=page%3Dx&limit=2")
        first = r.body
        self.assertEqual([o["metadata"]["name"] for o in first["items"]], ["page-0", "page-1"])
        token = first["metadata"]["continue"]
        kd.post(NS + "/configmaps", {"metadata": {"name": "page-2a", "labels": {"page": "x"}}})
        r = kd.get(NS + "/configmaps?labelSelector=page%3Dx&limit=2&continue=" + token)
        self.assertEqual([o["metadata"]["name"] for o in r.body["items"]], ["page-2", "page-3"])
        self.assertEqual(r.body["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"])
        r2 = kd.get(NS + "/configmaps?labelSelector=page%3Dx&limit=2&continue=" + r.body["metadata"]["continue"])
        self.assertEqual([o["metadata"]["name"] for o in r2.body["items"]], ["page-4"])
        self.assertNotIn("continue", r2.body["metadata"])
        r = kd.get(NS + "/configmaps?limit=1")
        self.assertIn("remainingItemCount", r.body["metadata"])
        kd.compact()
        r = kd.get(NS + "/configmaps?labelSelector=page%3Dx&limit=2&continue=" + token)
        self.assertEqual((r.status, r.body["reason"], r.body["code"]), (410, "Expired", 410))
        self.assertTrue(r.body["message"].startswith("The provided continue parameter is too old to display a "
                                                     "consistent list result."))
        r = kd.get(NS + "/configmaps?labelSelector=page%3Dx&limit=10&continue=" + r.body["metadata"]["continue"])
        self.assertEqual([o["metadata"]["name"] for o in r.body["items"]], ["page-2", "page-2a", "page-3", "page-4"])
        r = kd.get(NS + "/configmaps?limit=2&continue=garbage")
        self.assertEqual((r.status, r.body["reason"]), (400, "BadRequest"))

    # -- deletion semantics

    def test_garbage_collection_of_owned_secrets(self):
        kd = self.kd
        pod = kd.post(NS + "/pods", sleeper("owner")).body
        ref = {"apiVersion": "v1", "kind": "Pod", "name": "owner", "uid": pod["metadata"]["uid"]}
        kd.post(NS + "/secrets", {"metadata": {"name": "owned"}, "stringData": {"a": "b"}})
        s = kd.get(NS + "/secrets/owned").body
        s["metadata"]["ownerReferences"] = [ref]
        self.assertEqual(kd.put(NS + "/secrets/owned", s).status, 200)
        kd.post(NS + "/secrets", {"metadata": {"name": "orphaned", "ownerReferences": [ref]}})
        kd.post(NS + "/configmaps", {"metadata": {"name": "dangling", "ownerReferences": [
            dict(ref, uid="00000000-0000-0000-0000-000000000000", name="ghost")]}})
        self.wait_for(lambda: kd.get(NS + "/configmaps/dangling").status == 404)
        time.sleep(0.3)
        self.assertEqual(kd.get(NS + "/secrets/owned").status, 200)
        r = kd.delete(NS + "/pods/owner", {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
        self.assertEqual((r.status, r.body["kind"]), (200, "Pod"))
        self.wait_for(lambda: kd.get(NS + "/secrets/owned").status == 404)
        self.wait_for(lambda: kd.get(NS + "/secrets/orphaned").status == 404)
        pod = kd.post(NS + "/pods", sleeper("owner2")).body
        kd.post(NS + "/secrets", {"metadata": {"name": "kept", "ownerReferences": [
            dict(ref, name="owner2", uid=pod["metadata"]["uid"])]}})
        kd.delete(NS + "/pods/owner2?gracePeriodSeconds=0&propagationPolicy=Orphan")
        time.sleep(0.3)
        r = kd.get(NS + "/secrets/kept")
        self.assertEqual(r.status, 200)
        self.assertNotIn("ownerReferences", r.body["metadata"])

    def test_finalizers_and_preconditions(self):
        kd = self.kd
        cm = kd.post(NS + "/configmaps", {"metadata": {"name": "fin", "finalizers": ["example.com/x"]}}).body
        r = kd.delete(NS + "/configmaps/fin", {"preconditions": {"uid": "wrong"}})
        self.assertEqual((r.status, r.body["message"]), (409, 'Operation cannot be fulfilled on configmaps "fin": '
                         'Precondition failed: UID in precondition: wrong, UID in object meta: ' + cm["metadata"]["uid"]))
        r = kd.delete(NS + "/configmaps/fin")
        self.assertEqual(r.status, 200)
        got = kd.get(NS + "/configmaps/fin").body
        self.assertIn("deletionTimestamp", got["metadata"])
        kd.patch(NS + "/configmaps/fin", {"metadata": {"finalizers": None}})
        self.assertEqual(kd.get(NS + "/configmaps/fin").status, 404)

    def test_namespace_lifecycle(self):
        kd = self.kd
        r = kd.post("/api/v1/namespaces", {"metadata": {"name": "job-42"}})
        self.assertEqual((r.status, r.body["status"]["phase"]), (201, "Active"))
        self.assertEqual(kd.get("/api/v1/namespaces/job-42/serviceaccounts/default").status, 200)
        kd.post("/api/v1/namespaces/job-42/secrets", {"metadata": {"name": "s"}})
        r = kd.delete("/api/v1/namespaces/job-42")
        self.assertEqual((r.status, r.body["status"]["phase"]), (200, "Terminating"))
        self.wait_for(lambda: kd.get("/api/v1/namespaces/job-42").status == 404)
        self.assertEqual(kd.get("/api/v1/namespaces/job-42/secrets/s").status, 404)

    # -- the request log

    def test_request_log(self):
        kd = self.kd
        since = kd.requests()[-1]["seq"]
        kd.get(NS + "/pods?labelSelector=a%3Db")
        kd.get(NS + "/secrets/nope")
        kd.get(NS + "/pods", auth="bad")
        log = kd.requests(since)
        self.assertEqual([(e["method"], e["path"], e["query"], e["verb"], e["user"], e["status"]) for e in log], [
            ("GET", NS + "/pods", "labelSelector=a%3Db", "list", "system:serviceaccount:ci:lunar", 200),
            ("GET", NS + "/secrets/nope", "", "get", "system:serviceaccount:ci:lunar", 404),
            ("GET", NS + "/pods", "", None, None, 401)])
        self.assertEqual(log[0]["resource"], "pods")
        self.assertEqual(log[1]["name"], "nope")


if __name__ == "__main__":
    unittest.main()
