"""The deployment's internal CA: create it once, issue certificates, never write a key in clear
inside the repository.

Runs on the controller (``delegate_to: localhost``), in a directory outside the repository
whose mode is 0700 and whose key files are 0600 (ANSSI PA-022 R37 certificates; NIS2-21.2.h
cryptography). The CA key never leaves that directory; a host's key is created there once and
copied to the host by the role. Idempotent: an existing certificate is kept while its subject,
SANs and issuer match and it is valid for more than ``renew_days``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import os
from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DOCUMENTATION = r"""
module: cloison_pki
short_description: Internal CA of a cloison deployment (create, issue)
description:
  - With O(state=ca), creates the CA key and self-signed certificate in O(dir) if missing.
  - With O(state=issued), issues O(name).crt/O(name).key signed by the CA, unless a valid matching one exists.
options:
  dir:
    description: Directory outside the repository holding the CA and issued material (created 0700).
    type: path
    required: true
  state:
    description: What to ensure.
    type: str
    choices: [ca, issued]
    default: issued
  name:
    description: File stem and certificate common name (required for O(state=issued)).
    type: str
  organization:
    description: O= of issued subjects (the deployment id), after CN, as the swanctl renderer names peers.
    type: str
  ca_cert_name:
    description: File name of the CA certificate in O(dir) (the lab's CA calls it ca.pem).
    type: str
    default: ca.crt
  ca_name:
    description: Common name of the CA.
    type: str
    default: cloison internal CA
  dns:
    description: DNS subject alternative names.
    type: list
    elements: str
    default: []
  ips:
    description: IP subject alternative names.
    type: list
    elements: str
    default: []
  usage:
    description: Extended key usage.
    type: str
    choices: [server, client, both]
    default: both
  days:
    description: Validity of an issued certificate.
    type: int
    default: 397
  renew_days:
    description: Re-issue when fewer days than this remain.
    type: int
    default: 30
  batch:
    description:
      - Many certificates in one call (cameras), each a dict with name, and optional dns, ips, usage.
      - Replaces O(name), O(dns), O(ips) and O(usage).
    type: list
    elements: dict
    default: []
author: cloison
"""

RETURN = r"""
cert:
  description: Path of the certificate.
  type: str
  returned: success
key:
  description: Path of the private key (mode 0600).
  type: str
  returned: success
ca:
  description: Path of the CA certificate.
  type: str
  returned: always
"""

CA_DAYS = 3650


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    path.chmod(0o600)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ensure_ca(folder: Path, ca_name: str, ca_cert_name: str, check: bool) -> bool:
    key_path, crt_path = folder / "ca.key", folder / ca_cert_name
    if key_path.exists() and crt_path.exists():
        return False
    if check:
        return True
    key = ec.generate_private_key(ec.SECP384R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(
        key_path,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return True


def _subject(name: str, organization: str | None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _sans(dns: list[str], ips: list[str]) -> list[Any]:
    return [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]


def _matches(crt_path: Path, params: dict[str, Any], ca: x509.Certificate) -> bool:
    name, dns, ips, renew_days = params["name"], params["dns"], params["ips"], params["renew_days"]
    cert = x509.load_pem_x509_certificate(crt_path.read_bytes())
    if cert.issuer != ca.subject:
        return False
    if cert.subject != _subject(name, params.get("organization")):
        return False
    try:
        got = set(map(str, cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value))
    except x509.ExtensionNotFound:
        got = set()
    if got != set(map(str, _sans(dns, ips))):
        return False
    return bool(cert.not_valid_after_utc - _now() > dt.timedelta(days=renew_days))


def issue(folder: Path, params: dict[str, Any], check: bool) -> bool:
    name = params["name"]
    key_path, crt_path = folder / f"{name}.key", folder / f"{name}.crt"
    ca_crt_path = folder / params["ca_cert_name"]
    if not ca_crt_path.exists():
        if check:
            return True
        raise FileNotFoundError(f"{ca_crt_path}: no CA yet; run with state=ca first")
    ca = x509.load_pem_x509_certificate(ca_crt_path.read_bytes())
    if key_path.exists() and crt_path.exists() and _matches(crt_path, params, ca):
        return False
    if check:
        return True
    ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{folder / 'ca.key'}: not the EC key this module creates")
    ca_public = ca.public_key()
    if not isinstance(ca_public, ec.EllipticCurvePublicKey):
        raise ValueError(f"{ca_crt_path}: not the EC certificate this module creates")
    if key_path.exists():
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_path}: not the EC key this module creates")
        key = loaded
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        _write_private(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
    server, client = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
    usages = {"server": [server], "client": [client], "both": [server, client]}
    builder = (
        x509.CertificateBuilder()
        .subject_name(_subject(name, params.get("organization")))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=params["days"]))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages[params["usage"]]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), critical=False)
    )
    sans = _sans(params["dns"], params["ips"])
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return True


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "dir": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["ca", "issued"], "default": "issued"},
            "name": {"type": "str"},
            "ca_name": {"type": "str", "default": "cloison internal CA"},
            "organization": {"type": "str"},
            "ca_cert_name": {"type": "str", "default": "ca.crt"},
            "dns": {"type": "list", "elements": "str", "default": []},
            "ips": {"type": "list", "elements": "str", "default": []},
            "usage": {"type": "str", "choices": ["server", "client", "both"], "default": "both"},
            "days": {"type": "int", "default": 397},
            "renew_days": {"type": "int", "default": 30},
            "batch": {"type": "list", "elements": "dict", "default": []},
        },
        supports_check_mode=True,
    )
    folder = Path(module.params["dir"])
    if not module.check_mode:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)
    result: dict[str, Any] = {"ca": str(folder / module.params["ca_cert_name"])}
    try:
        if module.check_mode and not folder.exists():
            module.exit_json(changed=True, **result)
        with (folder / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if module.params["state"] == "ca":
                changed = ensure_ca(folder, module.params["ca_name"], module.params["ca_cert_name"], module.check_mode)
            elif module.params["batch"]:
                issued = []
                for item in module.params["batch"]:
                    one = {**module.params, "dns": [], "ips": [], "usage": "client", **item}
                    if issue(folder, one, module.check_mode):
                        issued.append(one["name"])
                changed = bool(issued)
                result["issued"] = issued
            elif module.params["name"]:
                changed = issue(folder, module.params, module.check_mode)
                name = module.params["name"]
                result.update(cert=str(folder / f"{name}.crt"), key=str(folder / f"{name}.key"))
            else:
                module.fail_json(msg="state=issued needs name or batch", **result)
    except (OSError, ValueError) as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
