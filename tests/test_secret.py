"""keyseal.Secret: masked everywhere it could be printed, revealed only on request, compared in
constant time, never hashed, pickled or copied."""

from __future__ import annotations

import copy
import io
import logging
import pickle
import traceback
import uuid
from typing import Any

import pytest

import keyseal
from keyseal import Secret

VALUE = "sk_live_51HxYzVeryS3cretValue"
MASK = "**********"


@pytest.fixture(params=["str", "bytes", "secret"])
def secret(request: pytest.FixtureRequest) -> Secret:
    kind = request.param
    if kind == "str":
        return Secret(VALUE)
    if kind == "bytes":
        return Secret(VALUE.encode())
    return Secret(Secret(VALUE))


# ---------------------------------------------------------------------------------------------
# masking


def test_str_repr_format_show_the_mask(secret: Secret) -> None:
    shown = [
        str(secret),
        repr(secret),
        format(secret),
        format(secret, ""),
        format(secret, ">40"),
        format(secret, "s"),
        f"{secret}",
        f"{secret!s}",
        f"{secret!r}",
        f"{secret:^30}",
        "{}".format(secret),  # noqa: UP032
        "{!r}".format(secret),  # noqa: UP032
        "%s" % secret,  # noqa: UP031
        "%r" % (secret,),  # noqa: UP031
        "%(s)s" % {"s": secret},  # noqa: UP031
        repr([secret]),
        str({"k": secret}),
        repr((secret, secret)),
        str(ValueError(secret)),
    ]
    for text in shown:
        assert VALUE not in text
        assert VALUE[:12] not in text
        assert VALUE[-8:] not in text
        assert MASK in text
    assert str(secret) == MASK
    assert repr(secret) == f"Secret('{MASK}')"


def test_masking_does_not_depend_on_the_value() -> None:
    assert str(Secret("a")) == str(Secret("a much longer value than that")) == str(Secret(b"\xff\x00"))
    assert repr(Secret("")) == repr(Secret("x" * 1000))


