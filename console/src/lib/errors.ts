// One place that turns what Vigil answers into words a person can act on: transport and
// GraphQL errors (`extensions.code`, docs/api.md "Errors") and mutations' `userErrors`.

export type ProblemKind =
  | "unauthenticated"
  | "forbidden"
  | "rateLimited"
  | "unavailable"
  | "network"
  | "internal"
  | "notFound"
  | "badInput"
  | "other";

export interface Problem {
  kind: ProblemKind;
  /** What happened, in a short sentence. */
  title: string;
  /** What to do about it (may include the server's message). */
  detail: string;
  requestId?: string;
  retryAfter?: number;
}

interface GraphQLErrorLike {
  message: string;
  extensions?: Record<string, unknown> | null;
}

/** The parts of urql's CombinedError (or a plain Error) this module reads. */
export interface ErrorLike {
  message?: string;
  graphQLErrors?: GraphQLErrorLike[];
  networkError?: Error | null;
  response?: { status?: number } | null;
}

const CODE_KINDS: Record<string, ProblemKind> = {
  UNAUTHENTICATED: "unauthenticated",
  FORBIDDEN: "forbidden",
  RATE_LIMITED: "rateLimited",
  UNAVAILABLE: "unavailable",
  INTERNAL: "internal",
  NOT_FOUND: "notFound",
  BAD_USER_INPUT: "badInput",
  BAD_REQUEST: "badInput",
  VALIDATION_FAILED: "badInput",
  PAYLOAD_TOO_LARGE: "badInput",
  FILE_TOO_LARGE: "badInput",
  UNSUPPORTED_MEDIA_TYPE: "badInput",
};

const STATUS_KINDS: Record<number, ProblemKind> = {
  401: "unauthenticated",
  403: "forbidden",
  404: "notFound",
  429: "rateLimited",
  503: "unavailable",
};

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value ? value : undefined;
}

/** A problem from a kind, the server's message and the extensions it sent. */
export function describe(
  kind: ProblemKind,
  message: string,
  extensions: Record<string, unknown> = {},
): Problem {
  const requestId = str(extensions.requestId);
  const retryAfter = num(extensions.retryAfter);
  const base = { kind, requestId, retryAfter };
  switch (kind) {
    case "unauthenticated":
      return {
        ...base,
        title: "Your key was refused",
        detail:
          "Vigil does not accept this API key (mistyped, revoked or from another Vigil). Sign in again with a valid key.",
      };
    case "forbidden":
      return {
        ...base,
        title: "Your role may not do this",
        detail: `${message} Ask someone with an ADMIN key.`,
      };
    case "rateLimited":
      return {
        ...base,
        title: "Too many requests with this key",
        detail: `Vigil limits each key's operations per minute. Try again${
          retryAfter !== undefined ? ` in ${retryAfter} s` : " shortly"
        }.`,
      };
    case "unavailable":
      return {
        ...base,
        title: "Vigil is unavailable",
        detail: "Vigil cannot reach its database right now. Try again in a minute.",
      };
    case "network":
      return {
        ...base,
        title: "Cannot reach Vigil",
        detail: "The request did not get an answer. Check your connection and that Vigil is running, then retry.",
      };
    case "internal":
      return {
        ...base,
        title: "Vigil hit an unexpected error",
        detail: requestId
          ? `Try again; if it persists, report it with request id ${requestId}.`
          : "Try again; if it persists, report it to whoever runs Vigil.",
      };
    case "notFound":
      return { ...base, title: "Not found", detail: message || "It may have been removed." };
    case "badInput":
      return { ...base, title: "Vigil refused the request", detail: message };
    default:
      return { ...base, title: "Something went wrong", detail: message || "Try again." };
  }
}

/** The problem behind a failed operation (urql's CombinedError), or null when there is none. */
export function problemFrom(error: ErrorLike | null | undefined): Problem | null {
  if (!error) return null;
  const first = error.graphQLErrors?.[0];
  const code = str(first?.extensions?.code);
  if (first && code) {
    return describe(CODE_KINDS[code] ?? "other", first.message, first.extensions ?? {});
  }
  const status = error.response?.status;
  if (status !== undefined && STATUS_KINDS[status]) {
    return describe(STATUS_KINDS[status]!, first?.message ?? error.message ?? "");
  }
  if (first) return describe("other", first.message);
  if (error.networkError) return describe("network", error.networkError.message);
  return describe("other", error.message ?? "");
}

