// The GraphQL client: urql over HTTP (queries as GET within the URL limit, urql's default;
// mutations as POST), graphql-ws (`graphql-transport-ws`) for subscriptions, both with the
// API key; the set-up of docs/frontend.md. graphql-ws never retries the closes that end a
// session (4401 key refused, 4429 too many sockets, 4400), whatever `shouldRetry` says: the
// console retries everything else (network drops, 4008 slow reader, 1013 try again later)
// and says why it stopped (errors.ts socketCloseProblem).
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from "@urql/core";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
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

export function createConsoleClient(
  key: string,
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
    connectionParams: { authorization: `Bearer ${key}` },
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
          if (problem.kind === "unauthenticated") handlers.onRefused(problem);
        } else report("reconnecting");
      },
    },
  });

  const client = new Client({
    url: urls.http,
    requestPolicy: "cache-and-network",
    fetchOptions: () => ({ headers: { authorization: `Bearer ${key}` } }),
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      if (response.status === 401) {
        handlers.onRefused({
          kind: "unauthenticated",
          title: "Your key was refused",
          detail: "Vigil no longer accepts this API key (revoked or mistyped). Sign in again with a valid key.",
        });
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
