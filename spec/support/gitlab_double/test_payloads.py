"""gitlab_double: job descriptions expanded into full payloads, full payloads used as
templates (id and token substituted everywhere), and refused descriptions."""
import json
import os
import unittest

from gd_harness import DoubleTestCase

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


class PayloadTest(DoubleTestCase):

    def test_short_description_expands(self):
        gd = self.gd
        job = gd.enqueue({
            "name": "unit", "stage": "test", "script": ["make test", "echo done"], "after_script": "echo bye",
            "image": "python:3.12", "timeout": 60, "git_strategy": "none",
            "services": ["redis:7", {"name": "postgres:16", "alias": "db,pg", "variables": {"POSTGRES_DB": "t"}}],
            "variables": {"PLAIN": "1", "SECRET": {"value": "s3cr3t-value", "masked": True},
                          "KEYFILE": {"value": "---key---", "file": True}, "RAW": {"value": "$HOME", "raw": True}},
            "artifacts": {"paths": ["out/"], "exclude": ["out/*.tmp"], "when": "always", "expire_in": "1 day"},
            "cache": {"key": "deps", "paths": [".cache"], "policy": "pull", "fallback_keys": ["main"]},
        })
        p = job["payload"]
        self.assertEqual((p["id"], p["token"], job["status"]), (job["id"], job["token"], "pending"))
        self.assertEqual(p["job_info"]["name"], "unit")
        self.assertEqual(p["runner_info"]["timeout"], 60)
        self.assertEqual(p["steps"], [
            {"name": "script", "script": ["make test", "echo done"], "timeout": 60, "when": "on_success",
             "allow_failure": False},
            {"name": "after_script", "script": ["echo bye"], "timeout": 300, "when": "always",
             "allow_failure": True}])
        self.assertEqual(p["image"], {"name": "python:3.12"})
        self.assertEqual(p["services"][0], {"name": "redis:7"})
        self.assertEqual(p["services"][1]["alias"], "db,pg")
        self.assertEqual(p["services"][1]["variables"],
                         [{"key": "POSTGRES_DB", "value": "t", "public": True, "masked": False}])
        v = {x["key"]: x for x in p["variables"]}
        self.assertEqual(v["PLAIN"], {"key": "PLAIN", "value": "1", "public": True, "masked": False})
        self.assertEqual((v["SECRET"]["masked"], v["SECRET"]["public"]), (True, False))
        self.assertEqual((v["KEYFILE"]["file"], v["KEYFILE"]["public"]), (True, False))
        self.assertTrue(v["RAW"]["raw"])
        self.assertEqual(v["GIT_STRATEGY"]["value"], "none")
        self.assertEqual(v["CI_SERVER_URL"]["value"], gd.ready["url"])
        self.assertEqual(p["artifacts"], [{"name": "artifacts", "untracked": False, "paths": ["out/"],
                                           "exclude": ["out/*.tmp"], "when": "always", "artifact_type": "archive",
                                           "artifact_format": "zip", "expire_in": "1 day"}])
        self.assertEqual(p["cache"], [{"key": "deps-protected", "untracked": False, "policy": "pull",
                                       "paths": [".cache"], "when": "on_success",
                                       "fallback_keys": ["main-protected"]}])
        self.assertIn("job_execution_timeout", p["features"]["failure_reasons"])
        self.assertRegex(p["git_info"]["sha"], r"^[0-9a-f]{40}$")

    def test_no_repo_means_git_strategy_none(self):
        p = self.gd.enqueue({})["payload"]
        self.assertEqual([x["value"] for x in p["variables"] if x["key"] == "GIT_STRATEGY"], ["none"])

    def test_full_payload_template_gets_its_own_id_and_token(self):
        gd = self.gd
        with open(os.path.join(ROOT, "examples", "basic", "job.json")) as f:
            template = json.load(f)
        old = template["token"]
        a = gd.enqueue({"payload": template})
        b = gd.enqueue({"payload": template})
        self.assertNotEqual(a["id"], b["id"])
        for job in (a, b):
            p = job["payload"]
            text = json.dumps(p)
            self.assertNotIn(old, text)
            self.assertEqual((p["id"], p["job_info"]["id"], p["token"]), (job["id"], job["id"], job["token"]))
            self.assertTrue(p["git_info"]["repo_url"].startswith("https://gitlab-ci-token:%s@gitlab.acme.test/"
                                                                 % job["token"]))
            v = {x["key"]: x["value"] for x in p["variables"]}
            self.assertEqual((v["CI_JOB_TOKEN"], v["CI_REGISTRY_PASSWORD"], v["CI_JOB_ID"]),
                             (job["token"], job["token"], str(job["id"])))
            self.assertTrue(v["CI_JOB_URL"].endswith("/-/jobs/%d" % job["id"]))
            self.assertEqual(p["credentials"][0]["password"], job["token"])
        r = gd.request_job()
        self.assertEqual(r.body["token"], a["token"])

    def test_merge_replaces_top_level_fields(self):
        p = self.gd.enqueue({"merge": {"image": {"name": "alpine", "executor_opts": {"kubernetes": {"user": "1000"}}}}})
        self.assertEqual(p["payload"]["image"]["executor_opts"], {"kubernetes": {"user": "1000"}})

    def test_bad_descriptions_are_400(self):
        gd = self.gd
        for desc, word in (([], "JSON object"), ({"nmae": "x"}, "nmae"), ({"script": 3}, "script"),
                           ({"variables": {"A": 1}}, "variables.A"), ({"artifacts": {"when": "later"}}, "when"),
                           ({"timeout": "1h"}, "timeout"), ({"git_strategy": "copy"}, "git_strategy"),
                           ({"payload": {"id": 1}}, "git_info"), ({"payload": {}, "name": "x"}, "only"),
                           ({"image": {"nom": "x"}}, "image"), ({"cache": {"keys": "x"}}, "keys")):
            r = gd.request("POST", "/_double/jobs", desc)
            self.assertEqual(r.status, 400, desc)
            self.assertIn(word, r.body["message"], desc)
        r = gd.request("GET", "/_double/jobs/999999")
        self.assertEqual(r.status, 404)
        r = gd.request("GET", "/_double/nothing")
        self.assertEqual(r.status, 404)

    def test_job_list(self):
        gd = self.gd
        job = gd.enqueue({"name": "listed"})
        items = gd.control("GET", "jobs")["items"]
        self.assertIn(job["id"], [j["id"] for j in items])
        self.assertNotIn("payload", items[0])
        self.assertIn("payload", gd.control("GET", "jobs?payload=1")["items"][0])


if __name__ == "__main__":
    unittest.main()
