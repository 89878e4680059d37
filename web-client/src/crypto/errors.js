// The crypto error tree, mirroring crypto/errors.py. Messages never carry key material or plaintext.
export class CryptoError extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}
export class InvalidKey extends CryptoError {}
export class BadSignature extends CryptoError {}
export class DecryptionFailed extends CryptoError {}
export class DuplicateMessage extends CryptoError {}
export class TooManySkippedMessages extends CryptoError {}
export class MalformedEnvelope extends CryptoError {}
export class MalformedState extends CryptoError {}
export class UnsupportedVersion extends CryptoError {}
export class WrongRecipient extends CryptoError {}
export class WrongSender extends CryptoError {}
export class UnknownPreKey extends CryptoError {}
export class SessionMismatch extends CryptoError {}
export class TooLarge extends CryptoError {}
export class WrongContext extends CryptoError {}
export class ReplayedSignal extends CryptoError {}
export class StreamTruncated extends CryptoError {}
export class BadCertificate extends CryptoError {}
export class ReplayedMessage extends CryptoError {}

// The production build minifies class names; callers and the vectors compare `err.name`, so pin each name.
const ALL = { CryptoError, InvalidKey, BadSignature, DecryptionFailed, DuplicateMessage, TooManySkippedMessages, MalformedEnvelope, MalformedState, UnsupportedVersion, WrongRecipient, WrongSender, UnknownPreKey, SessionMismatch, TooLarge, WrongContext, ReplayedSignal, StreamTruncated, BadCertificate, ReplayedMessage };
for (const [name, cls] of Object.entries(ALL)) Object.defineProperty(cls, "name", { value: name });
