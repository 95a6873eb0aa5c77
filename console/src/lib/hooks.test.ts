import { act, renderHook } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { useFormErrors } from "./hooks";

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
