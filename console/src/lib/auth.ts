// How the console authenticates: a person's session (an HttpOnly cookie the page never sees,
// set when they sign in with Atlassian or the OpenID Connect provider), or an API key for
// machines, kept in this tab's sessionStorage only (never in a URL or in localStorage).
const STORAGE_KEY = "vigil.console.apiKey";

export type Credential = { kind: "session" } | { kind: "key"; key: string };

export const SESSION: Credential = { kind: "session" };

/** The headers a request carries: the key, or the CSRF header a cookie request needs. */
export function authHeaders(credential: Credential): Record<string, string> {
  return credential.kind === "key" ? { authorization: `Bearer ${credential.key}` } : { "x-vigil-csrf": "1" };
}

export function loadKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function saveKey(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key);
}

export function clearKey(): void {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage disabled: nothing was kept
  }
}

/** A pasted key without the spaces, quotes or "Bearer " people copy along with it. */
export function normaliseKey(input: string): string {
  return input
    .trim()
    .replace(/^bearer\s+/i, "")
    .replace(/^["']|["']$/g, "")
    .trim();
}

export interface Provider {
  id: string;
  name: string;
}

/** The identity providers Vigil offers (`GET /auth/providers`); none when it cannot say. */
export async function loadProviders(): Promise<Provider[]> {
  try {
    const response = await fetch("/auth/providers", { credentials: "same-origin" });
    if (!response.ok) return [];
    const body = (await response.json()) as { providers?: Provider[] };
    return Array.isArray(body.providers) ? body.providers : [];
  } catch {
    return [];
  }
}

/** Where a refused sign-in came back with its reason (`?signin=refused&message=…`). */
export function signInRefusal(search: string): string | null {
  const params = new URLSearchParams(search);
  return params.get("signin") === "refused" ? params.get("message") || "The sign-in was refused." : null;
}

/** End this session, or every session of this person (`everywhere`). */
export async function signOutSession(everywhere: boolean): Promise<void> {
  try {
    await fetch(everywhere ? "/auth/logout-everywhere" : "/auth/logout", {
      method: "POST",
      credentials: "same-origin",
      headers: authHeaders(SESSION),
    });
  } catch {
    // offline: the cookie stays until it expires; the page forgets the session anyway
  }
}
