// Tests the oracle itself, without a daemon: lib/verify.mjs must accept correctly shaped, valid signatures made by
// two independent signers (noble, and OpenSSL through node:crypto, shaped the way signerd shapes PKCS#11 output:
// raw r‖s -> low-s -> recid by trial recovery -> DER) and reject every tampered variant.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1';
import { p256 } from '@noble/curves/nist';
import { ed25519 } from '@noble/curves/ed25519';
import {
  assertEcdsaSignatureShape,
  assertEd25519Signature,
  assertKey,
  assertP256Signature,
  assertSecp256k1Signature,
  assertSignedRequest,
  bytesToHex,
  derEncodedMatches,
  ecdsaRecovers,
  ecdsaVerifies,
  ed25519Verifies,
  ethersRecovers,
  flipBit,
  hexToBytes,
  scalarToHex,
  strip0x,
} from './lib/verify.mjs';

const CURVES = { secp256k1, secp256r1: p256 };
const randomHex = (n) => '0x' + crypto.randomBytes(n).toString('hex');

// ---- signers -----------------------------------------------------------------------------------

// A DER encoder written here, not noble's, so encoded values are not produced by the code that parses them.
function derInteger(n) {
  let bytes = Buffer.from(n.toString(16).padStart(64, '0'), 'hex');
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  bytes = bytes.subarray(i);
  if (bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}
function derSignature(r, s) {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return '0x' + Buffer.concat([Buffer.from([0x30, body.length]), body]).toString('hex');
}

// What the daemon does with raw PKCS#11 output: optionally normalise to low s, find recid by trial recovery.
function shapeEcdsa(curveName, r, s, hashHex, publicKeyHex, { lowS }) {
  const curve = CURVES[curveName];
  const n = curve.CURVE.n;
  if (lowS && s > n >> 1n) s = n - s;
  for (const recid of [0, 1]) {
    const sig = { r: scalarToHex(r), s: scalarToHex(s), recid, encoded: derSignature(r, s) };
    if (ecdsaRecovers(curveName, sig, hashHex, publicKeyHex)) return sig;
  }
  throw new Error('no recid recovers the key');
}

function nobleEcdsa(curveName) {
  const curve = CURVES[curveName];
  const secret = curve.utils.randomSecretKey();
  const publicKey = bytesToHex(curve.getPublicKey(secret, true));
  return {
    publicKey,
    sign(hashHex) {
      const sig = curve.sign(hexToBytes(hashHex), secret, { prehash: false, lowS: curveName === 'secp256k1' });
      return { r: scalarToHex(sig.r), s: scalarToHex(sig.s), recid: sig.recovery, encoded: '0x' + sig.toHex('der') };
    },
  };
}

function jwkCompressed(jwk) {
  const x = Buffer.from(jwk.x, 'base64url');
  const y = Buffer.from(jwk.y, 'base64url');
  return (y[y.length - 1] & 1 ? '03' : '02') + x.toString('hex');
}

// OpenSSL signs sha256(data) with raw r‖s (ieee-p1363) output, as a PKCS#11 token does with CKM_ECDSA.
function opensslEcdsa(curveName) {
  const namedCurve = curveName === 'secp256k1' ? 'secp256k1' : 'prime256v1';
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve });
  const pub = jwkCompressed(publicKey.export({ format: 'jwk' }));
  return {
    publicKey: pub,
    signRaw(data) {
      const raw = crypto.sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      const hash = '0x' + crypto.createHash('sha256').update(data).digest('hex');
      return { hash, r: BigInt('0x' + raw.subarray(0, 32).toString('hex')), s: BigInt('0x' + raw.subarray(32).toString('hex')) };
    },
  };
}

function nobleEd25519() {
  const secret = ed25519.utils.randomSecretKey();
  const publicKey = bytesToHex(ed25519.getPublicKey(secret));
  return { publicKey, sign: (msgHex) => edShape(ed25519.sign(hexToBytes(msgHex), secret)) };
}

