"""TLS material made with the openssl CLI: a CA, the server's certificate (127.0.0.1, localhost),
client certificates, and a kubeconfig. EC P-256 keys: quick to make, and what kubeadm uses."""
import base64
import json
import os
import subprocess


def _openssl(cwd, *args):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args[:2]), r.stderr.decode(errors="replace")))


def _key(cwd, name):
    _openssl(cwd, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name + ".key")


def make_pki(d):
    """CA, server and client certificates in d; returns {name: path}."""
    os.makedirs(d, exist_ok=True)
    _key(d, "ca")
    _openssl(d, "req", "-x509", "-new", "-key", "ca.key", "-out", "ca.crt", "-days", "3650",
             "-subj", "/CN=kube-double-ca", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    exts = {
        "server": "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n"
                  "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n",
        "client": "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n",
    }
    # admin: CN=lunar-admin in group system:masters; restricted: the service account a 403 is for
    for who, subj, ext in (("server", "/CN=kube-apiserver", "server"),
                           ("client", "/O=system:masters/CN=lunar-admin", "client"),
                           ("restricted-client", "/CN=system:serviceaccount:ci:restricted", "client")):
        with open(os.path.join(d, who + ".ext"), "w") as f:
            f.write(exts[ext])
        _key(d, who)
        _openssl(d, "req", "-new", "-key", who + ".key", "-out", who + ".csr", "-subj", subj)
        _openssl(d, "x509", "-req", "-in", who + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "3650", "-out", who + ".crt", "-extfile", who + ".ext")
    for f in os.listdir(d):
        if f.endswith(".key"):
            os.chmod(os.path.join(d, f), 0o600)
    return {f: os.path.join(d, f) for f in os.listdir(d)}


def _b64(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write_kubeconfig(path, url, pki, token, restricted_token, namespace="ci"):
    """A kubeconfig (JSON, which is YAML) with three users; the current context uses the token."""
    cfg = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "kube-double", "cluster": {"server": url,
                                                          "certificate-authority-data": _b64(pki["ca.crt"])}}],
        "users": [{"name": "token", "user": {"token": token}},
                  {"name": "cert", "user": {"client-certificate-data": _b64(pki["client.crt"]),
                                            "client-key-data": _b64(pki["client.key"])}},
                  {"name": "restricted", "user": {"token": restricted_token}}],
        "contexts": [{"name": n, "context": {"cluster": "kube-double", "user": n, "namespace": namespace}}
                     for n in ("token", "cert", "restricted")],
        "current-context": "token",
    }
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
