"""C2PA content credentials (PyPI c2pa-python): a signed manifest inside each PNG, JPEG and WAV download saying it
was made by a trained model (IPTC digital source type `trainedAlgorithmicMedia`), which model and card, and with
which settings. Image editors and news sites that read C2PA show it; unlike the watermark, any re-save drops it.

The signing identity is the deployment's: GEN_APP_C2PA_CERT (a PEM chain, the signer's certificate first) and
GEN_APP_C2PA_KEY (its PEM private key). When they are not set, the app makes a self-signed demo identity (its own
root and an ES256 signing certificate) at first use, kept in DEMO_IDENTITY_DIR so that restarts reuse it; readers
then show the signature as valid but the signer as untrusted, and the UI says so.
"""

from __future__ import annotations

import datetime
import io
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
DEMO_IDENTITY_DIR = Path(tempfile.gettempdir()) / "gen_app_c2pa_demo"
MIME_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".wav": "audio/wav",
}
CARD_TASKS = ("faces", "style", "sr-x2", "sr-x4-real", "sr-x4", "synth", "melody", "text")  # name -> card (first match)
MAX_SETTINGS_CHARS = 4000  # the settings recorded in a manifest are cut past this (a long ABC tune, say)
_lock = threading.RLock()  # identity() is also called under it, by the signer


@dataclass(frozen=True)
class Identity:
    chain: bytes  # PEM: the signing certificate, then its issuers
    key: bytes  # PEM private key
    demo: bool  # made by the app itself (self-signed), not configured


@dataclass(frozen=True)
class Credentials:
    present: bool
    signature_valid: bool  # the manifest is intact and its signature checks out
    trusted: bool  # the signer's certificate chains to a trust list the reader knows
    signer: str  # the certificate's common name / organisation
    source_type: str | None  # digitalSourceType of the creating action
    generator: str | None  # the software agent (model) named in it
    problems: list[str]


def configured_identity() -> Identity | None:
    cert, key = os.environ.get("GEN_APP_C2PA_CERT"), os.environ.get("GEN_APP_C2PA_KEY")
    if not cert or not key:
        return None
    return Identity(Path(cert).read_bytes(), Path(key).read_bytes(), demo=False)


def make_demo_identity(folder: Path = DEMO_IDENTITY_DIR) -> Identity:
    """A self-signed root and an ES256 signing certificate under it (what C2PA asks of a signer: not a CA, digital
    signature use, an extended key use), saved in `folder` and read back on later starts."""
    chain_file, key_file = folder / "chain.pem", folder / "signer.key"
    if chain_file.is_file() and key_file.is_file():
        return Identity(chain_file.read_bytes(), key_file.read_bytes(), demo=True)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common_name: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gen_app demo (self-signed)"),
            ]
        )

    def usage(signing: bool) -> x509.KeyUsage:
        return x509.KeyUsage(signing, False, False, False, False, not signing, not signing, False, False)

    now = datetime.datetime.now(datetime.UTC)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    valid = {
        "not_valid_before": now - datetime.timedelta(days=1),
        "not_valid_after": now + datetime.timedelta(days=3650),
    }
    root = (
        x509.CertificateBuilder(subject_name=name("gen_app demo root"), issuer_name=name("gen_app demo root"), **valid)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(signing=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    signer = (
        x509.CertificateBuilder(subject_name=name("gen_app demo signer"), issuer_name=root.subject, **valid)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(signing=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    chain = signer.public_bytes(pem) + root.public_bytes(pem)
    private = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    folder.mkdir(parents=True, exist_ok=True)
    key_file.touch(mode=0o600)
    key_file.write_bytes(private)
    chain_file.write_bytes(chain)
    log.info("made a self-signed C2PA demo identity in %s", folder)
    return Identity(chain, private, demo=True)


@lru_cache(maxsize=1)
def identity() -> Identity:
    """The deployment's identity, else the demo one (made once)."""
    with _lock:
        return configured_identity() or make_demo_identity()


def card_of(generator: str) -> str | None:
    """The model card of the model named `generator` (e.g. "gen_app sr-x4"), as a repository path."""
    task = next((t for t in CARD_TASKS if t in generator), None)
    return f"checkpoints/{task}/README.md" if task else None


def manifest(title: str, generator: str, params: dict, card: str | None) -> dict:
    settings = json.dumps(params, sort_keys=True, default=str)[:MAX_SETTINGS_CHARS]
    agent = {"name": generator, **({"card": card} if card else {})}
    return {
        "claim_generator_info": [{"name": "gen_app", "version": "1"}],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": agent,
                            "parameters": {"settings": settings},
                        }
                    ]
                },
            }
        ],
    }