function opensslEd25519() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url').toString('hex');
  return { publicKey: pub, sign: (msgHex) => edShape(crypto.sign(null, hexToBytes(msgHex), privateKey)) };
}

function edShape(sig64) {
  const hex = Buffer.from(sig64).toString('hex');
  return { r: '0x' + hex.slice(0, 64), s: '0x' + hex.slice(64), encoded: '0x' + hex };
}

const rejects = (fn, re) => assert.throws(fn, re ?? assert.AssertionError);

// ---- secp256k1 ---------------------------------------------------------------------------------

describe('secp256k1 oracle', () => {
  test('accepts 20 noble-made signatures', () => {
    const signer = nobleEcdsa('secp256k1');
    for (let i = 0; i < 20; i++) {
      const hash = randomHex(32);
      assertSecp256k1Signature(signer.sign(hash), hash, signer.publicKey);
    }
  });

  test('accepts OpenSSL signatures shaped like the daemon (low-s, recid), and rejects them unnormalised', () => {
    const signer = opensslEcdsa('secp256k1');
    let highS = 0;
    for (let i = 0; i < 40; i++) {
      const { hash, r, s } = signer.signRaw(crypto.randomBytes(50));
      const sig = shapeEcdsa('secp256k1', r, s, hash, signer.publicKey, { lowS: true });
      assertSecp256k1Signature(sig, hash, signer.publicKey);
      if (s > secp256k1.CURVE.n >> 1n) {
        highS++;
        const raw = shapeEcdsa('secp256k1', r, s, hash, signer.publicKey, { lowS: false });
        rejects(() => assertEcdsaSignatureShape(raw, 'secp256k1'), /must be low/);
        assert.equal(ecdsaVerifies('secp256k1', raw, hash, signer.publicKey), false, 'noble lowS rejects high s');
        rejects(() => assertSecp256k1Signature(raw, hash, signer.publicKey), /low/);
      }
    }
    assert.ok(highS > 0, 'some OpenSSL signatures had high s (probability of none: 2^-40)');
  });

  const signer = nobleEcdsa('secp256k1');
  const hash = randomHex(32);
  const good = signer.sign(hash);

  test('a flipped hash bit fails noble verify, noble recovery, ethers ecrecover', () => {
    for (const bit of [0, 1, 100, 255]) {
      const bad = flipBit(hash, bit);
      assert.equal(ecdsaVerifies('secp256k1', good, bad, signer.publicKey), false);
      assert.equal(ecdsaRecovers('secp256k1', good, bad, signer.publicKey), false);
      assert.equal(ethersRecovers(good, bad, signer.publicKey), false);
      rejects(() => assertSecp256k1Signature(good, bad, signer.publicKey));
    }
  });

  test('flipped bits of r or s are rejected', () => {
    for (const field of ['r', 's']) {
      for (const bit of [8, 200, 255]) {
        const bad = { ...good, [field]: flipBit(good[field], bit) };
        assert.equal(ecdsaVerifies('secp256k1', bad, hash, signer.publicKey), false, `${field} bit ${bit}`);
        assert.equal(ethersRecovers(bad, hash, signer.publicKey), false, `${field} bit ${bit}`);
        rejects(() => assertSecp256k1Signature(bad, hash, signer.publicKey));
      }
    }
  });

  test('a wrong recid verifies but does not recover: ecrecover catches it', () => {
    const bad = { ...good, recid: good.recid ^ 1 };
    assert.equal(ecdsaVerifies('secp256k1', bad, hash, signer.publicKey), true);
    assert.equal(ecdsaRecovers('secp256k1', bad, hash, signer.publicKey), false);
    assert.equal(ethersRecovers(bad, hash, signer.publicKey), false);
    rejects(() => assertSecp256k1Signature(bad, hash, signer.publicKey));
    for (const recid of [27, 2, '0', undefined, null]) {
      rejects(() => assertSecp256k1Signature({ ...good, recid }, hash, signer.publicKey), /recid/);
    }
  });

  test('the high-s twin (n - s, recid flipped) is rejected', () => {
    const n = secp256k1.CURVE.n;
    const s = n - BigInt(good.s);
    const twin = { r: good.r, s: scalarToHex(s), recid: good.recid ^ 1, encoded: derSignature(BigInt(good.r), s) };
    assert.equal(ecdsaVerifies('secp256k1', twin, hash, signer.publicKey), false);
    rejects(() => assertEcdsaSignatureShape(twin, 'secp256k1'), /must be low/);
    rejects(() => assertSecp256k1Signature(twin, hash, signer.publicKey), /low/);
    assert.equal(ethersRecovers(twin, hash, signer.publicKey), false, 'ethers refuses a non-canonical s');
  });

  test('another key is rejected', () => {
    const other = nobleEcdsa('secp256k1').publicKey;
    assert.equal(ecdsaVerifies('secp256k1', good, hash, other), false);
    assert.equal(ecdsaRecovers('secp256k1', good, hash, other), false);
    assert.equal(ethersRecovers(good, hash, other), false);
  });

  test('encoded must be the canonical DER of exactly (r, s)', () => {
    const r = BigInt(good.r);
    const s = BigInt(good.s);
    assert.equal(good.encoded, derSignature(r, s), 'noble and the local DER encoder agree');
    const other = signer.sign(randomHex(32));
    const badEncodings = [
      undefined,
      other.encoded, // DER of another signature
      good.encoded + '00', // trailing byte
      strip0x(good.encoded), // no 0x
      '0x' + good.r.slice(2) + good.s.slice(2), // raw r‖s, not DER
      '0x' + good.r.slice(2) + good.s.slice(2) + (27 + good.recid).toString(16), // EVM r‖s‖v
      good.encoded.toUpperCase().replace('0X', '0x'),
    ];
    // Non-minimal INTEGER: an extra 0x00 before a positive r.
    const rBody = derInteger(r);
    const padded = Buffer.concat([Buffer.from([0x02, rBody[1] + 1, 0x00]), rBody.subarray(2), derInteger(s)]);
    badEncodings.push('0x' + Buffer.concat([Buffer.from([0x30, padded.length]), padded]).toString('hex'));
    for (const encoded of badEncodings) {
      assert.equal(derEncodedMatches('secp256k1', { ...good, encoded }), false, String(encoded));
      rejects(() => assertSecp256k1Signature({ ...good, encoded }, hash, signer.publicKey), /encoded/);
    }
  });

  test('r/s formats: 0x + 64 lowercase hex, zero-padded', () => {
    const variants = [
      { r: strip0x(good.r) },
      { s: strip0x(good.s) },
      { r: good.r.toUpperCase().replace('0X', '0x') },
      { r: '0x' + BigInt(good.r).toString(16).padStart(66, '0') }, // 33 bytes
      { r: BigInt(good.r) },
      { r: scalarToHex(0n) },
      { s: scalarToHex(secp256k1.CURVE.n) },
    ];
    for (const v of variants) rejects(() => assertSecp256k1Signature({ ...good, ...v }, hash, signer.publicKey));
  });

  test('short r/s are zero-padded and still verify', () => {
    // Find a signature whose r has a leading zero byte, to check padding is required and sufficient.
    let sig;
    let h;
    for (let i = 0; i < 5000 && !sig; i++) {
      h = randomHex(32);
      const candidate = signer.sign(h);
      if (candidate.r.startsWith('0x00')) sig = candidate;
    }
    assert.ok(sig, 'found an r below 2^248');
    assertSecp256k1Signature(sig, h, signer.publicKey);
    const unpadded = { ...sig, r: '0x' + BigInt(sig.r).toString(16) };
    rejects(() => assertSecp256k1Signature(unpadded, h, signer.publicKey), /signature\.r/);
  });
});

