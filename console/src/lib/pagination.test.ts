import { act, renderHook } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { currentAfter, FIRST_PAGE, pageCount, pageIndex, pagerReducer, rangeLabel, usePager } from "./pagination";

describe("pagerReducer (forward-only connections)", () => {
  it("goes forward with endCursor and back through the cursors it kept", () => {
    let s = pagerReducer(FIRST_PAGE, { type: "next", endCursor: "c50" });
    s = pagerReducer(s, { type: "next", endCursor: "c100" });
    expect(pageIndex(s)).toBe(2);
    expect(currentAfter(s)).toBe("c100");
    s = pagerReducer(s, { type: "previous" });
    expect(currentAfter(s)).toBe("c50");
    s = pagerReducer(s, { type: "previous" });
    expect(currentAfter(s)).toBeNull();
    expect(pagerReducer(s, { type: "previous" })).toBe(s);
  });

  it("starts again from page one on reset", () => {
    const s = pagerReducer(pagerReducer(FIRST_PAGE, { type: "next", endCursor: "x" }), { type: "reset" });
    expect(s).toEqual(FIRST_PAGE);
  });
});

describe("rangeLabel and pageCount", () => {
  it("describes the items of a page of 20,000", () => {
    expect(rangeLabel(0, 50, 50, 20_000)).toBe("1–50 of 20,000");
    expect(rangeLabel(399, 50, 50, 20_000)).toBe("19,951–20,000 of 20,000");
    expect(rangeLabel(1, 50, 7, 57)).toBe("51–57 of 57");
    expect(rangeLabel(0, 50, 0, 0)).toBe("No items");
    expect(pageCount(20_000, 50)).toBe(400);
    expect(pageCount(0, 50)).toBe(1);
  });
});

describe("usePager", () => {
  it("pages and goes back to page one when the filter changes", () => {
    const { result, rerender } = renderHook(({ key }) => usePager(key), { initialProps: { key: "a" } });
    act(() => result.current.next("c1"));
    act(() => result.current.next("c2"));
    expect(result.current.index).toBe(2);
    expect(result.current.after).toBe("c2");
    rerender({ key: "b" });
    expect(result.current.index).toBe(0);
    expect(result.current.after).toBeNull();
  });

  it("ignores a page without an endCursor", () => {
    const { result } = renderHook(() => usePager("k"));
    act(() => result.current.next(null));
    expect(result.current.index).toBe(0);
  });
});
