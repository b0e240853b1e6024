"""keyseal.Keyring: generation, the text form, environment, passphrases, rotation, hygiene."""

from __future__ import annotations

import copy
import os
import pickle
import re
import time

import argon2.low_level
import pytest

import keyseal
from _vaults import (
    CHEAP,
    PASSPHRASE,
    SALT,
    b64d,
    b64e,
    build_export,
    cheap_keyring,
    key_id,
    parse_export,
)
from keyseal import ConfigurationError, DecryptionError, Keyring

# ---------------------------------------------------------------------------------------------
# generate / export / from_string


def test_generate_gives_one_key_with_a_hex_id() -> None:
    ring = Keyring.generate()
    assert len(ring.key_ids) == 1
    assert ring.primary_id == ring.key_ids[0]
    assert re.fullmatch(r"[0-9a-f]{8}", ring.primary_id), ring.primary_id


def test_generate_is_random() -> None:
    rings = [Keyring.generate() for _ in range(20)]
    assert len({r.primary_id for r in rings}) == 20
    assert len({r.export() for r in rings}) == 20
    names = {parse_export(r.export()).name_key for r in rings}
    assert len(names) == 20


def test_export_format_is_the_documented_one() -> None:
    ring = Keyring.generate().rotated().rotated()
    text = ring.export()
    assert text.startswith("ks2,name=")
    assert "=" not in text.replace("name=", "").replace("key=", "").replace("check=", "")  # no base64 padding
    parsed = parse_export(text)
    assert len(parsed.name_key) == 32
    assert [kid for kid, _ in parsed.keys] == ring.key_ids
    for kid, raw in parsed.keys:
        assert len(raw) == 32
        assert key_id(raw) == kid, "key id must be HMAC-SHA256(key, 'keyseal key id')[:4]"


def test_round_trip_keeps_order_primary_and_naming_key() -> None:
    ring = Keyring.generate().rotated().rotated()
    back = Keyring.from_string(ring.export())
    assert back.key_ids == ring.key_ids
    assert back.primary_id == ring.primary_id
    assert back.export() == ring.export()
    env = ring.seal(b"payload", context=b"ctx")
    assert back.open(env, context=b"ctx") == b"payload"
    # and the other way: the parsed ring seals with the same primary
    env2 = back.seal(b"other")
    assert env2[3:7] == bytes.fromhex(ring.primary_id)
    assert ring.open(env2) == b"other"


def test_from_string_accepts_surrounding_whitespace() -> None:
    ring = Keyring.generate()
    assert Keyring.from_string("  " + ring.export() + "\n").key_ids == ring.key_ids


def test_built_by_hand_text_is_accepted_and_used() -> None:
    """A ring written from raw keys by a third party, following the documented format."""
    k1, k2, name = os.urandom(32), os.urandom(32), os.urandom(32)
    ring = Keyring.from_string(build_export(name, [k1, k2]))
    assert ring.key_ids == [key_id(k1), key_id(k2)]
    assert ring.primary_id == key_id(k1)
    assert parse_export(ring.export()).key(key_id(k2)) == k2


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace("ks2", "ks1", 1),
        lambda t: "",
        lambda t: "ks2",
        lambda t: t.split(",key=")[0],  # no keys at all
        lambda t: ",".join(p for p in t.split(",") if not p.startswith("name=")),  # no naming key
        lambda t: t + ",key=zz:AAAA",
        lambda t: t[:-3],  # key too short
        lambda t: t + "A",  # key not 32 bytes
        lambda t: t + "," + t.split(",", 2)[2],  # duplicate key id
        lambda t: t.replace(t.split(",key=")[1][:8], "00000000", 1),  # id does not match key
        lambda t: t + ",bogus=1",
    ],
)
def test_from_string_rejects_bad_text_without_echoing_it(mutate) -> None:  # type: ignore[no-untyped-def]
    text = Keyring.generate().export()
    bad = mutate(text)
    with pytest.raises(ConfigurationError) as info:
        Keyring.from_string(bad)
    shown = str(info.value) + repr(info.value)
    for part in parse_export(text).keys:
        assert b64e(part[1]) not in shown
    assert b64e(parse_export(text).name_key) not in shown