// ---- P-256 -------------------------------------------------------------------------------------

describe('P-256 oracle', () => {
  test('accepts noble-made and raw OpenSSL signatures (either half of s) with the right recid', () => {
    const noble = nobleEcdsa('secp256r1');
    for (let i = 0; i < 10; i++) {
      const hash = randomHex(32);
      assertP256Signature(noble.sign(hash), hash, noble.publicKey);
    }
    const openssl = opensslEcdsa('secp256r1');
    for (let i = 0; i < 10; i++) {
      const { hash, r, s } = openssl.signRaw(crypto.randomBytes(20));
      const sig = shapeEcdsa('secp256r1', r, s, hash, openssl.publicKey, { lowS: false });
      assertP256Signature(sig, hash, openssl.publicKey);
      const { encoded, ...withoutEncoded } = sig;
      assertP256Signature(withoutEncoded, hash, openssl.publicKey); // encoded is optional for P-256
      assert.ok(encoded);
    }
  });

  test('rejects a flipped hash bit, a wrong recid, a wrong key, a wrong DER', () => {
    const signer = nobleEcdsa('secp256r1');
    const hash = randomHex(32);
    const good = signer.sign(hash);
    const bad = flipBit(hash, 3);
    assert.equal(ecdsaVerifies('secp256r1', good, bad, signer.publicKey), false);
    assert.equal(ecdsaRecovers('secp256r1', good, bad, signer.publicKey), false);
    rejects(() => assertP256Signature(good, bad, signer.publicKey));
    rejects(() => assertP256Signature({ ...good, recid: good.recid ^ 1 }, hash, signer.publicKey), /recovery/);
    rejects(() => assertP256Signature(good, hash, nobleEcdsa('secp256r1').publicKey));
    rejects(() => assertP256Signature({ ...good, encoded: good.encoded + '00' }, hash, signer.publicKey), /encoded/);
    // secp256k1's verifier must not accept a P-256 signature (curve confusion).
    assert.equal(ecdsaVerifies('secp256k1', good, hash, signer.publicKey), false);
  });
});

