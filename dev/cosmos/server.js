// TinyShop local Cosmos DB: npm @vercel/cosmosdb-server behind a small launcher.
//
// Stands in for Azure Cosmos DB for NoSQL on a developer machine and in tests
// (docs/architecture.md, "Local stand-ins"):
//   * Plain HTTP on 127.0.0.1:8081 (the emulator's port). In memory, unless `--data-file` names
//     a journal: then every acknowledged write is appended to it before the response is sent,
//     and a restart replays it (databases, containers, documents), so `make dev` keeps order
//     timelines across runs and crashes (see "Persistence" below).
//   * Any account key is accepted (clients sign with the emulator's well-known key).
//   * `--container tinyshop/order-events=/orderId` creates a database and container before the
//     server reports that it listens, so a restarted stand-in is usable again at once.
// The launcher fixes four things the package gets wrong (see README.md):
//   1. Keep-alive. The package forces `connection: close` on every response (or a hard-coded
//      `connection: keep-alive`, even when the client or a shutdown asks to close). The
//      launcher drops that header, so Node applies normal HTTP/1.1 persistence, and keeps idle
//      connections open long enough for clients' pools.
//   2. Point read of a missing item. The package's read handler dereferences the missing
//      document and answers 500; the launcher answers 404 NotFound like Cosmos DB, so SDKs
//      raise their not-found error (azure-cosmos: CosmosResourceNotFoundError).
//   3. Endpoint discovery. The account document (`GET /`) advertises https:// regional
//      endpoints even when the server speaks http; the launcher advertises the URL the client
//      used, so SDKs with endpoint discovery on (their default) keep talking to this server.
//   4. Transactional batches. The package keeps the operations before a failing one; the
//      launcher makes a batch all or nothing, as Cosmos DB does, and journals it.
//
// Started by launcher.py; run by hand with
//   node server.js [--host 127.0.0.1] [--port 8081] [--container DB/CONTAINER=/pk]... [--quiet]
//                  [--data-file PATH]
// (or TINYSHOP_COSMOS_HOST/_PORT). Port 0 picks a free port. It prints
// `tinyshop-cosmos listening port=N endpoint=URL` once it accepts connections.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const PACKAGE = '@vercel/cosmosdb-server';
const IDLE_KEEP_ALIVE_MS = 5 * 60 * 1000; // Node's default (5 s) is shorter than clients expect

