// The oracle: checks signerd's Key and SignatureRequest objects (dfns-api.md §2) with code we did not write —
// @noble/curves for verification and recovery, ethers for ecrecover/addresses.
// Predicates (…Verifies, …Recovers, …Matches) return booleans so tests can assert that tampering makes them false;
// assert… functions throw an AssertionError naming the first property that does not hold.
import assert from 'node:assert/strict';
import { secp256k1 } from '@noble/curves/secp256k1';
import { p256 } from '@noble/curves/nist';
import { ed25519 } from '@noble/curves/ed25519';
import { SigningKey, computeAddress, recoverAddress } from 'ethers';

export const KEY_ID_RE = /^key-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{14,16}$/;
const SCALAR_HEX_RE = /^0x[0-9a-f]{64}$/; // r, s: "0x" + 64 lowercase hex, left-zero-padded (§2.3)
const COMPRESSED_EC_RE = /^0[23][0-9a-f]{64}$/; // 33-byte compressed point, no 0x (§2)
const ED25519_PUB_RE = /^[0-9a-f]{64}$/;
const ISO_8601_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

// ECDSA curves by their Dfns name. Low-s is required on secp256k1 (Ethereum/Bitcoin reject high s);
// for P-256 it is not part of the contract, so verification there accepts either half.
const ECDSA = {
  secp256k1: { curve: secp256k1, requireLowS: true },
  secp256r1: { curve: p256, requireLowS: false },
};

// ---- hex helpers -------------------------------------------------------------------------------

export function strip0x(hex) {
  return hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex;
}

export function hexToBytes(hex) {
  const h = strip0x(hex);
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) throw new Error(`not hex: ${hex}`);
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

export function bytesToHex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

export function scalarToHex(n) {
  return '0x' + n.toString(16).padStart(64, '0');
}

/** The same hex string (same 0x style) with bit `bit` (0 = most significant bit of byte 0) flipped. */
export function flipBit(hex, bit = 0) {
  const prefix = hex.startsWith('0x') ? '0x' : '';
  const bytes = hexToBytes(hex);
  bytes[bit >> 3] ^= 0x80 >> (bit & 7);
  return prefix + bytesToHex(bytes);
}

// ---- response shapes ---------------------------------------------------------------------------

export function assertIsoDate(value, what) {
  assert.equal(typeof value, 'string', `${what} must be an ISO-8601 string, got ${JSON.stringify(value)}`);
  assert.match(value, ISO_8601_RE, `${what} must be ISO-8601`);
  assert.ok(Number.isFinite(Date.parse(value)), `${what} must be a valid date: ${value}`);
}

/** A Key object (§2) as POST /keys returns it. */
export function assertKey(key, { scheme, curve }) {
  assert.ok(key && typeof key === 'object', `Key must be an object, got ${JSON.stringify(key)}`);
  assert.match(String(key.id), KEY_ID_RE, 'Key.id');
  assert.equal(key.scheme, scheme, 'Key.scheme echoes the request');
  assert.equal(key.curve, curve, 'Key.curve echoes the request');
  assert.equal(key.status, 'Active', 'Key.status');
  assert.equal(key.custodial, true, 'Key.custodial');
  assertIsoDate(key.dateCreated, 'Key.dateCreated');
  assertPublicKey(key.publicKey, curve);
}

/** publicKey: hex without 0x; compressed 33 bytes for ECDSA curves, 32 bytes for ed25519; a point on the curve. */
export function assertPublicKey(publicKey, curve) {
  assert.equal(typeof publicKey, 'string', 'publicKey must be a string');
  if (curve === 'ed25519') {
    assert.match(publicKey, ED25519_PUB_RE, 'ed25519 publicKey is 64 lowercase hex chars, no 0x');
    assert.doesNotThrow(() => ed25519.Point.fromHex(publicKey, false), 'ed25519 publicKey must decode to a point');
  } else {
    assert.ok(ECDSA[curve], `unknown ECDSA curve ${curve}`);
    assert.match(publicKey, COMPRESSED_EC_RE, `${curve} publicKey is 66 lowercase hex chars (compressed, 02/03), no 0x`);
    assert.doesNotThrow(() => ECDSA[curve].curve.Point.fromHex(publicKey), `${curve} publicKey must be on the curve`);
  }
}

/** A SignatureRequest (§2.1) from a synchronous signer: status Signed, dateSigned, signature present. */
export function assertSignedRequest(sr, keyId) {
  assert.ok(sr && typeof sr === 'object', `SignatureRequest must be an object, got ${JSON.stringify(sr)}`);
  assert.equal(typeof sr.id, 'string', 'SignatureRequest.id');
  assert.match(sr.id, /^sig-/, 'SignatureRequest.id starts with sig-');
  assert.equal(sr.keyId, keyId, 'SignatureRequest.keyId');
  assert.equal(sr.status, 'Signed', 'SignatureRequest.status');
  assertIsoDate(sr.dateSigned, 'SignatureRequest.dateSigned');
  assert.ok(sr.signature && typeof sr.signature === 'object', 'SignatureRequest.signature must be an object');
}

/** r, s, recid of an ECDSA signature: formats, ranges, low-s where required. */
export function assertEcdsaSignatureShape(sig, curveName) {
  const { curve, requireLowS } = ECDSA[curveName];
  const n = curve.CURVE.n;
  assert.match(String(sig.r), SCALAR_HEX_RE, 'signature.r is 0x + 64 lowercase hex');
  assert.match(String(sig.s), SCALAR_HEX_RE, 'signature.s is 0x + 64 lowercase hex');
  const r = BigInt(sig.r);
  const s = BigInt(sig.s);
  assert.ok(r > 0n && r < n, 'signature.r in [1, n-1]');
  assert.ok(s > 0n && s < n, 'signature.s in [1, n-1]');
  if (requireLowS) assert.ok(s <= n >> 1n, `signature.s must be low (<= n/2): ${sig.s}`);
  assert.ok(sig.recid === 0 || sig.recid === 1, `signature.recid must be 0 or 1, got ${JSON.stringify(sig.recid)}`);
}

