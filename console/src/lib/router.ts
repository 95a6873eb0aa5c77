// The console's screens as paths under /console/ (history API; Vigil answers every such path
// with index.html). Small on purpose: eight screens need no routing library.
import { createElement, useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from "react";

// Where Vigil serves the console (api/console.py; vite.config.ts `base`).
export const BASE = "/console";

export type Route =
  | { name: "overview" }
  | { name: "check"; id: string }
  | { name: "integrations" }
  | { name: "accounts" }
  | { name: "people" }
  | { name: "reviews" }
  | { name: "review"; id: string }
  | { name: "remediation" }
  | { name: "evidence" }
  | { name: "notFound"; path: string };

/** The route of a path inside the console (`/checks/abc` → check abc). */
export function matchRoute(path: string): Route {
  const clean = path.replace(/\/+$/, "") || "/";
  const parts = clean.split("/").filter(Boolean).map(decodeURIComponent);
  const [first, second, ...rest] = parts;
  if (parts.length === 0) return { name: "overview" };
  if (rest.length === 0) {
    if (second === undefined) {
      switch (first) {
        case "integrations":
        case "accounts":
        case "people":
        case "reviews":
        case "remediation":
        case "evidence":
          return { name: first };
      }
    } else if (first === "checks") return { name: "check", id: second };
    else if (first === "reviews") return { name: "review", id: second };
  }
  return { name: "notFound", path: clean };
}

/** The path of a route (inverse of matchRoute). */
export function pathOf(route: Route): string {
  switch (route.name) {
    case "overview":
      return "/";
    case "check":
      return `/checks/${encodeURIComponent(route.id)}`;
    case "review":
      return `/reviews/${encodeURIComponent(route.id)}`;
    case "notFound":
      return route.path;
    default:
      return `/${route.name}`;
  }
}

/** The console path of a browser pathname (`/console/checks/x` → `/checks/x`). */
export function consolePath(pathname: string): string {
  if (pathname === BASE || pathname === `${BASE}/`) return "/";
  return pathname.startsWith(`${BASE}/`) ? pathname.slice(BASE.length) : "/";
}

const NAVIGATE = "vigil:navigate";

function subscribe(onChange: () => void): () => void {
  window.addEventListener("popstate", onChange);
  window.addEventListener(NAVIGATE, onChange);
  return () => {
    window.removeEventListener("popstate", onChange);
    window.removeEventListener(NAVIGATE, onChange);
  };
}

function snapshot(): string {
  return window.location.pathname + window.location.search;
}

/** The current location (path inside the console, and the query string). */
export function useLocation(): { path: string; search: string } {
  const href = useSyncExternalStore(subscribe, snapshot);
  const q = href.indexOf("?");
  const pathname = q >= 0 ? href.slice(0, q) : href;
  return { path: consolePath(pathname), search: q >= 0 ? href.slice(q) : "" };
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = BASE + to;
  if (options.replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
  window.dispatchEvent(new Event(NAVIGATE));
}

type LinkProps = AnchorHTMLAttributes<HTMLAnchorElement> & { to: string };

/** An ordinary link (open in a new tab works) that navigates in place on a plain click. */
export function Link({ to, onClick, ...rest }: LinkProps) {
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    event.preventDefault();
    navigate(to);
  };
  return createElement("a", { ...rest, href: BASE + to, onClick: handle });
}
