import { describe, expect, it } from "vitest";
import { statusAdvice } from "./Integrations";
import { latestResult, type ResultView } from "./Overview";
import { identityText } from "./People";

const result = (evaluatedAt: string, status: ResultView["status"]): ResultView => ({
  id: evaluatedAt,
  checkId: "c",
  status,
  reason: null,
  evaluatedAt,
  dataAsOf: null,
  changedAt: evaluatedAt,
  failingItems: { totalCount: status === "FAILING" ? 1 : 0 },
  exceptedItems: [],
});

describe("overview: a pushed result replaces the query's only when newer", () => {
  it("keeps the newer of the two", () => {
    const old = result("2026-01-01T00:00:00Z", "PASSING");
    const pushed = result("2026-01-01T00:01:00Z", "FAILING");
    expect(latestResult(old, pushed)).toBe(pushed);
    expect(latestResult(pushed, old)).toBe(pushed);
    expect(latestResult(old, undefined)).toBe(old);
    expect(latestResult(null, pushed)).toBe(pushed);
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
