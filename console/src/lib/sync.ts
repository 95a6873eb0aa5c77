// A sync run's progress as a bar. SyncProgress carries counters but no expected total, so
// the bar advances through the phases of the run's purpose (and never moves backwards).
import type { IntegrationPurpose, SyncPhase } from "../gql/graphql";

const PHASES: Record<IntegrationPurpose, SyncPhase[]> = {
  ACCESS_REVIEW: ["QUEUED", "STARTING", "GROUPS", "MEMBERS", "DIRECTORY", "ROLES", "USERS", "COMMITTING", "DONE"],
  POLICY: ["QUEUED", "STARTING", "PAGES", "COMMITTING", "DONE"],
};

const LABELS: Record<SyncPhase, string> = {
  QUEUED: "Waiting for a worker",
  STARTING: "Connecting to Atlassian",
  GROUPS: "Listing groups",
  MEMBERS: "Reading group members",
  DIRECTORY: "Reading the organization directory",
  ROLES: "Reading roles and admin rights",
  USERS: "Reading user details",
  PAGES: "Reading policy pages",
  COMMITTING: "Saving the new snapshot",
  DONE: "Done",
  FAILED: "Failed",
};

export function phaseLabel(phase: SyncPhase): string {
  return LABELS[phase] ?? phase;
}

export interface PhaseStep {
  /** Steps completed, 0..max. */
  value: number;
  max: number;
}

/** How far a run in `phase` is; `previous` keeps the bar from moving back. */
export function phaseStep(purpose: IntegrationPurpose, phase: SyncPhase, previous = 0): PhaseStep {
  const phases = PHASES[purpose];
  const max = phases.length - 1;
  let value: number;
  if (phase === "FAILED") value = previous;
  else {
    const i = phases.indexOf(phase);
    value = i >= 0 ? i : previous;
  }
  return { value: Math.min(max, Math.max(previous, value)), max };
}
