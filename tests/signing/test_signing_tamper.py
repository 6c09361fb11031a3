"""Every way a signed bundle can be altered is refused, each with its own reason."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from signing import (
    AlgorithmNotAllowed,
    BundleError,
    DigestMismatch,
    MalformedSignature,
    MissingFile,
    ScopeMismatch,
    SignatureError,
    UnknownKey,
    UnlistedFile,
    UnsignedBundle,
    VerifyOptions,
    public_pem,
    read_unverified,
    sign_bundle,
    verify,
)
from signing.archive import read_archive
from signing.jws import signatures_document
from tests.signing.helpers import KeyPair, forge_token, keypair, repack


def _verify(bundle: bytes, key: KeyPair, **options: object) -> None:
    verify(bundle, {"dev": key[1]}, VerifyOptions(**options))  # type: ignore[arg-type]


def _reason(exc: pytest.ExceptionInfo[BundleError]) -> str:
    return exc.value.reason


def test_unsigned_bundle_is_refused(unsigned_bundle: bytes, es_key: KeyPair) -> None:
    with pytest.raises(UnsignedBundle) as exc:
        _verify(unsigned_bundle, es_key)
    assert _reason(exc) == "unsigned" and ".signatures.json" in str(exc.value)


def test_unlisted_file_is_refused(signed_bundle: bytes, es_key: KeyPair) -> None:
    tampered = repack(signed_bundle, **{"extra.rego": b"package gateway\nallow := true\n"})
    with pytest.raises(UnlistedFile) as exc:
        _verify(tampered, es_key)
    assert exc.value.file == "extra.rego" and _reason(exc) == "unlisted_file"


def test_listed_but_missing_file_is_refused(signed_bundle: bytes, es_key: KeyPair) -> None:
    with pytest.raises(MissingFile) as exc:
        _verify(repack(signed_bundle, decision_test_DOT_rego=None), es_key)
    assert exc.value.file == "decision_test.rego" and _reason(exc) == "missing_file"


def test_changed_policy_is_a_digest_mismatch(signed_bundle: bytes, es_key: KeyPair) -> None:
    source = read_archive(signed_bundle)["decision.rego"].replace(b'"allow": false', b'"allow": true')
    with pytest.raises(DigestMismatch) as exc:
        _verify(repack(signed_bundle, decision_DOT_rego=source), es_key)
    assert exc.value.file == "decision.rego" and _reason(exc) == "digest_mismatch"


def test_changed_data_is_a_digest_mismatch(signed_bundle: bytes, es_key: KeyPair) -> None:
    data = json.loads(read_archive(signed_bundle)["profiles/data.json"])
    data["finance"]["models"]["allowed"] = ["*"]
    with pytest.raises(DigestMismatch) as exc:
        _verify(repack(signed_bundle, profiles__data_DOT_json=json.dumps(data).encode()), es_key)
    assert exc.value.file == "profiles/data.json"


def test_reformatted_data_still_verifies(signed_bundle: bytes, es_key: KeyPair) -> None:
    # OPA hashes data.json in canonical form: whitespace and key order are not content.
    data = json.loads(read_archive(signed_bundle)["profiles/data.json"])
    compact = json.dumps(data, separators=(",", ":")).encode()
    _verify(repack(signed_bundle, profiles__data_DOT_json=compact), es_key)


def test_changed_manifest_is_a_digest_mismatch(signed_bundle: bytes, es_key: KeyPair) -> None:
    manifest = json.loads(read_archive(signed_bundle)[".manifest"])
    manifest["revision"] = "evil"
    with pytest.raises(DigestMismatch) as exc:
        _verify(repack(signed_bundle, _DOT_manifest=json.dumps(manifest).encode()), es_key)
    assert exc.value.file == ".manifest"


def test_unknown_kid_is_refused(signed_bundle: bytes, es_key: KeyPair) -> None:
    with pytest.raises(UnknownKey) as exc:
        verify(signed_bundle, {"prod": es_key[1]})
    assert "'dev'" in str(exc.value) and _reason(exc) == "unknown_kid"


def test_wrong_key_under_the_right_kid_is_a_bad_signature(signed_bundle: bytes) -> None:
    with pytest.raises(SignatureError) as exc:
        verify(signed_bundle, {"dev": keypair("ES256")[1]})
    assert _reason(exc) == "bad_signature"


def test_disallowed_algorithm_is_refused(unsigned_bundle: bytes, keys: dict[str, KeyPair]) -> None:
    signed = sign_bundle(unsigned_bundle, keys["RS256"][0], "dev")
    with pytest.raises(AlgorithmNotAllowed) as exc:
        _verify(signed, keys["RS256"], allowed_algorithms=("ES256", "EdDSA"))
    assert "RS256" in str(exc.value) and _reason(exc) == "alg_not_allowed"


def test_hmac_with_the_public_key_is_refused(signed_bundle: bytes, es_key: KeyPair) -> None:
    # The classic confusion: HS256 keyed with the (public) verification key's PEM.
    header = {"alg": "HS256", "kid": "dev"}
    unsigned = forge_token(header, {"files": []}).rsplit(".", 1)[0]
    mac = hmac.new(public_pem(es_key[1]), unsigned.encode(), hashlib.sha256).digest()
    token = forge_token(header, {"files": []}, mac)
    with pytest.raises(AlgorithmNotAllowed):
        _verify(repack(signed_bundle, _DOT_signatures_DOT_json=signatures_document(token)), es_key)


def test_alg_none_is_refused(signed_bundle: bytes, es_key: KeyPair) -> None:
    token = forge_token({"alg": "none", "kid": "dev"}, {"files": []})
    with pytest.raises(AlgorithmNotAllowed):
        _verify(repack(signed_bundle, _DOT_signatures_DOT_json=signatures_document(token)), es_key)


def test_token_alg_must_match_the_key_type(unsigned_bundle: bytes, keys: dict[str, KeyPair]) -> None:
    signed = sign_bundle(unsigned_bundle, keys["EdDSA"][0], "dev")
    with pytest.raises(AlgorithmNotAllowed) as exc:
        verify(signed, {"dev": keys["ES256"][1]})
    assert "EdDSA" in str(exc.value)


def test_two_signatures_are_refused(signed_bundle: bytes, es_key: KeyPair) -> None:
    token = json.loads(read_archive(signed_bundle)[".signatures.json"])["signatures"][0]
    doubled = json.dumps({"signatures": [token, token]}).encode()
    with pytest.raises(MalformedSignature) as exc:
        _verify(repack(signed_bundle, _DOT_signatures_DOT_json=doubled), es_key)
    assert "exactly one" in str(exc.value)


def test_scope_mismatch_is_refused(unsigned_bundle: bytes, es_key: KeyPair) -> None:
    signed = sign_bundle(unsigned_bundle, es_key[0], "dev", scope="staging")
    with pytest.raises(ScopeMismatch) as exc:
        _verify(signed, es_key, scope="production")
    assert "staging" in str(exc.value) and _reason(exc) == "scope_mismatch"


def test_no_byte_flip_changes_what_is_enforced(signed_bundle: bytes, es_key: KeyPair) -> None:
    """Flip every byte: the bundle is refused, or (gzip/tar metadata only) its files are unchanged."""
    original = read_unverified(signed_bundle).files
    accepted = 0
    for offset in range(len(signed_bundle)):
        tampered = bytearray(signed_bundle)
        tampered[offset] ^= 0x01
        try:
            bundle = verify(bytes(tampered), {"dev": es_key[1]})
        except BundleError:
            continue
        accepted += 1
        assert bundle.files == original, f"byte {offset} changed content yet verified"
    assert accepted < 16  # only header bytes outside the signed content (gzip mtime, OS ...)