// ---- Ed25519 -----------------------------------------------------------------------------------

describe('ed25519 oracle', () => {
  test('accepts noble-made and OpenSSL-made signatures of 1, 32, 100, 1000 bytes', () => {
    for (const signer of [nobleEd25519(), opensslEd25519()]) {
      for (const size of [1, 32, 100, 1000]) {
        const msg = randomHex(size);
        assertEd25519Signature(signer.sign(msg), msg, signer.publicKey);
      }
    }
  });

  const signer = opensslEd25519();
  const msg = randomHex(100);
  const good = signer.sign(msg);

  test('rejects a flipped message bit', () => {
    for (const bit of [0, 7, 400, 799]) {
      assert.equal(ed25519Verifies(good, flipBit(msg, bit), signer.publicKey), false);
      rejects(() => assertEd25519Signature(good, flipBit(msg, bit), signer.publicKey));
    }
  });

  test('rejects flipped R or S, swapped R/S, S + L (non-canonical), another key', () => {
    for (const field of ['r', 's']) {
      for (const bit of [0, 128, 250]) {
        assert.equal(ed25519Verifies({ ...good, [field]: flipBit(good[field], bit) }, msg, signer.publicKey), false);
      }
    }
    assert.equal(ed25519Verifies({ r: good.s, s: good.r }, msg, signer.publicKey), false);
    // S is little-endian; S + L is the same scalar mod L: RFC 8032 (and ZIP 215) require S < L.
    const S = BigInt('0x' + Buffer.from(hexToBytes(good.s)).reverse().toString('hex'));
    const SL = S + ed25519.CURVE.n;
    if (SL < 1n << 256n) {
      const le = Buffer.from(SL.toString(16).padStart(64, '0'), 'hex').reverse().toString('hex');
      assert.equal(ed25519Verifies({ r: good.r, s: '0x' + le }, msg, signer.publicKey), false);
    }
    assert.equal(ed25519Verifies(good, msg, opensslEd25519().publicKey), false);
  });

  test('requires encoded = 0x + R‖S and no recid', () => {
    rejects(() => assertEd25519Signature({ ...good, encoded: undefined }, msg, signer.publicKey), /encoded/);
    rejects(() => assertEd25519Signature({ ...good, encoded: '0x' + good.s.slice(2) + good.r.slice(2) }, msg, signer.publicKey), /encoded/);
    rejects(() => assertEd25519Signature({ ...good, recid: 0 }, msg, signer.publicKey), /recid/);
    rejects(() => assertEd25519Signature({ ...good, r: strip0x(good.r) }, msg, signer.publicKey), /signature\.r/);
  });
});

