// A check's history (one entry per change, newest first) as series to plot: the failing
// count and the status level, held until the next change, and up to now.
import type { CheckStatus } from "../gql/graphql";
import { statusLevel } from "./status";

export interface HistoryEntry {
  changedAt: string;
  status: CheckStatus;
  failingCount: number;
}

export interface HistorySeries {
  /** Unix seconds, ascending. */
  x: number[];
  failing: number[];
  level: number[];
}

export function historySeries(entries: readonly HistoryEntry[], now: number = Date.now()): HistorySeries {
  const sorted = entries
    .map((e) => ({ ...e, t: Math.floor(new Date(e.changedAt).getTime() / 1000) }))
    .filter((e) => Number.isFinite(e.t))
    .sort((a, b) => a.t - b.t);
  const out: HistorySeries = { x: [], failing: [], level: [] };
  for (const e of sorted) {
    const last = out.x.length - 1;
    if (last >= 0 && out.x[last] === e.t) {
      // Two changes in one second: the later one stands.
      out.failing[last] = e.failingCount;
      out.level[last] = statusLevel(e.status);
      continue;
    }
    out.x.push(e.t);
    out.failing.push(e.failingCount);
    out.level.push(statusLevel(e.status));
  }
  const nowS = Math.floor(now / 1000);
  const lastT = out.x[out.x.length - 1];
  if (lastT !== undefined && nowS > lastT) {
    out.x.push(nowS);
    out.failing.push(out.failing[out.failing.length - 1]!);
    out.level.push(out.level[out.level.length - 1]!);
  }
  return out;
}
