// The official Dfns TypeScript SDK (@dfns/sdk 0.8.x with @dfns/sdk-keysigner) drives signerd unchanged over TCP:
// bearer JWTs, user-action signing of every mutation, the Keys API, delegation to an end user who then signs with
// its own login token. Signatures are checked with @noble/curves, not with signerd's code. Run by CTest through
// tests/e2e/with_daemon, which creates the service account (SIGNERD_TOKEN, SIGNERD_CRED_ID, SIGNERD_SA_KEY_FILE).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { BaseAuthApi, DfnsApiClient, DfnsError } from '@dfns/sdk';
import { AsymmetricKeySigner } from '@dfns/sdk-keysigner';
import { closeClients, daemonEnv } from './lib/client.mjs';
import { assertEd25519Signature, assertKey, assertSecp256k1Signature, assertSignedRequest } from './lib/verify.mjs';

const randomHex = (n) => '0x' + randomBytes(n).toString('hex');

const env = daemonEnv();
const baseUrl = env.baseUrl;
const orgId = env.orgId;
assert.ok(orgId, 'SIGNERD_ORG_ID');

// orgId makes the SDK check the token's app_metadata.orgId client-side (dfns-api.md §1.1).
const api = new DfnsApiClient({
  baseUrl,
  orgId,
  authToken: env.token,
  signer: new AsymmetricKeySigner({ credId: env.credId, privateKey: fs.readFileSync(env.keyFile, 'utf8') }),
});

async function rejectsWithStatus(promise, status, what) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof DfnsError, `${what}: expected a DfnsError, got ${e}`);
    assert.equal(e.httpStatus, status, `${what}: HTTP status (${e.message})`);
    return true;
  });
}

describe('@dfns/sdk against signerd', () => {
  const keys = {};
  let endUser;

  before(async () => {
    keys.k1 = await api.keys.createKey({ body: { scheme: 'ECDSA', curve: 'secp256k1', name: 'sdk-k1' } });
    keys.ed = await api.keys.createKey({ body: { scheme: 'EdDSA', curve: 'ed25519', name: 'sdk-ed' } });
  });

  after(() => closeClients());

  test('createKey makes a secp256k1 and an ed25519 key', () => {
    assertKey(keys.k1, { scheme: 'ECDSA', curve: 'secp256k1' });
    assertKey(keys.ed, { scheme: 'EdDSA', curve: 'ed25519' });
    assert.equal(keys.k1.name, 'sdk-k1');
  });

  test('getKey and listKeys (following nextPageToken) find both', async () => {
    for (const key of [keys.k1, keys.ed]) {
      const got = await api.keys.getKey({ keyId: key.id });
      assert.equal(got.id, key.id);
      assert.equal(got.publicKey, key.publicKey);
    }
    const seen = new Set();
    let paginationToken;
    let pages = 0;
    do {
      const page = await api.keys.listKeys({ query: { limit: '1', paginationToken } });
      assert.ok(page.items.length <= 1, 'limit is honoured');
      page.items.forEach((k) => seen.add(k.id));
      paginationToken = page.nextPageToken;
      pages += 1;
    } while (paginationToken && pages < 100);
    assert.ok(pages >= 2, 'one key per page takes several pages');
    assert.ok(seen.has(keys.k1.id) && seen.has(keys.ed.id), 'both keys are listed');
  });

  test('generateSignature on hashes verifies with @noble/curves', async () => {
    const hash = randomHex(32);
    const k1 = await api.keys.generateSignature({ keyId: keys.k1.id, body: { kind: 'Hash', hash } });
    assertSignedRequest(k1, keys.k1.id);
    assertSecp256k1Signature(k1.signature, hash, keys.k1.publicKey);
    const ed = await api.keys.generateSignature({ keyId: keys.ed.id, body: { kind: 'Hash', hash } });
    assertSignedRequest(ed, keys.ed.id);
    assertEd25519Signature(ed.signature, hash, keys.ed.publicKey);
    const again = await api.keys.getSignature({ keyId: keys.k1.id, signatureId: k1.id });
    assert.deepEqual(again.signature, k1.signature);
  });

  test('updateKey renames', async () => {
    const renamed = await api.keys.updateKey({ keyId: keys.ed.id, body: { name: 'sdk-ed-renamed' } });
    assert.equal(renamed.name, 'sdk-ed-renamed');
    assert.equal((await api.keys.getKey({ keyId: keys.ed.id })).name, 'sdk-ed-renamed');
  });

  test('a delayed key is delegated to an end user, who signs with its own token', async () => {
    const delayed = await api.keys.createKey({ body: { scheme: 'ECDSA', curve: 'secp256k1', delayDelegation: true } });
    assert.equal(delayed.custodial, true);

    // The end user: a P-256 Key credential made here, registered with the user, then a login with it.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const email = `end-user-${randomBytes(4).toString('hex')}@example.com`;
    const user = await api.auth.createUser({
      body: { email, kind: 'EndUser', publicKey: publicKey.export({ type: 'spki', format: 'pem' }) },
    });
    const credId = user.credentials[0].credentialId;
    const endSigner = new AsymmetricKeySigner({ credId, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) });
    const challenge = await BaseAuthApi.createUserLoginChallenge({ username: email, orgId }, { baseUrl });
    const assertion = await endSigner.sign(challenge);
    const { token } = await BaseAuthApi.createUserLogin(
      { challengeIdentifier: challenge.challengeIdentifier, firstFactor: assertion },
      { baseUrl },
    );
    endUser = new DfnsApiClient({ baseUrl, orgId, authToken: token, signer: endSigner });

    const delegated = await api.keys.delegateKey({ keyId: delayed.id, body: { delegateTo: user.userId } });
    assert.deepEqual(delegated, { keyId: delayed.id, status: 'Delegated' });
    assert.equal((await api.keys.getKey({ keyId: delayed.id })).custodial, false);

    const hash = randomHex(32);
    const signed = await endUser.keys.generateSignature({ keyId: delayed.id, body: { kind: 'Hash', hash } });
    assertSignedRequest(signed, delayed.id);
    assertSecp256k1Signature(signed.signature, hash, delayed.publicKey);
    assert.equal(signed.requester.userId, user.userId);

    // The organisation can no longer sign with it, and the end user sees only its own key.
    await rejectsWithStatus(
      api.keys.generateSignature({ keyId: delayed.id, body: { kind: 'Hash', hash } }), 403, 'org signs a delegated key');
    const mine = await endUser.keys.listKeys({});
    assert.deepEqual(mine.items.map((k) => k.id), [delayed.id]);
    await rejectsWithStatus(endUser.keys.getKey({ keyId: keys.k1.id }), 403, 'end user reads a custodial key');
  });

  test('deleteKey archives', async () => {
    const archived = await api.keys.deleteKey({ keyId: keys.k1.id });
    assert.equal(archived.status, 'Archived');
    assert.ok(archived.dateDeleted, 'dateDeleted is set');
    await rejectsWithStatus(
      api.keys.generateSignature({ keyId: keys.k1.id, body: { kind: 'Hash', hash: randomHex(32) } }),
      400,
      'signing with an archived key',
    );
  });

  test('the SDK\'s own org check: the token names this organisation and no other', async () => {
    const other = new DfnsApiClient({ baseUrl, orgId: 'or-other', authToken: env.token });
    await assert.rejects(other.keys.listKeys({}), /orgId|org/i);
  });
});
