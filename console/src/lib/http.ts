// The HTTP route beside /graphql the console sends itself: the people CSV import (it needs
// the Authorization header or, with a session, the CSRF header, so a plain form cannot be
// used). Evidence exports are plain links from the `evidenceExportLink` query
// (screens/Evidence.tsx).
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