/** The problem of a plain HTTP route (`/people/import`, `/evidence/export`): its JSON body. */
export function problemFromHttp(status: number, body: unknown): Problem {
  const errors = (body as { errors?: GraphQLErrorLike[] } | null)?.errors;
  const first = Array.isArray(errors) ? errors[0] : undefined;
  const code = str(first?.extensions?.code);
  const kind = (code && CODE_KINDS[code]) || STATUS_KINDS[status] || (status >= 500 ? "internal" : "other");
  return describe(kind, first?.message ?? `HTTP ${status}`, first?.extensions ?? {});
}

export interface UserErrorLike {
  field?: readonly string[] | null;
  code: string;
  message: string;
}

/**
 * The input a user error names, as a form field key: the path after the argument name
 * (`["input", "email"]` → `email`, `["input", "0", "offboardedAt"]` → `0.offboardedAt`,
 * `["id"]` → `id`). Tolerates paths that skip the argument (`["confirm"]`).
 */
export function fieldKey(field: readonly string[] | null | undefined): string | null {
  if (!field || field.length === 0) return null;
  const rest = field[0] === "input" && field.length > 1 ? field.slice(1) : field;
  return rest.join(".");
}

/** The advice that follows each userError code it is known for. */
const ADVICE: Readonly<Record<string, string>> = {
  INVALID_CREDENTIALS: "Check the email, token or secret; Atlassian refused them. Create a new API token at id.atlassian.com if in doubt.",
  INVALID_DOMAIN: "Give the site's address, such as acme.atlassian.net.",
  CONFLUENCE_UNAVAILABLE: "Atlassian did not answer. Try again in a few minutes.",
  ALREADY_CONNECTED: "This purpose is already connected. Disconnect it first (its data and evidence are kept).",
  NOT_CONFIGURED: "This Vigil has no Atlassian OAuth app configured (VIGIL_OAUTH_CLIENT_ID): use an API token, or ask its operator.",
  CONFIRMATION_REQUIRED: "Tick the confirmation box, then try again.",
  FORBIDDEN: "Your key's role may not do this: ask someone with an ADMIN key.",
  NOT_GRANTED: "The connection's grant does not allow this call: enable remediation on the integration first.",
  NOT_FAILING: "That item no longer fails the check; reload the list.",
  REVIEW_OPEN: "A review of this system is already open: finish it first.",
  PENDING_ENTRIES: "Some entries are still pending: decide them, or choose what they become.",
};

/** What to do after a userError code, when the code alone says more than the message. */
export function adviceFor(code: string): string | null {
  return Object.hasOwn(ADVICE, code) ? ADVICE[code]! : null;
}

/** A user error as one sentence with its advice. */
export function userErrorText(error: UserErrorLike): string {
  const advice = adviceFor(error.code);
  return advice && !error.message.includes(advice) ? `${error.message} ${advice}` : error.message;
}

/** What a form shows of a mutation's errors: by the field they name (inline) and the rest (a banner). */
export interface FormErrors {
  byField: Record<string, string>;
  general: string[];
}

/** User errors split by the field they name (for inline messages) and the rest (for a banner). */
export function splitUserErrors(errors: readonly UserErrorLike[] | null | undefined): FormErrors {
  const byField: Record<string, string> = {};
  const general: string[] = [];
  for (const e of errors ?? []) {
    const key = fieldKey(e.field);
    const text = userErrorText(e);
    if (key) byField[key] = byField[key] ? `${byField[key]} ${text}` : text;
    else general.push(text);
  }
  return { byField, general };
}

/**
 * What a mutation's answer says went wrong: its transport or GraphQL error (a banner: the
 * payload, userErrors included, did not come), else its userErrors split.
 */
export function mutationErrors(error: ErrorLike | null | undefined, userErrors: readonly UserErrorLike[] | null | undefined): FormErrors {
  return error ? { byField: {}, general: [problemFrom(error)!.detail] } : splitUserErrors(userErrors);
}

/** Whether a mutation's answer went through without an error of any kind. */
export function noErrors(errors: FormErrors): boolean {
  return errors.general.length === 0 && Object.keys(errors.byField).length === 0;
}

/** Why a WebSocket close ended the live connection for good (graphql-ws does not retry
 * these): the key is refused, or the client is at fault. Null: it reconnects by itself. */
export function socketCloseProblem(code: number, reason: string): Problem | null {
  switch (code) {
    case 4401:
      return describe("unauthenticated", reason);
    case 4429:
      return {
        kind: "rateLimited",
        title: "Too many live connections for this key",
        detail: "Vigil allows a few WebSockets per API key. Close other console tabs using this key, then reload.",
      };
    case 4400:
      return describe("badInput", reason || "Vigil refused a message of the live connection.");
    default:
      return null;
  }
}
