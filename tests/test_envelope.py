"""The envelope, version 1, checked byte for byte against the README's spec and a third-party AES-GCM.

"KS" | 0x01 | key id (4) | nonce (12) | ciphertext | tag (16)
AES-256-GCM, associated data = the first 7 bytes (magic, version, key id) + the caller's context.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import keyseal
from _vaults import DECRYPTION_FAILED, build_export, decrypt_error_is_clean, key_id, parse_export
from keyseal import ConfigurationError, DecryptionError, Keyring

VECTORS = Path(__file__).parent / "vectors" / "aes_256_gcm.txt"
HEADER = 7
NONCE = 12
TAG = 16
OVERHEAD = HEADER + NONCE + TAG


def primary_key(ring: Keyring) -> bytes:
    parsed = parse_export(ring.export())
    return parsed.key(ring.primary_id)


def third_party_open(key: bytes, envelope: bytes, context: bytes) -> bytes:
    """Open an envelope following only the README's spec, with `cryptography`."""
    assert envelope[:2] == b"KS"
    assert envelope[2] == 1
    header, nonce, body = envelope[:HEADER], envelope[HEADER : HEADER + NONCE], envelope[HEADER + NONCE :]
    return AESGCM(key).decrypt(nonce, body, header + context)


def third_party_seal(key: bytes, plaintext: bytes, context: bytes, nonce: bytes | None = None) -> bytes:
    header = b"KS\x01" + bytes.fromhex(key_id(key))
    nonce = os.urandom(NONCE) if nonce is None else nonce
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + context)


# ---------------------------------------------------------------------------------------------
# layout


@pytest.mark.parametrize("plaintext", [b"", b"x", b"sk_live_0123456789abcdef", bytes(range(256)) * 3])
def test_layout_byte_for_byte(plaintext: bytes) -> None:
    ring = Keyring.generate().rotated()
    env = ring.seal(plaintext, context=b"slot-7")
    assert isinstance(env, bytes)
    assert len(env) == OVERHEAD + len(plaintext)
    assert env[:2] == b"KS"
    assert env[2] == 0x01
    assert env[3:7] == bytes.fromhex(ring.primary_id)
    nonce, ciphertext, tag = env[7:19], env[19:-16], env[-16:]
    assert len(nonce) == 12
    assert len(tag) == 16
    assert len(ciphertext) == len(plaintext)
    if len(plaintext) >= 8:
        assert plaintext not in env
    # recompute the whole thing with the same nonce: identical bytes
    key = primary_key(ring)
    aad = env[:7] + b"slot-7"
    assert AESGCM(key).encrypt(nonce, plaintext, aad) == ciphertext + tag
    assert env == third_party_seal(key, plaintext, b"slot-7", nonce=nonce)


def test_aad_is_header_plus_context_exactly() -> None:
    ring = Keyring.generate()
    key = primary_key(ring)
    env = ring.seal(b"value", context=b"ctx")
    nonce, body = env[7:19], env[19:]
    AESGCM(key).decrypt(nonce, body, env[:7] + b"ctx")  # the right AAD works
    for wrong in [b"ctx", env[:7], env[:3] + b"ctx", env[:19] + b"ctx", b"", env[:7] + b"ctx\x00"]:
        with pytest.raises(InvalidTag):
            AESGCM(key).decrypt(nonce, body, wrong)


def test_context_str_and_bytes_are_the_same_and_none_is_empty() -> None:
    ring = Keyring.generate()
    assert ring.open(ring.seal(b"a", context="ctx-é"), context="ctx-é".encode()) == b"a"
    assert ring.open(ring.seal(b"a", context="ctx-é".encode()), context="ctx-é") == b"a"
    assert ring.open(ring.seal(b"a"), context=b"") == b"a"
    assert ring.open(ring.seal(b"a", context=b""), context=None) == b"a"
    key = primary_key(ring)
    assert third_party_open(key, ring.seal(b"a"), b"") == b"a"


