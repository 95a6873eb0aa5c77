// Access reviews: put Confluence under review, start a review, decide each entry (keep,
// revoke, downgrade, with notes), complete it; progress stays live for several reviewers.
import { useState, type FormEvent, type ReactNode } from "react";
import { useMutation } from "urql";
import { AccountCell, ConnectionPager, Dialog, DialogActions, Empty, ErrorNotice, Loading, Notice, Progress, SelectField, Table, Tag, TextArea, TextField, Time, UserErrors } from "../components/ui";
import { graphql } from "../gql";
import type { AccessDecision, RemainingDecision, ReviewDecision, ReviewDetailQuery } from "../gql/graphql";
import { mutationErrors, problemFrom } from "../lib/errors";
import { formatDate, formatDateTime, isoDay, plural } from "../lib/format";
import { useDialogForm, useFormErrors, useRefreshOn, useScreenQuery } from "../lib/hooks";
import { usePager } from "../lib/pagination";
import { can } from "../lib/roles";
import { Link, navigate } from "../lib/router";
import { useSession } from "../session";

const ReviewsQuery = graphql(`
  query ReviewsScreen {
    criticalSystems { id system accessRule allowedRoles reviewFrequencyDays integrationId }
    accessReviews(first: 50) {
      totalCount
      edges { node { id criticalSystemId status startedAt dueAt completedAt entryCount pendingCount } }
    }
    integrations(purpose: ACCESS_REVIEW) { id status }
  }
`);

const ReviewDetailQ = graphql(`
  query ReviewDetail($id: ID!, $decision: AccessDecision, $after: String) {
    accessReview(id: $id) {
      id status startedAt dueAt completedAt entryCount pendingCount
      entries(decision: $decision, first: 25, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges {
          node {
            id accountId displayName email groups isAdmin accountStatus classification
            decision note decidedAt decidedByActor { name role }
          }
        }
      }
    }
  }
`);

const ReviewChanges = graphql(`
  subscription ReviewChanges($reviewId: ID) {
    accessReviewChanged(reviewId: $reviewId, initial: true) { id status pendingCount completedAt }
  }
`);

const AddSystem = graphql(`
  mutation AddConfluenceSystem {
    addCriticalSystem(input: { system: CONFLUENCE, accessRule: ALL_STAFF }) {
      criticalSystem { id }
      userErrors { field code message }
    }
  }
`);

const StartReview = graphql(`
  mutation StartReview($input: StartAccessReviewInput!) {
    startAccessReview(input: $input) {
      accessReview { id status entryCount pendingCount }
      userErrors { field code message }
    }
  }
`);

const Decide = graphql(`
  mutation Decide($input: DecideAccessInput!) {
    decideAccess(input: $input) {
      entry { id decision note decidedAt decidedByActor { name role } }
      userErrors { field code message }
    }
  }
`);

const Complete = graphql(`
  mutation CompleteReview($input: CompleteAccessReviewInput!) {
    completeAccessReview(input: $input) {
      accessReview { id status completedAt pendingCount }
      userErrors { field code message }
    }
  }
`);

type Entry = NonNullable<ReviewDetailQuery["accessReview"]>["entries"]["edges"][number]["node"];

const DECISION_TONE: Record<AccessDecision, "neutral" | "good" | "bad" | "warn"> = {
  PENDING: "neutral",
  KEEP: "good",
  REVOKE: "bad",
  DOWNGRADE: "warn",
};

