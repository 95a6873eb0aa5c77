import { describe, expect, it } from "vitest";
import { statusAdvice } from "./Integrations";
import { applyPush, type ResultView } from "./Overview";
import { identityText } from "./People";

const result = (evaluatedAt: string, status: ResultView["status"]): ResultView => ({
  id: evaluatedAt,
  status,
  reason: null,
  evaluatedAt,
  dataAsOf: null,
  changedAt: evaluatedAt,
  failingItems: { totalCount: status === "FAILING" ? 1 : 0 },
  exceptedItems: [],
});

describe("overview: pushed results by check id", () => {
  it("shows the push and announces only a change of status", () => {
    const shown = result("2026-01-01T00:00:00Z", "PASSING");
    const current = result("2026-01-01T00:00:00Z", "PASSING"); // initial: true repeats it
    const first = applyPush({}, "c", current, shown);
    expect(first).toEqual({ next: { c: current }, statusChanged: false });
    const failing = result("2026-01-01T00:01:00Z", "FAILING");
    const second = applyPush(first.next, "c", failing, shown);
    expect(second.next.c).toBe(failing);
    expect(second.statusChanged).toBe(true);
    const more = result("2026-01-01T00:02:00Z", "FAILING"); // more failing items, same status
    expect(applyPush(second.next, "c", more, shown).statusChanged).toBe(false);
    expect(applyPush({}, "new", failing, null).statusChanged).toBe(false);
  });
});

describe("identity in words", () => {
  it("names the person, the kind, or nobody", () => {
    const base = { kind: null, reason: null, method: null, decidedAt: null, person: null };
    expect(identityText({ ...base, classification: "UNIDENTIFIED" })).toBe("Nobody yet");
    expect(
      identityText({ ...base, classification: "STAFF", method: "AUTO_EMAIL", person: { id: "p", name: "Ada", email: "a@x", status: "OFFBOARDED" } }),
    ).toBe("Ada (offboarded)");
    expect(identityText({ ...base, classification: "NOT_STAFF", kind: "SERVICE", reason: "CI bot", method: "MANUAL" })).toBe("service account: CI bot");
    expect(identityText({ ...base, classification: "NOT_STAFF", kind: "SYSTEM", reason: "Atlassian app account", method: "AUTO_APP" })).toBe("Atlassian app");
  });
});

describe("integration status advice", () => {
  it("says what to do when a credential was refused", () => {
    expect(statusAdvice("NEEDS_REAUTH")).toMatch(/connect again/);
    expect(statusAdvice("CONNECTED")).toBeNull();
  });
});
