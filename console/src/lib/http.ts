// The two HTTP routes beside /graphql the console uses: the people CSV import and the
// evidence export, sent with fetch with the session cookie (and the CSRF header) or the API key
// (the export is then saved from a Blob).
import { authHeaders, type Credential } from "./auth";
import { problemFromHttp, describe, type Problem } from "./errors";

export interface ImportCounts {
  imported: number;
  created: number;
  updated: number;
  unchanged: number;
}

export interface RowProblem {
  row: number | null;
  column: string | null;
  message: string;
}

export type ImportOutcome =
  | { kind: "imported"; counts: ImportCounts }
  | { kind: "rejected"; rows: RowProblem[] }
  | { kind: "failed"; problem: Problem };

/** The row problems of a rejected import (400 `VALIDATION_FAILED`), in file order. */
export function rowProblems(body: unknown): RowProblem[] {
  const errors = (body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return [];
  const rows = errors.map((e: { message?: unknown; extensions?: Record<string, unknown> }) => ({
    row: typeof e.extensions?.row === "number" ? e.extensions.row : null,
    column: typeof e.extensions?.column === "string" ? e.extensions.column : null,
    message: typeof e.message === "string" ? e.message : "invalid",
  }));
  return rows.sort((a, b) => (a.row ?? 0) - (b.row ?? 0));
}

async function json(response: Response): Promise<unknown> {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

export async function importPeople(credential: Credential, file: Blob): Promise<ImportOutcome> {
  let response: Response;
  try {
    response = await fetch("/people/import", {
      method: "POST",
      credentials: "same-origin",
      headers: { ...authHeaders(credential), "content-type": "text/csv" },
      body: file,
    });
  } catch (error) {
    return { kind: "failed", problem: describe("network", String(error)) };
  }
  const body = await json(response);
  if (response.ok) return { kind: "imported", counts: body as ImportCounts };
  const rows = response.status === 400 ? rowProblems(body) : [];
  if (rows.length > 0 && rows.some((r) => r.row !== null)) return { kind: "rejected", rows };
  return { kind: "failed", problem: problemFromHttp(response.status, body) };
}

/** The file name of a Content-Disposition header, or the fallback. */
export function filenameFrom(disposition: string | null, fallback: string): string {
  const match = disposition?.match(/filename\*?=(?:UTF-8'')?"?([^";]+)"?/i);
  const name = match?.[1] ? decodeURIComponent(match[1]) : "";
  return /^[\w.@()+-][\w .@()+-]*$/.test(name) ? name : fallback;
}

/** Download a check's evidence (JSON or CSV) through fetch and save it as a file. */
export async function downloadEvidence(credential: Credential, checkId: string, format: "json" | "csv"): Promise<Problem | string> {
  const url = `/evidence/export?${new URLSearchParams({ checkId, format })}`;
  let response: Response;
  try {
    response = await fetch(url, { credentials: "same-origin", headers: authHeaders(credential) });
  } catch (error) {
    return describe("network", String(error));
  }
  if (!response.ok) return problemFromHttp(response.status, await json(response));
  const blob = await response.blob();
  const name = filenameFrom(response.headers.get("content-disposition"), `evidence-${checkId}.${format}`);
  const href = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = href;
  link.download = name;
  link.rel = "noopener";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
  return name;
}