export function Reviews() {
  const { me } = useSession();
  const [{ data, fetching, error }, refresh] = useScreenQuery({ query: ReviewsQuery });
  useRefreshOn({ query: ReviewChanges, variables: { reviewId: null } }, refresh);
  const [addState, add] = useMutation(AddSystem);
  const [startState, start] = useMutation(StartReview);
  const [errors, setErrors] = useState<string[]>([]);
  const [due, setDue] = useState(isoDay(30));
  const system = data?.criticalSystems[0];
  const connected = data?.integrations.some((i) => i.status === "CONNECTED");
  const open = data?.accessReviews.edges.find((e) => e.node.status === "OPEN")?.node;
  const onAdd = async () => {
    const r = await add({});
    setErrors(mutationErrors(r.error, r.data?.addCriticalSystem.userErrors).general);
    refresh();
  };
  const onStart = async (event: FormEvent) => {
    event.preventDefault();
    if (!system) return;
    const r = await start({ input: { criticalSystemId: system.id, dueAt: due ? `${due}T23:59:59Z` : null } });
    const errs = mutationErrors(r.error, r.data?.startAccessReview.userErrors).general;
    setErrors(errs);
    const id = r.data?.startAccessReview.accessReview?.id;
    if (errs.length === 0 && id) navigate(`/reviews/${encodeURIComponent(id)}`);
  };
  return (
    <>
      <h1 tabIndex={-1}>Access reviews</h1>
      <UserErrors errors={errors} />
      {error && !data && <ErrorNotice problem={problemFrom(error)!} onRetry={refresh} />}
      {fetching && !data && <Loading label="Loading reviews…" />}
      {data && !system && (
        <Empty title="Confluence is not under access review yet">
          {!connected ? (
            <p>
              First connect the <Link to="/integrations">users and groups integration</Link>.
            </p>
          ) : can(me.role, "manageCriticalSystems") ? (
            <>
              <p>Adding Confluence as a critical system turns the access checks on: every active staff member may have access.</p>
              <button type="button" onClick={onAdd} disabled={addState.fetching}>
                Put Confluence under access review
              </button>
            </>
          ) : (
            <p>Ask someone with an ADMIN key to add Confluence as a critical system.</p>
          )}
        </Empty>
      )}
      {system && (
        <section className="card" aria-labelledby="system-h">
          <h2 id="system-h">Confluence</h2>
          <p>
            Access rule: {system.accessRule === "ALL_STAFF" ? "every active staff member" : `job roles ${system.allowedRoles.join(", ")}`}; a
            review is due every {system.reviewFrequencyDays} days.
          </p>
          {open ? (
            <p>
              A review is open: <Link to={`/reviews/${encodeURIComponent(open.id)}`}>continue it</Link> ({plural(open.pendingCount, "entry", "entries")}{" "}
              left).
            </p>
          ) : (
            can(me.role, "startReview") && (
              <form onSubmit={onStart} className="inline-form">
                <TextField label="Due on" type="date" value={due} min={isoDay(1)} onChange={(e) => setDue(e.target.value)} />
                <button type="submit" disabled={startState.fetching}>
                  Start a review
                </button>
              </form>
            )
          )}
        </section>
      )}
      {data && data.accessReviews.totalCount === 0 && system && <Empty title="No review yet." />}
      {data && data.accessReviews.totalCount > 0 && (
        <Table caption="Reviews, newest first" testId="reviews" columns={["Started", "Status", "Progress", "Due", "Completed"]}>
          {data.accessReviews.edges.map(({ node: r }) => (
            <tr key={r.id}>
              <td>
                <Link to={`/reviews/${encodeURIComponent(r.id)}`}>{formatDateTime(r.startedAt)}</Link>
              </td>
              <td>
                <Tag tone={r.status === "OPEN" ? "info" : "good"}>{r.status.toLowerCase()}</Tag>
              </td>
              <td>
                {r.entryCount - r.pendingCount} of {r.entryCount} decided
              </td>
              <td>{formatDate(r.dueAt)}</td>
              <td>{r.completedAt ? formatDateTime(r.completedAt) : "—"}</td>
            </tr>
          ))}
        </Table>
      )}
    </>
  );
}

