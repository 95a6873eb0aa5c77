import { act, renderHook } from "@testing-library/react";
import type { FormEvent, ReactNode } from "react";
import { Provider, type Client } from "urql";
import { describe, expect, it, vi } from "vitest";
import { fromArray, fromValue } from "wonka";
import { SessionContext, type Session } from "../session";
import { useDialogForm, useFormErrors, useRefreshOn, useScreenQuery, type DialogFormOptions } from "./hooks";

describe("useFormErrors", () => {
  it("shows a mutation's userErrors by field and says it did not go through", () => {
    const { result } = renderHook(() => useFormErrors());
    let ok = true;
    act(() => {
      ok = result.current.take(undefined, [
        { field: ["input", "reason"], code: "REQUIRED", message: "Reason is required" },
        { field: null, code: "NOT_FOUND", message: "No such review" },
      ]);
    });
    expect(ok).toBe(false);
    expect(result.current.errors.byField).toEqual({ reason: "Reason is required" });
    expect(result.current.errors.general).toEqual(["No such review"]);
  });

  it("says an answer without errors went through, and empties what was shown", () => {
    const { result } = renderHook(() => useFormErrors());
    act(() => result.current.refuse("note", "A note is required"));
    expect(result.current.errors.byField).toEqual({ note: "A note is required" });
    let ok = false;
    act(() => {
      ok = result.current.take(undefined, []);
    });
    expect(ok).toBe(true);
    expect(result.current.errors).toEqual({ byField: {}, general: [] });
  });

  it("shows a transport error as a general error", () => {
    const { result } = renderHook(() => useFormErrors());
    let ok = true;
    act(() => {
      ok = result.current.take({ networkError: new Error("Failed to fetch") }, undefined);
    });
    expect(ok).toBe(false);
    expect(result.current.errors.byField).toEqual({});
    expect(result.current.errors.general).toHaveLength(1);
  });

  it("clears, keeping the same functions across renders (safe as effect dependencies)", () => {
    const { result, rerender } = renderHook(() => useFormErrors());
    const { take, refuse, clear } = result.current;
    act(() => refuse("reason", "Give a reason"));
    rerender();
    expect(result.current.take).toBe(take);
    expect(result.current.refuse).toBe(refuse);
    expect(result.current.clear).toBe(clear);
    act(() => result.current.clear());
    expect(result.current.errors).toEqual({ byField: {}, general: [] });
  });
});

describe("useDialogForm", () => {
  const submitted = { preventDefault: () => {} } as FormEvent;
  const options = (value: string, send: DialogFormOptions<string>["send"]) => ({
    required: { field: "reason", value, message: "Give a reason" },
    reset: vi.fn(),
    send,
    onDone: vi.fn(),
    onClose: vi.fn(),
  });

  it("refuses a blank required text without sending", async () => {
    const send = vi.fn();
    const { result } = renderHook(() => useDialogForm<string>("item", options("  ", send)));
    await act(() => result.current.submit(submitted));
    expect(send).not.toHaveBeenCalled();
    expect(result.current.errors.byField).toEqual({ reason: "Give a reason" });
  });

  it("sends about its subject, then is done and closes when the answer has no error", async () => {
    const send = vi.fn(async () => ({ error: undefined, userErrors: [] }));
    const given = options("because", send);
    const { result } = renderHook(() => useDialogForm<string>("item", given));
    await act(() => result.current.submit(submitted));
    expect(send).toHaveBeenCalledWith("item");
    expect(given.onDone).toHaveBeenCalledOnce();
    expect(given.onClose).toHaveBeenCalledOnce();
  });

  it("stays open on userErrors, and starts again (reset, no errors) for another subject", async () => {
    const send = vi.fn(async () => ({ error: undefined, userErrors: [{ field: null, code: "NOT_FAILING", message: "Gone" }] }));
    const given = options("because", send);
    const { result, rerender } = renderHook(({ subject }) => useDialogForm<string>(subject, given), { initialProps: { subject: "item" } });
    await act(() => result.current.submit(submitted));
    expect(given.onClose).not.toHaveBeenCalled();
    expect(result.current.errors.general).toHaveLength(1);
    rerender({ subject: "other" });
    expect(given.reset).toHaveBeenCalledTimes(2);
    expect(result.current.errors).toEqual({ byField: {}, general: [] });
  });
});

describe("useScreenQuery", () => {
  /** A client that answers every query at once, and a session whose live epoch the test moves. */
  function setUp() {
    const executeQuery = vi.fn(() => fromValue({ data: { checks: [] }, stale: false, hasNext: false }));
    const client = { executeQuery, suspense: false } as unknown as Client;
    const live = { status: "connected", problem: null, epoch: 1 };
    const wrapper = ({ children }: { children: ReactNode }) => (
      <Provider value={client}>
        <SessionContext.Provider value={{ live: { ...live } } as unknown as Session}>{children}</SessionContext.Provider>
      </Provider>
    );
    const policies = () => executeQuery.mock.calls.map((call: unknown[]) => (call[1] as { requestPolicy?: string } | undefined)?.requestPolicy);
    return { executeQuery, live, wrapper, policies };
  }

  it("runs the query, and refresh runs it again network-only", () => {
    const { executeQuery, wrapper, policies } = setUp();
    const { result } = renderHook(() => useScreenQuery({ query: "{ checks { id } }" }), { wrapper });
    expect(result.current[0].data).toEqual({ checks: [] });
    const before = executeQuery.mock.calls.length;
    act(() => result.current[1]());
    expect(executeQuery.mock.calls.length).toBe(before + 1);
    expect(policies().at(-1)).toBe("network-only");
  });

  it("runs it again network-only when the live connection comes back, not before", () => {
    const { executeQuery, live, wrapper, policies } = setUp();
    const { rerender } = renderHook(() => useScreenQuery({ query: "{ checks { id } }" }), { wrapper });
    const before = executeQuery.mock.calls.length;
    rerender();
    expect(executeQuery.mock.calls.length).toBe(before);
    live.epoch = 2;
    rerender();
    expect(executeQuery.mock.calls.length).toBe(before + 1);
    expect(policies().at(-1)).toBe("network-only");
  });
});

describe("useRefreshOn", () => {
  it("calls refresh once for every event of the subscription", () => {
    const events = [{ data: { peopleChanged: { totalCount: 1 } } }, { data: { peopleChanged: { totalCount: 2 } } }];
    const client = { executeSubscription: vi.fn(() => fromArray(events)), suspense: false } as unknown as Client;
    const wrapper = ({ children }: { children: ReactNode }) => <Provider value={client}>{children}</Provider>;
    const refresh = vi.fn();
    renderHook(() => useRefreshOn({ query: "subscription { peopleChanged { totalCount } }" }, refresh), { wrapper });
    expect(client.executeSubscription).toHaveBeenCalledOnce();
    expect(refresh).toHaveBeenCalledTimes(2);
  });
});
