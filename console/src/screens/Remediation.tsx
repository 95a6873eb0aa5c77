// Remediation: the plan (each action's reason, source and whether it can be carried out),
// a page at a time, re-read when Vigil says it changed; select, confirm in a dialog that
// names every call, then watch each action to VERIFIED.
import { useEffect, useMemo, useState } from "react";
import { useClient, useMutation, useQuery, useSubscription } from "urql";
import { ConnectionPager, Dialog, DialogActions, Empty, ErrorNotice, Loading, Notice, Progress, Table, Tag, UserErrors } from "../components/ui";
import { graphql } from "../gql";
import type { RemediationFieldsFragment, RemediationState } from "../gql/graphql";
import { mutationErrors, problemFrom } from "../lib/errors";
import { formatDateTime, plural } from "../lib/format";
import { useOnReconnect, useRefresh, useRefreshOn } from "../lib/hooks";
import { usePager } from "../lib/pagination";
import { batchProgress, mergeActions } from "../lib/remediation";
import { can } from "../lib/roles";
import { Link } from "../lib/router";
import { useSession } from "../session";

graphql(`
  fragment RemediationFields on RemediationAction {
    id accountId displayName kind groupId groupName role request manualStep reason caveat executable blockedReason
    state version approvedAt updatedAt error evidenceId cancelReason attempt
    source { type checkId resourceId reviewId entryId decision }
    calls { method endpoint status message at }
    verification { confirmed detail at }
  }
`);

const PAGE_SIZE = 100;

const PlanQuery = graphql(`
  query RemediationScreen($first: Int!, $after: String) {
    remediationPlanActions(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { ...RemediationFields } }
    }
    integrations(purpose: ACCESS_REVIEW) { id authMethod connectedAs status grantedScopes site { url name } }
  }
`);

const ApprovedQuery = graphql(`
  query Remediations {
    remediations(first: 100) {
      totalCount
      edges { node { ...RemediationFields } }
    }
  }
`);

const Updates = graphql(`
  subscription RemediationUpdates {
    remediationUpdated { ...RemediationFields }
  }
`);

const PlanChanges = graphql(`
  subscription RemediationPlanChanges {
    remediationPlanChanged(initial: true) { totalCount }
  }
`);

const Execute = graphql(`
  mutation ExecuteRemediation($input: ExecuteRemediationInput!) {
    executeRemediation(input: $input) {
      actions { ...RemediationFields }
      userErrors { field code message }
    }
  }
`);

const Cancel = graphql(`
  mutation CancelRemediation($input: CancelRemediationInput!) {
    cancelRemediation(input: $input) {
      actions { ...RemediationFields }
      userErrors { field code message }
    }
  }
`);

const Restore = graphql(`
  mutation RestoreAccess($input: RestoreAccessInput!) {
    restoreAccess(input: $input) {
      action { ...RemediationFields }
      userErrors { field code message }
    }
  }
`);

const Enable = graphql(`
  mutation EnableRemediation {
    enableConfluenceRemediation(input: { confirm: true }) {
      authorizationUrl
      message
      integration { id grantedScopes }
      userErrors { field code message }
    }
  }
`);

type Action = RemediationFieldsFragment;

const STATE: Record<RemediationState, { label: string; tone: "neutral" | "info" | "good" | "bad" }> = {
  PENDING: { label: "Waiting to be called", tone: "neutral" },
  CALLING: { label: "Calling Atlassian", tone: "info" },
  DONE: { label: "Called, verifying", tone: "info" },
  VERIFIED: { label: "Verified", tone: "good" },
  FAILED: { label: "Failed", tone: "bad" },
  CANCELLED: { label: "Cancelled", tone: "neutral" },
};

/** What a mutation's answer says went wrong: its transport error, or every userError. */
function messagesOf(error: Parameters<typeof mutationErrors>[0], userErrors: Parameters<typeof mutationErrors>[1]): string[] {
  const split = mutationErrors(error, userErrors);
  return [...split.general, ...Object.values(split.byField)];
}

