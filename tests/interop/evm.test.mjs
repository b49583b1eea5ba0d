// signerd's EIP-712 digests and EVM transactions (chains/eip712.h, chains/evm_tx.h) checked by ethers v6:
// TypedDataEncoder.hash / hashDomain / hashStruct / getPrimaryType for random typed-data documents, and
// Transaction.from(...).unsignedSerialized / unsignedHash / serialized / hash for random transactions of every type,
// in both directions (ethers parses what signerd serialises; signerd parses what ethers signs). Documents and
// transactions ethers refuses must be refused by signerd too; the few things signerd refuses on purpose while ethers
// accepts them are listed and checked as such.
//
// The C++ side is the evm_vectors tool: SIGNERD_EVM_VECTORS must name it (the CTest entry passes
// $<TARGET_FILE:evm_vectors>); without it the test fails rather than skips. SIGNERD_EVM_SEED replays a run (the seed
// used is printed first).
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { Signature, SigningKey, Transaction, TypedDataEncoder, concat, encodeRlp, keccak256 } from 'ethers';

const TOOL = process.env.SIGNERD_EVM_VECTORS;
const SEED = process.env.SIGNERD_EVM_SEED || crypto.randomBytes(8).toString('hex');
const COUNT = 40;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function runTool(args, input) {
  assert.ok(TOOL, 'SIGNERD_EVM_VECTORS must name the evm_vectors binary');
  const r = spawnSync(TOOL, args, { input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  assert.equal(r.error, undefined, `cannot run ${TOOL}: ${r.error}`);
  assert.equal(r.status, 0, `${TOOL} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const withoutDomainType = (types) => {
  const copy = { ...types };
  delete copy.EIP712Domain;
  return copy;
};

// ---- the oracle's own anchors: published vectors, so a wrong oracle cannot agree with a wrong C++ side ------------

const MAIL = {
  types: {
    Person: [{ name: 'name', type: 'string' }, { name: 'wallet', type: 'address' }],
    Mail: [{ name: 'from', type: 'Person' }, { name: 'to', type: 'Person' }, { name: 'contents', type: 'string' }],
  },
  domain: { name: 'Ether Mail', version: '1', chainId: 1, verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' },
  message: {
    from: { name: 'Cow', wallet: '0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826' },
    to: { name: 'Bob', wallet: '0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB' },
    contents: 'Hello, Bob!',
  },
};
const EIP155_SIGNED =
  '0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe' +
  '537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83';

test('the oracle reproduces EIP-712 and EIP-155 vectors, and signerd agrees', () => {
  assert.equal(TypedDataEncoder.hashDomain(MAIL.domain), '0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f');
  assert.equal(TypedDataEncoder.hash(MAIL.domain, MAIL.types, MAIL.message),
    '0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2');
  const tx = Transaction.from(EIP155_SIGNED);
  assert.equal(tx.unsignedHash, '0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53');
  assert.equal(tx.from, '0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F');

  const [mail] = runTool(['typed-data'], JSON.stringify(MAIL) + '\n');
  assert.deepEqual(mail, { digest: '0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2' });
  const [parsed] = runTool(['tx'], `signed ${EIP155_SIGNED}\n`);
  assert.equal(parsed.signingHash, tx.unsignedHash);
  assert.equal(parsed.signed, EIP155_SIGNED);
});

// ---- signerd computes, ethers checks -----------------------------------------------------------------------------

const big = (v) => (v == null ? null : BigInt(v));

// ethers' parse of a serialisation against signerd's JSON form of the same transaction.
function assertSameFields(ethersTx, ours, what) {
  assert.equal(ethersTx.type, ours.type, `${what}: type`);
  assert.equal(ethersTx.chainId, BigInt(ours.chainId), `${what}: chainId`);
  assert.equal(BigInt(ethersTx.nonce), BigInt(ours.nonce), `${what}: nonce`);
  assert.equal(ethersTx.gasLimit, BigInt(ours.gasLimit), `${what}: gasLimit`);
  if (ours.type === 2) {
    assert.equal(ethersTx.maxFeePerGas, BigInt(ours.maxFeePerGas), `${what}: maxFeePerGas`);
    assert.equal(ethersTx.maxPriorityFeePerGas, BigInt(ours.maxPriorityFeePerGas), `${what}: maxPriorityFeePerGas`);
  } else {
    assert.equal(ethersTx.gasPrice, BigInt(ours.gasPrice), `${what}: gasPrice`);
  }
  assert.equal(ethersTx.to, ours.to, `${what}: to`);
  assert.equal(ethersTx.value, BigInt(ours.value), `${what}: value`);
  assert.equal(ethersTx.data, ours.data, `${what}: data`);
  if (ours.type === 0) {
    assert.equal(ethersTx.accessList, null, `${what}: accessList`);
  } else {
    assert.deepEqual(ethersTx.accessList.map((e) => ({ address: e.address, storageKeys: [...e.storageKeys] })),
      ours.accessList, `${what}: accessList`);
  }
  if (ours.signature) {
    assert.ok(ethersTx.signature, `${what}: ethers sees no signature`);
    assert.equal(ethersTx.signature.r, ours.signature.r, `${what}: r`);
    assert.equal(ethersTx.signature.s, ours.signature.s, `${what}: s`);
    assert.equal(ethersTx.signature.yParity, ours.signature.yParity, `${what}: yParity`);
    if (ours.type === 0) {
      const v = ethersTx.chainId === 0n ? BigInt(ethersTx.signature.v)
        : Signature.getChainIdV(ethersTx.chainId, ethersTx.signature.v);
      assert.equal(v, BigInt(ours.signature.v), `${what}: v`);
    }
  } else {
    assert.equal(ethersTx.signature, null, `${what}: signature`);
  }
}

describe(`evm_vectors (seed ${SEED})`, () => {
  let v;
  before(() => {
    console.log(`# SIGNERD_EVM_SEED=${SEED}`);
    v = runTool(['vectors', SEED, String(COUNT)]);
  });

  test('typed data: primary type, domain separator, hashStruct and digest match ethers', () => {
    assert.equal(v.typedData.length, COUNT);
    for (const [i, doc] of v.typedData.entries()) {
      const what = `typedData[${i}]`;
      const types = withoutDomainType(doc.types);
      assert.equal(TypedDataEncoder.getPrimaryType(types), doc.primaryType, `${what}: primaryType`);
      assert.equal(TypedDataEncoder.hashStruct(doc.primaryType, types, doc.message), doc.structHash, `${what}: hashStruct`);
      assert.equal(TypedDataEncoder.hashDomain(doc.domain), doc.domainSeparator, `${what}: hashDomain`);
      if (doc.declaresDomain) {
        assert.equal(TypedDataEncoder.hashStruct('EIP712Domain', { EIP712Domain: doc.types.EIP712Domain }, doc.domain),
          doc.domainSeparator, `${what}: declared EIP712Domain`);
      }
      assert.equal(TypedDataEncoder.hash(doc.domain, types, doc.message), doc.digest, `${what}: digest`);
      assert.equal(keccak256(concat(['0x1901', doc.domainSeparator, doc.structHash])), doc.digest, `${what}: composition`);
    }
  });

  test('typed data: the generator covers the shapes it promises', () => {
    const all = v.typedData.map((d) => JSON.stringify(d.types));
    const messages = v.typedData.map((d) => JSON.stringify(d.message));
    const structNames = (d) => Object.keys(d.types).filter((n) => n !== 'EIP712Domain');
    assert.ok(v.typedData.some((d) => structNames(d).length >= 3), 'nested structs');
    assert.ok(v.typedData.some((d) => structNames(d).some((n) => JSON.stringify(d.types).includes(`"${n}[`))),
      'arrays of structs');
    assert.ok(all.some((t) => /"type":"[A-Za-z0-9_$]+(\[\d*\])*\[\d+\]/.test(t)), 'fixed arrays');
    assert.ok(all.some((t) => /\]\[/.test(t)), 'nested arrays');
    assert.ok(all.some((t) => t.includes('"bytes"')) && all.some((t) => t.includes('"string"')), 'bytes and string');
    assert.ok(messages.some((m) => /:"?-/.test(m)), 'negative integers');
    assert.ok(v.typedData.some((d) => d.declaresDomain) && v.typedData.some((d) => !d.declaresDomain), 'domain forms');
  });

  test('transactions: unsigned serialisation, signing hash, signed serialisation and hash match ethers', () => {
    assert.equal(v.transactions.length, 3 * COUNT);
    const seen = new Set();
    for (const [i, t] of v.transactions.entries()) {
      const what = `transactions[${i}] ${JSON.stringify(t.input)}`;
      const ours = t.decoded;
      seen.add(ours.type === 0 ? (BigInt(ours.chainId) === 0n ? 'pre155' : 'eip155') : `type${ours.type}`);
      const tx = Transaction.from(t.input);
      assert.equal(tx.inferType(), ours.type, `${what}: type`);
      assert.equal(tx.unsignedSerialized, t.unsigned, `${what}: unsignedSerialized`);
      assert.equal(tx.unsignedHash, t.signingHash, `${what}: unsignedHash`);

      const signed = Transaction.from({ ...t.input, signature: { r: t.r, s: t.s, yParity: t.recid } });
      assert.equal(signed.serialized, t.signed, `${what}: serialized`);
      assert.equal(signed.hash, t.hash, `${what}: hash`);

      // ethers parses signerd's serialisations back to the same fields.
      assertSameFields(Transaction.from(t.signed), ours, `${what} (signed)`);
      const { signature, ...unsignedFields } = ours;
      assertSameFields(Transaction.from(t.unsigned), unsignedFields, `${what} (unsigned)`);
      assert.equal(signature.r, t.r);
      assert.equal(signature.s, t.s);
    }
    assert.deepEqual([...seen].sort(), ['eip155', 'pre155', 'type1', 'type2']);
  });
});

// ---- ethers computes, signerd checks -----------------------------------------------------------------------------

const randomQuantity = () => {
  const bytes = [0, 1, 2, 8, 20, 31, 32][crypto.randomInt(7)];
  return bytes === 0 ? 0n : BigInt('0x' + crypto.randomBytes(bytes).toString('hex'));
};
const randomAddress = () => '0x' + crypto.randomBytes(20).toString('hex');

function randomEthersTx(type) {
  const tx = {
    type,
    chainId: type === 0 && crypto.randomInt(3) === 0 ? 0n : BigInt(crypto.randomInt(1, 2 ** 40)),
    nonce: crypto.randomInt(2 ** 40),
    gasLimit: randomQuantity(),
    to: crypto.randomInt(5) === 0 ? null : randomAddress(),
    value: randomQuantity(),
    data: '0x' + crypto.randomBytes(crypto.randomInt(80)).toString('hex'),
  };
  if (type === 2) {
    const [a, b] = [randomQuantity(), randomQuantity()];
    tx.maxFeePerGas = a > b ? a : b;
    tx.maxPriorityFeePerGas = a > b ? b : a;
  } else {
    tx.gasPrice = randomQuantity();
  }
  if (type !== 0) {
    tx.accessList = Array.from({ length: crypto.randomInt(3) }, () => ({
      address: randomAddress(),
      storageKeys: Array.from({ length: crypto.randomInt(3) }, () => '0x' + crypto.randomBytes(32).toString('hex')),
    }));
  }
  return tx;
}

test('signerd parses what ethers signs: same fields, signing hash, re-encoding and hash', () => {
  const key = new SigningKey('0x' + crypto.randomBytes(32).toString('hex'));
  const txs = Array.from({ length: 90 }, (_, i) => {
    const tx = Transaction.from(randomEthersTx(i % 3));
    tx.signature = key.sign(tx.unsignedHash);
    return tx;
  });
  const lines = [
    ...txs.map((t) => `signed ${t.serialized}`),
    ...txs.map((t) => `unsigned ${t.unsignedSerialized}`),
    // ethers' own JSON output is a TransactionLike signerd reads (less its null fields and signature).
    ...txs.map((t) => {
      const { sig, ...rest } = t.toJSON();
      return 'json ' + JSON.stringify(Object.fromEntries(Object.entries(rest).filter(([, x]) => x != null)));
    }),
  ];
  const out = runTool(['tx'], lines.join('\n') + '\n');
  assert.equal(out.length, lines.length);
  txs.forEach((t, i) => {
    for (const [k, r] of [['signed', out[i]], ['unsigned', out[txs.length + i]], ['json', out[2 * txs.length + i]]]) {
      const what = `${k} ${i}: ${lines[i]}`;
      assert.ok(!r.error, `${what}: ${r.error}`);
      assert.equal(r.signingHash, t.unsignedHash, `${what}: signingHash`);
      assert.equal(r.unsigned, t.unsignedSerialized, `${what}: unsigned`);
      if (k === 'signed') {
        assert.equal(r.signed, t.serialized, `${what}: re-encoded`);
        assert.equal(r.hash, t.hash, `${what}: hash`);
        assertSameFields(t, r.tx, what);
      } else {
        assertSameFields(Transaction.from(t.unsignedSerialized), r.tx, what);
      }
    }
  });
});

// ---- refusals ----------------------------------------------------------------------------------------------------

const ADDR = '0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826';
const one = (type, value) => ({ types: { T: [{ name: 'x', type }] }, domain: {}, message: { x: value } });

// Each of these makes ethers throw; signerd must refuse it too.
const BAD_TYPED_DATA = [
  { types: { A: [{ name: 'b', type: 'B' }] }, domain: {}, message: { b: {} } },
  { types: { A: [{ name: 'a', type: 'A' }] }, domain: {}, message: { a: {} } },
  { types: { M: [{ name: 'a', type: 'A' }], A: [{ name: 'b', type: 'B' }], B: [{ name: 'a', type: 'A[]' }] }, domain: {},
    message: { a: { b: { a: [] } } } },
  { types: { A: [{ name: 'x', type: 'uint8' }], B: [{ name: 'y', type: 'uint8' }] }, domain: {}, message: { x: 1 } },
  { types: {}, domain: {}, message: {} },
  { types: { A: [{ name: 'x', type: 'uint8' }, { name: 'x', type: 'uint16' }] }, domain: {}, message: { x: 1 } },
  one('uint8', 256),
  one('uint8', -1),
  one('int8', -129),
  one('int8', 128),
  one('uint256', '0x1' + '0'.repeat(64)),
  one('uint256', '1e3'),
  one('uint256', 'abc'),
  one('uint256', true),
  one('uint7', 1),
  one('uint264', 1),
  one('bytes33', '0x00'),
  one('bytes0', '0x'),
  one('bytes4', '0x010203'),
  one('bytes4', '01020304'),
  one('bytes', '0x123'),
  one('bytes', '0xzz'),
  one('address', '0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD827'),
  one('address', '0x1234'),
  one('string', 5),
  one('uint8[2]', [1]),
  one('uint8[2]', [1, 2, 3]),
  one('uint8[]', { 0: 1 }),
  { types: { T: [{ name: 'x', type: 'string' }] }, domain: {}, message: {} },
  { ...MAIL, message: { ...MAIL.message, to: { name: 'Bob', wallet: '0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbb' } } },
  { ...MAIL, domain: { ...MAIL.domain, nam: 'x' } },
  { ...MAIL, domain: { ...MAIL.domain, salt: '0x01' } },
  { ...MAIL, domain: { ...MAIL.domain, chainId: -1 } },
  { ...MAIL, domain: { ...MAIL.domain, verifyingContract: '0x1234' } },
];

// Refused by signerd on purpose although ethers accepts them (see chains/eip712.h).
const STRICTER_TYPED_DATA = [
  one('bool', 'true'),
  one('bool', 1),
  { types: { T: [{ name: 'x', type: 'bool' }] }, domain: {}, message: {} },
  one('uint8[0]', []),
  one('uint8[01]', [1]),
  one('address', ADDR.slice(2)),
  { types: { 'T x': [{ name: 'x', type: 'uint8' }] }, domain: {}, message: { x: 1 } },
  { types: { M: [{ name: 'x', type: 'uint8' }], A: [{ name: 'b', type: 'B' }], B: [{ name: 'a', type: 'A' }] },
    domain: {}, message: { x: 1 } },
];

test('typed data ethers refuses, signerd refuses', () => {
  const lines = [...BAD_TYPED_DATA, ...STRICTER_TYPED_DATA].map((d) => JSON.stringify(d));
  // A JSON number JavaScript cannot hold: ethers sees 2^53 (rounded) and refuses it as an overflow; signerd refuses the
  // exact value.
  lines.push('{"types":{"T":[{"name":"x","type":"uint256"}]},"domain":{},"message":{"x":9007199254740993}}');
  assert.throws(() => TypedDataEncoder.hash({}, { T: [{ name: 'x', type: 'uint256' }] }, JSON.parse(lines.at(-1)).message));
  const out = runTool(['typed-data'], lines.join('\n') + '\n');
  assert.equal(out.length, lines.length);
  BAD_TYPED_DATA.forEach((d, i) => {
    assert.throws(() => TypedDataEncoder.hash(d.domain, withoutDomainType(d.types), d.message), `ethers accepts ${lines[i]}`);
    assert.ok(out[i].error, `signerd accepts ${lines[i]}: ${JSON.stringify(out[i])}`);
  });
  STRICTER_TYPED_DATA.forEach((d, j) => {
    const i = BAD_TYPED_DATA.length + j;
    assert.doesNotThrow(() => TypedDataEncoder.hash(d.domain, d.types, d.message), `ethers now refuses ${lines[i]}`);
    assert.ok(out[i].error, `signerd accepts ${lines[i]}: ${JSON.stringify(out[i])}`);
  });
  assert.ok(out.at(-1).error);
});

const legacyFields = (overrides) => {
  const f = ['0x09', '0x04a817c800', '0x5208', '0x' + '35'.repeat(20), '0x0de0b6b3a7640000', '0x', '0x25',
    '0x28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276',
    '0x67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83'];
  for (const [i, x] of Object.entries(overrides)) f[i] = x;
  return encodeRlp(f);
};
const typed = (type, fields) => concat([type, encodeRlp(fields)]);
const TYPE2 = ['0x01', '0x', '0x', '0x', '0x', '0x', '0x', '0x', []];

// [mode, hex]: ethers' Transaction.from(hex) throws, so signerd must refuse.
const BAD_TXS = [
  // ethers' own malformed access lists (src.ts/_tests/test-transaction.ts).
  ['unsigned', '0x02c9010203040580070809'],
  ['unsigned', '0x02ca0102030405800708c109'],
  ['unsigned', '0x02cb0102030405800708c20910'],
  ['unsigned', '0x02ed0102030405800708e4e309e1a024412927c99a717115f5308c0ebd11136659b3cb6291abb4a8f87e9856a12538'],
  ['unsigned', '0x02e10102030405800708d8d794939d33ff01840e9eeeb67525ec2f7035af41a4b1c109'],
  ['unsigned', '0x'],
  ['unsigned', '0x03c0'],
  ['unsigned', '0x05c0'],
  ['unsigned', encodeRlp(['0x09', '0x01', '0x01', '0x', '0x', '0x', '0x01'])],
  ['unsigned', typed('0x02', [...TYPE2, '0x'])],
  ['unsigned', encodeRlp(['0x09', '0x01', '0x01', '0x', '0x01' + '00'.repeat(32), '0x'])],
  ['unsigned', encodeRlp(['0x09', '0x01', '0x01', '0x' + '33'.repeat(19), '0x', '0x'])],
  ['signed', typed('0x02', [...TYPE2, '0x02', '0x01', '0x01'])],
  ['signed', legacyFields({ 6: '0x23' })],
  ['signed', legacyFields({ 6: '0x1d' })],
];

// Refused by signerd on purpose although ethers parses them; each check shows why.
const STRICTER_TXS = [
  // Leading zeros: ethers reads them and re-encodes differently, so signing would cover other bytes.
  ['signed', legacyFields({ 0: '0x0009' }), (t, hex) => t.serialized !== hex],
  ['unsigned', encodeRlp(['0x0009', '0x01', '0x01', '0x', '0x', '0x']), (t, hex) => t.unsignedSerialized !== hex],
  // EIP-155 unsigned form with chainId 0: ethers re-encodes it as the 6-field form.
  ['unsigned', encodeRlp(['0x09', '0x01', '0x01', '0x', '0x', '0x', '0x', '0x', '0x']), (t, hex) => t.unsignedSerialized !== hex],
  // A signed transaction offered for signing, and an unsigned one offered as signed.
  ['unsigned', EIP155_SIGNED, (t) => t.signature != null],
  ['signed', legacyFields({ 6: '0x01', 7: '0x', 8: '0x' }), (t) => t.signature == null],
  // s above n/2 (EIP-2) but below 2^255, which ethers allows.
  // s above n/2 (EIP-2): ethers parses and re-serialises it (it only refuses s >= 2^255 when .s is read).
  ['signed', legacyFields({ 8: '0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a1' }),
    (t) => BigInt(t.signature._s) > N / 2n],
  ['signed', legacyFields({ 8: '0x8' + 'f'.repeat(63) }), (t) => BigInt(t.signature._s) > N / 2n],
];

test('transactions ethers refuses, signerd refuses', () => {
  const all = [...BAD_TXS, ...STRICTER_TXS];
  const out = runTool(['tx'], all.map(([mode, hex]) => `${mode} ${hex}`).join('\n') + '\n');
  assert.equal(out.length, all.length);
  BAD_TXS.forEach(([mode, hex], i) => {
    assert.throws(() => {
      const t = Transaction.from(hex);
      void (mode === 'signed' ? t.serialized : t.unsignedSerialized);
    }, `ethers accepts ${mode} ${hex}`);
    assert.ok(out[i].error, `signerd accepts ${mode} ${hex}: ${JSON.stringify(out[i])}`);
  });
  STRICTER_TXS.forEach(([mode, hex, why], j) => {
    const i = BAD_TXS.length + j;
    const t = Transaction.from(hex);
    assert.ok(why(t, hex), `ethers' reading of ${hex} no longer shows the problem`);
    assert.ok(out[i].error, `signerd accepts ${mode} ${hex}: ${JSON.stringify(out[i])}`);
  });
});
