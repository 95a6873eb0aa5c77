import { describe, expect, it } from "vitest";
import { batchProgress, mergeActions, newerAction, type ActionLike } from "./remediation";

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const act = (state: NonNullable<ActionLike["state"]>, s: number): ActionLike => ({ id: "a", state, updatedAt: at(s) });

describe("newerAction", () => {
  it("keeps a VERIFIED push that arrived before the mutation's PENDING answer", () => {
    const pushed = act("VERIFIED", 3);
    const answer = act("PENDING", 1);
    expect(newerAction(pushed, answer)).toBe(pushed);
    expect(newerAction(answer, pushed)).toBe(pushed);
  });

  it("prefers the state further along at the same instant", () => {
    const done = act("DONE", 2);
    const pending = act("PENDING", 2);
    expect(newerAction(done, pending)).toBe(done);
  });

  it("takes a FAILED action approved again (PENDING, later)", () => {
    const failed = act("FAILED", 2);
    const retried = act("PENDING", 5);
    expect(newerAction(failed, retried)).toBe(retried);
  });
});

describe("mergeActions and batchProgress", () => {
  it("tracks a batch to its end whatever the order of arrival", () => {
    let m = mergeActions(new Map<string, ActionLike>(), [
      { id: "a", state: "VERIFIED", updatedAt: at(4) },
      { id: "b", state: "DONE", updatedAt: at(3) },
    ]);
    m = mergeActions(m, [
      { id: "a", state: "PENDING", updatedAt: at(1) },
      { id: "b", state: "PENDING", updatedAt: at(1) },
      { id: "c", state: "PENDING", updatedAt: at(1) },
    ]);
    expect(batchProgress(m, ["a", "b", "c"])).toEqual({ total: 3, pending: 1, done: 1, verified: 1, failed: 0, finished: false });
    m = mergeActions(m, [
      { id: "b", state: "VERIFIED", updatedAt: at(6) },
      { id: "c", state: "FAILED", updatedAt: at(6) },
    ]);
    expect(batchProgress(m, ["a", "b", "c"])).toMatchObject({ verified: 2, failed: 1, finished: true });
    expect(batchProgress(m, []).finished).toBe(false);
  });
});
