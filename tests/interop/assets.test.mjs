// Interop oracle for Dfns's legacy API (dfns-api.md §4): the addresses of asset accounts and public keys a running
// signerd returns are recomputed from the returned publicKey with ethers (EVM, EIP-55 and Tron), bitcoinjs-lib
// (Bitcoin and Litecoin P2WPKH) and bs58 (Solana); public-key signatures are verified with @noble/curves. Run by CTest
// through tests/e2e/with_daemon (see interop.cmake).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ethers } from 'ethers';
import * as bitcoin from 'bitcoinjs-lib';
import bs58 from 'bs58';
import bs58check from 'bs58check';
import { closeClients, daemonEnv, request } from './lib/client.mjs';
import {
  assertEcdsaSignatureShape, ecdsaRecovers, ecdsaVerifies, ed25519Verifies, ethersRecovers, flipBit,
} from './lib/verify.mjs';

const ACCOUNT_ID_RE = /^aa-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{14,16}$/;
const PUBLIC_KEY_ID_RE = /^pk-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{14,16}$/;
const LITECOIN = { ...bitcoin.networks.bitcoin, bech32: 'ltc' };

async function call(method, path, body, via = 'unix') {
  const res = await request(method, path, body, { via });
  assert.equal(res.status, 200, `${method} ${path} via ${via}: HTTP ${res.status} ${res.text}`);
  return res.body;
}

// POST /assets/asset-accounts answers Creating at once; the account is polled until it settles.
async function createAccount(body, via = 'unix') {
  const created = await call('POST', '/assets/asset-accounts', body, via);
  assert.match(created.id, ACCOUNT_ID_RE);
  assert.equal(created.status, 'Creating');
  assert.equal(created.address, undefined, 'no address before the job ran');
  for (let i = 0; i < 400; ++i) {
    const got = await call('GET', `/assets/asset-accounts/${created.id}`, undefined, via);
    if (got.status !== 'Creating') {
      assert.equal(got.status, 'Enabled', JSON.stringify(got));
      assert.match(got.publicKeyId, PUBLIC_KEY_ID_RE);
      assert.equal(got.assetSymbol, body.assetSymbol);
      assert.ok(!Number.isNaN(Date.parse(got.dateUpdate)));
      return got;
    }
    await sleep(50);
  }
  assert.fail(`asset account ${created.id} still Creating`);
}

function evmAddress(publicKeyHex) {
  return ethers.computeAddress('0x' + publicKeyHex);  // EIP-55 checksummed
}

function tronAddress(publicKeyHex) {
  const evm = Buffer.from(evmAddress(publicKeyHex).slice(2), 'hex');
  return bs58check.encode(Buffer.concat([Buffer.from([0x41]), evm]));
}

function p2wpkh(publicKeyHex, network) {
  const pubkey = Buffer.from(publicKeyHex, 'hex');
  assert.equal(pubkey.length, 33, 'a compressed secp256k1 key');
  return bitcoin.payments.p2wpkh({ pubkey, network }).address;
}

before(() => daemonEnv());
after(() => closeClients());

describe('asset accounts', () => {
  test('EVM accounts have the EIP-55 address ethers computes from the publicKey', async () => {
    for (const assetSymbol of ['ETH', 'ETH_SEPOLIA', 'MATIC', 'USDC.ETH', 'USDT.MATIC', 'BNB', 'ARB']) {
      const a = await createAccount({ assetSymbol }, 'tcp');
      assert.equal(a.address, evmAddress(a.publicKey), assetSymbol);
      assert.equal(ethers.getAddress(a.address), a.address, 'a valid EIP-55 checksum');
      assert.notEqual(a.address, a.address.toLowerCase(), 'mixed case');
    }
  });

  test('Bitcoin, Litecoin, Tron and Solana accounts match bitcoinjs-lib, ethers and bs58', async () => {
    const btc = await createAccount({ assetSymbol: 'BTC' });
    assert.equal(btc.address, p2wpkh(btc.publicKey, bitcoin.networks.bitcoin));
    const testnet = await createAccount({ assetSymbol: 'BTC_TESTNET' });
    assert.equal(testnet.address, p2wpkh(testnet.publicKey, bitcoin.networks.testnet));
    const ltc = await createAccount({ assetSymbol: 'LTC' });
    assert.equal(ltc.address, p2wpkh(ltc.publicKey, LITECOIN));
    const trx = await createAccount({ assetSymbol: 'USDT.TRX' });
    assert.equal(trx.address, tronAddress(trx.publicKey));
    const sol = await createAccount({ assetSymbol: 'SOL' });
    assert.equal(sol.address, bs58.encode(Buffer.from(sol.publicKey, 'hex')));
    const pk = await call('GET', `/public-keys/${sol.publicKeyId}`);
    assert.equal(pk.isEddsa, true);
    assert.equal(pk.publicKey, sol.publicKey);
  });

  test('a reused public key gives every chain its own address of the same key', async () => {
    const pk = await call('POST', '/public-keys', { isEddsa: false }, 'tcp');
    assert.match(pk.id, PUBLIC_KEY_ID_RE);
    const eth = await createAccount({ assetSymbol: 'ETH', publicKey: pk.id }, 'tcp');
    const btc = await createAccount({ assetSymbol: 'BTC', publicKey: pk.id });
    for (const a of [eth, btc]) {
      assert.equal(a.publicKeyId, pk.id);
      assert.equal(a.publicKey, pk.publicKey);
    }
    assert.equal(eth.address, evmAddress(pk.publicKey));
    assert.equal(btc.address, p2wpkh(pk.publicKey, bitcoin.networks.bitcoin));
  });
});

