// X3DH (Signal rev. 1) as in crypto/x3dh.py: X25519, SHA-256, info "confidant-x3dh-v1",
// Encode(IK) = 0x06 || Ed25519 key, SK = HKDF(F || DH1 || DH2 || DH3 [|| DH4], salt 0^32), AD = Encode(IK_A) || Encode(IK_B).
import * as p from "./primitives.js";
import { concat, utf8, equalBytes } from "../lib/bytes.js";
import { InvalidKey, UnknownPreKey } from "./errors.js";
import { X25519KeyPair, encodeIdentity, identityToX25519, verifyBundle } from "./keys.js";

export const X3DH_INFO = utf8("confidant-x3dh-v1");
const F = new Uint8Array(32).fill(0xff);

const kdf = (dhs) => p.hkdfSha256(concat(F, ...dhs), new Uint8Array(32), X3DH_INFO, 32);
const associatedData = (initiator, responder) => concat(encodeIdentity(initiator), encodeIdentity(responder));

/** Alice's side: returns {message, secret: {key, ad}}; `ephemeral` is for known-answer vectors only. */
export function initiate(ownIdentity, bundle, ephemeral = null) {
  verifyBundle(bundle);
  if (equalBytes(bundle.identityKey, ownIdentity.public))
    throw new InvalidKey("cannot start a session with one's own identity key");
  const ek = ephemeral || X25519KeyPair.generate();
  const spk = bundle.signedPrekey.public;
  const dhs = [ownIdentity.x.dh(spk), ek.dh(identityToX25519(bundle.identityKey)), ek.dh(spk)];
  if (bundle.oneTimePrekey) dhs.push(ek.dh(bundle.oneTimePrekey.public));
  return {
    message: {
      identityKey: ownIdentity.public,
      ephemeralKey: ek.public,
      signedPrekeyId: bundle.signedPrekey.id,
      oneTimePrekeyId: bundle.oneTimePrekey ? bundle.oneTimePrekey.id : null,
    },
    secret: { key: kdf(dhs), ad: associatedData(ownIdentity.public, bundle.identityKey) },
  };
}

/** Bob's side, from his signed prekey {id, keyPair}, one-time prekey {id, keyPair}|null and Alice's message. */
export function respond(ownIdentity, signedPrekey, oneTimePrekey, message) {
  if (signedPrekey.id !== message.signedPrekeyId) throw new UnknownPreKey("signed prekey id does not match the message");
  if (
    (oneTimePrekey === null) !== (message.oneTimePrekeyId === null) ||
    (oneTimePrekey && oneTimePrekey.id !== message.oneTimePrekeyId)
  )
    throw new UnknownPreKey("one-time prekey does not match the message");
  const dhs = [
    signedPrekey.keyPair.dh(identityToX25519(message.identityKey)),
    ownIdentity.x.dh(message.ephemeralKey),
    signedPrekey.keyPair.dh(message.ephemeralKey),
  ];
  if (oneTimePrekey) dhs.push(oneTimePrekey.keyPair.dh(message.ephemeralKey));
  return { key: kdf(dhs), ad: associatedData(message.identityKey, ownIdentity.public) };
}