function describeAction(a: Action): string {
  const who = a.displayName ?? a.accountId;
  switch (a.kind) {
    case "SUSPEND_ACCESS":
      return `Suspend ${who} in the Atlassian organization`;
    case "DEACTIVATE_ACCOUNT":
      return `Deactivate ${who}'s managed account`;
    case "REVOKE_ROLE":
      return `Revoke ${who}'s direct role ${a.role ?? ""}`.trimEnd();
    case "MANUAL_STEP":
      return `By hand for ${who}: ${a.manualStep ?? a.request}`;
    case "RESTORE_ACCESS":
      return `Restore ${who}'s access`;
    case "REACTIVATE_ACCOUNT":
      return `Reactivate ${who}'s account`;
    default:
      return `Remove ${who} from ${a.groupName || a.groupId}`;
  }
}

function selectable(a: Action): boolean {
  return a.executable && (a.state === null || a.state === "FAILED" || a.state === "CANCELLED");
}

/** A suspension or deactivation Vigil made and verified can be undone (restoreAccess). */
function restorable(a: Action): boolean {
  return a.state === "VERIFIED" && (a.kind === "SUSPEND_ACCESS" || a.kind === "DEACTIVATE_ACCOUNT");
}

export function Remediation() {
  const { me, announce } = useSession();
  const client = useClient();
  const admin = can(me.role, "remediate");
  const pager = usePager("plan");
  const [{ data, fetching, error }, execute] = useQuery({
    query: PlanQuery,
    variables: { first: PAGE_SIZE, after: pager.after },
  });
  const refresh = useRefresh(execute);
  const [approved] = useQuery({ query: ApprovedQuery });
  const [actions, setActions] = useState<Map<string, Action>>(new Map());
  const [batch, setBatch] = useState<string[]>([]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [confirming, setConfirming] = useState(false);
  const [errors, setErrors] = useState<string[]>([]);
  const [executing, run] = useMutation(Execute);
  const [enabling, enable] = useMutation(Enable);
  const [cancelling, cancel] = useMutation(Cancel);
  const [restoring, restore] = useMutation(Restore);
  const [restoreTarget, setRestoreTarget] = useState<Action | null>(null);
  const [enableMessage, setEnableMessage] = useState<string | null>(null);

  useEffect(() => {
    if (approved.data) setActions((m) => mergeActions(m, approved.data!.remediations.edges.map((e) => e.node)));
  }, [approved.data]);
  useOnReconnect(() => {
    refresh();
    client.query(ApprovedQuery, {}, { requestPolicy: "network-only" }).toPromise().then((r) => {
      if (r.data) setActions((m) => mergeActions(m, r.data!.remediations.edges.map((e) => e.node)));
    });
  });
  useSubscription({ query: Updates }, (_p: unknown, e) => {
    const action = e.remediationUpdated;
    setActions((m) => mergeActions(m, [action]));
    if (action.state === "VERIFIED" || action.state === "FAILED" || action.state === "CANCELLED") announce(`${describeAction(action)}: ${STATE[action.state].label}`);
    return e;
  });
  // The plan changed (an offboarding, a finished batch and its sync): read the page again.
  // The first message comes once the subscription listens, so nothing is missed meanwhile.
  useRefreshOn({ query: PlanChanges }, refresh);
  const progress = useMemo(() => batchProgress(actions, batch), [actions, batch]);

  const page = data?.remediationPlanActions;
  const plan = page?.edges.map((e) => e.node) ?? [];
  const integration = data?.integrations.find((i) => i.status === "CONNECTED") ?? data?.integrations[0];
  const selectableIds = plan.filter(selectable).map((a) => a.id);
  const chosen = plan.filter((a) => selected.has(a.id) && selectable(a));
  const blocked = plan.filter((a) => !a.executable);

  const toggle = (id: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const allChosen = selectableIds.length > 0 && selectableIds.every((id) => selected.has(id));
  const toggleAll = () => setSelected(allChosen ? new Set() : new Set(selectableIds));

  const confirm = async () => {
    const ids = chosen.map((a) => a.id);
    const r = await run({ input: { actionIds: ids, confirm: true } });
    setConfirming(false);
    const payload = r.data?.executeRemediation;
    const errs = messagesOf(r.error, payload?.userErrors);
    setErrors(errs);
    if (errs.length === 0 && payload) {
      setActions((m) => mergeActions(m, payload.actions));
      setBatch(ids);
      setSelected(new Set());
      announce(`${plural(ids.length, "action")} approved`);
    }
  };
  const answer = (errs: string[], done: () => void) => {
    setErrors(errs);
    if (errs.length === 0) done();
  };
  const onCancel = async () => {
    const ids = batch.filter((id) => actions.get(id)?.state === "PENDING");
    const r = await cancel({ input: { actionIds: ids } });
    const payload = r.data?.cancelRemediation;
    answer(messagesOf(r.error, payload?.userErrors), () => {
      if (payload) setActions((m) => mergeActions(m, payload.actions));
      announce(`${plural(ids.length, "action")} cancelled`);
    });
  };
  const onRestore = async () => {
    if (!restoreTarget) return;
    const r = await restore({ input: { actionId: restoreTarget.id, confirm: true } });
    setRestoreTarget(null);
    const payload = r.data?.restoreAccess;
    answer(messagesOf(r.error, payload?.userErrors), () => {
      if (payload?.action) {
        setActions((m) => mergeActions(m, [payload.action!]));
        setBatch([payload.action.id]);
        announce(`${describeAction(payload.action)}: approved`);
      }
    });
  };
  const onEnable = async () => {
    const r = await enable({});
    const payload = r.data?.enableConfluenceRemediation;
    const errs = mutationErrors(r.error, payload?.userErrors).general;
    setErrors(errs);
    if (errs.length === 0 && payload) {
      if (payload.authorizationUrl) window.location.assign(payload.authorizationUrl);
      else setEnableMessage(payload.message ?? "Remediation is enabled.");
    }
  };

  const batchActions = batch.map((id) => actions.get(id)).filter((a): a is Action => a !== undefined);
  const history = [...actions.values()].filter((a) => !batch.includes(a.id)).sort((a, b) => (b.approvedAt ?? "").localeCompare(a.approvedAt ?? ""));

  return (
    <>
      <h1 tabIndex={-1}>Remediation</h1>
      <p className="muted">
        Vigil proposes the exact Atlassian calls that remove access it found wrong (offboarded people, revoked or downgraded review
        entries). Nothing is called until an ADMIN confirms; each call is read back to verify it.
      </p>
      <UserErrors errors={errors} />
      {enableMessage && <Notice tone="info">{enableMessage}</Notice>}
      {batch.length > 0 && (
        <section className="card" aria-labelledby="batch-h" data-testid="batch">
          <h2 id="batch-h">Carrying out {plural(batch.length, "action")}</h2>
          <Progress
            label={progress.finished ? "Finished" : "In progress"}
            value={progress.verified + progress.failed}
            max={progress.total}
            text={`${progress.verified} verified, ${progress.failed} failed, ${progress.cancelled} cancelled, ${progress.pending + progress.done} to go`}
          />
          {admin && progress.waiting > 0 && (
            <button type="button" className="secondary" onClick={onCancel} disabled={cancelling.fetching}>
              Cancel the {plural(progress.waiting, "action")} not called yet
            </button>
          )}
          <ActionStates actions={batchActions} />
          {progress.finished && progress.failed === 0 && progress.cancelled === 0 && (
            <Notice tone="success" title="Every action is verified">
              <p>Vigil syncs the site again; the checks move when that sync ends.</p>
            </Notice>
          )}
        </section>
      )}
      <section aria-labelledby="plan-h">
        <h2 id="plan-h">Plan</h2>
        {error && !data && <ErrorNotice problem={problemFrom(error)!} onRetry={refresh} />}
        {fetching && !data && <Loading label="Planning…" />}
        {data && plan.length === 0 && (
          <Empty title="Nothing to remediate">
            <p>
              No offboarded person keeps access, and no revoke or downgrade decision of a completed <Link to="/reviews">access review</Link>{" "}
              waits.
            </p>
          </Empty>
        )}
        {blocked.length > 0 && admin && integration?.authMethod === "OAUTH" && (
          <Notice tone="warn" title={`${plural(blocked.length, "action")} cannot be carried out with the current grant`}>
            <p>Vigil's OAuth grant does not include writing group memberships.</p>
            <button type="button" onClick={onEnable} disabled={enabling.fetching}>
              Enable remediation (asks Atlassian for write access)
            </button>
          </Notice>
        )}
        {plan.length > 0 && (
          <>
            {admin && (
              <div className="toolbar">
                <label className="inline">
                  <input type="checkbox" checked={allChosen} onChange={toggleAll} disabled={selectableIds.length === 0} /> Select every executable
                  action on this page ({selectableIds.length})
                </label>
                <button type="button" onClick={() => setConfirming(true)} disabled={chosen.length === 0}>
                  Review and confirm {chosen.length > 0 ? plural(chosen.length, "action") : ""}…
                </button>
              </div>
            )}
            <Table caption="Planned actions" testId="plan" columns={[admin && { label: "Select", hidden: true }, "Action", "Why", "Can run", "State"]}>
              {plan.map((a) => {
                const current = actions.get(a.id) ?? a;
                return (
                  <tr key={a.id} data-action={a.id}>
                    {admin && (
                      <td>
                        <input
                          type="checkbox"
                          aria-label={`Select: ${describeAction(a)}`}
                          checked={selected.has(a.id)}
                          disabled={!selectable(a)}
                          onChange={() => toggle(a.id)}
                        />
                      </td>
                    )}
                    <td>
                      {describeAction(a)}
                      <div className="mono small">{a.request}</div>
                    </td>
                    <td>
                      {a.reason}
                      {a.caveat && <div className="small">{a.caveat}</div>}
                      <div className="muted small">
                        {a.source.type === "CHECK" && a.source.checkId ? (
                          <Link to={`/checks/${encodeURIComponent(a.source.checkId)}`}>from the check</Link>
                        ) : a.source.reviewId ? (
                          <Link to={`/reviews/${encodeURIComponent(a.source.reviewId)}`}>from the review ({a.source.decision?.toLowerCase()})</Link>
                        ) : null}
                      </div>
                    </td>
                    <td>{a.executable ? <Tag tone="good">yes</Tag> : <><Tag tone="warn">no</Tag><div className="small">{a.blockedReason}</div></>}</td>
                    <td>{current.state ? <Tag tone={STATE[current.state].tone}>{STATE[current.state].label}</Tag> : <span className="muted">planned</span>}</td>
                  </tr>
                );
              })}
            </Table>
            {page && (page.totalCount > PAGE_SIZE || pager.index > 0) && (
              <ConnectionPager label="Plan" connection={page} pager={pager} pageSize={PAGE_SIZE} busy={fetching} />
            )}
          </>
        )}
      </section>
      {history.length > 0 && (
        <section aria-labelledby="done-h">
          <h2 id="done-h">Earlier actions</h2>
          <ActionStates actions={history.slice(0, 50)} onRestore={admin ? setRestoreTarget : undefined} />
        </section>
      )}
      <Dialog open={confirming} title="Call Atlassian?" onClose={() => setConfirming(false)}>
        <p>
          Vigil will make {plural(chosen.length, "call")} to Atlassian
          {integration?.site ? ` on ${integration.site.name ?? integration.site.url}` : ""}
          {integration?.connectedAs ? `, as ${integration.connectedAs}` : ""}. Each takes effect at once and is then read back:
        </p>
        <ol className="calls">
          {chosen.map((a) => (
            <li key={a.id}>
              <span>{describeAction(a)}</span>
              <code>{a.request}</code>
            </li>
          ))}
        </ol>
        <DialogActions confirm={<>Call Atlassian ({chosen.length})</>} onConfirm={confirm} danger disabled={executing.fetching || chosen.length === 0} onCancel={() => setConfirming(false)} />
      </Dialog>
      <Dialog open={restoreTarget !== null} title="Restore access?" onClose={() => setRestoreTarget(null)}>
        <p>
          {restoreTarget && describeAction(restoreTarget)} is undone: the account gets back exactly what it had (its groups and roles
          were kept). Vigil calls Atlassian and reads the result back.
        </p>
        <DialogActions confirm="Restore access" onConfirm={onRestore} danger disabled={restoring.fetching} onCancel={() => setRestoreTarget(null)} />
      </Dialog>
    </>
  );
}

function ActionStates({ actions, onRestore }: { actions: Action[]; onRestore?: (a: Action) => void }) {
  return (
    <ul className="plain-list action-states">
      {actions.map((a) => (
        <li key={a.id} data-action-state={a.state ?? "PLANNED"} data-action={a.id}>
          {a.state && <Tag tone={STATE[a.state].tone}>{STATE[a.state].label}</Tag>} {describeAction(a)}
          {a.verification && <span className="muted small"> — {a.verification.detail}</span>}
          {a.error && <div className="field__error">Atlassian answered: {a.error}</div>}
          {a.cancelReason && <div className="muted small">not called: {a.cancelReason}</div>}
          {onRestore && restorable(a) && (
            <button type="button" className="secondary small" onClick={() => onRestore(a)}>
              Restore access…
            </button>
          )}
          {a.approvedAt && <div className="muted small">approved {formatDateTime(a.approvedAt)}</div>}
        </li>
      ))}
    </ul>
  );
}