describe('public keys', () => {
  test('GET /public-keys/{id}/address agrees with the libraries', async () => {
    const pk = await call('POST', '/public-keys', {}, 'tcp');
    const address = async (network) => {
      const res = await call('GET', `/public-keys/${pk.id}/address?network=${network}`, undefined, 'tcp');
      assert.deepEqual(Object.keys(res).sort(), ['address', 'network', 'publicKeyId']);
      assert.equal(res.publicKeyId, pk.id);
      assert.equal(res.network, network);
      return res.address;
    };
    assert.equal(await address('ETH'), evmAddress(pk.publicKey));
    assert.equal(await address('BTC'), p2wpkh(pk.publicKey, bitcoin.networks.bitcoin));
    assert.equal(await address('TRX'), tronAddress(pk.publicKey));
    const ed = await call('POST', '/public-keys', { isEddsa: true });
    const sol = await call('GET', `/public-keys/${ed.id}/address?network=SOL`);
    assert.equal(sol.address, bs58.encode(Buffer.from(ed.publicKey, 'hex')));
  });

  test('an ECDSA signature verifies and recovers the public key (noble, ethers)', async () => {
    const pk = await call('POST', '/public-keys', {}, 'tcp');
    const hash = ethers.keccak256(ethers.toUtf8Bytes('signerd legacy public-key signature'));
    const sig = await call('POST', `/public-keys/${pk.id}/signatures`, { hash }, 'tcp');
    assert.equal(sig.status, 'Executed');
    assert.equal(sig.publicKeyId, pk.id);
    assert.equal(sig.hash, hash);
    assertEcdsaSignatureShape(sig, 'secp256k1');
    assert.ok(ecdsaVerifies('secp256k1', sig, hash, pk.publicKey), 'noble secp256k1.verify accepts');
    assert.ok(ecdsaRecovers('secp256k1', sig, hash, pk.publicKey), 'noble recovery with recid gives the key');
    assert.ok(ethersRecovers(sig, hash, pk.publicKey), 'ethers ecrecover gives the key');
    assert.ok(!ecdsaVerifies('secp256k1', sig, flipBit(hash, 7), pk.publicKey), 'another hash does not verify');
    assert.ok(!ecdsaVerifies('secp256k1', { ...sig, s: flipBit(sig.s, 255) }, hash, pk.publicKey), 'a tampered s');
    const got = await call('GET', `/public-keys/${pk.id}/signatures/${sig.id}`, undefined, 'tcp');
    assert.deepEqual(got, sig);
  });

  test('an EdDSA public key signs the message itself, and noble verifies it', async () => {
    const pk = await call('POST', '/public-keys', { isEddsa: true }, 'tcp');
    assert.equal(pk.isEddsa, true);
    const message = '0x' + Buffer.from('a message of any length, not a digest').toString('hex');
    const sig = await call('POST', `/public-keys/${pk.id}/signatures`, { hash: message }, 'tcp');
    assert.equal(sig.status, 'Executed');
    assert.equal(sig.recid, undefined);
    assert.ok(ed25519Verifies(sig, message, pk.publicKey), 'noble ed25519.verify accepts');
    assert.ok(!ed25519Verifies(sig, flipBit(message, 3), pk.publicKey), 'another message does not verify');
  });
});
