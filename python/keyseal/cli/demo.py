"""``keyseal demo``: seal, store, tamper, rotate and rewrap on the embedded ``memory://`` store."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from keyseal._native import Keyring, Vault
from keyseal.cli import _common as c
from keyseal.exceptions import ConfigurationError, DecryptionError

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = c.add_command(
        subparsers,
        "demo",
        help="a short tour on the embedded memory:// store: seal, tamper, rotate, rewrap",
        example="keyseal demo",
    )
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    return run(sys.stdout)


def run(out: TextIO) -> int:
    def say(text: str = "") -> None:
        print(text, file=out)

    ring = Keyring.generate()
    say(f"1. A new keyring: {ring!r} (key bytes never leave Rust memory; export() is for your env var).")
    # A named memory:// store is shared in-process, like one Redis database; a private one is "memory://".
    vault = Vault("memory://demo", keyring=ring, namespace="billing", default_ttl=3600)
    fake_key = "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc"  # Stripe's published test-mode example key
    vault.put("stripe/api_key", fake_key)
    secret = vault.get("stripe/api_key")
    assert secret is not None
    ttl = vault.ttl("stripe/api_key") or 0.0
    say(f"2. Stored and fetched 'stripe/api_key': repr {secret!r}, f-string {secret}, ttl {ttl:.0f}s")
    say(f"   reveal() gives the value back only when asked: {secret.reveal()[:8]}...")

    envelope = ring.seal(fake_key.encode(), context=b"slot-a")
    say(f"3. An envelope is {len(envelope)} bytes: 'KS', version 1, key id {envelope[3:7].hex()},")
    say("   a 12-byte nonce, the ciphertext and a 16-byte tag.")
    tampered = bytearray(envelope)
    tampered[20] ^= 1
    for label, data, ctx in (
        ("a flipped bit", bytes(tampered), b"slot-a"),
        ("another slot", envelope, b"slot-b"),
    ):
        try:
            ring.open(data, context=ctx)
        except DecryptionError as exc:
            say(f"   opening it with {label} fails: DecryptionError({exc})")
    say(f"   and with the right slot it opens: {ring.open(envelope, context=b'slot-a') == fake_key.encode()}")

    for i in range(5):
        vault.put(f"partner/{i}/token", f"token-{i}")
    rotated = ring.rotated()
    say(f"4. Rotation: new primary {rotated.primary_id}, keys {rotated.key_ids};")
    say("   a redeploy with the rotated keyring opens the same store.")
    redeployed = Vault("memory://demo", keyring=rotated, namespace="billing")
    moved = redeployed.rewrap(batch_size=2)
    again = redeployed.rewrap()
    say(f"   rewrap() re-sealed {moved} values under the new key; a second run re-sealed {again}.")
    retired = Vault("memory://demo", keyring=rotated.without(ring.primary_id), namespace="billing")
    fetched = retired.get("partner/3/token")
    expected = "token-3"
    say(f"   with the old key retired, 'partner/3/token' still opens: {fetched == expected}")

    say("5. Plaintext Redis to a remote host is refused unless you opt in:")
    try:
        Vault("redis://cache.example.internal:6379/0", keyring=ring)
    except ConfigurationError as exc:
        say(f"   ConfigurationError: {exc}")
    for v in (vault, redeployed, retired):
        v.close()
    say("Done. Next: put KEYSEAL_KEYS=$(keyseal keygen) in your environment and point a Vault at rediss://.")
    return 0
