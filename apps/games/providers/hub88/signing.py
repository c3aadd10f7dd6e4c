"""Hub88 message signatures: RSA PKCS#1 v1.5 over SHA-256 of the raw body, base64 in a header.

Hub88 signs its requests with its private key (we verify with its public key, configured
per integration); we sign our responses with the operator's private key (Hub88 verifies
with the public key we gave it). The signature covers the exact bytes on the wire, so a
body is never re-serialised between verifying and acting.
"""

import base64
import binascii
import hashlib
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HEADER = "X-Hub88-Signature"
MIN_KEY_BITS = 2048


class InvalidKey(ValueError):
    """A PEM that is not a usable RSA key."""


def generate_private_key_pem(bits: int = MIN_KEY_BITS) -> str:
    """A new RSA private key, PEM (PKCS#8, unencrypted: it is stored as a secret field)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@lru_cache(maxsize=128)
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidKey("Not a PEM private key.") from exc
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < MIN_KEY_BITS:
        raise InvalidKey(f"Hub88 keys are RSA keys of at least {MIN_KEY_BITS} bits.")
    return key


@lru_cache(maxsize=128)
def _public_key(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise InvalidKey("Not a PEM public key.") from exc
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_KEY_BITS:
        raise InvalidKey(f"Hub88 keys are RSA keys of at least {MIN_KEY_BITS} bits.")
    return key


def private_key_check(pem: str) -> None:
    """Raise InvalidKey unless `pem` is a usable RSA private key."""
    _private_key(pem.strip())


def public_key_normalise(pem: str) -> str:
    """The public key as canonical PEM (SubjectPublicKeyInfo); InvalidKey if it is not one."""
    key = _public_key(pem.strip())
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def public_key_pem_from_private(private_pem: str) -> str:
    """The public half of a private key, to give to Hub88."""
    return (
        _private_key(private_pem.strip())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def public_key_fingerprint(public_pem: str) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo, as colon-separated hex pairs."""
    der = _public_key(public_pem.strip()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(der).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def sign(body: bytes, private_pem: str) -> str:
    """The base64 signature of `body` for the X-Hub88-Signature header."""
    signature = _private_key(private_pem.strip()).sign(body, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(body: bytes, signature: str | None, public_pem: str) -> bool:
    """True when `signature` (base64) is the key's signature of exactly these bytes."""
    if not signature:
        return False
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        _public_key(public_pem.strip()).verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
