"""gitlab_double: artifact upload (multipart, chunked) and download by a running job's
token, and dependencies in the payload of a later job."""
import unittest

from gd_harness import DoubleTestCase

BOUNDARY = "----lunar-test-boundary"


def multipart(filename, data, name="file"):
    head = ('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
            'Content-Type: application/octet-stream\r\n\r\n' % (BOUNDARY, name, filename)).encode()
    return head + data + ("\r\n--%s--\r\n" % BOUNDARY).encode()


class ArtifactsTest(DoubleTestCase):

    def upload(self, job, data, query="artifact_format=zip&artifact_type=archive&expire_in=7+days",
               filename="artifacts.zip", chunked=True, token=None):
        gd = self.gd
        body = multipart(filename, data)
        conn = gd.connection()
        conn.putrequest("POST", "/api/v4/jobs/%d/artifacts?%s" % (job["id"], query))
        conn.putheader("JOB-TOKEN", token or job["token"])
        conn.putheader("Content-Type", "multipart/form-data; boundary=" + BOUNDARY)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for i in range(0, len(body), 1000):
                piece = body[i:i + 1000]
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        else:
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders()
            conn.send(body)
        r = conn.getresponse()
        out = (r.status, r.read())
        conn.close()
        return out

    def test_upload_then_download_by_a_dependent_job(self):
        gd = self.gd
        build = gd.take({"name": "build"})
        blob = bytes(range(256)) * 40
        status, _ = self.upload(build, blob)
        self.assertEqual(status, 201)
        rec = gd.job(build["id"])
        a = rec["artifacts"][0]
        self.assertEqual((a["filename"], a["size"], a["artifact_type"], a["artifact_format"], a["expire_in"], a["chunked"]),
                         ("artifacts.zip", len(blob), "archive", "zip", "7 days", True))
        self.assertEqual(rec["artifacts_file"], {"filename": "artifacts.zip", "size": len(blob)})
        gd.put_job(build["id"], build["token"], {"state": "success"})
        test = gd.take({"name": "test", "dependencies": [build["id"]]})
        deps = gd.job(test["id"])["payload"]["dependencies"]
        self.assertEqual(deps, [{"id": build["id"], "name": "build", "token": test["token"],
                                 "artifacts_file": {"filename": "artifacts.zip", "size": len(blob)}}])
        r = gd.request("GET", "/api/v4/jobs/%d/artifacts?direct_download=true" % build["id"],
                       headers={"JOB-TOKEN": test["token"]})
        self.assertEqual((r.status, r.raw, r.headers["Content-Type"]), (200, blob, "application/zip"))
        self.assertEqual(gd.job(test["id"])["downloads"][0]["direct_download"], "true")

    def test_download_errors(self):
        gd = self.gd
        job = gd.take()
        path = "/api/v4/jobs/%d/artifacts" % job["id"]
        self.assertEqual(gd.request("GET", path).status, 401)
        self.assertEqual(gd.request("GET", path, headers={"JOB-TOKEN": "glcbt-wrong"}).status, 403)
        r = gd.request("GET", path, headers={"JOB-TOKEN": job["token"]})
        self.assertEqual((r.status, r.body), (404, {"message": "404 Not Found"}))
        gd.put_job(job["id"], job["token"], {"state": "success"})
        self.assertEqual(gd.request("GET", path, headers={"JOB-TOKEN": job["token"]}).status, 403)   # finished

    def test_dependency_without_artifacts_has_no_artifacts_file(self):
        gd = self.gd
        lint = gd.take({"name": "lint"})
        gd.put_job(lint["id"], lint["token"], {"state": "success"})
        job = gd.take({"dependencies": [lint["id"]]})
        self.assertEqual(gd.job(job["id"])["payload"]["dependencies"],
                         [{"id": lint["id"], "name": "lint", "token": job["token"]}])
        r = gd.request("POST", "/_double/jobs", {"dependencies": [424242]})
        self.assertEqual(r.status, 400)

    def test_upload_errors(self):
        gd = self.gd
        job = gd.take()
        self.assertEqual(self.upload(job, b"x", token="glcbt-wrong")[0], 403)
        r = gd.request("POST", "/api/v4/jobs/%d/artifacts" % job["id"], b"plain",
                       headers={"JOB-TOKEN": job["token"]}, ctype="text/plain")
        self.assertEqual(r.status, 400)
        body = multipart("a.zip", b"x", name="other")
        r = gd.request("POST", "/api/v4/jobs/%d/artifacts" % job["id"], body, headers={
            "JOB-TOKEN": job["token"], "Content-Type": "multipart/form-data; boundary=" + BOUNDARY})
        self.assertEqual((r.status, r.body), (400, {"message": "400 Bad request - file is missing"}))
        gd.put_job(job["id"], job["token"], {"state": "failed"})
        self.assertEqual(self.upload(job, b"x", chunked=False)[0], 403)

    def test_report_is_recorded_but_not_served_as_the_archive(self):
        gd = self.gd
        job = gd.take()
        status, _ = self.upload(job, b"\x1f\x8b junit", "artifact_format=gzip&artifact_type=junit", "junit.xml.gz",
                                chunked=False)
        self.assertEqual(status, 201)
        rec = gd.job(job["id"])
        self.assertEqual(rec["artifacts"][0]["artifact_type"], "junit")
        self.assertNotIn("artifacts_file", rec)


if __name__ == "__main__":
    unittest.main()
