// Interop oracle for the Keys API (dfns-api.md §2): keys created and signatures made by a running signerd are
// checked with @noble/curves and ethers. Run by CTest through tests/e2e/with_daemon (see interop.cmake).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeClients, daemonEnv, request } from './lib/client.mjs';
import {
  assertEd25519Signature,
  assertKey,
  assertP256Signature,
  assertSecp256k1Signature,
  assertSignedRequest,
  ecdsaRecovers,
  ecdsaVerifies,
  ed25519Verifies,
  ethersRecovers,
  flipBit,
} from './lib/verify.mjs';

const randomHex = (n) => '0x' + randomBytes(n).toString('hex');

async function call(method, path, body, via) {
  const res = await request(method, path, body, { via });
  assert.equal(res.status, 200, `${method} ${path} via ${via}: HTTP ${res.status} ${res.text}`);
  assert.ok(res.body !== undefined, `${method} ${path} via ${via}: body is not JSON: ${res.text}`);
  return res.body;
}

async function createKey(spec, via = 'unix') {
  const key = await call('POST', '/keys', spec, via);
  assertKey(key, spec);
  return key;
}

async function sign(key, body, via = 'unix') {
  const sr = await call('POST', `/keys/${key.id}/signatures`, body, via);
  assertSignedRequest(sr, key.id);
  return sr;
}

async function assertGetReturnsSame(key, sr, via) {
  const got = await call('GET', `/keys/${key.id}/signatures/${sr.id}`, undefined, via);
  assert.equal(got.id, sr.id, 'GET returns the same signature id');
  assert.equal(got.keyId, key.id);
  assert.equal(got.status, 'Signed');
  assert.deepEqual(got.signature, sr.signature, 'GET returns the signature the POST returned');
}

before(() => daemonEnv()); // fail at once, with a clear message, outside with_daemon
after(() => closeClients());

describe('secp256k1 ECDSA', () => {
  const spec = { scheme: 'ECDSA', curve: 'secp256k1' };
  let key;
  before(async () => {
    key = await createKey(spec);
  });

  test('POST /keys returns an Active custodial key with a compressed publicKey', () => {
    assertKey(key, spec);
  });

  test('20 Hash signatures verify (noble), recover (noble, ethers ecrecover + address), low-s, DER encoded', async () => {
    for (let i = 0; i < 20; i++) {
      const hash = randomHex(32);
      const sr = await sign(key, { kind: 'Hash', hash });
      assertSecp256k1Signature(sr.signature, hash, key.publicKey);
    }
  });

  test('a flipped hash bit makes verification and ecrecover fail (the oracle is not vacuous)', async () => {
    const hash = randomHex(32);
    const { signature } = await sign(key, { kind: 'Hash', hash });
    assertSecp256k1Signature(signature, hash, key.publicKey);
    for (const bit of [0, 131, 255]) {
      const tampered = flipBit(hash, bit);
      assert.equal(ecdsaVerifies('secp256k1', signature, tampered, key.publicKey), false, `bit ${bit}: noble verify`);
      assert.equal(ecdsaRecovers('secp256k1', signature, tampered, key.publicKey), false, `bit ${bit}: noble recovery`);
      assert.equal(ethersRecovers(signature, tampered, key.publicKey), false, `bit ${bit}: ethers ecrecover`);
    }
  });

  test('GET /keys/{id}/signatures/{sigId} returns the signature the POST returned', async () => {
    const hash = randomHex(32);
    const sr = await sign(key, { kind: 'Hash', hash });
    await assertGetReturnsSame(key, sr, 'unix');
  });

  test('over TCP with a bearer token: create, sign, verify, GET', async () => {
    const tcpKey = await createKey(spec, 'tcp');
    for (let i = 0; i < 3; i++) {
      const hash = randomHex(32);
      const sr = await sign(tcpKey, { kind: 'Hash', hash }, 'tcp');
      assertSecp256k1Signature(sr.signature, hash, tcpKey.publicKey);
      if (i === 0) await assertGetReturnsSame(tcpKey, sr, 'tcp');
    }
  });
});

describe('P-256 (secp256r1) ECDSA', () => {
  const spec = { scheme: 'ECDSA', curve: 'secp256r1' };
  let key;
  before(async () => {
    key = await createKey(spec);
  });

  test('POST /keys returns an Active custodial key with a compressed publicKey', () => {
    assertKey(key, spec);
  });

  test('10 Hash signatures verify with noble p256 (prehash false) and recid recovers the key', async () => {
    for (let i = 0; i < 10; i++) {
      const hash = randomHex(32);
      const sr = await sign(key, { kind: 'Hash', hash });
      assertP256Signature(sr.signature, hash, key.publicKey);
    }
  });

  test('a flipped hash bit makes verification and recovery fail', async () => {
    const hash = randomHex(32);
    const { signature } = await sign(key, { kind: 'Hash', hash });
    assertP256Signature(signature, hash, key.publicKey);
    const tampered = flipBit(hash, 7);
    assert.equal(ecdsaVerifies('secp256r1', signature, tampered, key.publicKey), false);
    assert.equal(ecdsaRecovers('secp256r1', signature, tampered, key.publicKey), false);
  });

  test('GET /keys/{id}/signatures/{sigId} returns the signature the POST returned', async () => {
    const sr = await sign(key, { kind: 'Hash', hash: randomHex(32) });
    await assertGetReturnsSame(key, sr, 'unix');
  });
});

describe('ed25519 EdDSA', () => {
  const spec = { scheme: 'EdDSA', curve: 'ed25519' };
  let key;
  before(async () => {
    key = await createKey(spec);
  });

  test('POST /keys returns an Active custodial key with a 32-byte publicKey', () => {
    assertKey(key, spec);
  });

  test('Hash: the 32 bytes are signed as the message; R‖S verifies with noble', async () => {
    for (let i = 0; i < 3; i++) {
      const hash = randomHex(32);
      const sr = await sign(key, { kind: 'Hash', hash });
      assertEd25519Signature(sr.signature, hash, key.publicKey);
    }
  });

  for (const size of [1, 100, 1000]) {
    test(`Message of ${size} byte(s): R‖S verifies with noble`, async () => {
      const message = randomHex(size);
      const sr = await sign(key, { kind: 'Message', message });
      assertEd25519Signature(sr.signature, message, key.publicKey);
    });
  }

  test('a flipped message bit makes verification fail', async () => {
    const message = randomHex(100);
    const { signature } = await sign(key, { kind: 'Message', message });
    assertEd25519Signature(signature, message, key.publicKey);
    for (const bit of [0, 400, 799]) {
      assert.equal(ed25519Verifies(signature, flipBit(message, bit), key.publicKey), false, `bit ${bit}`);
    }
    const hash = randomHex(32);
    const signed = await sign(key, { kind: 'Hash', hash });
    assert.equal(ed25519Verifies(signed.signature, flipBit(hash, 255), key.publicKey), false, 'Hash, last bit');
  });

  test('GET /keys/{id}/signatures/{sigId} returns the signature the POST returned', async () => {
    const sr = await sign(key, { kind: 'Message', message: randomHex(40) });
    await assertGetReturnsSame(key, sr, 'unix');
  });
});
