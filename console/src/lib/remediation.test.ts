import { describe, expect, it } from "vitest";
import { batchProgress, mergeActions, newerAction, type ActionLike } from "./remediation";

// Vigil's version: updatedAt in ms (15 digits), then the state's rank.
const v = (ms: number, rank: number) => `${String(ms).padStart(15, "0")}.${rank}`;
const act = (state: NonNullable<ActionLike["state"]>, version: string): ActionLike => ({ id: "a", state, version });

describe("newerAction", () => {
  it("keeps a VERIFIED push that arrived before the mutation's PENDING answer", () => {
    const pushed = act("VERIFIED", v(3000, 2));
    const answer = act("PENDING", v(1000, 0));
    expect(newerAction(pushed, answer)).toBe(pushed);
    expect(newerAction(answer, pushed)).toBe(pushed);
  });

  it("orders states of the same millisecond by Vigil's version", () => {
    const done = act("DONE", v(2000, 1));
    const pending = act("PENDING", v(2000, 0));
    expect(newerAction(done, pending)).toBe(done);
  });

  it("takes a FAILED action approved again (PENDING, later)", () => {
    const failed = act("FAILED", v(2000, 2));
    const retried = act("PENDING", v(5000, 0));
    expect(newerAction(failed, retried)).toBe(retried);
  });

  it("compares as strings across digit counts thanks to the padding", () => {
    expect(newerAction(act("DONE", v(999, 1)), act("DONE", v(1000, 1))).version).toBe(v(1000, 1));
  });
});

describe("mergeActions and batchProgress", () => {
  it("tracks a batch to its end whatever the order of arrival", () => {
    let m = mergeActions(new Map<string, ActionLike>(), [
      { id: "a", state: "VERIFIED", version: v(4000, 2) },
      { id: "b", state: "DONE", version: v(3000, 1) },
    ]);
    m = mergeActions(m, [
      { id: "a", state: "PENDING", version: v(1000, 0) },
      { id: "b", state: "PENDING", version: v(1000, 0) },
      { id: "c", state: "PENDING", version: v(1000, 0) },
    ]);
    expect(batchProgress(m, ["a", "b", "c"])).toEqual({ total: 3, pending: 1, done: 1, verified: 1, failed: 0, cancelled: 0, waiting: 1, finished: false });
    m = mergeActions(m, [
      { id: "b", state: "VERIFIED", version: v(6000, 2) },
      { id: "c", state: "FAILED", version: v(6000, 2) },
    ]);
    expect(batchProgress(m, ["a", "b", "c"])).toMatchObject({ verified: 2, failed: 1, finished: true });
    expect(batchProgress(m, []).finished).toBe(false);
  });

  it("counts a CANCELLED action as final and a CALLING one as under way", () => {
    const m = mergeActions(new Map<string, ActionLike>(), [
      { id: "a", state: "CANCELLED", version: v(2000, 3) },
      { id: "b", state: "CALLING", version: v(2000, 1) },
    ]);
    expect(batchProgress(m, ["a", "b"])).toMatchObject({ cancelled: 1, done: 1, waiting: 0, finished: false });
    const later = mergeActions(m, [{ id: "b", state: "VERIFIED", version: v(3000, 3) }]);
    expect(batchProgress(later, ["a", "b"])).toMatchObject({ cancelled: 1, verified: 1, finished: true });
  });
});