export function ReviewDetail({ id }: { id: string }) {
  const { me, announce } = useSession();
  const [decision, setDecision] = useState<AccessDecision | "">("PENDING");
  const pager = usePager(decision);
  const [{ data, fetching, error }, refresh] = useScreenQuery({
    query: ReviewDetailQ,
    variables: { id, decision: decision || null, after: pager.after },
  });
  useRefreshOn({ query: ReviewChanges, variables: { reviewId: id } }, refresh);
  const [deciding, setDeciding] = useState<{ entry: Entry; decision: ReviewDecision } | null>(null);
  const [completing, setCompleting] = useState(false);
  const [keepState, decide] = useMutation(Decide);
  const [errors, setErrors] = useState<string[]>([]);
  const review = data?.accessReview;
  const mayDecide = can(me.role, "decideReview") && review?.status === "OPEN";
  const keep = async (entry: Entry) => {
    const r = await decide({ input: { entryId: entry.id, decision: "KEEP" } });
    const errs = mutationErrors(r.error, r.data?.decideAccess.userErrors).general;
    setErrors(errs);
    if (errs.length === 0) {
      announce(`Kept ${entry.displayName ?? entry.accountId}`);
      refresh();
    }
  };

  if (error && !data) return <Title><ErrorNotice problem={problemFrom(error)!} onRetry={refresh} /></Title>;
  if (fetching && !data) return <Title><Loading label="Loading the review…" /></Title>;
  if (!review) {
    return (
      <Title>
        <Empty title="There is no such review.">
          <p>
            See <Link to="/reviews">all reviews</Link>.
          </p>
        </Empty>
      </Title>
    );
  }
  const decided = review.entryCount - review.pendingCount;
  const conn = review.entries;
  return (
    <Title>
      <p className="breadcrumb">
        <Link to="/reviews">Access reviews</Link> › started {formatDateTime(review.startedAt)}
      </p>
      <section className="card" aria-label="Progress">
        <p>
          <Tag tone={review.status === "OPEN" ? "info" : "good"}>{review.status.toLowerCase()}</Tag>{" "}
          {review.dueAt && (
            <>
              Due <Time iso={review.dueAt}>{formatDate(review.dueAt)}</Time>.
            </>
          )}{" "}
          {review.completedAt && <>Completed {formatDateTime(review.completedAt)}.</>}
        </p>
        <Progress
          label="Decided"
          value={decided}
          max={Math.max(1, review.entryCount)}
          text={`${decided} of ${plural(review.entryCount, "entry", "entries")} (${review.pendingCount} pending)`}
        />
        {review.status === "OPEN" && can(me.role, "completeReview") && (
          <button type="button" onClick={() => setCompleting(true)}>
            Complete the review…
          </button>
        )}
      </section>
      <UserErrors errors={errors} />
      <div className="toolbar">
        <SelectField
          label="Show"
          value={decision}
          onChange={(e) => setDecision(e.target.value as AccessDecision | "")}
          options={[
            { value: "PENDING", label: "Pending" },
            { value: "", label: "All entries" },
            { value: "KEEP", label: "Kept" },
            { value: "REVOKE", label: "Revoked" },
            { value: "DOWNGRADE", label: "Downgraded" },
          ]}
        />
      </div>
      {conn.totalCount === 0 ? (
        <Empty title={decision === "PENDING" ? "Every entry is decided." : "No entry here."} />
      ) : (
        <Table
          caption="Entries of the review"
          testId="review-entries"
          busy={fetching}
          columns={["Account", "Access at start", "Decision", mayDecide && { label: "Decide", hidden: true }]}
        >
          {conn.edges.map(({ node: e }) => (
            <tr key={e.id} data-entry={e.id}>
              <AccountCell account={e} hiddenEmail="email hidden">
                {e.classification.toLowerCase().replace("_", " ")}
              </AccountCell>
              <td>
                <Tag tone={e.accountStatus === "ACTIVE" ? "good" : "neutral"}>{e.accountStatus.toLowerCase()}</Tag>{" "}
                {e.isAdmin && <Tag tone="warn">admin</Tag>}
                <div className="small">{e.groups.join(", ") || "no group"}</div>
              </td>
              <td>
                <Tag tone={DECISION_TONE[e.decision]}>{e.decision.toLowerCase()}</Tag>
                {e.note && <div className="small">“{e.note}”</div>}
                {e.decidedByActor && <div className="muted small">by {e.decidedByActor.name ?? "a deleted key"}</div>}
              </td>
              {mayDecide && (
                <td className="row-actions">
                  <button type="button" className="secondary" disabled={keepState.fetching} onClick={() => keep(e)} aria-label={`Keep ${e.displayName ?? e.accountId}`}>
                    Keep
                  </button>
                  <button type="button" className="secondary" onClick={() => setDeciding({ entry: e, decision: "REVOKE" })} aria-label={`Revoke ${e.displayName ?? e.accountId}…`}>
                    Revoke…
                  </button>
                  {e.isAdmin && (
                    <button type="button" className="secondary" onClick={() => setDeciding({ entry: e, decision: "DOWNGRADE" })} aria-label={`Downgrade ${e.displayName ?? e.accountId}…`}>
                      Downgrade…
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </Table>
      )}
      {conn.totalCount > 0 && (
        <ConnectionPager label="Entries" connection={conn} pager={pager} pageSize={25} busy={fetching} />
      )}
      <DecideDialog value={deciding} onClose={() => setDeciding(null)} onDone={refresh} />
      <CompleteDialog open={completing} reviewId={review.id} pending={review.pendingCount} onClose={() => setCompleting(false)} onDone={refresh} />
    </Title>
  );
}

function Title({ children }: { children: ReactNode }) {
  return (
    <>
      <h1 tabIndex={-1}>Access review</h1>
      {children}
    </>
  );
}

function DecideDialog({ value, onClose, onDone }: { value: { entry: Entry; decision: ReviewDecision } | null; onClose: () => void; onDone: () => void }) {
  const [note, setNote] = useState("");
  const [state, decide] = useMutation(Decide);
  const { errors, submit } = useDialogForm(value, {
    required: { field: "note", value: note, message: "A note is required: say why, for the auditors." },
    reset: () => setNote(""),
    send: async ({ entry, decision }) => {
      const r = await decide({ input: { entryId: entry.id, decision, note: note.trim() } });
      return { error: r.error, userErrors: r.data?.decideAccess.userErrors };
    },
    onDone,
    onClose,
  });
  const verb = value?.decision === "DOWNGRADE" ? "Downgrade" : "Revoke";
  return (
    <Dialog open={value !== null} title={`${verb} access`} onClose={onClose}>
      {value && (
        <form onSubmit={submit} noValidate>
          <p>
            {verb === "Revoke" ? "Remove every access of " : "Remove the admin rights of "}
            <strong>{value.entry.displayName ?? value.entry.accountId}</strong>. Nothing changes in Confluence until an ADMIN confirms the
            remediation.
          </p>
          <UserErrors errors={errors.general} />
          <TextArea label="Note" value={note} onChange={(e) => setNote(e.target.value)} required maxLength={2000} error={errors.byField.note} />
          <DialogActions confirm={verb} disabled={state.fetching} onCancel={onClose} />
        </form>
      )}
    </Dialog>
  );
}

function CompleteDialog(props: { open: boolean; reviewId: string; pending: number; onClose: () => void; onDone: () => void }) {
  const { open, reviewId, pending, onClose, onDone } = props;
  const [remaining, setRemaining] = useState<RemainingDecision>("KEEP");
  const [note, setNote] = useState("");
  const { errors, take } = useFormErrors();
  const [state, complete] = useMutation(Complete);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const input = pending > 0 ? { reviewId, markRemainingAs: remaining, note: note.trim() || null } : { reviewId };
    const r = await complete({ input });
    if (take(r.error, r.data?.completeAccessReview.userErrors)) {
      onDone();
      onClose();
    }
  };
  return (
    <Dialog open={open} title="Complete the review" onClose={onClose}>
      <form onSubmit={submit}>
        {pending > 0 ? (
          <>
            <Notice tone="warn">{plural(pending, "entry is", "entries are")} still pending.</Notice>
            <SelectField
              label="Pending entries become"
              value={remaining}
              onChange={(e) => setRemaining(e.target.value as RemainingDecision)}
              options={[
                { value: "KEEP", label: "Kept" },
                { value: "REVOKE", label: "Revoked (note required)" },
              ]}
              error={errors.byField.markRemainingAs}
            />
            <TextArea label="Note for those entries" value={note} onChange={(e) => setNote(e.target.value)} error={errors.byField.note} />
          </>
        ) : (
          <p>Every entry is decided. Completing freezes the review as evidence.</p>
        )}
        <UserErrors errors={errors.general} />
        <DialogActions confirm="Complete" disabled={state.fetching} onCancel={onClose} />
      </form>
    </Dialog>
  );
}
