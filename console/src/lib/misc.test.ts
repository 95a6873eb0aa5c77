import { describe, expect, it } from "vitest";
import { authHeaders, normaliseKey, SESSION, signInRefusal } from "./auth";
import { reconnectDelay } from "./client";
import { relative } from "./format";
import { historySeries } from "./history";
import { rowProblems } from "./http";
import { matchesItem, searchPages } from "./items";
import { can } from "./roles";
import { consolePath, matchRoute, pathOf } from "./router";
import { phaseStep } from "./sync";

describe("roles", () => {
  it("lets a REVIEWER decide reviews only, and a VIEWER nothing", () => {
    expect(can("ADMIN", "remediate")).toBe(true);
    expect(can("REVIEWER", "decideReview")).toBe(true);
    expect(can("REVIEWER", "completeReview")).toBe(true);
    expect(can("REVIEWER", "remediate")).toBe(false);
    expect(can("REVIEWER", "sync")).toBe(false);
    expect(can("VIEWER", "decideReview")).toBe(false);
    expect(can(undefined, "connect")).toBe(false);
  });
});

describe("router", () => {
  it("matches every screen and round-trips paths", () => {
    for (const path of ["/", "/integrations", "/accounts", "/people", "/reviews", "/remediation", "/evidence", "/checks/confluence-mfa-enabled", "/reviews/rev_1"]) {
      expect(matchRoute(path).name).not.toBe("notFound");
      expect(pathOf(matchRoute(path))).toBe(path);
    }
    expect(matchRoute("/checks/a%2Fb")).toEqual({ name: "check", id: "a/b" });
    expect(matchRoute("/nope").name).toBe("notFound");
    expect(matchRoute("/checks/a/b").name).toBe("notFound");
  });

  it("reads the console path under /console", () => {
    expect(consolePath("/console/")).toBe("/");
    expect(consolePath("/console")).toBe("/");
    expect(consolePath("/console/reviews/x")).toBe("/reviews/x");
    expect(consolePath("/elsewhere")).toBe("/");
  });
});

describe("sign-in key", () => {
  it("drops what people paste along with a key", () => {
    expect(normaliseKey('  Bearer "vgl_abc"  ')).toBe("vgl_abc");
    expect(normaliseKey("vgl_abc\n")).toBe("vgl_abc");
  });
});

describe("sessions", () => {
  it("sends the CSRF header with the cookie, the key otherwise (never both)", () => {
    expect(authHeaders(SESSION)).toEqual({ "x-vigil-csrf": "1" });
    expect(authHeaders({ kind: "key", key: "vgl_abc" })).toEqual({ authorization: "Bearer vgl_abc" });
  });
  it("reads why a sign-in was refused from the return address", () => {
    expect(signInRefusal("?signin=refused&message=ada%40acme.example+has+not+been+invited")).toBe(
      "ada@acme.example has not been invited",
    );
    expect(signInRefusal("?integration=int_1&status=connected")).toBeNull();
  });
});

describe("live connection", () => {
  it("backs off exponentially up to 30 s", () => {
    const mid = () => 0.5;
    expect(reconnectDelay(0, mid)).toBe(1000);
    expect(reconnectDelay(3, mid)).toBe(8000);
    expect(reconnectDelay(20, mid)).toBe(30000);
  });
});

describe("sync progress", () => {
  it("advances through the purpose's phases and never goes back", () => {
    expect(phaseStep("ACCESS_REVIEW", "QUEUED")).toEqual({ value: 0, max: 8 });
    expect(phaseStep("ACCESS_REVIEW", "ROLES").value).toBe(5);
    expect(phaseStep("ACCESS_REVIEW", "USERS").value).toBe(6);
    expect(phaseStep("ACCESS_REVIEW", "GROUPS", 4).value).toBe(4);
    expect(phaseStep("POLICY", "PAGES")).toEqual({ value: 2, max: 4 });
    expect(phaseStep("POLICY", "DONE").value).toBe(4);
    expect(phaseStep("POLICY", "FAILED", 2).value).toBe(2);
  });
});

describe("history series", () => {
  it("sorts changes oldest first and holds the last value until now", () => {
    const now = Date.UTC(2026, 0, 3);
    const s = historySeries(
      [
        { changedAt: "2026-01-02T00:00:00Z", status: "FAILING", failingCount: 3 },
        { changedAt: "2026-01-01T00:00:00Z", status: "PASSING", failingCount: 0 },
      ],
      now,
    );
    expect(s.x).toEqual([Date.UTC(2026, 0, 1) / 1000, Date.UTC(2026, 0, 2) / 1000, now / 1000]);
    expect(s.failing).toEqual([0, 3, 3]);
    expect(s.level).toEqual([0, 3, 3]);
    expect(historySeries([], now)).toEqual({ x: [], failing: [], level: [] });
  });
});

describe("failing item search", () => {
  it("matches name, id or reason case-insensitively", () => {
    const item = { resourceId: "557058:abc", name: "Ada Lovelace", reason: "offboarded on 2026-01-01" };
    expect(matchesItem(item, "ada")).toBe(true);
    expect(matchesItem(item, "557058")).toBe(true);
    expect(matchesItem(item, "OFFBOARDED")).toBe(true);
    expect(matchesItem(item, "grace")).toBe(false);
    expect(matchesItem(item, "  ")).toBe(true);
  });

  it("reads pages until the end, or stops at the limit and says so", async () => {
    const all = Array.from({ length: 1200 }, (_, i) => ({ resourceId: `id${i}`, name: i % 100 === 0 ? `match ${i}` : `n${i}`, reason: "r" }));
    const fetchPage = async (after: string | null) => {
      const start = after ? Number(after) : 0;
      const items = all.slice(start, start + 500);
      const end = start + items.length;
      return { items, endCursor: String(end), hasNextPage: end < all.length };
    };
    const complete = await searchPages(fetchPage, "match");
    expect(complete).toMatchObject({ read: 1200, complete: true });
    expect(complete.matches).toHaveLength(12);
    const capped = await searchPages(fetchPage, "match", 1000);
    expect(capped).toMatchObject({ read: 1000, complete: false });
    expect(capped.matches).toHaveLength(10);
  });
});

describe("people import", () => {
  it("lists the rejected rows in file order", () => {
    const body = {
      errors: [
        { message: "offboarded_at is required when OFFBOARDED", extensions: { code: "VALIDATION_FAILED", row: 7, column: "offboarded_at" } },
        { message: "not a valid email", extensions: { code: "VALIDATION_FAILED", row: 3, column: "email" } },
      ],
    };
    expect(rowProblems(body)).toEqual([
      { row: 3, column: "email", message: "not a valid email" },
      { row: 7, column: "offboarded_at", message: "offboarded_at is required when OFFBOARDED" },
    ]);
    expect(rowProblems({ nope: 1 })).toEqual([]);
  });
});

describe("relative times", () => {
  it("reads naturally", () => {
    const now = Date.UTC(2026, 0, 10, 12);
    expect(relative(new Date(now - 10_000).toISOString(), now)).toBe("just now");
    expect(relative(new Date(now - 5 * 60_000).toISOString(), now)).toBe("5 min ago");
    expect(relative(new Date(now - 3 * 3600_000).toISOString(), now)).toBe("3 h ago");
    expect(relative(new Date(now - 86400_000).toISOString(), now)).toBe("1 day ago");
    expect(relative(new Date(now + 4 * 86400_000).toISOString(), now)).toBe("in 4 days");
    expect(relative(null, now)).toBe("never");
  });
});
