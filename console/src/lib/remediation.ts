// Remediation actions arrive from two places: the executeRemediation answer (PENDING) and
// `remediationUpdated` pushes (DONE, VERIFIED, FAILED). A push can arrive before the
// mutation's own answer, so the newer state always wins: the later `updatedAt`, and at the
// same instant the state further along. A FAILED action approved again is PENDING later.
import type { RemediationState } from "../gql/graphql";

export interface ActionLike {
  id: string;
  state?: RemediationState | null;
  updatedAt?: string | null;
}

const RANK: Record<RemediationState, number> = { PENDING: 0, DONE: 1, VERIFIED: 2, FAILED: 2 };

function time(iso: string | null | undefined): number {
  const t = iso ? new Date(iso).getTime() : Number.NaN;
  return Number.isNaN(t) ? -Infinity : t;
}

function rank(state: RemediationState | null | undefined): number {
  return state ? RANK[state] : -1;
}

/** The action to show of two versions of the same action. */
export function newerAction<T extends ActionLike>(current: T | undefined, incoming: T): T {
  if (!current) return incoming;
  const a = time(current.updatedAt);
  const b = time(incoming.updatedAt);
  if (b !== a) return b > a ? incoming : current;
  return rank(incoming.state) >= rank(current.state) ? incoming : current;
}

/** Merge versions into a map by id, keeping the newer of each. */
export function mergeActions<T extends ActionLike>(map: ReadonlyMap<string, T>, incoming: readonly T[]): Map<string, T> {
  const out = new Map(map);
  for (const action of incoming) out.set(action.id, newerAction(out.get(action.id), action));
  return out;
}

export interface BatchProgress {
  total: number;
  pending: number;
  done: number;
  verified: number;
  failed: number;
  /** Every action VERIFIED or FAILED. */
  finished: boolean;
}

/** Where a confirmed batch is. */
export function batchProgress(actions: ReadonlyMap<string, ActionLike>, ids: readonly string[]): BatchProgress {
  const p: BatchProgress = { total: ids.length, pending: 0, done: 0, verified: 0, failed: 0, finished: false };
  for (const id of ids) {
    const state = actions.get(id)?.state;
    if (state === "VERIFIED") p.verified += 1;
    else if (state === "FAILED") p.failed += 1;
    else if (state === "DONE") p.done += 1;
    else p.pending += 1;
  }
  p.finished = ids.length > 0 && p.verified + p.failed === ids.length;
  return p;
}
