"""Hub88 signatures (RSA PKCS#1 v1.5, SHA-256, base64) and unit conversions, without HTTP."""

import base64
import hashlib
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from apps.games.providers.hub88 import signing
from apps.games.providers.hub88.protocol import Refusal, amount_to_minor, balance_to_units

BODY = b'{"user":"42","request_uuid":"583c985f-fee6-4c0e-bbf5-308aad6265af"}'


def test_a_signature_verifies_with_the_public_half(keys):
    signature = signing.sign(BODY, keys.hub88_private)
    assert signing.verify(BODY, signature, keys.hub88_public)
    # PKCS#1 v1.5 is deterministic: the same body, the same signature
    assert signing.sign(BODY, keys.hub88_private) == signature
    assert len(base64.b64decode(signature)) == 256  # 2048-bit key


@pytest.mark.parametrize(
    "body, signature",
    [
        (BODY + b" ", "good"),  # one byte more than was signed
        (BODY.replace(b"42", b"43"), "good"),
        (BODY, "stranger"),
        (BODY, None),
        (BODY, ""),
        (BODY, "not base64 at all!"),
        (BODY, base64.b64encode(b"\x00" * 256).decode()),
        (BODY, base64.b64encode(b"short").decode()),
    ],
    ids=["extra-byte", "changed", "other-key", "none", "empty", "not-base64", "zeros", "short"],
)
def test_anything_but_the_exact_signature_fails(keys, body, signature):
    if signature == "good":
        signature = signing.sign(BODY, keys.hub88_private)
    elif signature == "stranger":
        signature = signing.sign(BODY, keys.stranger_private)
    assert signing.verify(body, signature, keys.hub88_public) is False


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_signatures_agree_with_openssl_both_ways(keys, tmp_path):
    # An independent implementation of the same scheme: `openssl dgst -sha256 -sign`.
    (tmp_path / "private.pem").write_text(keys.hub88_private)
    (tmp_path / "public.pem").write_text(keys.hub88_public)
    (tmp_path / "body").write_bytes(BODY)
    openssl_signature = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", tmp_path / "private.pem", tmp_path / "body"],
        check=True,
        capture_output=True,
    ).stdout
    assert signing.verify(BODY, base64.b64encode(openssl_signature).decode(), keys.hub88_public)
    (tmp_path / "sig").write_bytes(base64.b64decode(signing.sign(BODY, keys.hub88_private)))
    verified = subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha256",
            "-verify",
            tmp_path / "public.pem",
            "-signature",
            tmp_path / "sig",
            tmp_path / "body",
        ],
        capture_output=True,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_fingerprint_is_the_sha256_of_the_der_public_key(keys):
    der = serialization.load_pem_public_key(keys.hub88_public.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = hashlib.sha256(der).hexdigest()
    fingerprint = signing.public_key_fingerprint(keys.hub88_public)
    assert fingerprint.replace(":", "") == expected
    assert len(fingerprint.split(":")) == 32


def test_the_public_half_of_a_generated_key_verifies_its_signatures():
    private = signing.generate_private_key_pem()
    public = signing.public_key_pem_from_private(private)
    assert "PRIVATE" not in public
    assert signing.verify(BODY, signing.sign(BODY, private), public)


def _pem(key, private: bool) -> str:
    if private:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize("kind", ["garbage", "rsa-1024", "ec"])
def test_keys_that_are_not_rsa_2048_or_more_are_refused(kind):
    if kind == "garbage":
        private = public = "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"
    else:
        key = (
            rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the weak key refused
            if kind == "rsa-1024"
            else ec.generate_private_key(ec.SECP256R1())
        )
        private, public = _pem(key, True), _pem(key, False)
    with pytest.raises(signing.InvalidKey):
        signing.public_key_normalise(public)
    with pytest.raises(signing.InvalidKey):
        signing.private_key_check(private)


@pytest.mark.parametrize(
    "units, exponent, minor",
    [(356_000, 2, 356), (0, 2, 0), (1_000, 2, 1), (1, 8, 1_000), (123_456, 8, 123_456_000), (7, 5, 7)],
)
def test_hub88_units_convert_to_minor_units_exactly(units, exponent, minor):
    assert amount_to_minor(units, currency_exponent=exponent) == minor


@pytest.mark.parametrize("units", [356_001, 999, 1])
def test_amounts_finer_than_the_currency_are_wrong_types(units):
    with pytest.raises(Refusal) as refused:
        amount_to_minor(units, currency_exponent=2)
    assert refused.value.status == "RS_ERROR_WRONG_TYPES"


@pytest.mark.parametrize(
    "minor, exponent, units",
    [(356, 2, 356_000), (0, 2, 0), (123_456_789, 8, 123_456), (999, 8, 0), (7, 5, 7)],
)
def test_balances_convert_to_hub88_units_rounding_down_below_its_precision(minor, exponent, units):
    assert balance_to_units(minor, currency_exponent=exponent) == units
