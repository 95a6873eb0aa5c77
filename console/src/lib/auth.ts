// Until people sign in with a session (another issue), the console signs in with an API key.
// It is kept in this tab's sessionStorage only: never in a URL, never in localStorage, gone
// when the tab closes.
const STORAGE_KEY = "vigil.console.apiKey";

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
