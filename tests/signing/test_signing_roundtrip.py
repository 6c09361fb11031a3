"""Build -> sign -> verify for every algorithm, and what the policy engine receives."""

from __future__ import annotations

import pytest

from signing import (
    ALGORITHMS,
    PrivateKey,
    PublicKey,
    ScopeMismatch,
    VerifyOptions,
    bundle_profiles,
    key_id,
    policy_inputs,
    read_unverified,
    sign_bundle,
    verify,
)

Keys = dict[str, tuple[PrivateKey, PublicKey]]


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_round_trip(alg: str, unsigned_bundle: bytes, keys: Keys) -> None:
    private, public = keys[alg]
    signed = sign_bundle(unsigned_bundle, private, "release")
    bundle = verify(signed, {"release": public})
    assert bundle.signer is not None
    assert (bundle.signer.kid, bundle.signer.algorithm, bundle.signer.method) == ("release", alg, "jws")
    assert bundle.revision == "test-1"
    assert bundle.digest.startswith("sha256:") and len(bundle.digest) == 71
    assert set(bundle.files) == {
        ".manifest",
        "decision.rego",
        "decision_test.rego",
        "models/data.json",
        "profiles/data.json",
    }


def test_kid_defaults_to_the_key_thumbprint(
    unsigned_bundle: bytes, es_key: tuple[PrivateKey, PublicKey]
) -> None:
    signed = sign_bundle(unsigned_bundle, es_key[0])
    kid = key_id(es_key[1])
    assert verify(signed, {kid: es_key[1]}).signer.kid == kid  # type: ignore[union-attr]


def test_scoped_signature_verifies_with_the_same_scope(
    unsigned_bundle: bytes, es_key: tuple[PrivateKey, PublicKey]
) -> None:
    signed = sign_bundle(unsigned_bundle, es_key[0], "dev", scope="production")
    bundle = verify(signed, {"dev": es_key[1]}, VerifyOptions(scope="production"))
    assert bundle.signer is not None and bundle.signer.scope == "production"
    with pytest.raises(ScopeMismatch):
        verify(signed, {"dev": es_key[1]})


def test_resigning_replaces_the_signature(signed_bundle: bytes, keys: Keys) -> None:
    private, public = keys["EdDSA"]
    resigned = sign_bundle(signed_bundle, private, "ed")
    assert verify(resigned, {"ed": public}).signer.algorithm == "EdDSA"  # type: ignore[union-attr]


def test_read_unverified_is_for_dev_mode(unsigned_bundle: bytes) -> None:
    bundle = read_unverified(unsigned_bundle)
    assert not bundle.verified and bundle.signer is None
    assert bundle.revision == "test-1"


def test_policy_inputs_gives_modules_and_data(
    signed_bundle: bytes, es_key: tuple[PrivateKey, PublicKey]
) -> None:
    inputs = policy_inputs(verify(signed_bundle, {"dev": es_key[1]}))
    assert set(inputs.modules) == {"decision.rego", "decision_test.rego"}
    assert inputs.modules["decision.rego"].startswith("# Entry point")
    assert set(inputs.data) == {"profiles", "models"}
    assert inputs.data["profiles"]["finance"]["models"]["default"] == "gpt-4o-mini"
    assert inputs.data["profiles"]["finance"]["models"]["downshift"][0]["from"] == "gpt-4o"
    assert inputs.data["models"]["models"]["gpt-4o"]["provider"] == "openai"
    assert inputs.data["models"]["providers"]["ollama"]["local"] is True
    assert inputs.revision == "test-1"


def test_bundle_profiles_revalidates_the_packed_data(signed_bundle: bytes) -> None:
    catalog, profiles = bundle_profiles(read_unverified(signed_bundle))
    assert sorted(profiles) == ["finance", "manager"]
    assert profiles["finance"].privacy.mode == "pseudonymize"
    assert "llama3.2" in catalog.models
