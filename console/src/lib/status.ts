// Check statuses as a person reads them: a word AND a colour (never colour alone), and the
// roll-up the API applies to controls (a control is as bad as its worst check).
import type { CheckStatus } from "../gql/graphql";

export type Tone = "good" | "bad" | "warn" | "neutral";

export interface StatusInfo {
  label: string;
  tone: Tone;
  /** A shape that differs per status, for people who cannot tell the colours apart. */
  symbol: string;
  /** One sentence for a screen reader or a tooltip. */
  description: string;
}

const INFO: Record<CheckStatus, StatusInfo> = {
  PASSING: { label: "Passing", tone: "good", symbol: "✓", description: "No failing item." },
  FAILING: {
    label: "Failing",
    tone: "bad",
    symbol: "✕",
    description: "At least one item fails the check.",
  },
  ERROR: {
    label: "Error",
    tone: "warn",
    symbol: "!",
    description: "The check could not be evaluated on current data.",
  },
  NOT_MONITORED: {
    label: "Not monitored",
    tone: "neutral",
    symbol: "–",
    description: "The check lacks what it needs (an integration, data or a critical system).",
  },
};

const UNKNOWN: StatusInfo = {
  label: "Not evaluated",
  tone: "neutral",
  symbol: "–",
  description: "The check has no result yet.",
};

/** How to show a status; null/undefined (no result yet) and unknown values are "Not evaluated". */
export function statusInfo(status: CheckStatus | string | null | undefined): StatusInfo {
  if (status && status in INFO) return INFO[status as CheckStatus];
  return UNKNOWN;
}

// Worst first, as ControlSummary.status documents it: FAILING, ERROR, NOT_MONITORED, PASSING.
const SEVERITY: CheckStatus[] = ["FAILING", "ERROR", "NOT_MONITORED", "PASSING"];

/** The worst of some statuses (a check without a result counts as NOT_MONITORED). */
export function worstStatus(statuses: Array<CheckStatus | null | undefined>): CheckStatus {
  let worst = SEVERITY.length - 1;
  if (statuses.length === 0) return "NOT_MONITORED";
  for (const s of statuses) {
    const rank = SEVERITY.indexOf(s ?? "NOT_MONITORED");
    if (rank >= 0 && rank < worst) worst = rank;
  }
  return SEVERITY[worst] ?? "NOT_MONITORED";
}

export interface StatusTally {
  passing: number;
  failing: number;
  notMonitored: number;
  error: number;
  total: number;
}

/** Counts per status, as StatusCounts has them. */
export function tally(statuses: Array<CheckStatus | null | undefined>): StatusTally {
  const t: StatusTally = { passing: 0, failing: 0, notMonitored: 0, error: 0, total: 0 };
  for (const s of statuses) {
    t.total += 1;
    if (s === "PASSING") t.passing += 1;
    else if (s === "FAILING") t.failing += 1;
    else if (s === "ERROR") t.error += 1;
    else t.notMonitored += 1;
  }
  return t;
}

/** A numeric level for plotting a status over time (higher is worse). */
export function statusLevel(status: CheckStatus | null | undefined): number {
  switch (status) {
    case "PASSING":
      return 0;
    case "NOT_MONITORED":
      return 1;
    case "ERROR":
      return 2;
    case "FAILING":
      return 3;
    default:
      return 1;
  }
}

export const STATUS_LEVEL_LABELS = ["Passing", "Not monitored", "Error", "Failing"];