def test_from_string_wants_str() -> None:
    text = Keyring.generate().export()
    with pytest.raises(TypeError):
        Keyring.from_string(text.encode())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Keyring.from_string(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# from_env


def test_from_env_default_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = Keyring.generate().rotated()
    monkeypatch.setenv("KEYSEAL_KEYS", ring.export())
    assert Keyring.from_env().key_ids == ring.key_ids
    assert Keyring.from_env().export() == ring.export()


def test_from_env_custom_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = Keyring.generate()
    other = Keyring.generate()
    monkeypatch.setenv("KEYSEAL_KEYS", other.export())
    monkeypatch.setenv("MY_APP_KEYRING", ring.export())
    assert Keyring.from_env("MY_APP_KEYRING").primary_id == ring.primary_id
    assert Keyring.from_env(var="MY_APP_KEYRING").primary_id == ring.primary_id


def test_from_env_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEYSEAL_KEYS", raising=False)
    monkeypatch.delenv("KEYSEAL_TEST_UNSET_VAR", raising=False)
    with pytest.raises(ConfigurationError, match="KEYSEAL_KEYS"):
        Keyring.from_env()
    with pytest.raises(ConfigurationError, match="KEYSEAL_TEST_UNSET_VAR"):
        Keyring.from_env("KEYSEAL_TEST_UNSET_VAR")


def test_from_env_invalid_value_is_configuration_error_without_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYSEAL_KEYS", "not-a-keyring-sup3rs3cret")
    with pytest.raises(ConfigurationError) as info:
        Keyring.from_env()
    assert "sup3rs3cret" not in str(info.value)


# ---------------------------------------------------------------------------------------------
# from_passphrase


def test_passphrase_is_deterministic() -> None:
    a = cheap_keyring()
    b = cheap_keyring()
    assert a.export() == b.export()
    assert a.primary_id == b.primary_id
    # and an envelope sealed by one ring opens with the other
    assert b.open(a.seal(b"x", context=b"c"), context=b"c") == b"x"


def test_passphrase_salt_matters() -> None:
    a = cheap_keyring(salt=SALT)
    b = cheap_keyring(salt=b"fedcba9876543210")
    assert a.primary_id != b.primary_id
    pa, pb = parse_export(a.export()), parse_export(b.export())
    assert pa.name_key != pb.name_key
    assert pa.keys[0][1] != pb.keys[0][1]
    with pytest.raises(DecryptionError):
        b.open(a.seal(b"x"))


def test_passphrase_itself_matters() -> None:
    assert cheap_keyring(PASSPHRASE).primary_id != cheap_keyring(PASSPHRASE + "!").primary_id


def test_passphrase_accepts_str_bytes_and_secret() -> None:
    ref = cheap_keyring().export()
    assert Keyring.from_passphrase(PASSPHRASE.encode(), salt=SALT, **CHEAP).export() == ref
    assert Keyring.from_passphrase(keyseal.Secret(PASSPHRASE), salt=SALT, **CHEAP).export() == ref
    assert Keyring.from_passphrase(PASSPHRASE, salt=SALT.decode(), **CHEAP).export() == ref


@pytest.mark.parametrize(
    "weak",
    [
        "",
        "short",
        "elevenchars",  # 11 characters
        "aaaaaaaaaaaaaaaaaaaa",
        "ababababababababab",
        "password",
        "Password123!!",
        "Secret2024!?",
        "LetMeIn12345",
        "keyseal-2025",
    ],
)
def test_weak_passphrases_are_refused(weak: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Keyring.from_passphrase(weak, salt=SALT, **CHEAP)
    if len(weak) >= 8:
        assert weak not in str(info.value), "the error must not echo the passphrase"


@pytest.mark.parametrize("weak", ["passwordpassword", "qwertyqwerty", "123456123456", "changemechangeme"])
def test_repeated_common_passwords_are_refused(weak: str) -> None:
    """A common password typed twice is no stronger than once (found weak by any cracking list)."""
    with pytest.raises(ConfigurationError):
        Keyring.from_passphrase(weak, salt=SALT, **CHEAP)


def test_reasonable_passphrases_are_accepted() -> None:
    for ok in ["correct horse battery staple", "Tr0ub4dor&3-xyzzy", "my dog eats 7 purple socks"]:
        assert len(Keyring.from_passphrase(ok, salt=SALT, **CHEAP).key_ids) == 1


def test_short_salt_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="salt"):
        Keyring.from_passphrase(PASSPHRASE, salt=b"0123456789abcde", **CHEAP)  # 15 bytes
    with pytest.raises(ConfigurationError):
        Keyring.from_passphrase(PASSPHRASE, salt=b"", **CHEAP)
    # 16 bytes is enough
    Keyring.from_passphrase(PASSPHRASE, salt=b"0123456789abcdef", **CHEAP)


@pytest.mark.parametrize(
    "params",
    [
        {"memory_cost": 64, "time_cost": 1, "parallelism": 1},
        {"memory_cost": 19 * 1024 - 1, "time_cost": 3, "parallelism": 1},
        {"memory_cost": 65536, "time_cost": 1, "parallelism": 4},
        {"memory_cost": 1024, "time_cost": 3, "parallelism": 4},
    ],
)
def test_weak_argon2_parameters_need_the_opt_in(params: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        Keyring.from_passphrase(PASSPHRASE, salt=SALT, **params)
    with pytest.raises(ConfigurationError):
        Keyring.from_passphrase(PASSPHRASE, salt=SALT, allow_weak_parameters=False, **params)
    if params["memory_cost"] <= 19 * 1024:
        ring = Keyring.from_passphrase(PASSPHRASE, salt=SALT, allow_weak_parameters=True, **params)
        assert len(ring.key_ids) == 1


def test_argon2_parameters_change_the_keys() -> None:
    base = cheap_keyring()
    other = Keyring.from_passphrase(PASSPHRASE, salt=SALT, **{**CHEAP, "time_cost": 2})
    assert base.primary_id != other.primary_id


def test_impossible_argon2_parameters_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        Keyring.from_passphrase(PASSPHRASE, salt=SALT, **{**CHEAP, "parallelism": 0})
    with pytest.raises(ConfigurationError):
        Keyring.from_passphrase(PASSPHRASE, salt=SALT, **{**CHEAP, "time_cost": 0})


def test_default_parameters_are_rfc9106_and_match_argon2_cffi() -> None:
    """One run with the real defaults (64 MiB, t=3, p=4), checked against argon2-cffi."""
    started = time.perf_counter()
    ring = Keyring.from_passphrase(PASSPHRASE, salt=SALT)
    elapsed = time.perf_counter() - started
    raw = argon2.low_level.hash_secret_raw(
        PASSPHRASE.encode(),
        SALT,
        time_cost=3,
        memory_cost=65536,
        parallelism=4,
        hash_len=64,
        type=argon2.low_level.Type.ID,
        version=19,
    )
    parsed = parse_export(ring.export())
    assert parsed.keys == [(key_id(raw[:32]), raw[:32])]
    assert parsed.name_key == raw[32:]
    assert elapsed < 30


@pytest.mark.parametrize(
    ("passphrase", "salt", "m", "t", "p"),
    [
        (PASSPHRASE, SALT, 64, 1, 1),
        ("tr0ub4dor & 3 ünïcödé words", b"\x00" * 16, 256, 2, 2),
        ("another long passphrase here", os.urandom(32), 128, 3, 1),
    ],
)
def test_passphrase_derivation_matches_argon2_cffi(
    passphrase: str, salt: bytes, m: int, t: int, p: int
) -> None:
    ring = Keyring.from_passphrase(
        passphrase, salt=salt, memory_cost=m, time_cost=t, parallelism=p, allow_weak_parameters=True
    )
    raw = argon2.low_level.hash_secret_raw(
        passphrase.encode("utf-8"),
        salt,
        time_cost=t,
        memory_cost=m,
        parallelism=p,
        hash_len=64,
        type=argon2.low_level.Type.ID,
    )
    sealing, naming = raw[:32], raw[32:]
    assert ring.primary_id == key_id(sealing)
    assert ring.export() == build_export(naming, [sealing])


# ---------------------------------------------------------------------------------------------
# rotated / without


def test_rotated_adds_a_fresh_primary_and_keeps_old_keys() -> None:
    r1 = Keyring.generate()
    env = r1.seal(b"old value", context=b"slot")
    r2 = r1.rotated()
    assert r2.primary_id != r1.primary_id
    assert r2.key_ids == [r2.primary_id, r1.primary_id]
    assert r2.open(env, context=b"slot") == b"old value"
    new_env = r2.seal(b"new value")
    assert new_env[3:7] == bytes.fromhex(r2.primary_id)
    # the old ring is unchanged and cannot open the new primary's envelopes
    assert r1.key_ids == [r1.primary_id]
    with pytest.raises(DecryptionError):
        r1.open(new_env)
    # the naming key survives rotation
    assert parse_export(r2.export()).name_key == parse_export(r1.export()).name_key


def test_rotated_three_times_keeps_order() -> None:
    r1 = Keyring.generate()
    r2 = r1.rotated()
    r3 = r2.rotated()
    r4 = r3.rotated()
    assert r4.key_ids == [r4.primary_id, r3.primary_id, r2.primary_id, r1.primary_id]
    assert len(set(r4.key_ids)) == 4


def test_without_retires_a_key() -> None:
    r1 = Keyring.generate()
    env = r1.seal(b"v")
    r2 = r1.rotated()
    r3 = r2.without(r1.primary_id)
    assert r3.key_ids == [r2.primary_id]
    with pytest.raises(DecryptionError):
        r3.open(env)
    # r2 itself is unchanged
    assert r2.open(env) == b"v"
    assert parse_export(r3.export()).name_key == parse_export(r1.export()).name_key


def test_without_cannot_retire_the_primary() -> None:
    ring = Keyring.generate().rotated()
    with pytest.raises(ConfigurationError, match="primary"):
        ring.without(ring.primary_id)
    single = Keyring.generate()
    with pytest.raises(ConfigurationError):
        single.without(single.primary_id)


def test_without_unknown_or_malformed_id_is_value_error() -> None:
    ring = Keyring.generate().rotated()
    unknown = "00000000" if "00000000" not in ring.key_ids else "ffffffff"
    with pytest.raises(ValueError):
        ring.without(unknown)
    for bad in ["", "xyz", "0123456789", "ABCDEFG!"]:
        with pytest.raises(ValueError):
            ring.without(bad)
    assert not issubclass(ValueError, keyseal.KeysealError)


# ---------------------------------------------------------------------------------------------
# hygiene: repr/str, pickling, constructor


def test_repr_and_str_show_no_key_material() -> None:
    ring = Keyring.generate().rotated()
    text = ring.export()
    parsed = parse_export(text)
    secrets = [b64e(parsed.name_key)] + [b64e(raw) for _, raw in parsed.keys]
    secrets += [raw.hex() for _, raw in parsed.keys] + [parsed.name_key.hex()]
    for shown in (repr(ring), str(ring), f"{ring}", f"{ring!r}", "%s" % (ring,)):  # noqa: UP031
        for s in secrets:
            assert s not in shown
        assert text not in shown
        assert ring.primary_id in shown  # ids are not secret and help debugging


def test_pickling_and_copying_are_refused() -> None:
    ring = Keyring.generate()
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(ring, protocol=proto)
    with pytest.raises(TypeError):
        copy.copy(ring)
    with pytest.raises(TypeError):
        copy.deepcopy(ring)


def test_constructor_refuses_direct_use() -> None:
    with pytest.raises(TypeError, match="generate"):
        Keyring()
    with pytest.raises(TypeError):
        Keyring.__new__(Keyring)


def test_keyring_is_immutable() -> None:
    ring = Keyring.generate()
    with pytest.raises(AttributeError):
        ring.primary_id = "00000000"  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        ring.foo = 1  # type: ignore[attr-defined]


def test_key_ids_returns_a_copy() -> None:
    ring = Keyring.generate()
    ids = ring.key_ids
    ids.append("deadbeef")
    assert ring.key_ids == [ring.primary_id]


def test_b64_helper_decodes_export() -> None:
    """Guard for the helper the interop tests rely on."""
    assert b64d(b64e(b"\x00\xff" * 20)) == b"\x00\xff" * 20


def test_argon2_releases_the_gil() -> None:
    """Other Python threads keep running while a passphrase is stretched."""
    import threading

    done = threading.Event()
    result: list[Keyring] = []

    def derive() -> None:
        result.append(
            Keyring.from_passphrase(PASSPHRASE, salt=SALT, memory_cost=65536, time_cost=2, parallelism=1)
        )
        done.set()

    worker = threading.Thread(target=derive)
    ticks = 0
    worker.start()
    while not done.is_set():
        ticks += 1
    worker.join()
    assert len(result) == 1
    assert ticks > 10_000, f"the main thread only ran {ticks} times: the GIL was held"


def test_only_keeps_one_key_and_the_naming_key() -> None:
    r1 = Keyring.generate()
    old_env = r1.seal(b"old")
    r2 = r1.rotated()
    new_env = r2.seal(b"new")
    just_old = r2.only(r1.primary_id)
    assert just_old.key_ids == [r1.primary_id]
    assert just_old.open(old_env) == b"old"
    with pytest.raises(DecryptionError):
        just_old.open(new_env)
    assert parse_export(just_old.export()).name_key == parse_export(r2.export()).name_key
    assert r2.key_ids == [r2.primary_id, r1.primary_id]  # r2 itself is unchanged
    with pytest.raises(ValueError):
        r2.only("nothex!!")
    unknown = "00000000" if "00000000" not in r2.key_ids else "ffffffff"
    with pytest.raises(ValueError):
        r2.only(unknown)
