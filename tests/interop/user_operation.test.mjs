// smart/user_operation.h checked by code we did not write, and by the contracts themselves:
// 1. ethers 6 recomputes what the userop_vectors tool prints for random owners, factories, accounts, entry points,
//    salts and chain ids: createAccount calldata and handleOps calldata (ethers.Interface over the ABI of the npm
//    artifacts of @account-abstraction/contracts 0.8), the v0.8 userOpHash (ethers.TypedDataEncoder with the
//    PackedUserOperation type and the {name "ERC4337", version "1", chainId, verifyingContract} domain), the bundler
//    JSON of an op, and recover_signer against ethers.recoverAddress.
// 2. A Hardhat node with the v0.8 EntryPoint and SimpleAccountFactory deployed from those artifacts: the tool's hash
//    equals EntryPoint.getUserOpHash(op) for random ops and activation ops, and activation ops made by
//    activation_user_op, signed by a random ethers Wallet over that hash, submitted with the tool's handleOps calldata
//    by Hardhat's first account, deploy SimpleAccounts owned by the wallets at factory.getAddress(owner, 0), paying
//    nothing; a wrongly signed op is refused by the EntryPoint.
//
// SIGNERD_USEROP_VECTORS must name the tool (the CTest entry passes $<TARGET_FILE:userop_vectors>); without it the
// test fails rather than skips. SIGNERD_USEROP_SEED replays a run (the seed used is printed first).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ethers } from 'ethers';
import { deployAccountContracts, startHardhat } from './lib/hardhat.mjs';

const require = createRequire(import.meta.url);
const TOOL = process.env.SIGNERD_USEROP_VECTORS;
const SEED = process.env.SIGNERD_USEROP_SEED || crypto.randomBytes(8).toString('hex');
const COUNT = 30;

const entryPointArtifact = require('aa-contracts-v08/artifacts/EntryPoint.json');
const factoryArtifact = require('aa-contracts-v08/artifacts/SimpleAccountFactory.json');
const accountArtifact = require('aa-contracts-v08/artifacts/SimpleAccount.json');
const entryPointIface = new ethers.Interface(entryPointArtifact.abi);
const factoryIface = new ethers.Interface(factoryArtifact.abi);

// UserOperationLib.PACKED_USEROP_TYPEHASH's type, as EIP-712 fields.
const PACKED_TYPES = {
  PackedUserOperation: [
    { name: 'sender', type: 'address' },
    { name: 'nonce', type: 'uint256' },
    { name: 'initCode', type: 'bytes' },
    { name: 'callData', type: 'bytes' },
    { name: 'accountGasLimits', type: 'bytes32' },
    { name: 'preVerificationGas', type: 'uint256' },
    { name: 'gasFees', type: 'bytes32' },
    { name: 'paymasterAndData', type: 'bytes' },
  ],
};
const ACTIVATION_VERIFICATION_GAS = 1_000_000n;  // kActivationVerificationGas in the header

