import { describe, expect, it } from "vitest";
import { statusInfo, statusLevel, tally, worstStatus } from "./status";

describe("statusInfo", () => {
  it("gives every status a word, a tone and a distinct symbol", () => {
    const all = (["PASSING", "FAILING", "ERROR", "NOT_MONITORED"] as const).map(statusInfo);
    expect(all.map((s) => s.label)).toEqual(["Passing", "Failing", "Error", "Not monitored"]);
    expect(all.map((s) => s.tone)).toEqual(["good", "bad", "warn", "neutral"]);
    expect(new Set(all.map((s) => s.symbol)).size).toBe(4);
  });

  it("shows a check without a result, or an unknown status, as not evaluated", () => {
    expect(statusInfo(null).label).toBe("Not evaluated");
    expect(statusInfo(undefined).label).toBe("Not evaluated");
    expect(statusInfo("SOMETHING_NEW").label).toBe("Not evaluated");
  });
});

describe("worstStatus", () => {
  it("orders FAILING, ERROR, NOT_MONITORED, PASSING as the API's control roll-up does", () => {
    expect(worstStatus(["PASSING", "FAILING", "ERROR"])).toBe("FAILING");
    expect(worstStatus(["PASSING", "ERROR", "NOT_MONITORED"])).toBe("ERROR");
    expect(worstStatus(["PASSING", "NOT_MONITORED"])).toBe("NOT_MONITORED");
    expect(worstStatus(["PASSING", "PASSING"])).toBe("PASSING");
  });

  it("counts a check without a result as not monitored, and nothing as not monitored", () => {
    expect(worstStatus(["PASSING", null])).toBe("NOT_MONITORED");
    expect(worstStatus([])).toBe("NOT_MONITORED");
  });
});

describe("tally", () => {
  it("counts each status like StatusCounts", () => {
    expect(tally(["PASSING", "FAILING", "FAILING", "ERROR", "NOT_MONITORED", null])).toEqual({
      passing: 1,
      failing: 2,
      error: 1,
      notMonitored: 2,
      total: 6,
    });
  });
});

describe("statusLevel", () => {
  it("plots worse statuses higher", () => {
    expect(statusLevel("PASSING")).toBeLessThan(statusLevel("NOT_MONITORED"));
    expect(statusLevel("NOT_MONITORED")).toBeLessThan(statusLevel("ERROR"));
    expect(statusLevel("ERROR")).toBeLessThan(statusLevel("FAILING"));
  });
});
