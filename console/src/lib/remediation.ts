// Remediation actions arrive from two places: the executeRemediation answer (PENDING) and
// `remediationUpdated` pushes (CALLING, DONE, VERIFIED, FAILED, CANCELLED), in any order (a push can overtake the
// mutation's answer). Every version carries Vigil's `version`: the greater one (compared as
// strings) is the later state, so that is the one to keep.
import type { RemediationState } from "../gql/graphql";

export interface ActionLike {
  id: string;
  state?: RemediationState | null;
  version: string;
}

/** The action to show of two versions of the same action: the greater `version`. */
export function newerAction<T extends ActionLike>(current: T | undefined, incoming: T): T {
  if (!current) return incoming;
  return incoming.version >= current.version ? incoming : current;
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
  cancelled: number;
  /** PENDING: approved, not called yet (an ADMIN can still cancel these). */
  waiting: number;
  /** Every action final: VERIFIED, FAILED or CANCELLED. */
  finished: boolean;
}

/** Where a confirmed batch is. */
export function batchProgress(actions: ReadonlyMap<string, ActionLike>, ids: readonly string[]): BatchProgress {
  const p: BatchProgress = { total: ids.length, pending: 0, done: 0, verified: 0, failed: 0, cancelled: 0, waiting: 0, finished: false };
  for (const id of ids) {
    const state = actions.get(id)?.state;
    if (state === "VERIFIED") p.verified += 1;
    else if (state === "FAILED") p.failed += 1;
    else if (state === "CANCELLED") p.cancelled += 1;
    else if (state === "DONE" || state === "CALLING") p.done += 1;
    else {
      p.pending += 1;
      if (state === "PENDING") p.waiting += 1;
    }
  }
  p.finished = ids.length > 0 && p.verified + p.failed + p.cancelled === ids.length;
  return p;
}