function runTool(args, input) {
  assert.ok(TOOL, 'SIGNERD_USEROP_VECTORS must name the userop_vectors binary');
  const r = spawnSync(TOOL, args, { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.error, undefined, `cannot run ${TOOL}: ${r.error}`);
  assert.equal(r.status, 0, `${TOOL} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// One request line per object; every answer must be a success.
function request(...reqs) {
  const out = runTool(['request'], reqs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  assert.equal(out.length, reqs.length);
  for (const o of out) assert.equal(o.error, undefined, o.error);
  return out;
}

const pack128 = (high, low) => ethers.concat([ethers.toBeHex(BigInt(high), 16), ethers.toBeHex(BigInt(low), 16)]);

// The PackedUserOperation struct from its unpacked fields (the tool's "fields" form).
function packed(f) {
  return {
    sender: f.sender,
    nonce: BigInt(f.nonce),
    initCode: f.initCode,
    callData: f.callData,
    accountGasLimits: pack128(f.verificationGasLimit, f.callGasLimit),
    preVerificationGas: BigInt(f.preVerificationGas),
    gasFees: pack128(f.maxPriorityFeePerGas, f.maxFeePerGas),
    paymasterAndData: f.paymasterAndData,
    signature: f.signature,
  };
}

// The activation op of the header, built here from its inputs.
function activationFields(factory, owner, account, signature = '0x') {
  return {
    sender: account,
    nonce: '0',
    initCode: ethers.concat([factory, factoryIface.encodeFunctionData('createAccount', [owner, 0n])]),
    callData: '0x',
    verificationGasLimit: String(ACTIVATION_VERIFICATION_GAS),
    callGasLimit: '0',
    preVerificationGas: '0',
    maxPriorityFeePerGas: '0',
    maxFeePerGas: '0',
    paymasterAndData: '0x',
    signature,
  };
}

const userOpHash = (op, entryPoint, chainId) => {
  const { signature, ...hashed } = op;  // the signature is not part of the type
  return ethers.TypedDataEncoder.hash({ name: 'ERC4337', version: '1', chainId, verifyingContract: entryPoint },
    PACKED_TYPES, hashed);
};

// The unpacked JSON an ERC-4337 v0.7+ bundler takes, from the fields.
function bundlerJson(f) {
  const q = (v) => ethers.toQuantity(BigInt(v));
  const o = { sender: ethers.getAddress(f.sender), nonce: q(f.nonce) };
  const init = ethers.getBytes(f.initCode);
  if (init.length > 0) {
    o.factory = ethers.getAddress(ethers.hexlify(init.slice(0, 20)));
    o.factoryData = ethers.hexlify(init.slice(20));
  }
  Object.assign(o, {
    callData: ethers.hexlify(f.callData),
    callGasLimit: q(f.callGasLimit),
    verificationGasLimit: q(f.verificationGasLimit),
    preVerificationGas: q(f.preVerificationGas),
    maxFeePerGas: q(f.maxFeePerGas),
    maxPriorityFeePerGas: q(f.maxPriorityFeePerGas),
  });
  const pm = ethers.getBytes(f.paymasterAndData);
  if (pm.length > 0) {
    o.paymaster = ethers.getAddress(ethers.hexlify(pm.slice(0, 20)));
    o.paymasterVerificationGasLimit = q(ethers.toBigInt(pm.slice(20, 36)));
    o.paymasterPostOpGasLimit = q(ethers.toBigInt(pm.slice(36, 52)));
    o.paymasterData = ethers.hexlify(pm.slice(52));
  }
  o.signature = ethers.hexlify(f.signature);
  return o;
}

function assertJson(ours, expected, what) {
  assert.deepEqual(Object.keys(ours), Object.keys(expected), `${what}: keys and their order`);
  assert.deepEqual(ours, expected, what);
}

// ---- signerd computes, ethers checks -----------------------------------------------------------------------------

describe(`userop_vectors (seed ${SEED})`, () => {
  let v;
  before(() => {
    console.log(`# SIGNERD_USEROP_SEED=${SEED}`);
    v = runTool(['vectors', SEED, String(COUNT)]).vectors;
    assert.equal(v.length, COUNT);
  });

  test('createAccount calldata matches ethers.Interface(SimpleAccountFactory v0.8)', () => {
    for (const [i, x] of v.entries()) {
      assert.equal(x.createAccountCall, factoryIface.encodeFunctionData('createAccount', [x.owner, BigInt(x.salt)]),
        `vector ${i}`);
      assert.equal(x.createAccountCallDefaultSalt, factoryIface.encodeFunctionData('createAccount', [x.owner, 0n]),
        `vector ${i}: default salt`);
    }
    assert.ok(v.some((x) => x.salt === '0') && v.some((x) => BigInt(x.salt) >= 2n ** 255n), 'salts of every size');
  });

  test('the activation op is the header\'s, as bundler JSON, and its hash is the EIP-712 digest ethers computes', () => {
    for (const [i, x] of v.entries()) {
      const fields = activationFields(x.factory, x.owner, x.account);
      assertJson(x.activation.userOp, bundlerJson(fields), `vector ${i}: userOp`);
      assert.equal(x.activation.hash, userOpHash(packed(fields), x.entryPoint, BigInt(x.chainId)), `vector ${i}: hash`);
      const signature = x.activation.signedUserOp.signature;
      assert.equal(ethers.dataLength(signature), 65);
      assertJson(x.activation.signedUserOp, bundlerJson({ ...fields, signature }), `vector ${i}: signed userOp`);
    }
    assert.ok(v.some((x) => BigInt(x.chainId) === 2n ** 64n - 1n), 'the largest chain id');
  });

  test('random ops: bundler JSON and hash match ethers', () => {
    for (const [i, x] of v.entries()) {
      const f = x.op.fields;
      assertJson(x.op.userOp, bundlerJson(f), `vector ${i}: userOp`);
      assert.equal(x.op.hash, userOpHash(packed(f), x.entryPoint, BigInt(x.chainId)), `vector ${i}: hash`);
    }
    const ops = v.map((x) => x.op.fields);
    assert.ok(ops.some((f) => f.initCode === '0x') && ops.some((f) => f.initCode !== '0x'), 'with and without initCode');
    assert.ok(ops.some((f) => f.paymasterAndData === '0x') && ops.some((f) => f.paymasterAndData !== '0x'),
      'with and without a paymaster');
    assert.ok(ops.some((f) => BigInt(f.maxFeePerGas) === 2n ** 128n - 1n), '128-bit fees');
  });

  test('handleOps calldata (0, 1 and 2 ops, non-empty signatures) matches ethers.Interface(EntryPoint v0.8)', () => {
    for (const [i, x] of v.entries()) {
      const activation = packed(activationFields(x.factory, x.owner, x.account, x.activation.signedUserOp.signature));
      const op = packed(x.op.fields);
      assert.equal(x.handleOps0, entryPointIface.encodeFunctionData('handleOps', [[], x.beneficiary]), `vector ${i}: 0`);
      assert.equal(x.handleOps1, entryPointIface.encodeFunctionData('handleOps', [[activation], x.beneficiary]),
        `vector ${i}: 1`);
      assert.equal(x.handleOps2, entryPointIface.encodeFunctionData('handleOps', [[activation, op], x.beneficiary]),
        `vector ${i}: 2`);
    }
  });

  test('recover_signer agrees with ethers.recoverAddress, maps v 0/1 to 27/28 and refuses high-s', () => {
    for (const [i, x] of v.entries()) {
      const r = x.recovery;
      const owner = new ethers.Wallet(r.privateKey).address;
      assert.equal(r.digest, x.activation.hash);
      assert.equal(ethers.recoverAddress(r.digest, r.signature), owner, `vector ${i}: the oracle`);
      assert.deepEqual(r.recovered, { signer: owner, signature: r.signature }, `vector ${i}`);
      assert.deepEqual(r.recoveredV01, { signer: owner, signature: r.signature }, `vector ${i}: v 0/1`);
      assert.match(r.recoveredHighS.error ?? '', /high-s/, `vector ${i}: high-s`);
      // The high-s twin is the same signature to a plain ecrecover.
      const high = ethers.getBytes(r.signatureHighS);
      const s = ethers.toBigInt(high.slice(32, 64));
      assert.ok(s > ethers.N / 2n);
      assert.equal(ethers.SigningKey.recoverPublicKey(r.digest,
        { r: ethers.hexlify(high.slice(0, 32)), s: ethers.toBeHex(ethers.N - s, 32), v: high[64] === 27 ? 28 : 27 }),
        ethers.SigningKey.computePublicKey(r.privateKey));
    }
  });

  test('request mode reads ops back and computes the same', () => {
    const x = v[0];
    const [out] = request({
      chainId: x.chainId, entryPoint: x.entryPoint, beneficiary: x.beneficiary,
      ops: [{ activation: { factory: x.factory, owner: x.owner, account: x.account },
              signature: x.activation.signedUserOp.signature }, x.op.fields],
    });
    assert.equal(out.handleOpsCall, x.handleOps2);
    assert.equal(out.ops[0].hash, x.activation.hash);
    assert.equal(out.ops[1].hash, x.op.hash);
    assert.deepEqual(out.ops[1].userOp, x.op.userOp);
    const bad = runTool(['request'], '{"chainId": 1}\nnot json\n');
    assert.equal(bad.length, 2);
    assert.ok(bad.every((b) => typeof b.error === 'string'));
  });
});

