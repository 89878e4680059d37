"""Crypto benchmark: Confidant's ratchet and X3DH against raw libsodium on the same machine.

    python bench/crypto.py [--seconds S] [--smoke]

Prints a table for 1 KiB messages: operations per second for the Session API (pad, ratchet, envelope,
AEAD) and X3DH handshakes, next to the raw libsodium XChaCha20-Poly1305 and X25519 baselines, and the
ratio (baseline / ours: how many times more raw operations the same time buys).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nacl.bindings as sodium  # the raw libsodium baseline

from crypto import x3dh
from crypto.keys import (
    IdentityKeyPair,
    OneTimePreKeyPair,
    PreKeyBundle,
    SignedPreKeyPair,
    X25519KeyPair,
)
from crypto.session import Session

MESSAGE = os.urandom(1024)
ROUNDS = 5


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of `fn`, measured for about `seconds` after a short warm-up."""
    for _ in range(3):
        fn()
    calls, start = 0, time.perf_counter()
    deadline = start + seconds
    batch = 1
    while True:
        for _ in range(batch):
            fn()
        calls += batch
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)
        batch = min(batch * 2, 256)


def _pair() -> tuple[Session, Session]:
    alice, bob = IdentityKeyPair.generate(), IdentityKeyPair.generate()
    spk = SignedPreKeyPair.generate(bob, 1)
    a = Session.initiate(
        alice, os.urandom(16), dev_b := os.urandom(16), PreKeyBundle(bob.public, spk.public_part())
    )
    b, _, _ = Session.accept(bob, dev_b, {1: spk}.get, lambda _i: None, a.encrypt(b"hi"))
    a.decrypt(b.encrypt(b"hi"))
    return a, b


def bench(seconds: float) -> list[tuple[str, float, str, float, float]]:
    a, b = _pair()

    def same_chain() -> None:
        b.decrypt(a.encrypt(MESSAGE))

    def ping_pong() -> None:  # every message starts a new DH ratchet step on the receiver
        b.decrypt(a.encrypt(MESSAGE))
        a.decrypt(b.encrypt(MESSAGE))

    alice, bob = IdentityKeyPair.generate(), IdentityKeyPair.generate()
    spk = SignedPreKeyPair.generate(bob, 1)
    otpk = OneTimePreKeyPair(1, X25519KeyPair.generate())
    bundle = PreKeyBundle(bob.public, spk.public_part(), otpk.public_part())

    def handshake() -> None:
        message, _ = x3dh.initiate(alice, bundle)
        x3dh.respond(bob, spk, otpk, message)

    dev_a, dev_b = os.urandom(16), os.urandom(16)

    def session_setup() -> None:
        s = Session.initiate(alice, dev_a, dev_b, bundle)
        Session.accept(bob, dev_b, {1: spk}.get, {1: otpk}.get, s.encrypt(MESSAGE))

    key, nonce, ad = os.urandom(32), os.urandom(24), os.urandom(66 + 34 + 40)

    def raw_aead() -> None:
        ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(MESSAGE, ad, nonce, key)
        sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, ad, nonce, key)

    sk, pk = os.urandom(32), X25519KeyPair.generate().public.to_bytes()

    def raw_x25519() -> None:
        sodium.crypto_scalarmult(sk, pk)

    cases = [
        ("ratchet encrypt+decrypt, same chain (1 KiB)", same_chain, 1, "raw AEAD enc+dec", raw_aead),
        ("ratchet encrypt+decrypt, DH step each msg", ping_pong, 2, "raw AEAD enc+dec", raw_aead),
        ("X3DH handshake (initiate + respond)", handshake, 1, "raw X25519", raw_x25519),
        ("session setup (X3DH + first 1 KiB message)", session_setup, 1, "raw X25519", raw_x25519),
    ]
    rows = []
    for name, ours_fn, per_call, base_name, base_fn in cases:
        # Alternate short measurements of ours and the baseline so that load from other processes
        # on the machine hits both alike; report medians.
        ours_rates, base_rates = [], []
        for _ in range(ROUNDS):
            ours_rates.append(per_call * rate(ours_fn, seconds / ROUNDS))
            base_rates.append(rate(base_fn, seconds / ROUNDS))
        ratio = statistics.median(b / o for o, b in zip(ours_rates, base_rates, strict=True))
        rows.append((name, statistics.median(ours_rates), base_name, statistics.median(base_rates), ratio))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="measuring time per figure (default 1.0)")
    parser.add_argument("--smoke", action="store_true", help="tiny run that only proves the benchmark works")
    args = parser.parse_args()
    seconds = 0.05 if args.smoke else args.seconds
    rows = bench(seconds)
    print(
        f"# crypto benchmark: Python {platform.python_version()}, libsodium via PyNaCl, "
        f"{seconds:g} s per figure"
    )
    print()
    print("| operation | ours (ops/s) | baseline | baseline (ops/s) | baseline / ours |")
    print("|---|---:|---|---:|---:|")
    for name, ours, base_name, base, ratio in rows:
        print(f"| {name} | {ours:,.0f} | {base_name} | {base:,.0f} | {ratio:.1f}x |")
    print()
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
