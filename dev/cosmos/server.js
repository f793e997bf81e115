// TinyShop local Cosmos DB: npm @vercel/cosmosdb-server behind a small launcher.
//
// Stands in for Azure Cosmos DB for NoSQL on a developer machine and in tests
// (docs/architecture.md, "Local stand-ins"):
//   * Plain HTTP on 127.0.0.1:8081 (the emulator's port). In memory: a restart loses all data.
//   * Any account key is accepted (clients sign with the emulator's well-known key).
//   * `--container tinyshop/order-events=/orderId` creates a database and container before the
//     server reports that it listens, so a restarted stand-in is usable again at once.
// The launcher fixes three things the package gets wrong (see README.md):
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
//
// Started by launcher.py; run by hand with
//   node server.js [--host 127.0.0.1] [--port 8081] [--container DB/CONTAINER=/pk]... [--quiet]
// (or TINYSHOP_COSMOS_HOST/_PORT). Port 0 picks a free port. It prints
// `tinyshop-cosmos listening port=N endpoint=URL` once it accepts connections.

import { createRequire } from 'node:module';
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

const { createHttpServer } = require(PACKAGE);

// Fail at start, not at the first request, if a package upgrade changed how routes are bound.
const route = require(`${PACKAGE}/lib/routes.js`).default;
const probe = (method, url) => route({ method, url, headers: {} })?.[1];
if (probe('GET', '/dbs/d/colls/c/docs/x') !== readDocumentOr404 || probe('GET', '/') !== readMetaHere) {
  console.error(`tinyshop-cosmos: ${PACKAGE} no longer routes through the patched handlers; update server.js`);
  process.exit(1);
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

// Stop promptly on Ctrl-C / honcho / tests: open (keep-alive) connections are dropped.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
