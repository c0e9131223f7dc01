"""The --tls certificates, made with the openssl CLI as kube_double does: a CA and a
server certificate for 127.0.0.1 and localhost (EC P-256)."""
import os
import subprocess


def _run(cwd, *args):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr.decode(errors="replace")))


def make_pki(d):
    """Writes ca.crt, server.crt, server.key into d; returns their paths."""
    os.makedirs(d, exist_ok=True)
    for name in ("ca", "server"):
        _run(d, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name + ".key")
        os.chmod(os.path.join(d, name + ".key"), 0o600)
    _run(d, "req", "-x509", "-new", "-key", "ca.key", "-out", "ca.crt", "-days", "3650",
         "-subj", "/CN=gitlab-double-ca", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
                "keyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n")
    _run(d, "req", "-new", "-key", "server.key", "-out", "server.csr", "-subj", "/CN=gitlab-double")
    _run(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "3650", "-out", "server.crt", "-extfile", "server.ext")
    return {k: os.path.join(d, k) for k in ("ca.crt", "server.crt", "server.key")}
