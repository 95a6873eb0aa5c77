// Small building blocks every screen uses: status badges, the three states (loading, error,
// empty), a table, a pager, labelled fields, notices and a modal dialog.
import { useEffect, useId, useRef, type ReactNode, type Ref, type InputHTMLAttributes, type SelectHTMLAttributes, type TextareaHTMLAttributes } from "react";
import type { CheckStatus } from "../gql/graphql";
import type { Problem } from "../lib/errors";
import { rangeLabel, type Pager as PagerState } from "../lib/pagination";
import { statusInfo } from "../lib/status";

export function StatusBadge({ status }: { status: CheckStatus | null | undefined }) {
  const info = statusInfo(status);
  return (
    <span className={`badge badge--${info.tone}`} title={info.description} data-status={status ?? "NONE"}>
      <span aria-hidden="true" className="badge__symbol">
        {info.symbol}
      </span>
      {info.label}
    </span>
  );
}

export function Tag({ tone = "neutral", children }: { tone?: "good" | "bad" | "warn" | "neutral" | "info"; children: ReactNode }) {
  return <span className={`badge badge--${tone}`}>{children}</span>;
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="state state--loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

export function ErrorNotice({ problem, onRetry }: { problem: Problem; onRetry?: () => void }) {
  return (
    <div className="notice notice--error" role="alert">
      <p className="notice__title">{problem.title}</p>
      <p>{problem.detail}</p>
      {problem.requestId && problem.kind !== "internal" && <p className="muted">Request id: {problem.requestId}</p>}
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state--empty">
      <p className="state__title">{title}</p>
      {children}
    </div>
  );
}

export function Notice({ tone, title, children }: { tone: "success" | "error" | "info" | "warn"; title?: string; children?: ReactNode }) {
  return (
    <div className={`notice notice--${tone}`} role={tone === "error" ? "alert" : "status"}>
      {title && <p className="notice__title">{title}</p>}
      {children}
    </div>
  );
}

export function UserErrors({ errors }: { errors: string[] }) {
  if (errors.length === 0) return null;
  return (
    <div className="notice notice--error" role="alert">
      {errors.map((e) => (
        <p key={e}>{e}</p>
      ))}
    </div>
  );
}

export function Pager(props: {
  label: string;
  index: number;
  pageSize: number;
  shown: number;
  totalCount: number;
  hasNext: boolean;
  busy?: boolean;
  onPrevious: () => void;
  onNext: () => void;
}) {
  const { label, index, pageSize, shown, totalCount, hasNext, busy, onPrevious, onNext } = props;
  return (
    <nav className="pager" aria-label={`${label} pages`}>
      <span aria-live="polite">{rangeLabel(index, pageSize, shown, totalCount)}</span>
      <button type="button" onClick={onPrevious} disabled={index === 0 || busy}>
        Previous
      </button>
      <button type="button" onClick={onNext} disabled={!hasNext || busy}>
        Next
      </button>
    </nav>
  );
}

/** A page of a Relay connection, as far as its pager needs it. */
interface ConnectionPage {
  totalCount: number;
  edges: readonly unknown[];
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
}

/** The {@link Pager} of the page of `connection` that `pager` (from `usePager`) shows. */
export function ConnectionPager(props: {
  label: string;
  connection: ConnectionPage;
  pager: PagerState;
  pageSize: number;
  busy?: boolean;
}) {
  const { label, connection, pager, pageSize, busy } = props;
  return (
    <Pager
      label={label}
      index={pager.index}
      pageSize={pageSize}
      shown={connection.edges.length}
      totalCount={connection.totalCount}
      hasNext={connection.pageInfo.hasNextPage}
      busy={busy}
      onPrevious={pager.previous}
      onNext={() => pager.next(connection.pageInfo.endCursor)}
    />
  );
}

/**
 * A column of a {@link Table}: its header text, or `{ label, hidden: true }` for a header only
 * screen readers read (a column of buttons), with an optional class (`num`); `false` or `null`
 * leaves the column out (one only some roles see).
 */
export type Column = string | { label: string; hidden?: boolean; className?: string } | false | null | undefined;

/**
 * A data table: a caption for screen readers, one header row, then `children` (the rows), in a
 * frame that scrolls sideways on a narrow screen unless `wrap` is false.
 */
export function Table(props: {
  caption: string;
  columns: Column[];
  className?: string;
  testId?: string;
  busy?: boolean;
  wrap?: boolean;
  children: ReactNode;
}) {
  const { caption, columns, className, testId, busy, wrap = true, children } = props;
  const table = (
    <table className={className ? `table ${className}` : "table"} data-testid={testId}>
      <caption className="sr-only">{caption}</caption>
      <thead>
        <tr>
          {columns.map((column, i) => {
            if (!column) return null;
            const { label, hidden, className: cls } = typeof column === "string" ? { label: column, hidden: false, className: undefined } : column;
            return (
              <th key={i} scope="col" className={cls}>
                {hidden ? <span className="sr-only">{label}</span> : label}
              </th>
            );
          })}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
  if (!wrap) return table;
  return (
    <div className="table-wrap" aria-busy={busy}>
      {table}
    </div>
  );
}

interface FieldProps {
  label: string;
  hint?: ReactNode;
  error?: string | undefined;
}

function describedBy(hintId: string, errorId: string, hint: unknown, error: unknown): string | undefined {
  const ids = [hint ? hintId : null, error ? errorId : null].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

/** The attributes that tie a field's control to its label, hint and error. */
interface ControlProps {
  id: string;
  "aria-invalid": true | undefined;
  "aria-describedby": string | undefined;
}

/** A labelled field: its label, hint, control (`children`, given the attributes it needs) and error. */
function Field({ label, hint, error, children }: FieldProps & { children: (control: ControlProps) => ReactNode }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint && (
        <p className="field__hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {children({ id, "aria-invalid": error ? true : undefined, "aria-describedby": describedBy(`${id}-hint`, `${id}-error`, hint, error) })}
      {error && (
        <p className="field__error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

export function TextField({ label, hint, error, inputRef, ...input }: FieldProps & InputHTMLAttributes<HTMLInputElement> & { inputRef?: Ref<HTMLInputElement> }) {
  return (
    <Field label={label} hint={hint} error={error}>
      {(control) => <input {...control} ref={inputRef} {...input} />}
    </Field>
  );
}

export function TextArea({ label, hint, error, ...input }: FieldProps & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  return (
    <Field label={label} hint={hint} error={error}>
      {(control) => <textarea {...control} {...input} />}
    </Field>
  );
}

export function SelectField({
  label,
  hint,
  error,
  options,
  ...select
}: FieldProps & SelectHTMLAttributes<HTMLSelectElement> & { options: Array<{ value: string; label: string }> }) {
  return (
    <Field label={label} hint={hint} error={error}>
      {(control) => (
        <select {...control} {...select}>
          {options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

export function Checkbox({ label, error, ...input }: { label: ReactNode; error?: string | undefined } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  return (
    <div className="field field--check">
      <input
        type="checkbox"
        id={id}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        {...input}
      />
      <label htmlFor={id}>{label}</label>
      {error && (
        <p className="field__error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

/** A modal dialog (the platform's <dialog>: focus is trapped, Escape closes it). */
export function Dialog({ open, title, onClose, children }: { open: boolean; title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby={titleId} onClose={onClose} onCancel={onClose}>
      {open && (
        <>
          <h2 id={titleId}>{title}</h2>
          {children}
        </>
      )}
    </dialog>
  );
}

/**
 * The buttons under a dialog: the one that confirms, then Cancel. Without `onConfirm` the
 * first submits the dialog's form; `danger` marks a confirmation that changes Atlassian.
 */
export function DialogActions(props: {
  confirm: ReactNode;
  onConfirm?: () => void;
  danger?: boolean;
  disabled?: boolean;
  onCancel: () => void;
}) {
  const { confirm, onConfirm, danger, disabled, onCancel } = props;
  return (
    <div className="actions">
      <button type={onConfirm ? "button" : "submit"} className={danger ? "danger" : undefined} onClick={onConfirm} disabled={disabled}>
        {confirm}
      </button>
      <button type="button" className="secondary" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

export function Progress({ label, value, max, text }: { label: string; value: number; max: number; text: string }) {
  const id = useId();
  return (
    <div className="progress">
      <div className="progress__label">
        <span id={id}>{label}</span>
        <span>{text}</span>
      </div>
      <progress aria-labelledby={id} aria-valuetext={text} value={value} max={max} />
    </div>
  );
}

/** The cell naming a Confluence account: its name (or id), its email (or why there is none), then `children`. */
export function AccountCell(props: {
  account: { accountId: string; displayName: string | null; email: string | null };
  hiddenEmail: string;
  children?: ReactNode;
}) {
  const { account, hiddenEmail, children } = props;
  return (
    <td>
      <strong>{account.displayName ?? account.accountId}</strong>
      <div className="muted small">{account.email ?? hiddenEmail}</div>
      <div className="muted small">{children}</div>
    </td>
  );
}

export function Time({ iso, children }: { iso: string | null | undefined; children: ReactNode }) {
  if (!iso) return <>{children}</>;
  return (
    <time dateTime={iso} title={iso}>
      {children}
    </time>
  );
}
