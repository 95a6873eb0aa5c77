import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { useQuery, useSubscription, type AnyVariables, type UseQueryArgs, type UseQueryState, type UseSubscriptionArgs } from "urql";
import { useSession } from "../session";
import { mutationErrors, noErrors, type ErrorLike, type FormErrors, type UserErrorLike } from "./errors";

/** Call `refetch` whenever the live connection comes back (pushes may have been missed). */
export function useOnReconnect(refetch: () => void): void {
  const { live } = useSession();
  const seen = useRef(live.epoch);
  const latest = useRef(refetch);
  latest.current = refetch;
  useEffect(() => {
    if (live.epoch > seen.current && seen.current > 0) latest.current();
    seen.current = live.epoch;
  }, [live.epoch]);
}

/** A value that follows `value` once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms = 300): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return debounced;
}

/** A clock that ticks every `ms`, for "5 min ago" texts. */
export function useNow(ms = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** A network-only re-run of a urql query. */
export function useRefresh(execute: (opts?: { requestPolicy?: "network-only" }) => void): () => void {
  return useCallback(() => execute({ requestPolicy: "network-only" }), [execute]);
}

/** A screen's query: its state, and `refresh` (a network-only re-run), which also runs
 * whenever the live connection comes back (pushes may have been missed meanwhile). */
export function useScreenQuery<Data, Variables extends AnyVariables = AnyVariables>(
  args: UseQueryArgs<Variables, Data>,
): [UseQueryState<Data, Variables>, () => void] {
  const [state, execute] = useQuery<Data, Variables>(args);
  const refresh = useRefresh(execute);
  useOnReconnect(refresh);
  return [state, refresh];
}

const NO_ERRORS: FormErrors = { byField: {}, general: [] };

/** A form's errors. `take` shows a mutation's answer (its transport error, or its userErrors
 * by field) and says whether it went through; `refuse` marks one field before anything is
 * sent; `clear` empties them (a dialog opened again). */
export function useFormErrors() {
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const take = useCallback((error: ErrorLike | null | undefined, userErrors: readonly UserErrorLike[] | null | undefined): boolean => {
    const split = mutationErrors(error, userErrors);
    setErrors(split);
    return noErrors(split);
  }, []);
  const refuse = useCallback((field: string, message: string) => setErrors({ byField: { [field]: message }, general: [] }), []);
  const clear = useCallback(() => setErrors(NO_ERRORS), []);
  return { errors, take, refuse, clear, setErrors };
}

/** A mutation's answer as a form reads it: its transport error and its userErrors. */
export interface Answer {
  error: ErrorLike | null | undefined;
  userErrors: readonly UserErrorLike[] | null | undefined;
}

/** What a dialog's form about one subject needs: the text it may not send blank (the field a
 * refusal marks, its value, the message), how its fields start again, how it sends, and what
 * follows an answer with no error. */
export interface DialogFormOptions<T> {
  required: { field: string; value: string; message: string };
  reset: () => void;
  send: (subject: T) => Promise<Answer>;
  onDone: () => void;
  onClose: () => void;
}

/** A dialog's form about `subject` (null while closed): its errors, emptied with its fields
 * (`reset`) whenever the subject changes, and `submit`, which refuses a blank required text,
 * else sends and, when the answer has no error, calls `onDone` then `onClose`. */
export function useDialogForm<T>(subject: T | null, options: DialogFormOptions<T>) {
  const { errors, take, refuse, clear } = useFormErrors();
  const reset = useRef(options.reset);
  reset.current = options.reset;
  useEffect(() => {
    reset.current();
    clear();
  }, [subject, clear]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!subject) return;
    const { required, send, onDone, onClose } = options;
    if (!required.value.trim()) {
      refuse(required.field, required.message);
      return;
    }
    const answer = await send(subject);
    if (take(answer.error, answer.userErrors)) {
      onDone();
      onClose();
    }
  };
  return { errors, submit };
}

/** `refresh` on every event of a subscription (the event itself is not used: what it
 * announces is read again). */
export function useRefreshOn<Data, Variables extends AnyVariables = AnyVariables>(
  args: UseSubscriptionArgs<Variables, Data>,
  refresh: () => void,
): void {
  useSubscription<Data, Data, Variables>(args, (_previous: unknown, event) => {
    refresh();
    return event;
  });
}
