// The GraphQL client: urql over HTTP (queries as GET within the URL limit, urql's default;
// mutations as POST), graphql-ws (`graphql-transport-ws`) for subscriptions, both with the
// person's session cookie (plus the X-Vigil-CSRF header on HTTP) or with an API key; the
// set-up of docs/frontend.md. graphql-ws never retries the closes that end a session (4401
// credential refused, 4429 too many sockets, 4400), whatever `shouldRetry` says: the console
// retries everything else (network drops, 4008 slow reader, 1013 try again later) and says
// why it stopped (errors.ts socketCloseProblem).
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from "@urql/core";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
import { authHeaders, type Credential } from "./auth";
import { socketCloseProblem, type Problem } from "./errors";

export type LiveStatus = "connecting" | "live" | "reconnecting" | "stopped";

export interface LiveState {
  status: LiveStatus;
  /** Why the live connection stopped for good (a refused key, too many sockets). */
  problem: Problem | null;
  /** Increments on every (re)connection: screens re-read what they show when it moves past 1. */
  epoch: number;
}

export interface ConsoleClient {
  client: Client;
  dispose: () => void;
}

interface CloseLike {
  code: number;
  reason: string;
}

function isCloseEvent(value: unknown): value is CloseLike {
  return typeof value === "object" && value !== null && "code" in value && typeof (value as CloseLike).code === "number";
}

/** Wait before reconnect attempt `retries` (0-based): 1 s, 2 s, 4 s … up to 30 s, with jitter. */
export function reconnectDelay(retries: number, random: () => number = Math.random): number {
  const base = Math.min(30_000, 1000 * 2 ** Math.min(retries, 5));
  return Math.round(base * (0.75 + random() * 0.5));
}

export function graphqlUrl(origin: string = window.location.origin): { http: string; ws: string } {
  return { http: `${origin}/graphql`, ws: `${origin.replace(/^http/, "ws")}/graphql` };
}

const SESSION_ENDED: Problem = {
  kind: "unauthenticated",
  title: "Your session has ended",
  detail: "You signed out, your session timed out, or an ADMIN removed you. Sign in again.",
};

export function createConsoleClient(
  credential: Credential,
  handlers: { onRefused: (problem: Problem) => void; onLive: (state: LiveState) => void },
): ConsoleClient {
  const urls = graphqlUrl();
  let epoch = 0;
  let stopped = false;
  const report = (status: LiveStatus, problem: Problem | null = null) => {
    if (!stopped || status === "stopped") handlers.onLive({ status, problem, epoch });
  };

  const ws: WsClient = createWsClient({
    url: urls.ws,
    // A session authenticates the socket with its cookie, sent by the browser itself.
    connectionParams: credential.kind === "key" ? { authorization: `Bearer ${credential.key}` } : {},
    lazy: false,
    keepAlive: 20_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true, // network errors too; the fatal closes end it anyway
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, reconnectDelay(retries))),
    onNonLazyError: () => {
      // reported through `closed` below
    },
    on: {
      connecting: () => report(epoch === 0 ? "connecting" : "reconnecting"),
      connected: () => {
        epoch += 1;
        report("live");
      },
      closed: (event) => {
        if (stopped) return;
        const problem = isCloseEvent(event) ? socketCloseProblem(event.code, event.reason ?? "") : null;
        if (problem) {
          stopped = true;
          report("stopped", problem);
          if (problem.kind === "unauthenticated") handlers.onRefused(credential.kind === "key" ? problem : SESSION_ENDED);
        } else report("reconnecting");
      },
    },
  });

  const client = new Client({
    url: urls.http,
    requestPolicy: "cache-and-network",
    fetchOptions: () => ({ headers: authHeaders(credential), credentials: "same-origin" }),
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      if (response.status === 401) {
        handlers.onRefused(
          credential.kind === "key"
            ? {
                kind: "unauthenticated",
                title: "Your key was refused",
                detail: "Vigil no longer accepts this API key (revoked or mistyped). Sign in again with a valid key.",
              }
            : SESSION_ENDED,
        );
      }
      return response;
    },
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? "" };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });

  return {
    client,
    dispose: () => {
      stopped = true;
      // dispose() awaits a connection attempt that may already have been refused (4401):
      // that refusal was reported above, so its rejection is not news.
      Promise.resolve(ws.dispose()).catch(() => {});
    },
  };
}
