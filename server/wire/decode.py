"""Validation at the edge: bytes or socket data -> typed request -> service values.

Every failure is an AppError with a stable code: ``bad_request`` (not JSON, not an object, unknown field),
``invalid_field`` with ``details.field`` (type, size, encoding, range), ``payload_too_large`` and
``unsupported_version`` for envelopes.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, TypeVar

import msgspec

from crypto.errors import CryptoError
from crypto.errors import TooLarge as CryptoTooLarge
from crypto.errors import UnsupportedVersion as CryptoUnsupportedVersion
from server import limits
from server._verify import peek_envelope
from server.errors import BadRequest, InvalidField, PayloadTooLarge, UnsupportedVersion
from server.services.values import ConsentSignature, DeviceKeys, Envelope, SendRequest
from server.wire.requests import ConsentIn, DeviceIn, SendIn
from storage.records import OneTimePrekey, SignedPrekey

__all__ = ["b64", "consent_signature", "device_keys", "from_data", "from_json", "send_request"]

S = TypeVar("S", bound=msgspec.Struct)

_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_FIELD = re.compile(r"field `(?P<name>[^`]+)`")
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def _field_path(message: str) -> str:
    match = _PATH.search(message)
    path = match.group("path").lstrip(".") if match else ""
    named = _FIELD.search(message)
    if named and "missing required field" in message:
        path = f"{path}.{named.group('name')}" if path else named.group("name")
    return path


def _validation_error(exc: msgspec.ValidationError) -> Exception:
    message = str(exc)
    field = _field_path(message)
    if "unknown field" in message:
        named = _FIELD.search(message)
        name = named.group("name") if named else "?"
        full = f"{field}.{name}" if field else name
        return BadRequest(f"Unknown field {full!r}.", {"field": full})
    if not field and message.startswith("Expected `object`"):
        return BadRequest("The body must be a JSON object.")
    human = _PATH.sub("", message)
    return InvalidField(f"Field {field!r} is invalid: {human}.", {"field": field})


def from_json(body: bytes, kind: type[S]) -> S:
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    try:
        result: S = decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise _validation_error(exc) from None
    except (msgspec.DecodeError, UnicodeDecodeError):  # msgspec raises the latter for invalid UTF-8
        raise BadRequest("The body is not valid JSON in UTF-8.") from None
    return result


def from_data(data: Any, kind: type[S]) -> S:
    """Validate an already-parsed socket.io payload."""
    if data is None:
        data = {}
    try:
        return msgspec.convert(data, kind, strict=True)
    except msgspec.ValidationError as exc:
        raise _validation_error(exc) from None


def b64(value: str, field: str, size: int | None = None, max_size: int | None = None) -> bytes:
    """Strict standard base64 with padding; exact ``size`` or at most ``max_size`` bytes."""
    try:
        raw = binascii.a2b_base64(value, strict_mode=True)  # what b64decode(validate=True) checks, in C
    except (binascii.Error, ValueError):
        raise InvalidField(f"Field {field!r} is not valid base64.", {"field": field}) from None
    if base64.b64encode(raw).decode("ascii") != value:  # rejects non-canonical padding bits
        raise InvalidField(f"Field {field!r} is not canonical base64.", {"field": field})
    if size is not None and len(raw) != size:
        raise InvalidField(f"Field {field!r} must be {size} bytes.", {"field": field})
    if max_size is not None and len(raw) > max_size:
        raise InvalidField(f"Field {field!r} must be at most {max_size} bytes.", {"field": field})
    return raw


def device_keys(device: DeviceIn, prefix: str = "device") -> DeviceKeys:
    spk = device.signed_prekey
    seen: set[int] = set()
    otks = []
    for i, p in enumerate(device.one_time_prekeys):
        field = f"{prefix}.one_time_prekeys[{i}]"
        if p.id in seen:
            raise InvalidField(f"Prekey id {p.id} appears twice.", {"field": f"{field}.id"})
        seen.add(p.id)
        otks.append(OneTimePrekey(p.id, b64(p.public, f"{field}.public", limits.PUBLIC_KEY_BYTES)))
    signature = b64(device.certificate.signature, f"{prefix}.certificate.signature", limits.SIGNATURE_BYTES)
    return DeviceKeys(
        device_id=device.device_id,
        certificate=device.certificate.created_at.to_bytes(8, "big") + signature,
        identity_key=b64(device.identity_key, f"{prefix}.identity_key", limits.PUBLIC_KEY_BYTES),
        signed_prekey=SignedPrekey(
            id=spk.id,
            public=b64(spk.public, f"{prefix}.signed_prekey.public", limits.PUBLIC_KEY_BYTES),
            signature=b64(spk.signature, f"{prefix}.signed_prekey.signature", limits.SIGNATURE_BYTES),
        ),
        one_time_prekeys=tuple(otks),
    )


def one_time_prekeys(prekeys: list[Any], prefix: str = "prekeys") -> tuple[OneTimePrekey, ...]:
    seen: set[int] = set()
    out = []
    for i, p in enumerate(prekeys):
        if p.id in seen:
            raise InvalidField(f"Prekey id {p.id} appears twice.", {"field": f"{prefix}[{i}].id"})
        seen.add(p.id)
        out.append(OneTimePrekey(p.id, b64(p.public, f"{prefix}[{i}].public", limits.PUBLIC_KEY_BYTES)))
    return tuple(out)


def consent_signature(body: ConsentIn) -> ConsentSignature:
    return ConsentSignature(
        therapist_id=body.therapist_id,
        version=body.version,
        terms_hash=b64(body.terms_hash, "terms_hash", 32),
        signed_at=body.signed_at,
        signature=b64(body.signature, "signature", limits.SIGNATURE_BYTES),
    )


def _check_addressing(raw: bytes, kind: str, to_device: str, sender_device: str, field: str) -> None:
    """The envelope must be well formed (docs/PROTOCOL.md section 5) and say what the JSON says:
    the same type, this recipient, and the calling device as sender. Content stays opaque."""
    try:
        info = peek_envelope(raw)
    except CryptoUnsupportedVersion:
        raise UnsupportedVersion(
            "The envelope's version is not supported.",
            {"field": field, "supported": [limits.ENVELOPE_VERSION]},
        ) from None
    except CryptoTooLarge:
        raise PayloadTooLarge(
            f"An envelope is at most {limits.MAX_ENVELOPE_CIPHERTEXT_BYTES} bytes.",
            {"limit": limits.MAX_ENVELOPE_CIPHERTEXT_BYTES, "field": field},
        ) from None
    except CryptoError:
        raise InvalidField("The ciphertext is not a well-formed envelope.", {"field": field}) from None
    if info.type.wire_name != kind:
        raise InvalidField("The envelope's type differs from `type`.", {"field": field})
    if info.recipient_device.hex() != to_device:
        raise InvalidField("The envelope is addressed to another device than `to_device`.", {"field": field})
    if info.sender_device.hex() != sender_device:
        raise InvalidField("The envelope's sender is not the sending device.", {"field": field})


_MAX_CIPHERTEXT_B64 = 4 * ((limits.MAX_ENVELOPE_CIPHERTEXT_BYTES + 2) // 3)


def send_request(body: SendIn, sender_device: str) -> SendRequest:
    if len(body.envelopes) > limits.MAX_ENVELOPES_PER_SEND:
        raise PayloadTooLarge(
            f"A send carries at most {limits.MAX_ENVELOPES_PER_SEND} envelopes.",
            {"limit": limits.MAX_ENVELOPES_PER_SEND, "field": "envelopes"},
        )
    envelopes = []
    seen: set[str] = set()
    for i, env in enumerate(body.envelopes):
        field = f"envelopes[{i}]"
        if env.v != limits.ENVELOPE_VERSION:
            raise UnsupportedVersion(
                f"Envelope version {env.v} is not supported; use {limits.ENVELOPE_VERSION}.",
                {"field": f"{field}.v", "supported": [limits.ENVELOPE_VERSION]},
            )
        if env.type not in limits.ENVELOPE_TYPES:
            raise InvalidField(
                f"Envelope type must be one of {', '.join(limits.ENVELOPE_TYPES)}.",
                {"field": f"{field}.type"},
            )
        if len(env.ciphertext) > _MAX_CIPHERTEXT_B64:
            raise PayloadTooLarge(
                f"An envelope's ciphertext is at most {limits.MAX_ENVELOPE_CIPHERTEXT_BYTES} bytes.",
                {"limit": limits.MAX_ENVELOPE_CIPHERTEXT_BYTES, "field": f"{field}.ciphertext"},
            )
        raw = b64(env.ciphertext, f"{field}.ciphertext")
        _check_addressing(raw, env.type, env.to_device, sender_device, f"{field}.ciphertext")
        if env.to_device in seen:
            raise InvalidField("Each device gets exactly one envelope.", {"field": f"{field}.to_device"})
        seen.add(env.to_device)
        envelopes.append(Envelope(env.to_device, env.type, raw, env.ciphertext))
    return SendRequest(message_id=body.id, to_account=body.to_account, envelopes=tuple(envelopes))