def test_plaintext_may_be_str_bytes_or_secret() -> None:
    ring = Keyring.generate()
    assert ring.open(ring.seal("héllo")) == "héllo".encode()
    assert ring.open(ring.seal(b"\x00\xff")) == b"\x00\xff"
    assert ring.open(ring.seal(keyseal.Secret(b"from a secret"))) == b"from a secret"
    with pytest.raises(TypeError):
        ring.seal(12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ring.seal(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# third-party interop


@pytest.mark.parametrize("context", [b"", b"ctx", "a-str-context", bytes(range(256))])
def test_third_party_opens_keyseal_envelopes(context: bytes | str) -> None:
    ring = Keyring.generate().rotated().rotated()
    ctx = context.encode() if isinstance(context, str) else context
    for plaintext in [b"", b"sk_test_4eC39HqLyjWDarjtT1zdp7dc", os.urandom(1000)]:
        env = ring.seal(plaintext, context=context)
        assert third_party_open(primary_key(ring), env, ctx) == plaintext


def test_keyseal_opens_third_party_envelopes_under_any_key_of_the_ring() -> None:
    k_old, k_new, name = os.urandom(32), os.urandom(32), os.urandom(32)
    ring = Keyring.from_string(build_export(name, [k_new, k_old]))
    for key in (k_new, k_old):
        env = third_party_seal(key, b"made elsewhere", b"ctx")
        assert ring.open(env, context=b"ctx") == b"made elsewhere"
        with pytest.raises(DecryptionError):
            ring.open(env, context=b"other")
    # a third party using a key this ring does not hold
    with pytest.raises(DecryptionError):
        ring.open(third_party_seal(os.urandom(32), b"x", b"ctx"), context=b"ctx")


def test_third_party_envelope_with_lying_key_id_fails() -> None:
    """The key id is authenticated: re-labelling an envelope with another key's id fails."""
    k1, k2 = os.urandom(32), os.urandom(32)
    ring = Keyring.from_string(build_export(os.urandom(32), [k1, k2]))
    env = bytearray(third_party_seal(k1, b"x", b""))
    env[3:7] = bytes.fromhex(key_id(k2))
    with pytest.raises(DecryptionError):
        ring.open(bytes(env))


# ---------------------------------------------------------------------------------------------
# known answers


def load_vectors() -> list[dict[str, bytes]]:
    cases: list[dict[str, bytes]] = []
    for block in VECTORS.read_text().split("\n\n"):
        fields: dict[str, bytes] = {}
        for line in block.splitlines():
            if line.startswith("#") or " = " not in line + " ":
                continue
            name, _, value = line.partition(" =")
            if name in {"Key", "IV", "PT", "AAD", "CT", "Tag"}:
                fields[name] = bytes.fromhex(value.strip())
        if "Key" in fields:
            cases.append(fields)
    return cases


def test_vector_file_has_the_expected_cases() -> None:
    cases = load_vectors()
    assert len(cases) >= 4
    for c in cases:
        assert set(c) == {"Key", "IV", "PT", "AAD", "CT", "Tag"}
        assert len(c["Key"]) == 32
        assert len(c["IV"]) == 12
        assert len(c["Tag"]) == 16
        assert len(c["CT"]) == len(c["PT"])


@pytest.mark.parametrize("case", load_vectors(), ids=lambda c: c["Tag"].hex()[:8])
def test_known_answer_vectors_are_right(case: dict[str, bytes]) -> None:
    aes = AESGCM(case["Key"])
    got = aes.encrypt(case["IV"], case["PT"], case["AAD"] or None)
    assert got == case["CT"] + case["Tag"]
    assert aes.decrypt(case["IV"], case["CT"] + case["Tag"], case["AAD"] or None) == case["PT"]


@pytest.mark.parametrize("case", load_vectors(), ids=lambda c: c["Tag"].hex()[:8])
def test_keyseal_with_vector_keys_agrees_with_cryptography(case: dict[str, bytes]) -> None:
    """keyseal under the vector's key and IV produces what AES-GCM says for our AAD."""
    key = case["Key"]
    if key == bytes(32):
        # NIST's all-zero test key is refused as a keyring key (a placeholder, not a key); the
        # vector itself is still checked against cryptography above.
        with pytest.raises(ConfigurationError, match="all its bytes equal"):
            Keyring.from_string(build_export(os.urandom(32), [key]))
        return
    ring = Keyring.from_string(build_export(os.urandom(32), [key]))
    env = third_party_seal(key, case["PT"], case["AAD"], nonce=case["IV"])
    assert ring.open(env, context=case["AAD"]) == case["PT"]
    # keyseal's own envelope, re-sealed with its nonce by cryptography, is identical
    mine = ring.seal(case["PT"], context=case["AAD"])
    assert mine == third_party_seal(key, case["PT"], case["AAD"], nonce=mine[7:19])


# ---------------------------------------------------------------------------------------------
# tampering: one fixed error, no input bytes in it


def assert_refused(ring: Keyring, data: object, context: bytes = b"ctx") -> None:
    with pytest.raises(DecryptionError) as info:
        ring.open(data, context=context)  # type: ignore[arg-type]
    forbidden = [data] if isinstance(data, bytes) else []
    decrypt_error_is_clean(info.value, *forbidden, context)


def test_every_single_bit_flip_is_refused() -> None:
    ring = Keyring.generate()
    env = ring.seal(b"sk_live_abcdef0123456789", context=b"ctx")
    assert ring.open(env, context=b"ctx") == b"sk_live_abcdef0123456789"
    for i in range(len(env)):
        for bit in range(8):
            bad = bytearray(env)
            bad[i] ^= 1 << bit
            assert_refused(ring, bytes(bad))


def test_every_truncation_is_refused() -> None:
    ring = Keyring.generate()
    env = ring.seal(b"some secret value", context=b"ctx")
    for n in range(len(env)):
        assert_refused(ring, env[:n])
        assert_refused(ring, env[n + 1 :] if n + 1 < len(env) else b"")  # drop from the front too


def test_appended_bytes_are_refused() -> None:
    ring = Keyring.generate()
    env = ring.seal(b"value", context=b"ctx")
    for extra in [b"\x00", b"x", os.urandom(16), env]:
        assert_refused(ring, env + extra)


def test_swapped_contexts_are_refused() -> None:
    ring = Keyring.generate()
    a = ring.seal(b"value-a", context=b"slot-a")
    b = ring.seal(b"value-b", context=b"slot-b")
    assert ring.open(a, context=b"slot-a") == b"value-a"
    for env, ctx in [
        (a, b"slot-b"),
        (b, b"slot-a"),
        (a, b""),
        (a, b"slot-a\x00"),
        (a, b"slot-"),
        (a, b"SLOT-A"),
    ]:
        assert_refused(ring, env, ctx)
    # splicing a's ciphertext under b's header and nonce
    assert_refused(ring, b[:19] + a[19:], b"slot-b")


def test_wrong_key_is_refused() -> None:
    ring = Keyring.generate()
    other = Keyring.generate()
    env = ring.seal(b"value", context=b"ctx")
    assert_refused(other, env)
    # same key id, different key bytes: relabel a stranger's envelope with our id
    stranger = bytearray(other.seal(b"value", context=b"ctx"))
    stranger[3:7] = bytes.fromhex(ring.primary_id)
    assert_refused(ring, bytes(stranger))


def test_unknown_key_id_is_refused() -> None:
    ring = Keyring.generate()
    env = bytearray(ring.seal(b"value", context=b"ctx"))
    env[3:7] = b"\xde\xad\xbe\xef" if ring.primary_id != "deadbeef" else b"\x00\x00\x00\x00"
    assert_refused(ring, bytes(env))


def test_retired_key_is_refused() -> None:
    r1 = Keyring.generate()
    env = r1.seal(b"value", context=b"ctx")
    r3 = r1.rotated().without(r1.primary_id)
    assert_refused(r3, env)


@pytest.mark.parametrize("version", [0x00, 0x02, 0x10, 0x7F, 0xFF])
def test_unknown_version_is_refused(version: int) -> None:
    ring = Keyring.generate()
    env = bytearray(ring.seal(b"value", context=b"ctx"))
    env[2] = version
    assert_refused(ring, bytes(env))


def test_unknown_version_refused_even_with_a_valid_tag() -> None:
    """A v2 envelope whose tag verifies (AAD includes the v2 header) still is not opened as v1."""
    key = os.urandom(32)
    ring = Keyring.from_string(build_export(os.urandom(32), [key]))
    header = b"KS\x02" + bytes.fromhex(key_id(key))
    nonce = os.urandom(12)
    env = header + nonce + AESGCM(key).encrypt(nonce, b"value", header + b"ctx")
    assert_refused(ring, env)


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"KS",
        b"KS\x01",
        b"\x00" * 35,
        b"\x00" * 100,
        b"KS\x01" + b"\x00" * 32,
        b"hello world, this is not an envelope at all",
        b"gAAAAABl" + os.urandom(80),  # a Fernet token
        os.urandom(64),
        os.urandom(4096),
    ],
)
def test_garbage_is_refused(garbage: bytes) -> None:
    assert_refused(Keyring.generate(), garbage)


