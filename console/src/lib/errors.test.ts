import { describe, expect, it } from "vitest";
import { fieldKey, mutationErrors, noErrors, problemFrom, problemFromHttp, socketCloseProblem, splitUserErrors, userErrorText } from "./errors";

describe("problemFrom (GraphQL and transport errors)", () => {
  it("reads extensions.code first", () => {
    const p = problemFrom({
      graphQLErrors: [{ message: "rate limit exceeded", extensions: { code: "RATE_LIMITED", retryAfter: 7 } }],
      response: { status: 429 },
    });
    expect(p).toMatchObject({ kind: "rateLimited", retryAfter: 7 });
    expect(p!.detail).toContain("in 7 s");
  });

  it("says a refused key is refused (401 without a body the client could parse)", () => {
    const p = problemFrom({ graphQLErrors: [], response: { status: 401 }, message: "[Network] Unauthorized" });
    expect(p).toMatchObject({ kind: "unauthenticated", title: "Your key was refused" });
  });

  it("quotes the request id of an internal error", () => {
    const p = problemFrom({ graphQLErrors: [{ message: "internal error", extensions: { code: "INTERNAL", requestId: "abc123" } }] });
    expect(p!.kind).toBe("internal");
    expect(p!.detail).toContain("abc123");
  });

  it("tells a network failure apart from a server answer", () => {
    const p = problemFrom({ graphQLErrors: [], networkError: new TypeError("Failed to fetch") });
    expect(p).toMatchObject({ kind: "network", title: "Cannot reach Vigil" });
  });

  it("keeps the server's message for codes it does not know", () => {
    const p = problemFrom({ graphQLErrors: [{ message: "odd", extensions: { code: "SOMETHING_NEW" } }] });
    expect(p).toMatchObject({ kind: "other", detail: "odd" });
  });

  it("is null without an error", () => {
    expect(problemFrom(undefined)).toBeNull();
  });
});

describe("problemFromHttp", () => {
  it("maps the JSON error shape of /people/import and /evidence/export", () => {
    const body = { errors: [{ message: "check nope not found", extensions: { code: "NOT_FOUND" } }] };
    expect(problemFromHttp(404, body)).toMatchObject({ kind: "notFound", detail: "check nope not found" });
  });

  it("falls back on the status when the body is not JSON", () => {
    expect(problemFromHttp(503, null).kind).toBe("unavailable");
    expect(problemFromHttp(500, null).kind).toBe("internal");
  });
});

describe("user errors", () => {
  it("names the field after the argument", () => {
    expect(fieldKey(["input", "email"])).toBe("email");
    expect(fieldKey(["input", "0", "offboardedAt"])).toBe("0.offboardedAt");
    expect(fieldKey(["id"])).toBe("id");
    expect(fieldKey(["confirm"])).toBe("confirm");
    expect(fieldKey(null)).toBeNull();
  });

  it("splits field errors from general ones and adds advice a person can act on", () => {
    const split = splitUserErrors([
      { field: ["input", "domain"], code: "INVALID_DOMAIN", message: "not a Confluence site" },
      { field: null, code: "INVALID_CREDENTIALS", message: "Atlassian refused the credentials." },
    ]);
    expect(Object.keys(split.byField)).toEqual(["domain"]);
    expect(split.byField.domain).toContain("acme.atlassian.net");
    expect(split.general).toHaveLength(1);
    expect(split.general[0]).toContain("API token");
  });

  it("leaves unknown codes to their message", () => {
    expect(userErrorText({ code: "WHATEVER", message: "As is." })).toBe("As is.");
  });
});

describe("mutationErrors", () => {
  const userErrors = [{ field: ["input", "reason"], code: "INVALID", message: "too long" }];

  it("puts a failed request in the banner, whatever userErrors say", () => {
    const split = mutationErrors({ graphQLErrors: [], networkError: new TypeError("Failed to fetch") }, userErrors);
    expect(split.byField).toEqual({});
    expect(split.general).toEqual([problemFrom({ networkError: new TypeError("Failed to fetch") })!.detail]);
    expect(noErrors(split)).toBe(false);
  });

  it("splits the userErrors of an answer", () => {
    const split = mutationErrors(undefined, userErrors);
    expect(split).toEqual(splitUserErrors(userErrors));
    expect(noErrors(split)).toBe(false);
    expect(noErrors(mutationErrors(undefined, [{ field: null, code: "X", message: "no" }]))).toBe(false);
  });

  it("is empty for an answer without errors", () => {
    expect(noErrors(mutationErrors(null, []))).toBe(true);
    expect(noErrors(mutationErrors(undefined, undefined))).toBe(true);
  });
});

describe("socketCloseProblem", () => {
  it("treats a refused key and a bad client as final, a slow reader as retryable", () => {
    expect(socketCloseProblem(4401, "API key revoked")?.kind).toBe("unauthenticated");
    expect(socketCloseProblem(4429, "too many")?.kind).toBe("rateLimited");
    expect(socketCloseProblem(4400, "bad frame")?.kind).toBe("badInput");
    expect(socketCloseProblem(4008, "too slow")).toBeNull();
    expect(socketCloseProblem(1006, "")).toBeNull();
    expect(socketCloseProblem(1013, "retry shortly")).toBeNull();
  });
});
