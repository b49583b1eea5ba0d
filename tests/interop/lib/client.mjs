// A minimal HTTP/1.1 + JSON client for signerd, over its Unix socket or TCP listener.
// Configuration comes from the environment that tests/e2e/with_daemon exports:
//   SIGNERD_SOCKET    path of the Unix socket (callers are identified by peer credentials, no token)
//   SIGNERD_BASE_URL  e.g. http://127.0.0.1:18420
//   SIGNERD_TOKEN     bearer token (a service account's JWT) sent on every TCP request
//   SIGNERD_CRED_ID, SIGNERD_SA_KEY_FILE  that account's credential: TCP mutations are user-action signed with it
import { createPrivateKey, sign as cryptoSign } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

const REQUEST_TIMEOUT_MS = 15_000;

export function daemonEnv() {
  const env = {
    socket: process.env.SIGNERD_SOCKET,
    baseUrl: process.env.SIGNERD_BASE_URL,
    token: process.env.SIGNERD_TOKEN,
    credId: process.env.SIGNERD_CRED_ID,
    keyFile: process.env.SIGNERD_SA_KEY_FILE,
    orgId: process.env.SIGNERD_ORG_ID,
  };
  const missing = Object.entries({ SIGNERD_SOCKET: env.socket, SIGNERD_BASE_URL: env.baseUrl, SIGNERD_TOKEN: env.token,
    SIGNERD_CRED_ID: env.credId, SIGNERD_SA_KEY_FILE: env.keyFile })
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length > 0) {
    // Fail rather than skip: under CTest a skipped oracle would read as a pass.
    throw new Error(`missing ${missing.join(', ')}: run through tests/e2e/with_daemon (ctest -L interop)`);
  }
  return env;
}

// Keep-alive agents, as the Dfns SDK's fetch keeps connections open; closeClients() ends them.
const agents = { unix: new http.Agent({ keepAlive: true }), tcp: new http.Agent({ keepAlive: true }) };

export function closeClients() {
  agents.unix.destroy();
  agents.tcp.destroy();
}

/**
 * request('POST', '/keys', {scheme:'ECDSA', curve:'secp256k1'}, {via:'unix'}) -> {status, body, text, headers}
 * body is the parsed JSON response (undefined when the response is not JSON; text always holds the raw bytes).
 * Over TCP a mutation first gets a user action (dfns-api.md §1.2: /auth/action/init, the challenge signed with the
 * service account's key by node:crypto, /auth/action) and carries it in x-dfns-useraction; a refusal on the way
 * is returned as the reply.
 */
export async function request(method, path, body, { via = 'unix', headers = {} } = {}) {
  if (via !== 'tcp' || method === 'GET') return rawRequest(method, path, body, { via, headers });
  const env = daemonEnv();
  const init = await rawRequest('POST', '/auth/action/init', {
    userActionPayload: body === undefined ? '' : JSON.stringify(body),
    userActionHttpMethod: method,
    userActionHttpPath: new URL(path, 'http://localhost').pathname,
    userActionServerKind: 'Api',
  }, { via });
  if (init.status !== 200) return init;
  const clientData = Buffer.from(JSON.stringify({ type: 'key.get', challenge: init.body.challenge }));
  const signature = cryptoSign('sha256', clientData, createPrivateKey(fs.readFileSync(env.keyFile)));
  const action = await rawRequest('POST', '/auth/action', {
    challengeIdentifier: init.body.challengeIdentifier,
    firstFactor: {
      kind: 'Key',
      credentialAssertion: {
        credId: env.credId,
        clientData: clientData.toString('base64url'),
        signature: signature.toString('base64url'),
      },
    },
  }, { via });
  if (action.status !== 200) return action;
  return rawRequest(method, path, body, { via, headers: { ...headers, 'x-dfns-useraction': action.body.userAction } });
}

function rawRequest(method, path, body, { via = 'unix', headers = {} } = {}) {
  const env = daemonEnv();
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const options = { method, path, headers: { accept: 'application/json', ...headers }, timeout: REQUEST_TIMEOUT_MS };
  if (payload !== undefined) {
    options.headers['content-type'] = 'application/json';
    options.headers['content-length'] = payload.length;
  }
  if (via === 'unix') {
    options.socketPath = env.socket;
    options.agent = agents.unix;
  } else if (via === 'tcp') {
    const url = new URL(env.baseUrl);
    options.host = url.hostname;
    options.port = url.port || 80;
    options.agent = agents.tcp;
    options.headers.authorization = `Bearer ${env.token}`;
  } else {
    throw new Error(`unknown transport ${via}`);
  }

  return new Promise((resolve, reject) => {
    const req = http.request(options, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed;
        try {
          parsed = text.length > 0 ? JSON.parse(text) : undefined;
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, body: parsed, text });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} via ${via}: no response in ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
