#!/usr/bin/env node
// Extracts the ERC1967Proxy creation code P that each canonical SimpleAccountFactory embeds (see
// ../shared/reference/smart-accounts.md: P is not shipped as an artifact of its own, and OpenZeppelin's ERC1967Proxy
// artifact or a recompilation gives other bytes) from the factory's deployed (runtime) bytecode in the npm package
// @account-abstraction/contracts, pinned per version in tests/interop/package.json as aa-contracts-v06/07/08.
//
// P is the one creation code inside the factory's runtime: it starts with the solc prologue 0x6080604052 (the
// factory's own code starts with it too, at offset 0). Its length is the operand of the PUSH2 that the factory's
// code-copy of P uses right before pushing P's offset (legacy codegen: PUSH2 len, DUP1, PUSH2 offset; v0.6 and
// v0.7). Without that pattern (v0.8, via-IR), P ends with its CBOR metadata ("solc" 0x64736f6c6343, 3 version
// bytes, length 0x0033). Ending at the metadata is not enough in general: v0.6's ERC1967Proxy carries 39 bytes of
// revert-string data after it. Both rules are checked end to end by tests/interop/smart_accounts.test.mjs
// (addresses equal the factory's getAddress on a real EVM) and the v0.8 one by the published vector.
//
//   node tools/extract_proxy_creation_code.mjs          writes smart/proxy_creation_code_v0_{6,7,8}.hex
//   node tools/extract_proxy_creation_code.mjs --check  re-extracts and compares with those files (exit 1 if not)
//
// Run `npm ci` in tests/interop first. The interop test tests/interop/smart_accounts.test.mjs checks the result
// end to end: signerd's addresses, made with these bytes, equal factory.getAddress(owner, 0) on a real EVM.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'tests/interop/package.json'));
const PROLOGUE = '6080604052';
const SOLC_TRAILER = '64736f6c6343';  // "solc" key + CBOR bytes(3) header

export function extractProxyCreationCode(runtimeHex) {
  const code = runtimeHex.replace(/^0x/, '').toLowerCase();
  let start = code.indexOf(PROLOGUE, 2);
  while (start >= 0 && start % 2 !== 0) start = code.indexOf(PROLOGUE, start + 1);
  if (start < 0) throw new Error('no embedded creation code in the factory runtime');
  const offset = (start / 2).toString(16).padStart(4, '0');
  const copies = [...code.matchAll(new RegExp(`61([0-9a-f]{4})8061${offset}`, 'g'))].filter((m) => m.index % 2 === 0);
  let end;
  if (copies.length > 0) {
    const lengths = new Set(copies.map((m) => m[1]));
    if (lengths.size !== 1) throw new Error('the factory copies P with different lengths');
    end = start + 2 * parseInt(copies[0][1], 16);
  } else {
    const trailer = code.indexOf(SOLC_TRAILER, start);
    if (trailer < 0) throw new Error('no solc metadata after the embedded creation code');
    end = trailer + SOLC_TRAILER.length + 6 + 4;  // 3 version bytes, then 0x0033
    if (code.slice(end - 4, end) !== '0033') throw new Error('the embedded metadata does not end with 0x0033');
  }
  if (end > code.length) throw new Error('the embedded creation code runs past the factory runtime');
  return '0x' + code.slice(start, end);
}

const versions = { '0_6': 'aa-contracts-v06', '0_7': 'aa-contracts-v07', '0_8': 'aa-contracts-v08' };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let ok = true;
  for (const [v, pkg] of Object.entries(versions)) {
    const artifact = require(`${pkg}/artifacts/SimpleAccountFactory.json`);
    const p = extractProxyCreationCode(artifact.deployedBytecode);
    const file = join(root, `smart/proxy_creation_code_v${v}.hex`);
    if (check) {
      const shipped = readFileSync(file, 'utf8').trim();
      const same = shipped === p;
      ok &&= same;
      console.log(`${same ? 'ok  ' : 'DIFF'} v${v.replace('_', '.')}: ${(p.length - 2) / 2} bytes (${pkg})`);
    } else {
      writeFileSync(file, p + '\n');
      console.log(`wrote ${file}: ${(p.length - 2) / 2} bytes`);
    }
  }
  process.exit(ok ? 0 : 1);
}
