// What Vigil's API does with the clients frontend teams use, run by
// tests/console/test_reference_clients.py against a running Vigil:
//   node e2e/reference-clients.mjs socket      graphql-ws (the reference graphql-transport-ws
//     client, its own retry rules, retryAttempts: Infinity): a refused or revoked key ends
//     the subscription with close code 4401 after ONE connection, never a silent retry loop.
//   node e2e/reference-clients.mjs graphcache  urql with @urql/exchange-graphcache (a
//     normalised cache): a checkResultUpdated push that selects `check { id result { id } }`
//     updates the cached `checks` query by itself, without a refetch.
// Environment: VIGIL_URL, VIGIL_ADMIN_KEY, and for `socket` VIGIL_VIEWER_KEY, VIGIL_VIEWER_KEY_ID;
// for `graphcache` OFFBOARD_PERSON_ID. Node 22 has a WebSocket; Node 20 needs --experimental-websocket.
import { Client, fetchExchange, subscriptionExchange } from "@urql/core";
import { cacheExchange } from "@urql/exchange-graphcache";
import { createClient } from "graphql-ws";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const URL = env("VIGIL_URL");
const WS_URL = `${URL.replace(/^http/, "ws")}/graphql`;
const ADMIN = env("VIGIL_ADMIN_KEY");
const OFFBOARDED = "confluence-offboarded-access-removed";

/** `promise`, or a failure saying `what` did not happen within `ms` (a bound on a bug). */
function within(ms, what, promise) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function post(query, variables, key = ADMIN) {
  const response = await fetch(`${URL}/graphql`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** A graphql-ws client as a console makes it, counting its connection attempts. */
function wsClient(key) {
  const seen = { connecting: 0, closed: [] };
  const client = createClient({
    url: WS_URL,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    retryAttempts: Number.POSITIVE_INFINITY, // keep trying through network trouble...
    retryWait: () => new Promise((resolve) => setTimeout(resolve, 50)),
    on: {
      connecting: () => (seen.connecting += 1),
      closed: (event) => seen.closed.push(event.code),
    },
  });
  return { client, seen };
}

/** Subscribe; resolves with the error that ends the subscription (data goes to `onData`). */
function until_error(client, query, onData = () => {}) {
  return new Promise((resolve, reject) => {
    client.subscribe({ query }, { next: onData, error: resolve, complete: () => reject(new Error("completed without an error")) });
  });
}

async function socket() {
  // 1. A key Vigil does not know: refused at connection_init.
  const refused = wsClient("vgl_not_a_key");
  const error = await within(10_000, "graphql-ws giving up on a refused key", until_error(refused.client, "subscription { peopleChanged { totalCount } }", () => {
    throw new Error("data with a refused key");
  }));
  check(error.code === 4401, `closed with ${error.code}, expected 4401`);
  check(refused.seen.connecting === 1, `${refused.seen.connecting} connection attempts, expected 1`);
  await refused.client.dispose();
  console.log(`refused key: closed ${error.code} "${error.reason}" after 1 attempt`);

  // 2. A key revoked while its subscription is live.
  const viewer = wsClient(env("VIGIL_VIEWER_KEY"));
  let live;
  const isLive = new Promise((resolve) => (live = resolve));
  const ended = until_error(viewer.client, "subscription { peopleChanged(initial: true) { totalCount initial } }", (message) => {
    if (message.data?.peopleChanged?.initial) live();
  });
  await within(10_000, "the viewer's subscription going live", isLive);
  const revoked = await post("mutation($id: ID!) { revokeApiKey(id: $id) { userErrors { code } } }", { id: env("VIGIL_VIEWER_KEY_ID") });
  check(revoked.revokeApiKey.userErrors.length === 0, "revokeApiKey refused");
  const gone = await within(10_000, "graphql-ws giving up on a revoked key", ended);
  check(gone.code === 4401, `closed with ${gone.code}, expected 4401`);
  check(viewer.seen.connecting === 1, `${viewer.seen.connecting} connection attempts, expected 1`);
  await viewer.client.dispose();
  console.log(`revoked key: closed ${gone.code} "${gone.reason}" after 1 attempt`);
}

const RESULT = "id status changedAt failingItems(first: 5) { totalCount }";
const CHECKS = `query Checks { checks { id title result { ${RESULT} } } }`;
const PUSHES = `subscription Pushes { checkResultUpdated(initial: true) { ${RESULT} check { id result { id } } } }`;

async function graphcache() {
  let requests = 0;
  const ws = createClient({ url: WS_URL, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${ADMIN}` } });
  const client = new Client({
    url: `${URL}/graphql`,
    fetchOptions: () => ({ headers: { authorization: `Bearer ${ADMIN}` } }),
    fetch: (input, init) => {
      requests += 1;
      return fetch(input, init);
    },
    exchanges: [
      cacheExchange({ keys: { CheckItemConnection: () => null } }), // a page: part of its result
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? "" }, sink) }),
        }),
      }),
    ],
  });
  const first = await client.query(CHECKS, {}).toPromise(); // over GET: urql's default
  check(!first.error, String(first.error));
  const before = first.data.checks.find((c) => c.id === OFFBOARDED).result;
  check(before.status === "PASSING", `${OFFBOARDED} is ${before.status} before the change`);

  const pushes = [];
  let notify = () => {};
  const { unsubscribe } = client.subscription(PUSHES, {}).subscribe((result) => {
    if (result.error) throw result.error;
    pushes.push(result.data.checkResultUpdated);
    notify();
  });
  const pushed = (predicate) =>
    new Promise((resolve) => {
      const look = () => {
        const found = pushes.find(predicate);
        if (found) resolve(found);
        else notify = look;
      };
      look();
    });
  // initial: true — the current results once the subscription is live, then the changes.
  await within(10_000, "the current result of the check", pushed((p) => p.check.id === OFFBOARDED));
  const left = new Date(Date.now() - 2 * 86_400_000).toISOString();
  const offboarded = await post("mutation($input: OffboardPersonInput!) { offboardPerson(input: $input) { userErrors { code } } }", {
    input: { personId: env("OFFBOARD_PERSON_ID"), offboardedAt: left },
  });
  check(offboarded.offboardPerson.userErrors.length === 0, "offboardPerson refused");
  const failing = await within(20_000, "a FAILING push", pushed((p) => p.check.id === OFFBOARDED && p.status === "FAILING"));

  const sent = requests;
  const cached = await client.query(CHECKS, {}, { requestPolicy: "cache-only" }).toPromise();
  const after = cached.data.checks.find((c) => c.id === OFFBOARDED).result;
  check(requests === sent, "the cached query went to the network");
  check(after.id === failing.id && after.status === "FAILING", `the cache shows ${JSON.stringify(after)}, pushed ${failing.id}`);
  check(after.failingItems.totalCount === 1, `the cache shows ${after.failingItems.totalCount} failing items`);
  unsubscribe();
  await ws.dispose();
  console.log(`graphcache: Check:${OFFBOARDED}.result is the pushed ${failing.id} (FAILING), no refetch`);
}

const parts = { socket, graphcache };
const part = parts[process.argv[2]];
if (!part) throw new Error(`usage: reference-clients.mjs ${Object.keys(parts).join("|")}`);
await part();
console.log("reference clients: ok");
