// Paging through Vigil's Relay connections, which page forwards only (`first`/`after`):
// the console keeps the `after` of every page it has shown, so "Previous" goes back
// without the API having `before`/`last`. A filter change starts again from page one.
import { useCallback, useEffect, useReducer, useRef } from "react";

export interface PagerState {
  /** `after` of each page shown so far; the current page is the last one. */
  cursors: Array<string | null>;
}

export type PagerAction = { type: "next"; endCursor: string } | { type: "previous" } | { type: "reset" };

export const FIRST_PAGE: PagerState = { cursors: [null] };

export function pagerReducer(state: PagerState, action: PagerAction): PagerState {
  switch (action.type) {
    case "next":
      return { cursors: [...state.cursors, action.endCursor] };
    case "previous":
      return state.cursors.length > 1 ? { cursors: state.cursors.slice(0, -1) } : state;
    case "reset":
      return state.cursors.length === 1 && state.cursors[0] === null ? state : FIRST_PAGE;
  }
}

/** The zero-based page index shown. */
export function pageIndex(state: PagerState): number {
  return state.cursors.length - 1;
}

/** The `after` argument of the page shown. */
export function currentAfter(state: PagerState): string | null {
  return state.cursors[state.cursors.length - 1] ?? null;
}

/** "51–100 of 20,000" (or "No items"), for the items of page `index` of `pageSize`. */
export function rangeLabel(index: number, pageSize: number, shown: number, totalCount: number): string {
  if (shown === 0 || totalCount === 0) return totalCount === 0 ? "No items" : `None of ${fmt(totalCount)} on this page`;
  const start = index * pageSize + 1;
  const end = start + shown - 1;
  return `${fmt(start)}–${fmt(end)} of ${fmt(totalCount)}`;
}

/** How many pages `totalCount` items make at `pageSize` (at least one). */
export function pageCount(totalCount: number, pageSize: number): number {
  return Math.max(1, Math.ceil(totalCount / pageSize));
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

export interface Pager {
  after: string | null;
  index: number;
  next: (endCursor: string | null | undefined) => void;
  previous: () => void;
  reset: () => void;
}

/** A pager that starts again from page one whenever `resetKey` changes (a new filter). */
export function usePager(resetKey: string): Pager {
  const [state, dispatch] = useReducer(pagerReducer, FIRST_PAGE);
  const key = useRef(resetKey);
  useEffect(() => {
    if (key.current !== resetKey) {
      key.current = resetKey;
      dispatch({ type: "reset" });
    }
  }, [resetKey]);
  const next = useCallback((endCursor: string | null | undefined) => {
    if (endCursor) dispatch({ type: "next", endCursor });
  }, []);
  const previous = useCallback(() => dispatch({ type: "previous" }), []);
  const reset = useCallback(() => dispatch({ type: "reset" }), []);
  // Until the effect above has run, a changed key already means page one.
  const stale = key.current !== resetKey;
  return {
    after: stale ? null : currentAfter(state),
    index: stale ? 0 : pageIndex(state),
    next,
    previous,
    reset,
  };
}