def test_logging_shows_the_mask(secret: Secret, caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("keyseal.tests.secret")
    with caplog.at_level(logging.DEBUG, logger="keyseal.tests.secret"):
        log.info("the key is %s", secret)
        log.info("the key is %r", secret)
        log.warning(secret)
        log.error("mapping %(k)s", {"k": secret})
        log.info("via f-string %s", f"{secret}")
        log.info("extra", extra={"api_key": secret})
    assert len(caplog.records) == 6
    for record in caplog.records:
        assert VALUE not in record.getMessage()
        assert MASK in record.getMessage() or record.getMessage() == "extra"
    assert VALUE not in caplog.text
    # a formatter that prints the extra field renders the mask too
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s %(api_key)s"))
    handler.handle(caplog.records[-1])
    assert VALUE not in stream.getvalue()
    assert MASK in stream.getvalue()


def test_tracebacks_show_the_mask(secret: Secret) -> None:
    try:
        raise RuntimeError("failed with", secret)
    except RuntimeError:
        text = traceback.format_exc()
    assert VALUE not in text
    assert MASK in text


# ---------------------------------------------------------------------------------------------
# reveal


def test_reveal_and_reveal_bytes(secret: Secret) -> None:
    assert secret.reveal() == VALUE
    assert type(secret.reveal()) is str
    assert secret.reveal_bytes() == VALUE.encode()
    assert type(secret.reveal_bytes()) is bytes
    # revealing does not consume anything
    assert secret.reveal() == VALUE
    assert secret.reveal_bytes() == VALUE.encode()


def test_reveal_of_unicode_and_binary() -> None:
    text = "pässwörd-🔑-密码"
    assert Secret(text).reveal() == text
    assert Secret(text).reveal_bytes() == text.encode("utf-8")
    raw = bytes(range(256))
    assert Secret(raw).reveal_bytes() == raw


@pytest.mark.parametrize("raw", [b"\xff", b"\xc3\x28", b"abc\x80def", b"\xed\xa0\x80"])
def test_non_utf8_reveal_is_value_error(raw: bytes) -> None:
    s = Secret(raw)
    with pytest.raises(ValueError) as info:
        s.reveal()
    assert raw.hex() not in str(info.value)
    assert repr(raw) not in str(info.value)
    assert s.reveal_bytes() == raw


def test_empty_secret() -> None:
    s = Secret("")
    assert s.reveal() == ""
    assert s.reveal_bytes() == b""
    assert not s
    assert Secret("x")
    assert str(s) == MASK


@pytest.mark.parametrize("wrong", [None, 1, 1.5, ["a"], bytearray(b"abc"), memoryview(b"abc"), object()])
def test_constructor_rejects_other_types(wrong: object) -> None:
    with pytest.raises(TypeError):
        Secret(wrong)  # type: ignore[arg-type]


def test_secret_is_final_and_immutable() -> None:
    with pytest.raises(TypeError):

        class Sub(Secret):  # type: ignore[misc]
            pass

    s = Secret("x")
    with pytest.raises((AttributeError, TypeError)):
        s.value = "y"  # type: ignore[attr-defined]
    assert s.reveal() == "x"


# ---------------------------------------------------------------------------------------------
# equality


def test_equality_with_secret_str_and_bytes(secret: Secret) -> None:
    assert secret == Secret(VALUE)
    assert secret == Secret(VALUE.encode())
    assert secret == VALUE
    assert secret == VALUE.encode()
    # reflected: str.__eq__ gives NotImplemented, then Secret.__eq__ runs (SIM300's autofix would
    # turn these back into the unreflected form, which is how the reflected case went untested)
    assert VALUE == secret  # noqa: SIM300
    assert VALUE.encode() == secret
    assert Secret(VALUE) == secret
    assert (VALUE != secret) is False  # noqa: SIM300


@pytest.mark.parametrize(
    "other",
    [
        VALUE[:-1],
        VALUE + "x",
        VALUE[:-1] + "X",
        "X" + VALUE[1:],
        "",
        VALUE.upper(),
        VALUE.encode()[:-1],
        VALUE.encode() + b"\x00",
    ],
)
def test_inequality(secret: Secret, other: str | bytes) -> None:
    assert secret != other
    assert (secret == other) is False
    assert secret != Secret(other)
    assert Secret(other) != secret
    assert other != secret  # reflected
    assert (other == secret) is False


@pytest.mark.parametrize(
    "other", [None, 0, 1.0, [VALUE], (VALUE,), {VALUE}, bytearray(VALUE.encode()), object()]
)
def test_other_types_are_not_implemented_so_never_equal(secret: Secret, other: object) -> None:
    assert secret.__eq__(other) is NotImplemented
    assert (secret == other) is False
    assert (secret != other) is True
    assert (other == secret) is False


def test_equality_returns_real_bools() -> None:
    assert (Secret("a") == "a") is True
    assert (Secret("a") == "b") is False
    assert (Secret("a") != "b") is True
    assert (Secret("a") != "a") is False


def test_ordering_is_not_supported() -> None:
    with pytest.raises(TypeError):
        _ = Secret("a") < Secret("b")  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = Secret("a") >= "b"  # type: ignore[operator]


def test_unicode_equality_is_over_utf8_bytes() -> None:
    assert Secret("é") == "é".encode()
    assert Secret("é") != "é".encode("latin-1")
    assert Secret("é".encode()) == "é"


# ---------------------------------------------------------------------------------------------
# no hashing, pickling or copying


def test_unhashable(secret: Secret) -> None:
    with pytest.raises(TypeError):
        hash(secret)
    with pytest.raises(TypeError):
        {secret}  # noqa: B018
    with pytest.raises(TypeError):
        {secret: 1}  # noqa: B018


def test_pickling_is_refused(secret: Secret) -> None:
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError) as info:
            pickle.dumps(secret, protocol=proto)
        assert VALUE not in str(info.value)
    with pytest.raises(TypeError):
        pickle.dumps([secret])
    with pytest.raises(TypeError):
        secret.__reduce_ex__(2)


def test_copying_is_refused(secret: Secret) -> None:
    with pytest.raises(TypeError):
        copy.copy(secret)
    with pytest.raises(TypeError):
        copy.deepcopy(secret)
    with pytest.raises(TypeError):
        copy.deepcopy({"nested": [secret]})


def test_vault_get_returns_a_secret() -> None:
    vault = keyseal.Vault("memory://", keyring=keyseal.Keyring.generate())
    vault.put("k", VALUE)
    got = vault.get("k")
    assert isinstance(got, Secret)
    assert got == VALUE
    assert str(got) == MASK
    assert got.reveal() == VALUE


# ---------------------------------------------------------------------------------------------
# revealed values become known to the process-wide redactor


def _process_redactor() -> Any:
    # keyseal.redactor() is the public name; the export lands with the redaction engine
    import keyseal._native

    return getattr(keyseal, "redactor", keyseal._native.redactor)()


def test_reveal_registers_the_value_with_the_redactor() -> None:
    value = f"reveal-me-{uuid.uuid4().hex}"
    s = Secret(value)
    line = f"the request carried {value} today"
    assert value in _process_redactor().redact(line), "not registered before it is revealed"
    assert s == value  # comparing is not revealing
    assert value in _process_redactor().redact(line)
    assert s.reveal() == value
    assert value not in _process_redactor().redact(line)


def test_reveal_bytes_registers_too() -> None:
    value = f"reveal-bytes-{uuid.uuid4().hex}"
    Secret(value.encode()).reveal_bytes()
    assert value not in _process_redactor().redact(f"x {value} y")


def test_vault_values_are_registered_when_revealed() -> None:
    value = f"from-the-vault-{uuid.uuid4().hex}"
    vault = keyseal.Vault("memory://", keyring=keyseal.Keyring.generate())
    vault.put("k", value)
    got = vault.get("k")
    assert got is not None
    assert value in _process_redactor().redact(value)
    got.reveal()
    assert value not in _process_redactor().redact(value)
