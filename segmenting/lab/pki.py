"""The lab's own certificate authority, generated at ``lab up``: never in the repository.

A real deployment's PKI is the ``pki`` role's job; the lab only needs certificates so that its
cameras can run a real EAP-TLS exchange (RFC 5216) against FreeRADIUS. Keys are written 0600.
"""

from __future__ import annotations

from pathlib import Path

from segmenting.lab.run import Runner

DAYS = "30"
CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def _private(path: Path) -> None:
    if path.exists():
        path.chmod(0o600)


def ca(r: Runner, d: Path, name: str) -> tuple[Path, Path]:
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o700)
    key, cert = d / "ca.key", d / "ca.pem"
    if not cert.exists():
        r.run(["openssl", "req", "-x509", *CURVE, "-keyout", str(key), "-out", str(cert), "-days", DAYS,
               "-subj", f"/O={name}/CN=cloison lab CA", "-addext", "basicConstraints=critical,CA:TRUE",
               "-addext", "keyUsage=critical,keyCertSign,cRLSign"])  # fmt: skip
        _private(key)
    return key, cert


def issue(r: Runner, d: Path, name: str, cn: str, server: bool) -> tuple[Path, Path]:
    """A certificate for ``cn`` (a RADIUS server or a camera identity) signed by the lab CA."""
    key, cert, csr, ext = d / f"{name}.key", d / f"{name}.pem", d / f"{name}.csr", d / f"{name}.ext"
    if cert.exists():
        return key, cert
    r.run(["openssl", "req", "-new", *CURVE, "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={cn}"])
    _private(key)
    usage = "serverAuth" if server else "clientAuth"
    ext.write_text(f"basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage={usage}\n"
                   f"subjectAltName=DNS:{cn}\n")  # fmt: skip
    r.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
           "-CAcreateserial", "-out", str(cert), "-days", DAYS, "-extfile", str(ext)])  # fmt: skip
    csr.unlink(missing_ok=True)
    ext.unlink(missing_ok=True)
    return key, cert