const env = process.env;
const { values: opts } = parseArgs({
  options: {
    host: { type: 'string', default: env.TINYSHOP_COSMOS_HOST ?? '127.0.0.1' },
    port: { type: 'string', default: env.TINYSHOP_COSMOS_PORT ?? '8081' },
    quiet: { type: 'boolean', default: false }, // no per-request log lines
    // DATABASE/CONTAINER=/PARTITION/KEY/PATH, repeatable: created before the server reports
    // that it listens, as Terraform creates them in Azure (the store is empty on every start).
    container: { type: 'string', multiple: true, default: [] },
    'data-file': { type: 'string' }, // the journal that keeps the data across restarts
  },
});
const CONTAINER_SPEC = /^([^/\\#?]+)\/([^/\\#?]+)=(\/[^\s]+)$/;
const containers = opts.container.map((spec) => {
  const match = CONTAINER_SPEC.exec(spec);
  if (!match) {
    console.error(`tinyshop-cosmos: --container ${spec}: expected DATABASE/CONTAINER=/partition/key/path`);
    process.exit(2);
  }
  return { database: match[1], container: match[2], partitionKey: match[3] };
});

// ---------------------------------------------------------------------------- handler fixes
// The package's router copies each handler's `exports.default` when lib/routes.js is loaded,
// so the fixed handlers must be in place before the package itself is required.
const readDocument = require(`${PACKAGE}/lib/handler/read-document.js`);
const readMeta = require(`${PACKAGE}/lib/handler/read-meta.js`);
const partitionHeader = require(`${PACKAGE}/lib/utils/get-partition-from-header.js`);

const packageReadDocument = readDocument.default;
const NOT_FOUND = { code: 'NotFound', message: 'Entity with the specified id does not exist in the system.' };

// Fix 2: 404 for a point read of a missing item (or of an item in another partition).
function readDocumentOr404(account, req, res, params) {
  const collection = account.database(params.dbId).collection(params.collId);
  if (collection.read()) {
    let partitionKey;
    try {
      partitionKey = partitionHeader.parsePartitionKey(partitionHeader.default(req), params.docId);
    } catch (err) {
      res.statusCode = 400;
      return { code: 'BadRequest', message: err.message };
    }
    if (!collection.document(params.docId, partitionKey).read()) {
      res.statusCode = 404;
      return { ...NOT_FOUND };
    }
  }
  return packageReadDocument(account, req, res, params); // also 404s a missing container
}
readDocument.default = readDocumentOr404;

// Fix 3: advertise the endpoint the client connected to, with this server's scheme.
const packageReadMeta = readMeta.default;
function readMetaHere(account, req, res, params) {
  const meta = packageReadMeta(account, req, res, params);
  const here = `http://${req.headers.host}/`;
  const relocate = (locations) => (locations ?? []).map((l) => ({ ...l, databaseAccountEndpoint: here }));
  return { ...meta, writableLocations: relocate(meta.writableLocations), readableLocations: relocate(meta.readableLocations) };
}
readMeta.default = readMetaHere;

// Fix 4: transactional batches all or nothing, and journalled. The package runs a batch's
// operations one by one and keeps those before a failing one; Cosmos DB applies a batch
// atomically (the failing operation's status, 424 for the others:
// https://learn.microsoft.com/azure/cosmos-db/nosql/transactional-batch). The launcher takes a
// snapshot of every document the batch names, runs the package's handler, and on a failure
// puts the snapshots back and answers 424 for the operations it undid. A batch that succeeded
// is journalled operation by operation (the worker's first step is such a batch).
const jsonBody = require(`${PACKAGE}/lib/json.js`);
const batchDocuments = require(`${PACKAGE}/lib/handler/batch-documents.js`);
const packageJsonBody = jsonBody.default;
jsonBody.default = (req) => (req.tinyshopBody !== undefined ? Promise.resolve(req.tinyshopBody) : packageJsonBody(req));
const packageBatch = batchDocuments.default;
const BATCH_WRITES = { Create: 'put', Upsert: 'put', Replace: 'put', Delete: 'delete' };

function batchTarget(op, batchPartition) {
  const id = op?.resourceBody?.id ?? op?.id;
  try {
    // An operation names its partition, or the batch's header does (the SDKs' way).
    return { id, partitionKey: partitionHeader.parsePartitionKey(op.partitionKey ?? batchPartition, id) };
  } catch {
    return null; // the package answers 400 for it
  }
}

async function atomicBatch(account, req, res, params) {
  req.tinyshopBody = await packageJsonBody(req);
  const ops = Array.isArray(req.tinyshopBody) ? req.tinyshopBody : [];
  const collection = account.database(params.dbId).collection(params.collId);
  const snapshots = collection.read()
    ? ops.map((op) => {
        const target = batchTarget(op, partitionHeader.default(req));
        return target && { ...target, doc: collection.document(target.id, target.partitionKey).read() };
      })
    : [];
  const results = await packageBatch(account, req, res, params);
  if (!Array.isArray(results)) return results;
  if (results.some((r) => r.statusCode >= 400)) {
    for (let i = results.length - 1; i >= 0; i -= 1) {
      const snap = snapshots[i];
      if (results[i].statusCode >= 400 || !snap || !BATCH_WRITES[ops[i].operationType]) continue;
      if (snap.doc) collection.documents.upsert(snap.doc);
      else if (collection.document(snap.id, snap.partitionKey).read()) collection.documents.delete(snap.id, snap.partitionKey);
      results[i] = { statusCode: 424, requestCharge: 0 };
    }
    return results;
  }
  ops.forEach((op, i) => {
    const kind = BATCH_WRITES[op.operationType];
    if (kind === 'put') journal({ op: 'put', db: params.dbId, coll: params.collId, doc: results[i].resourceBody });
    else if (kind === 'delete') journal({ op: 'delete', db: params.dbId, coll: params.collId, id: op.id });
  });
  return results;
}
batchDocuments.default = atomicBatch;

const { createHttpServer } = require(PACKAGE);

// Fail at start, not at the first request, if a package upgrade changed how routes are bound.
const route = require(`${PACKAGE}/lib/routes.js`).default;
const probe = (method, url) => route({ method, url, headers: {} })?.[1];
const batchProbe = route({ method: 'POST', url: '/dbs/d/colls/c/docs', headers: { 'x-ms-cosmos-is-batch-request': 'true' } })?.[1];
if (probe('GET', '/dbs/d/colls/c/docs/x') !== readDocumentOr404 || probe('GET', '/') !== readMetaHere || batchProbe !== atomicBatch) {
  console.error(`tinyshop-cosmos: ${PACKAGE} no longer routes through the patched handlers; update server.js`);
  process.exit(1);
}

// ---------------------------------------------------------------------------- persistence
// A journal of JSON lines, one per acknowledged write: database and container creations and
// drops, and each document as the server stored it (create, upsert, replace, patch) or its
// deletion. It is appended synchronously before the response leaves, so a write the client saw
// succeed survives even a SIGKILL. At start the journal is folded into the final state,
// rewritten compactly (temporary file, then rename) and replayed through the REST API before
// the ready line. A transactional batch is journalled by atomicBatch (fix 4), per operation.
const journalPath = opts['data-file'] ? path.resolve(opts['data-file']) : null;
const SYSTEM_PROPERTIES = ['_rid', '_self', '_etag', '_attachments', '_ts'];
const DOCS_PATH = /^\/dbs\/([^/]+)\/colls\/([^/]+)\/docs(?:\/([^/]+))?\/?$/;
const COLLS_PATH = /^\/dbs\/([^/]+)\/colls(?:\/([^/]+))?\/?$/;
const DBS_PATH = /^\/dbs(?:\/([^/]+))?\/?$/;

function journalEntry(req, body) {
  const url = req.url.split('?')[0];
  const decode = (part) => (part === undefined ? undefined : decodeURIComponent(part));
  const header = (name) => String(req.headers[name] ?? '').toLowerCase();
  let match = DOCS_PATH.exec(url);
  if (match) {
    const [db, coll, id] = [decode(match[1]), decode(match[2]), decode(match[3])];
    if (req.method === 'DELETE' && id !== undefined) return { op: 'delete', db, coll, id };
    if (header('x-ms-documentdb-isquery') === 'true' || header('x-ms-cosmos-is-batch-request') === 'true') return null;
    if (['POST', 'PUT', 'PATCH'].includes(req.method) && body) return { op: 'put', db, coll, doc: JSON.parse(body) };
    return null;
  }
  match = COLLS_PATH.exec(url);
  if (match) {
    const db = decode(match[1]);
    if (req.method === 'DELETE' && match[2]) return { op: 'drop-container', db, coll: decode(match[2]) };
    if (req.method === 'POST' && body) {
      const coll = JSON.parse(body);
      return { op: 'container', db, coll: coll.id, partitionKey: coll.partitionKey };
    }
    return null;
  }
  match = DBS_PATH.exec(url);
  if (match) {
    if (req.method === 'DELETE' && match[1]) return { op: 'drop-database', db: decode(match[1]) };
    if (req.method === 'POST' && body) return { op: 'database', db: JSON.parse(body).id };
  }
  return null;
}

// The state a journal describes: { db: { coll: { partitionKey, docs: { id: doc } } } }, on top
// of the `--container` containers (created at every start, so never journalled themselves).
function fold(entries) {
  const state = {};
  for (const { database, container, partitionKey } of containers) {
    (state[database] ??= {})[container] = {
      partitionKey: { paths: [partitionKey], kind: 'Hash', version: 2 },
      docs: {},
    };
  }
  for (const e of entries) {
    if (e.op === 'database') state[e.db] ??= {};
    else if (e.op === 'drop-database') delete state[e.db];
    else if (e.op === 'container') (state[e.db] ??= {})[e.coll] ??= { partitionKey: e.partitionKey, docs: {} };
    else if (e.op === 'drop-container') delete state[e.db]?.[e.coll];
    else if (e.op === 'put') {
      const doc = Object.fromEntries(Object.entries(e.doc).filter(([k]) => !SYSTEM_PROPERTIES.includes(k)));
      const coll = state[e.db]?.[e.coll];
      if (coll) coll.docs[doc.id] = doc;
    } else if (e.op === 'delete') delete state[e.db]?.[e.coll]?.docs[e.id];
  }
  return state;
}

function compactJournal() {
  if (!journalPath || !fs.existsSync(journalPath)) return {};
  const entries = [];
  for (const line of fs.readFileSync(journalPath, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      entries.push(JSON.parse(line));
    } catch {
      console.error(`tinyshop-cosmos: skipping a torn journal line (a crash mid-write): ${line.slice(0, 80)}`);
    }
  }
  const state = fold(entries);
  const lines = [];
  for (const [db, colls] of Object.entries(state)) {
    lines.push({ op: 'database', db });
    for (const [coll, { partitionKey, docs }] of Object.entries(colls)) {
      lines.push({ op: 'container', db, coll, partitionKey });
      for (const doc of Object.values(docs)) lines.push({ op: 'put', db, coll, doc });
    }
  }
  const temporary = `${journalPath}.tmp`;
  fs.writeFileSync(temporary, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  fs.renameSync(temporary, journalPath);
  return state;
}

let journalReady = false; // no journalling while the journal itself is replayed
function journal(entry) {
  if (journalPath && journalReady && entry) fs.appendFileSync(journalPath, `${JSON.stringify(entry)}\n`);
}
function record(req, body) {
  if (journalPath && journalReady) journal(journalEntry(req, body));
}

// ---------------------------------------------------------------------------- server
const server = createHttpServer();
server.keepAliveTimeout = IDLE_KEEP_ALIVE_MS;
server.headersTimeout = IDLE_KEEP_ALIVE_MS + 1000; // must exceed keepAliveTimeout

// Runs before the package's request listener (registered by createHttpServer).
server.prependListener('request', (req, res) => {
  // Fix 1: ignore the package's forced `connection` header; Node decides per request.
  // (Also: `content-location` says https whatever the scheme; say what this server speaks.)
  const setHeader = res.setHeader;
  res.setHeader = function setHeaderFixed(name, value) {
    const header = String(name).toLowerCase();
    if (header === 'connection') return this;
    if (header === 'content-location') value = String(value).replace(/^https:/, 'http:');
    return setHeader.call(this, name, value);
  };
  if (journalPath && req.method !== 'GET') {
    const end = res.end;
    res.end = function endAfterJournal(chunk, ...rest) {
      if (res.statusCode < 300) record(req, typeof chunk === 'string' ? chunk : chunk?.toString());
      return end.call(this, chunk, ...rest);
    };
  }
  if (!opts.quiet) {
    const started = Date.now();
    const path = req.url.split('?')[0];
    res.on('finish', () => console.log(`${req.method} ${path} ${res.statusCode} ${Date.now() - started}ms`));
  }
});

server.on('error', (err) => {
  console.error(`tinyshop-cosmos: cannot listen on ${opts.host}:${opts.port}: ${err.message}`);
  process.exit(1);
});
// Create the databases and containers through the server's own REST API (it checks no key).
async function createContainers(endpoint) {
  const post = async (path, body) => {
    const response = await fetch(new URL(path, endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (![201, 409].includes(response.status)) {
      throw new Error(`POST ${path} answered ${response.status}: ${await response.text()}`);
    }
  };
  for (const { database, container, partitionKey } of containers) {
    await post('/dbs', { id: database });
    await post(`/dbs/${encodeURIComponent(database)}/colls`, {
      id: container,
      partitionKey: { paths: [partitionKey], kind: 'Hash', version: 2 },
    });
    console.log(`tinyshop-cosmos: created ${database}/${container} (partition key ${partitionKey})`);
  }
  if (!journalPath) return;
  fs.mkdirSync(path.dirname(journalPath), { recursive: true });
  const state = compactJournal();
  let restored = 0;
  for (const [db, colls] of Object.entries(state)) {
    await post('/dbs', { id: db });
    for (const [coll, { partitionKey, docs }] of Object.entries(colls)) {
      const collPath = `/dbs/${encodeURIComponent(db)}/colls`;
      await post(collPath, { id: coll, partitionKey });
      for (const doc of Object.values(docs)) {
        await post(`${collPath}/${encodeURIComponent(coll)}/docs`, doc);
        restored += 1;
      }
    }
  }
  journalReady = true;
  console.log(`tinyshop-cosmos: ${restored} documents restored from ${journalPath}`);
}

server.listen(Number(opts.port), opts.host, async () => {
  const { port } = server.address();
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const endpoint = `http://${hostForUrl}:${port}/`;
  try {
    await createContainers(endpoint);
  } catch (err) {
    console.error(`tinyshop-cosmos: cannot create the containers: ${err.message}`);
    process.exit(1);
  }
  // launcher.py waits for this exact line.
  console.log(`tinyshop-cosmos listening port=${port} endpoint=${endpoint}`);
});

// Stop promptly on Ctrl-C / the supervisor / tests: open (keep-alive) connections are dropped.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
