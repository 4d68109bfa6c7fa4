"""The vars store (`inventory/creds.yml`, mode 0600): credentials the manifest asks for, generated once.

Types as BOSH's `--vars-store`: `password` (20 characters a-z0-9), `certificate` (ca, certificate,
private_key; options common_name, alternative_names, is_ca, ca, duration), `rsa` and `ssh` key pairs.
Existing values are never overwritten; missing ones are generated and added. Properties use them as
`((name))` or `((name.certificate))`.
"""

from __future__ import annotations

import datetime
import re
import secrets
import string
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import NameOID
from ruamel.yaml import YAML

from picf.atomic import locked, write_atomic
from picf.errors import PicfError
from picf.models.manifest import Variable


def store_beside(manifest: Path) -> Path:
    """Where a manifest's vars store is when none is named: `creds.yml` in the manifest's directory."""
    return manifest.parent / "creds.yml"


_PLACEHOLDER = re.compile(r"\(\(\s*([a-z0-9_][a-z0-9_.-]*)\s*\)\)")


class VarsError(PicfError):
    """A `((name))` nothing defines, or a vars store that cannot be used."""


def _password() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


def _pem_key(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _certificate(options: dict[str, Any], store: dict[str, Any]) -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(options.get("common_name", "picf")))])
    days = int(options.get("duration", 365))
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key, ca_pem = name, key, ""
    if options.get("ca"):
        ca = store.get(str(options["ca"]))
        if not isinstance(ca, dict) or "private_key" not in ca:
            raise VarsError(f"certificate CA {options['ca']!r} is not in the vars store (define it first)")
        ca_cert = x509.load_pem_x509_certificate(ca["certificate"].encode())
        loaded = serialization.load_pem_private_key(ca["private_key"].encode(), password=None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        issuer_name, issuer_key, ca_pem = ca_cert.subject, loaded, ca["certificate"]
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=bool(options.get("is_ca")), path_length=None), critical=True)
    )
    alt = [str(a) for a in options.get("alternative_names", [])]
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(a) for a in alt]), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return {"ca": ca_pem or pem, "certificate": pem, "private_key": _pem_key(key)}


def generate(variable: Variable, store: dict[str, Any]) -> Any:
    """A new value for `variable` (certificates may need their CA from `store`)."""
    if variable.type == "password":
        return _password()
    if variable.type == "certificate":
        return _certificate(variable.options, store)
    if variable.type == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {"private_key": _pem_key(key), "public_key": public.decode()}
    ed = ed25519.Ed25519PrivateKey.generate()
    public_ssh = ed.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    openssh = ed.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    return {"private_key": openssh.decode(), "public_key": public_ssh.decode()}


def ensure(path: Path, variables: Iterable[Variable]) -> dict[str, Any]:
    """Load the vars store, generate what is missing, save it (0600, atomically); return every value."""
    wanted = list(variables)
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path):
        yaml = YAML(typ="safe")
        store: dict[str, Any] = {}
        if path.exists():
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
            loaded = yaml.load(path.read_text())
            if loaded is not None and not isinstance(loaded, dict):
                raise VarsError(f"{path}: not a mapping of variable names to values")
            store = dict(loaded or {})
        missing = [v for v in wanted if v.name not in store]
        for variable in missing:
            store[variable.name] = generate(variable, store)
        if missing or not path.exists():
            from io import StringIO

            out = StringIO()
            out.write("# picf vars store: generated credentials. Keep it secret (mode 0600); never edit values.\n")
            yaml.default_flow_style = False
            yaml.dump(store, out)
            write_atomic(path, out.getvalue().encode(), mode=0o600, backup=False)
    return store


def secret_values(store: dict[str, Any]) -> set[str]:
    """Every string in the store (to redact them wherever they might show)."""
    out: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str) and len(value) >= 8:
            out.add(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    walk(store)
    return out


def interpolate(value: Any, store: dict[str, Any]) -> tuple[Any, bool]:
    """Replace `((name))` / `((name.key))` in `value`; return it and whether a secret went in."""
    if isinstance(value, dict):
        used = False
        out = {}
        for k, v in value.items():
            out[k], u = interpolate(v, store)
            used |= u
        return out, used
    if isinstance(value, list):
        items = [interpolate(v, store) for v in value]
        return [v for v, _ in items], any(u for _, u in items)
    if not isinstance(value, str) or "((" not in value:
        return value, False

    def lookup(match: re.Match[str]) -> str:
        name, _, key = match.group(1).partition(".")
        if name not in store:
            raise VarsError(f"(({match.group(1)})) is not defined: add it to the manifest's variables")
        found = store[name]
        if key:
            if not isinstance(found, dict) or key not in found:
                raise VarsError(f"(({match.group(1)})): {name} has no {key!r}")
            found = found[key]
        return str(found)

    whole = _PLACEHOLDER.fullmatch(value.strip())
    if whole:
        name, _, key = whole.group(1).partition(".")
        if name not in store:
            raise VarsError(f"(({whole.group(1)})) is not defined: add it to the manifest's variables")
        found = store[name][key] if key and isinstance(store[name], dict) else store[name]
        return found, True
    return _PLACEHOLDER.sub(lookup, value), True
