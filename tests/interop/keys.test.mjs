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

  test('over TCP with a service account token and user actions: create, sign, verify, GET', async () => {
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

// EIP-712 and EVM transactions: ethers recovers the signer from the typed data and parses the signed transaction
// back to the same fields, sender and hash.
describe('EIP-712 and EVM transactions (secp256k1)', () => {
  let key;
  let address;
  before(async () => {
    key = await createKey({ scheme: 'ECDSA', curve: 'secp256k1' });
    address = ethers.computeAddress('0x' + key.publicKey);
  });

  test('Eip712: ethers.verifyTypedData recovers the key from the Mail example and from nested arrays', async () => {
    const cases = [
      {
        domain: { name: 'Ether Mail', version: '1', chainId: 1, verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' },
        types: {
          Person: [{ name: 'name', type: 'string' }, { name: 'wallet', type: 'address' }],
          Mail: [{ name: 'from', type: 'Person' }, { name: 'to', type: 'Person' }, { name: 'contents', type: 'string' }],
        },
        message: {
          from: { name: 'Cow', wallet: '0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826' },
          to: { name: 'Bob', wallet: '0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB' },
          contents: 'Hello, Bob!',
        },
      },
      {
        domain: { name: 'Orders', chainId: 137, salt: '0x' + '11'.repeat(32) },
        types: {
          Item: [{ name: 'sku', type: 'bytes32' }, { name: 'qty', type: 'int64' }, { name: 'tags', type: 'string[]' }],
          Order: [{ name: 'items', type: 'Item[]' }, { name: 'memo', type: 'bytes' }, { name: 'ok', type: 'bool' }],
        },
        message: {
          items: [
            { sku: '0x' + 'ab'.repeat(32), qty: -5, tags: ['a', 'b'] },
            { sku: '0x' + 'cd'.repeat(32), qty: 7, tags: [] },
          ],
          memo: '0x0102',
          ok: true,
        },
      },
    ];
    for (const c of cases) {
      const sr = await sign(key, { kind: 'Eip712', ...c });
      assert.match(sr.signature.encoded, /^0x[0-9a-f]{130}$/);
      assert.equal(ethers.verifyTypedData(c.domain, c.types, c.message, sr.signature.encoded), address);
      const altered = structuredClone(c.message);
      if (altered.contents) altered.contents += '!';
      else altered.ok = false;
      assert.notEqual(ethers.verifyTypedData(c.domain, c.types, altered, sr.signature.encoded), address);
    }
  });

  test('Transaction: ethers parses signedData back to the same fields, sender and hash', async () => {
    const to = ethers.getAddress('0x' + randomBytes(20).toString('hex'));
    const txs = [
      { type: 2, chainId: 1, nonce: 7, maxPriorityFeePerGas: 1000000000n, maxFeePerGas: 30000000000n,
        gasLimit: 21000n, to, value: 12345678901234567890n, data: '0x' },
      { type: 1, chainId: 137, nonce: 0, gasPrice: 50000000000n, gasLimit: 60000n, to, value: 0n,
        data: '0xa9059cbb' + '00'.repeat(64), accessList: [{ address: to, storageKeys: ['0x' + '00'.repeat(31) + '01'] }] },
    ];
    for (const fields of txs) {
      const unsigned = ethers.Transaction.from(fields);
      const json = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]));
      for (const transaction of [unsigned.unsignedSerialized, json]) {
        const sr = await sign(key, { kind: 'Transaction', transaction, network: fields.chainId === 1 ? 'Ethereum' : 'Polygon' });
        const parsed = ethers.Transaction.from(sr.signedData);
        assert.equal(parsed.from, address, 'the signed transaction recovers to the key');
        assert.equal(parsed.hash, sr.txHash, 'txHash is the signed transaction hash');
        assert.equal(parsed.unsignedSerialized, unsigned.unsignedSerialized, 'same fields as requested');
        assert.equal(sr.signature.encoded.slice(0, 130), parsed.signature.r + parsed.signature.s.slice(2));
      }
    }
    // Legacy with EIP-155 as hex.
    const legacy = ethers.Transaction.from({ type: 0, chainId: 56, nonce: 3, gasPrice: 5000000000n, gasLimit: 21000n, to, value: 1n });
    const sr = await sign(key, { kind: 'Transaction', transaction: legacy.unsignedSerialized });
    const parsed = ethers.Transaction.from(sr.signedData);
    assert.equal(parsed.from, address);
    assert.equal(parsed.chainId, 56n);
    assert.equal(parsed.hash, sr.txHash);
  });
});