def test_random_garbage_with_our_header_is_refused() -> None:
    ring = Keyring.generate()
    header = b"KS\x01" + bytes.fromhex(ring.primary_id)
    for n in range(0, 80, 7):
        assert_refused(ring, header + os.urandom(n))


@pytest.mark.parametrize(
    "wrong", ["a str envelope", bytearray(b"KS\x01abcd"), memoryview(b"KS"), None, 42, [1, 2]]
)
def test_wrong_envelope_types_are_type_errors(wrong: object) -> None:
    ring = Keyring.generate()
    with pytest.raises(TypeError) as info:
        ring.open(wrong)  # type: ignore[arg-type]
    assert not isinstance(info.value, keyseal.KeysealError)


def test_wrong_context_types_are_type_errors() -> None:
    ring = Keyring.generate()
    env = ring.seal(b"x")
    for wrong in (42, 1.5, ["a"], object()):
        with pytest.raises(TypeError):
            ring.seal(b"x", context=wrong)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            ring.open(env, context=wrong)  # type: ignore[arg-type]


def test_all_failures_share_one_message() -> None:
    ring = Keyring.generate()
    env = ring.seal(b"value", context=b"ctx")
    flipped = bytearray(env)
    flipped[-1] ^= 1
    version = bytearray(env)
    version[2] = 9
    unknown = bytearray(env)
    unknown[3] ^= 0xFF
    messages = set()
    for data, ctx, who in [
        (bytes(flipped), b"ctx", ring),
        (env[:10], b"ctx", ring),
        (env, b"other", ring),
        (env, b"ctx", Keyring.generate()),
        (bytes(version), b"ctx", ring),
        (bytes(unknown), b"ctx", ring),
        (b"", b"ctx", ring),
    ]:
        with pytest.raises(DecryptionError) as info:
            who.open(data, context=ctx)
        messages.add((str(info.value), repr(info.value)))
    assert messages == {(DECRYPTION_FAILED, f"DecryptionError({DECRYPTION_FAILED!r})")}


