// Interop oracle for the Keys API (dfns-api.md §2): keys created and signatures made by a running signerd are
// checked with @noble/curves and ethers. Run by CTest through tests/e2e/with_daemon (see interop.cmake).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ethers } from 'ethers';
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

// EIP-191 personal messages: ethers hashes the message itself and recovers the signer from `encoded` (r||s||v), so
// a wrong prefix, hash, recovery id or encoding all show up as a different address.
describe('EIP-191 messages (secp256k1)', () => {
  let key;
  let address;
  before(async () => {
    key = await createKey({ scheme: 'ECDSA', curve: 'secp256k1' });
    address = ethers.computeAddress('0x' + key.publicKey);
  });

  for (const [name, body] of [
    ['kind Eip191', (m) => ({ kind: 'Eip191', message: m })],
    ['kind Message with an EVM network', (m) => ({ kind: 'Message', message: m, network: 'Ethereum' })],
    ['kind Message with blockchainKind Evm', (m) => ({ kind: 'Message', message: m, blockchainKind: 'Evm' })],
  ]) {
    test(`${name}: ethers.verifyMessage recovers the key's address`, async () => {
      for (const size of [0, 1, 32, 1000]) {
        const message = size === 0 ? '0x' : randomHex(size);
        const sr = await sign(key, body(message));
        const { encoded, r, s, recid } = sr.signature;
        assert.match(encoded, /^0x[0-9a-f]{130}$/, 'encoded is 0x r||s||v, 65 bytes');
        assert.equal(encoded, r + s.slice(2) + (27 + recid).toString(16), 'encoded = r||s||(27+recid)');
        assert.equal(ethers.verifyMessage(ethers.getBytes(message), encoded), address);
        // Not vacuous: a different message recovers another address.
        assert.notEqual(ethers.verifyMessage(ethers.getBytes(randomHex(8)), encoded), address);
      }
    });
  }

  test('a Hash signed for an EVM network is encoded r||s||v and recovers with ecrecover', async () => {
    const hash = randomHex(32);
    const sr = await sign(key, { kind: 'Hash', hash, network: 'Ethereum' });
    assert.match(sr.signature.encoded, /^0x[0-9a-f]{130}$/);
    assert.equal(ethers.recoverAddress(hash, sr.signature.encoded), address);
  });

  test('EIP-191 is refused for ed25519 and P-256 keys', async () => {
    for (const spec of [{ scheme: 'EdDSA', curve: 'ed25519' }, { scheme: 'ECDSA', curve: 'secp256r1' }]) {
      const other = await createKey(spec);
      const res = await request('POST', `/keys/${other.id}/signatures`, { kind: 'Eip191', message: '0x01' }, { via: 'unix' });
      assert.equal(res.status, 400, res.text);
      assert.match(res.body.error.message, /secp256k1/);
    }
  });
});