// ---- response shapes ---------------------------------------------------------------------------

describe('shape checks', () => {
  const key = (curve, publicKey) => ({
    id: 'key-01abc-9zz00-0123456789abcdef',
    scheme: curve === 'ed25519' ? 'EdDSA' : 'ECDSA',
    curve,
    publicKey,
    status: 'Active',
    custodial: true,
    dateCreated: '2024-05-01T12:34:56.789Z',
  });
  const k1 = key('secp256k1', nobleEcdsa('secp256k1').publicKey);
  const spec = { scheme: 'ECDSA', curve: 'secp256k1' };

  test('accepts well-formed keys of each curve', () => {
    assertKey(k1, spec);
    assertKey({ ...k1, id: 'key-01abc-9zz00-0123456789abcd' }, spec); // 14-char tail
    assertKey(key('secp256r1', nobleEcdsa('secp256r1').publicKey), { scheme: 'ECDSA', curve: 'secp256r1' });
    assertKey(key('ed25519', nobleEd25519().publicKey), { scheme: 'EdDSA', curve: 'ed25519' });
    assertKey({ ...k1, dateCreated: '2024-05-01T12:34:56Z' }, spec);
  });

  test('rejects malformed keys', () => {
    const uncompressed = bytesToHex(secp256k1.Point.fromHex(k1.publicKey).toRawBytes(false));
    let offCurve;
    for (let x = 1n; !offCurve; x++) {
      const candidate = '02' + x.toString(16).padStart(64, '0');
      try {
        secp256k1.Point.fromHex(candidate);
      } catch {
        offCurve = candidate;
      }
    }
    const bad = [
      { id: 'key-01abc-9zz00-0123456789abc' }, // 13-char tail
      { id: 'key-01ABC-9zz00-0123456789abcdef' },
      { id: 'pk-01abc-9zz00-0123456789abcdef' },
      { publicKey: '0x' + k1.publicKey },
      { publicKey: uncompressed },
      { publicKey: k1.publicKey.toUpperCase() },
      { publicKey: '04' + k1.publicKey.slice(2) },
      { publicKey: offCurve },
      { status: 'Archived' },
      { custodial: undefined },
      { custodial: 'true' },
      { dateCreated: 1714566896789 },
      { dateCreated: 'yesterday' },
      { scheme: 'EdDSA' },
      { curve: 'ed25519' },
    ];
    for (const b of bad) rejects(() => assertKey({ ...k1, ...b }, spec), undefined);
    rejects(() => assertKey(key('ed25519', k1.publicKey), { scheme: 'EdDSA', curve: 'ed25519' }));
  });

  test('SignatureRequest: Signed, dateSigned, sig- id, keyId, signature object', () => {
    const sr = {
      id: 'sig-2c8kj-vgo7g-9adbdajp9gbm8iq6',
      keyId: k1.id,
      status: 'Signed',
      dateSigned: '2024-05-01T12:34:57.000Z',
      signature: { r: '0x', s: '0x' },
    };
    assertSignedRequest(sr, k1.id);
    for (const b of [
      { status: 'Pending' },
      { status: 'Executed' },
      { dateSigned: undefined },
      { id: 'si-1' },
      { keyId: 'key-other-other-0123456789abcd' },
      { signature: undefined },
    ]) {
      rejects(() => assertSignedRequest({ ...sr, ...b }, k1.id));
    }
  });

  test('flipBit flips exactly one bit and keeps the 0x style', () => {
    assert.equal(flipBit('0x00ff', 0), '0x80ff');
    assert.equal(flipBit('00ff', 15), '00fe');
    assert.equal(flipBit(flipBit('0xabcdef', 13), 13), '0xabcdef');
  });
});