// ---- a real EntryPoint v0.8 on Hardhat ------------------------------------------------------------------------------

describe('on a Hardhat node: EntryPoint v0.8 + SimpleAccountFactory', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'signerd-userop-'));
  const CHAIN_ID = 31337n;
  let hardhat, provider, relayer, entryPoint, entryPointAddress, factory, factoryAddress;
  const beneficiary = ethers.Wallet.createRandom().address;

  before(async () => {
    ({ process: hardhat, provider } = await startHardhat(join(tmp, 'hardhat')));
    relayer = await provider.getSigner(0);
    ({ entryPoint, entryPointAddress, factory, factoryAddress } = await deployAccountContracts('0.8', relayer));
  });

  after(() => {
    if (hardhat && hardhat.exitCode === null) hardhat.kill('SIGTERM');
    rmSync(tmp, { recursive: true, force: true });
  });

  const accountOf = (owner) => factory['getAddress(address,uint256)'](owner, 0n);
  const activationRequest = (ops) => ({ chainId: String(CHAIN_ID), entryPoint: entryPointAddress, beneficiary, ops });

  test('the tool\'s hash equals EntryPoint.getUserOpHash(op) for random ops', async () => {
    const ops = runTool(['vectors', `${SEED}/chain`, '12']).vectors.map((x) => x.op.fields);
    const [out] = request(activationRequest(ops));
    for (const [i, f] of ops.entries()) {
      assert.equal(out.ops[i].hash, await entryPoint.getUserOpHash(packed(f)), `op ${i}`);
    }
  });

  test('the activation op\'s hash equals getUserOpHash on chain', async () => {
    const owner = ethers.Wallet.createRandom().address;
    const account = await accountOf(owner);
    const [out] = request(activationRequest([{ activation: { factory: factoryAddress, owner, account } }]));
    const fields = activationFields(factoryAddress, owner, account);
    assertJson(out.ops[0].userOp, bundlerJson(fields), 'userOp');
    assert.equal(out.ops[0].hash, await entryPoint.getUserOpHash(packed(fields)));
  });

  // The owner signs the tool's hash; the tool builds handleOps with the signatures; the relayer sends it.
  async function activate(wallets, { signWith = wallets } = {}) {
    const accounts = await Promise.all(wallets.map((w) => accountOf(w.address)));
    const unsigned = wallets.map((w, i) => ({ activation: { factory: factoryAddress, owner: w.address, account: accounts[i] } }));
    const [first] = request(activationRequest(unsigned));
    const signed = unsigned.map((op, i) => ({ ...op, signature: signWith[i].signingKey.sign(first.ops[i].hash).serialized }));
    const [out] = request(activationRequest(signed));
    for (const [i, op] of out.ops.entries()) {
      assert.equal(op.hash, first.ops[i].hash, 'the signature is not hashed');
      assert.deepEqual(op.recovered, { signer: signWith[i].address, signature: signed[i].signature });
    }
    return { accounts, hashes: first.ops.map((o) => o.hash), data: out.handleOpsCall };
  }

  test('a zero-fee activation op signed by the owner deploys its SimpleAccount through handleOps', async () => {
    const wallet = ethers.Wallet.createRandom();
    const { accounts: [account], hashes: [hash], data } = await activate([wallet]);
    assert.equal(await provider.getCode(account), '0x', 'not deployed before');
    const tx = await relayer.sendTransaction({ to: entryPointAddress, data, gasLimit: 3_000_000 });
    const receipt = await tx.wait();
    assert.equal(receipt.status, 1);
    assert.notEqual(await provider.getCode(account), '0x', 'deployed');
    const simpleAccount = new ethers.Contract(account, accountArtifact.abi, provider);
    assert.equal(await simpleAccount.owner(), wallet.address);
    assert.equal(await simpleAccount.entryPoint(), entryPointAddress);

    const events = receipt.logs.filter((l) => l.address === entryPointAddress).map((l) => entryPointIface.parseLog(l))
      .filter(Boolean);
    const deployed = events.find((e) => e.name === 'AccountDeployed');
    assert.ok(deployed, 'AccountDeployed');
    assert.equal(deployed.args.userOpHash, hash);
    assert.equal(deployed.args.sender, account);
    assert.equal(deployed.args.factory, factoryAddress);
    assert.equal(deployed.args.paymaster, ethers.ZeroAddress);
    const done = events.find((e) => e.name === 'UserOperationEvent');
    assert.ok(done, 'UserOperationEvent');
    assert.equal(done.args.userOpHash, hash);
    assert.equal(done.args.success, true);
    assert.equal(done.args.actualGasCost, 0n, 'the op paid nothing');
    assert.equal(await entryPoint.getNonce(account, 0n), 1n);
    assert.equal(await entryPoint.balanceOf(account), 0n);
    assert.equal(await provider.getBalance(beneficiary), 0n);
  });

  test('two activation ops in one handleOps deploy both accounts', async () => {
    const wallets = [ethers.Wallet.createRandom(), ethers.Wallet.createRandom()];
    const { accounts, data } = await activate(wallets);
    const receipt = await (await relayer.sendTransaction({ to: entryPointAddress, data, gasLimit: 3_000_000 })).wait();
    assert.equal(receipt.status, 1);
    for (const [i, account] of accounts.entries()) {
      assert.notEqual(await provider.getCode(account), '0x', `account ${i}`);
      assert.equal(await new ethers.Contract(account, accountArtifact.abi, provider).owner(), wallets[i].address);
    }
  });

  test('an op signed by another key is refused by the EntryPoint (AA24) and deploys nothing', async () => {
    const wallet = ethers.Wallet.createRandom();
    const { accounts: [account], data } = await activate([wallet], { signWith: [ethers.Wallet.createRandom()] });
    await assert.rejects(provider.call({ from: await relayer.getAddress(), to: entryPointAddress, data, gasLimit: 3_000_000 }),
      (e) => {
        const parsed = entryPointIface.parseError(e.data);
        assert.equal(parsed?.name, 'FailedOp', String(e));
        assert.equal(parsed.args.opIndex, 0n);
        assert.match(parsed.args.reason, /^AA24/);
        return true;
      });
    assert.equal(await provider.getCode(account), '0x');
  });
});
