// What each role may do (docs/api.md "Roles"): the console shows only the buttons a key can
// use, so a VIEWER never meets a FORBIDDEN answer.
import type { Role } from "../gql/graphql";

export type Capability =
  | "connect" // connect, disconnect, settings, admin key
  | "sync"
  | "importPeople"
  | "manageIdentities" // link, mark not staff, clear
  | "manageCriticalSystems"
  | "startReview"
  | "decideReview"
  | "completeReview"
  | "manageExceptions"
  | "remediate";

const REVIEWER: ReadonlySet<Capability> = new Set<Capability>(["decideReview", "completeReview"]);

export function can(role: Role | null | undefined, capability: Capability): boolean {
  if (role === "ADMIN") return true;
  if (role === "REVIEWER") return REVIEWER.has(capability);
  return false;
}

export function roleDescription(role: Role): string {
  switch (role) {
    case "ADMIN":
      return "can change everything";
    case "REVIEWER":
      return "reads everything and decides access reviews";
    case "VIEWER":
      return "reads everything";
  }
}