def test_decryption_error_hides_the_plaintext_and_keys() -> None:
    ring = Keyring.generate()
    env = ring.seal(b"TOP-SECRET-PLAINTEXT", context=b"ctx")
    with pytest.raises(DecryptionError) as info:
        ring.open(env, context=b"wrong")
    text = str(info.value) + repr(info.value) + repr(info.value.args)
    assert "TOP-SECRET" not in text
    for _, raw in parse_export(ring.export()).keys:
        assert raw.hex() not in text
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


# ---------------------------------------------------------------------------------------------
# nonces and sizes


def test_nonces_are_unique_across_10000_seals() -> None:
    ring = Keyring.generate()
    nonces = {ring.seal(b"same plaintext", context=b"same")[7:19] for _ in range(10_000)}
    assert len(nonces) == 10_000
    envelopes = {ring.seal(b"same plaintext") for _ in range(100)}
    assert len(envelopes) == 100


def test_nonces_look_random() -> None:
    """Not a counter: the nonces of consecutive seals differ in many bits."""
    ring = Keyring.generate()
    a = int.from_bytes(ring.seal(b"x")[7:19], "big")
    b = int.from_bytes(ring.seal(b"x")[7:19], "big")
    assert bin(a ^ b).count("1") > 10


@pytest.mark.parametrize("size", [1 << 20, (1 << 20) + 1, 5 * (1 << 20) + 3])
def test_large_payloads_round_trip(size: int) -> None:
    ring = Keyring.generate()
    payload = os.urandom(size)
    env = ring.seal(payload, context=b"big")
    assert len(env) == size + OVERHEAD
    assert ring.open(env, context=b"big") == payload
    assert third_party_open(primary_key(ring), env, b"big") == payload
    bad = bytearray(env)
    bad[size // 2] ^= 0x01
    with pytest.raises(DecryptionError):
        ring.open(bytes(bad), context=b"big")


def test_large_str_payload_round_trips() -> None:
    ring = Keyring.generate()
    text = "é" * (1 << 19) + "end"
    assert ring.open(ring.seal(text)).decode() == text


# ---------------------------------------------------------------------------------------------
# properties

_RING = Keyring.generate().rotated()
_KEY = primary_key(_RING)


@settings(max_examples=200, deadline=None)
@given(plaintext=st.binary(max_size=512), context=st.binary(max_size=64))
def test_property_round_trip_and_interop(plaintext: bytes, context: bytes) -> None:
    env = _RING.seal(plaintext, context=context)
    assert _RING.open(env, context=context) == plaintext
    assert third_party_open(_KEY, env, context) == plaintext
    assert _RING.open(third_party_seal(_KEY, plaintext, context), context=context) == plaintext


@settings(max_examples=200, deadline=None)
@given(
    plaintext=st.binary(max_size=128),
    context=st.binary(max_size=32),
    data=st.data(),
)
def test_property_any_byte_change_is_refused(plaintext: bytes, context: bytes, data: st.DataObject) -> None:
    env = bytearray(_RING.seal(plaintext, context=context))
    i = data.draw(st.integers(0, len(env) - 1))
    delta = data.draw(st.integers(1, 255))
    env[i] ^= delta
    with pytest.raises(DecryptionError) as info:
        _RING.open(bytes(env), context=context)
    assert str(info.value) == DECRYPTION_FAILED


@settings(max_examples=200, deadline=None)
@given(context=st.binary(max_size=32), other=st.binary(max_size=32))
def test_property_other_context_is_refused(context: bytes, other: bytes) -> None:
    assume(context != other)
    with pytest.raises(DecryptionError):
        _RING.open(_RING.seal(b"value", context=context), context=other)