@lru_cache(maxsize=1)
def _signer_and_context():
    import c2pa

    who = identity()
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", who.chain, who.key, None))
    # No thumbnail: it would decode the whole image again (a 67-megapixel upscale) only to show a preview. No
    # verification of what was just signed: it took 3/4 of the signing time (the tests read the manifests back).
    settings = {"builder": {"thumbnail": {"enabled": False}}, "verify": {"verify_after_sign": False}}
    return signer, c2pa.Context(c2pa.Settings.from_dict(settings))


def sign_bytes(data: bytes, mime: str, title: str, generator: str, params: dict) -> bytes:
    """`data` (a PNG, JPEG or WAV file's bytes) with a signed manifest embedded."""
    import c2pa

    signed = io.BytesIO()
    with _lock:  # one signer and context, shared by the app's threads
        signer, context = _signer_and_context()
        with c2pa.Builder(manifest(title, generator, params, card_of(generator)), context) as builder:
            builder.sign(signer, mime, io.BytesIO(data), signed)
    return signed.getvalue()


def sign_file(path: str | Path, generator: str, params: dict) -> Path:
    """Embed a signed manifest in the PNG, JPEG or WAV at `path` (rewritten in place)."""
    path = Path(path)
    path.write_bytes(sign_bytes(path.read_bytes(), MIME_TYPES[path.suffix.lower()], path.name, generator, params))
    return path


def with_credentials(data: bytes, mime: str, title: str, params: dict) -> bytes:
    """`data` signed for the model named in `params`; on a failure, logged, `data` as it was (the watermark and the
    metadata still mark it)."""
    try:
        return sign_bytes(data, mime, title, str(params.get("model", "gen_app")), params)
    except Exception as error:  # a missing library, a bad configured key: never lose the download over it
        log.warning("could not add content credentials to %s: %s", title, error)
        return data


def read_credentials(data: bytes, mime: str) -> Credentials:
    """The manifest in a file's bytes, checked: signature, trust, and what it says made the file."""
    import c2pa

    try:
        with c2pa.Reader(mime, io.BytesIO(data)) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError as error:
        text = str(error)
        if "ManifestNotFound" in text or "JumbfNotFound" in text or "not found" in text.lower():
            return Credentials(False, False, False, "", None, None, [])
        return Credentials(True, False, False, "", None, None, [f"the manifest could not be read ({text[:120]})"])
    active = store.get("manifests", {}).get(store.get("active_manifest", ""), {})
    signature = active.get("signature_info", {})
    signer = ", ".join(v for v in (signature.get("common_name"), signature.get("issuer")) if v)
    statuses = store.get("validation_status", [])
    codes = [status.get("code", "") for status in statuses]
    untrusted = "signingCredential.untrusted" in codes
    problems = [status.get("explanation") or status.get("code", "") for status in statuses]
    failures = [c for c in codes if c != "signingCredential.untrusted"]
    source_type, generator = None, None
    for assertion in active.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                if action.get("action") == "c2pa.created":
                    source_type = action.get("digitalSourceType")
                    generator = (action.get("softwareAgent") or {}).get("name")
    valid = bool(active) and not failures
    return Credentials(True, valid, valid and not untrusted, signer, source_type, generator, problems)
