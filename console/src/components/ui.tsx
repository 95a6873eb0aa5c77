// Small building blocks every screen uses: status badges, the three states (loading, error,
// empty), a pager, labelled fields, notices and a modal dialog.
import { useEffect, useId, useRef, type ReactNode, type Ref, type InputHTMLAttributes, type SelectHTMLAttributes, type TextareaHTMLAttributes } from "react";
import type { CheckStatus } from "../gql/graphql";
import type { Problem } from "../lib/errors";
import { rangeLabel } from "../lib/pagination";
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

interface FieldProps {
  label: string;
  hint?: ReactNode;
  error?: string | undefined;
}

function describedBy(hintId: string, errorId: string, hint: unknown, error: unknown): string | undefined {
  const ids = [hint ? hintId : null, error ? errorId : null].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

export function TextField({ label, hint, error, inputRef, ...input }: FieldProps & InputHTMLAttributes<HTMLInputElement> & { inputRef?: Ref<HTMLInputElement> }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint && (
        <p className="field__hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      <input
        id={id}
        ref={inputRef}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(`${id}-hint`, `${id}-error`, hint, error)}
        {...input}
      />
      {error && (
        <p className="field__error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

export function TextArea({ label, hint, error, ...input }: FieldProps & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint && (
        <p className="field__hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      <textarea
        id={id}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(`${id}-hint`, `${id}-error`, hint, error)}
        {...input}
      />
      {error && (
        <p className="field__error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

export function SelectField({
  label,
  hint,
  error,
  options,
  ...select
}: FieldProps & SelectHTMLAttributes<HTMLSelectElement> & { options: Array<{ value: string; label: string }> }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint && (
        <p className="field__hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      <select
        id={id}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(`${id}-hint`, `${id}-error`, hint, error)}
        {...select}
      >
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {error && (
        <p className="field__error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
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

export function Time({ iso, children }: { iso: string | null | undefined; children: ReactNode }) {
  if (!iso) return <>{children}</>;
  return (
    <time dateTime={iso} title={iso}>
      {children}
    </time>
  );
}