// ---- ECDSA predicates --------------------------------------------------------------------------

function compactBytes(sig) {
  return hexToBytes(strip0x(sig.r) + strip0x(sig.s));
}

/** noble verify of (r, s) over the 32-byte hash as is (no re-hash); lowS enforced on secp256k1. */
export function ecdsaVerifies(curveName, sig, hashHex, publicKeyHex) {
  const { curve, requireLowS } = ECDSA[curveName];
  try {
    return curve.verify(compactBytes(sig), hexToBytes(hashHex), hexToBytes(publicKeyHex), {
      prehash: false,
      lowS: requireLowS,
      format: 'compact',
    });
  } catch {
    return false;
  }
}

/** noble public-key recovery with signature.recid gives back the key. */
export function ecdsaRecovers(curveName, sig, hashHex, publicKeyHex) {
  const { curve } = ECDSA[curveName];
  try {
    const point = new curve.Signature(BigInt(sig.r), BigInt(sig.s))
      .addRecoveryBit(sig.recid)
      .recoverPublicKey(hexToBytes(hashHex));
    return point.toHex(true) === strip0x(publicKeyHex).toLowerCase();
  } catch {
    return false;
  }
}

/** ethers (what lib-ethersjs6 does: v = 27 + recid): ecrecover maps back to the key and to its address. */
export function ethersRecovers(sig, hashHex, publicKeyHex) {
  try {
    const digest = '0x' + strip0x(hashHex);
    const ethSig = { r: sig.r, s: sig.s, v: 27 + sig.recid };
    const recovered = SigningKey.recoverPublicKey(digest, ethSig);
    const key = '0x' + strip0x(publicKeyHex).toLowerCase();
    if (SigningKey.computePublicKey(recovered, true) !== key) return false;
    return recoverAddress(digest, ethSig).toLowerCase() === computeAddress(key).toLowerCase();
  } catch {
    return false;
  }
}

/** signature.encoded is 0x + the canonical DER of exactly (r, s). */
export function derEncodedMatches(curveName, sig) {
  const { curve } = ECDSA[curveName];
  if (typeof sig.encoded !== 'string' || !/^0x[0-9a-f]+$/.test(sig.encoded)) return false;
  try {
    const der = curve.Signature.fromDER(strip0x(sig.encoded));
    if (der.r !== BigInt(sig.r) || der.s !== BigInt(sig.s)) return false;
    return der.toHex('der') === strip0x(sig.encoded); // no trailing bytes, no non-minimal integers
  } catch {
    return false;
  }
}

/** Everything §2.3 says about a secp256k1 signature over a Hash request. */
export function assertSecp256k1Signature(sig, hashHex, publicKeyHex) {
  assertEcdsaSignatureShape(sig, 'secp256k1');
  assert.ok(ecdsaVerifies('secp256k1', sig, hashHex, publicKeyHex), 'noble secp256k1.verify (prehash false, lowS) accepts');
  assert.ok(ecdsaRecovers('secp256k1', sig, hashHex, publicKeyHex), 'noble recovery with recid gives the key');
  assert.ok(ethersRecovers(sig, hashHex, publicKeyHex), 'ethers ecrecover (v = 27 + recid) gives the key and its address');
  assert.ok(derEncodedMatches('secp256k1', sig), `signature.encoded is 0x + DER(r, s), got ${sig.encoded}`);
}

/** A P-256 signature: verifies, recid recovers the key; encoded, if present, is DER(r, s). */
export function assertP256Signature(sig, hashHex, publicKeyHex) {
  assertEcdsaSignatureShape(sig, 'secp256r1');
  assert.ok(ecdsaVerifies('secp256r1', sig, hashHex, publicKeyHex), 'noble p256.verify (prehash false) accepts');
  assert.ok(ecdsaRecovers('secp256r1', sig, hashHex, publicKeyHex), 'noble recovery with recid gives the key');
  if (sig.encoded !== undefined) {
    assert.ok(derEncodedMatches('secp256r1', sig), `signature.encoded is 0x + DER(r, s), got ${sig.encoded}`);
  }
}

// ---- Ed25519 -----------------------------------------------------------------------------------

/** noble ed25519.verify(R‖S, message, publicKey), RFC 8032 strict (zip215 off). */
export function ed25519Verifies(sig, messageHex, publicKeyHex) {
  try {
    return ed25519.verify(compactBytes(sig), hexToBytes(messageHex), hexToBytes(publicKeyHex), { zip215: false });
  } catch {
    return false;
  }
}

export function assertEd25519Signature(sig, messageHex, publicKeyHex) {
  assert.match(String(sig.r), SCALAR_HEX_RE, 'signature.r (= R) is 0x + 64 lowercase hex');
  assert.match(String(sig.s), SCALAR_HEX_RE, 'signature.s (= S) is 0x + 64 lowercase hex');
  assert.equal(sig.recid, undefined, 'ed25519 signature has no recid');
  assert.ok(ed25519Verifies(sig, messageHex, publicKeyHex), 'noble ed25519.verify(r‖s, message, publicKey) accepts');
  assert.equal(sig.encoded, sig.r + strip0x(sig.s), 'signature.encoded is 0x + R‖S');
}
