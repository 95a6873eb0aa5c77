// Check detail: definition and fix, failing items (paged, searchable), exceptions (grant with
// a reason and an expiry, revoke), the history chart, and the evidence records with
// "verify chain".
import { lazy, Suspense, useEffect, useMemo, useState, type ReactNode } from "react";
import { useClient, useMutation, useQuery, useSubscription } from "urql";
import { ConnectionPager, Dialog, DialogActions, Empty, ErrorNotice, Loading, Notice, StatusBadge, Table, Tag, TextArea, TextField, Time, UserErrors } from "../components/ui";
import { graphql } from "../gql";
import type { CheckItemsQuery } from "../gql/graphql";
import { mutationErrors, problemFrom, type Problem } from "../lib/errors";
import { formatDateTime, isoDay, plural, relative } from "../lib/format";
import { historySeries } from "../lib/history";
import { useDebounced, useDialogForm, useNow, useOnReconnect, useRefresh } from "../lib/hooks";
import { searchPages, SEARCH_PAGE, type Page as ItemPage } from "../lib/items";
import { usePager } from "../lib/pagination";
import { can } from "../lib/roles";
import { Link } from "../lib/router";
import { statusInfo } from "../lib/status";
import { useSession } from "../session";
import { ChainVerification } from "./Evidence";

const HistoryChart = lazy(() => import("../components/HistoryChart"));

const CheckQuery = graphql(`
  query CheckDetail($id: ID!) {
    check(id: $id) {
      id
      title
      description
      fix
      controls { framework id title }
      result {
        id
        status
        reason
        evaluatedAt
        dataAsOf
        changedAt
        evidenceId
        exceptedItems { resourceId name reason exception { id expiresAt reason } }
      }
    }
    checkHistory(checkId: $id, first: 200) {
      totalCount
      edges { node { id status changedAt failingItems(first: 1) { totalCount } } }
    }
  }
`);

const ItemsQuery = graphql(`
  query CheckItems($id: ID!, $first: Int!, $after: String) {
    check(id: $id) {
      id
      result {
        id
        failingItems(first: $first, after: $after) {
          totalCount
          pageInfo { hasNextPage endCursor }
          edges { node { resourceType resourceId name reason } }
        }
      }
    }
  }
`);

const ExceptionsQuery = graphql(`
  query CheckExceptionsList($id: ID!) {
    checkExceptions(checkId: $id, includeInactive: true, first: 100) {
      totalCount
      edges {
        node {
          id resourceId reason status expiresAt createdAt revokedAt
          createdByActor { name role }
          revokedByActor { name }
        }
      }
    }
  }
`);

const EvidenceQuery = graphql(`
  query CheckEvidence($id: ID!, $after: String) {
    evidence(checkId: $id, first: 10, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id sequence status evaluatedAt recordedAt dataAsOf sha256 } }
    }
  }
`);

const CheckPush = graphql(`
  subscription CheckDetailUpdates($id: ID) {
    checkResultUpdated(checkId: $id) { id checkId status changedAt }
  }
`);

// What granting or revoking an exception answers: the exception as it now stands, or why not.
graphql(`
  fragment ExceptionChange on CheckExceptionPayload {
    exception { id status expiresAt revokedAt }
    userErrors { field code message }
  }
`);

const CreateException = graphql(`
  mutation GrantException($input: CreateCheckExceptionInput!) {
    createCheckException(input: $input) { ...ExceptionChange }
  }
`);

const RevokeException = graphql(`
  mutation RevokeException($id: ID!) {
    revokeCheckException(id: $id) { ...ExceptionChange }
  }
`);

type Item = NonNullable<NonNullable<CheckItemsQuery["check"]>["result"]>["failingItems"]["edges"][number]["node"];

const PAGE_SIZE = 25;

export function CheckDetail({ id }: { id: string }) {
  const { me, announce } = useSession();
  const [{ data, fetching, error }, execute] = useQuery({ query: CheckQuery, variables: { id } });
  const refresh = useRefresh(execute);
  const [version, setVersion] = useState(0);
  const refreshAll = () => {
    refresh();
    setVersion((v) => v + 1);
  };
  useOnReconnect(refreshAll);
  useSubscription({ query: CheckPush, variables: { id } }, (_p: unknown, event) => {
    announce(`This check is now ${statusInfo(event.checkResultUpdated.status).label}`);
    refreshAll();
    return event;
  });
  const [granting, setGranting] = useState<Item | null>(null);

  if (error && !data) return <Page title="Check"><ErrorNotice problem={problemFrom(error)!} onRetry={refresh} /></Page>;
  if (fetching && !data) return <Page title="Check"><Loading label="Loading the check…" /></Page>;
  const check = data?.check;
  if (!check) {
    return (
      <Page title="Check not found">
        <Empty title={`There is no check "${id}".`}>
          <p>
            Back to the <Link to="/">overview</Link>.
          </p>
        </Empty>
      </Page>
    );
  }
  const result = check.result;
  const history = data.checkHistory.edges.map((e) => ({
    changedAt: e.node.changedAt,
    status: e.node.status,
    failingCount: e.node.failingItems.totalCount,
  }));

  return (
    <Page title={check.title}>
      <p className="breadcrumb">
        <Link to="/">Overview</Link> › {check.id}
      </p>
      <section className="card" aria-label="Status">
        <p className="status-line">
          <StatusBadge status={result?.status} />
          {result ? (
            <span>
              Evaluated <Time iso={result.evaluatedAt}>{formatDateTime(result.evaluatedAt)}</Time> on data as of{" "}
              <Time iso={result.dataAsOf}>{result.dataAsOf ? formatDateTime(result.dataAsOf) : "—"}</Time>; last changed{" "}
              <Time iso={result.changedAt}>{relative(result.changedAt)}</Time>.
            </span>
          ) : (
            <span>Not evaluated yet.</span>
          )}
        </p>
        {result?.reason && (result.status === "ERROR" || result.status === "NOT_MONITORED") && <p>{result.reason}</p>}
        <p>{check.description}</p>
        <details>
          <summary>How to fix</summary>
          <p>{check.fix}</p>
        </details>
        <p className="muted small">
          Evidence for: {check.controls.map((c) => `${c.framework} ${c.id} (${c.title})`).join("; ") || "no control"}
        </p>
      </section>

      <FailingItems id={id} resultId={result?.id ?? null} version={version} canGrant={can(me.role, "manageExceptions")} onGrant={setGranting} />

      <section aria-labelledby="history-h">
        <h2 id="history-h">History</h2>
        {history.length === 0 ? (
          <Empty title="No recorded change yet" />
        ) : (
          <>
            <Suspense fallback={<Loading label="Loading the chart…" />}>
              <HistoryChart
                series={historySeries(history)}
                label={`Failing items and status over time: ${plural(history.length, "change")}, now ${statusInfo(result?.status).label}`}
              />
            </Suspense>
            <details>
              <summary>History as a table</summary>
              <Table caption="Changes of this check, newest first" wrap={false} columns={["Changed", "Status", { label: "Failing", className: "num" }]}>
                {history.map((h, i) => (
                  <tr key={`${h.changedAt}-${i}`}>
                    <td><Time iso={h.changedAt}>{formatDateTime(h.changedAt)}</Time></td>
                    <td><StatusBadge status={h.status} /></td>
                    <td className="num">{h.failingCount}</td>
                  </tr>
                ))}
              </Table>
            </details>
          </>
        )}
      </section>

      <Exceptions id={id} version={version} excepted={result?.exceptedItems ?? []} canRevoke={can(me.role, "manageExceptions")} onChanged={refreshAll} />

      <section aria-labelledby="evidence-h">
        <h2 id="evidence-h">Evidence records</h2>
        <EvidenceRecords id={id} version={version} />
        <ChainVerification />
      </section>

      <GrantDialog checkId={id} item={granting} onClose={() => setGranting(null)} onGranted={refreshAll} />
    </Page>
  );
}

function Page({ title, children }: { title: string; children: ReactNode }) {
  return (
    <>
      <h1 tabIndex={-1}>{title}</h1>
      {children}
    </>
  );
}

function FailingItems(props: { id: string; resultId: string | null; version: number; canGrant: boolean; onGrant: (item: Item) => void }) {
  const { id, resultId, version, canGrant, onGrant } = props;
  const client = useClient();
  const [search, setSearch] = useState("");
  const query = useDebounced(search.trim(), 300);
  // Cursors are positions in one result: a new result starts again from page one.
  const pager = usePager(`${resultId}`);
  const [{ data, fetching, error }, execute] = useQuery({
    query: ItemsQuery,
    variables: { id, first: PAGE_SIZE, after: pager.after },
    pause: query !== "",
  });
  useEffect(() => {
    if (version > 0) execute({ requestPolicy: "network-only" });
  }, [version, execute]);
  const [found, setFound] = useState<{ query: string; items: Item[]; read: number; complete: boolean } | null>(null);
  const [searchProblem, setSearchProblem] = useState<Problem | null>(null);
  useEffect(() => {
    if (!query) {
      setFound(null);
      return;
    }
    let cancelled = false;
    setSearchProblem(null);
    const fetchPage = async (after: string | null): Promise<ItemPage<Item>> => {
      const r = await client.query(ItemsQuery, { id, first: SEARCH_PAGE, after }, { requestPolicy: "network-only" }).toPromise();
      if (r.error) throw r.error;
      const items = r.data?.check?.result?.failingItems;
      return {
        items: items?.edges.map((e) => e.node) ?? [],
        endCursor: items?.pageInfo.endCursor ?? null,
        hasNextPage: items?.pageInfo.hasNextPage ?? false,
      };
    };
    searchPages(fetchPage, query)
      .then((r) => !cancelled && setFound({ query, items: r.matches, read: r.read, complete: r.complete }))
      .catch((e) => !cancelled && setSearchProblem(problemFrom(e)));
    return () => {
      cancelled = true;
    };
  }, [query, client, id, version, resultId]);

  const connection = data?.check?.result?.failingItems;
  const items = found ? found.items : (connection?.edges.map((e) => e.node) ?? []);
  const total = connection?.totalCount ?? 0;
  return (
    <section aria-labelledby="items-h">
      <h2 id="items-h">Failing items {connection && <span className="muted">({total.toLocaleString("en-US")})</span>}</h2>
      <div className="toolbar">
        <TextField
          label="Search failing items"
          type="search"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          placeholder="name, id or reason"
        />
      </div>
      {searchProblem && <ErrorNotice problem={searchProblem} />}
      {error && !data && <ErrorNotice problem={problemFrom(error)!} onRetry={() => execute({ requestPolicy: "network-only" })} />}
      {((fetching && !data && !query) || (query && !found && !searchProblem)) && <Loading label="Loading failing items…" />}
      {found && (
        <p role="status" className="muted">
          {plural(found.items.length, "match", "matches")} for “{found.query}”
          {found.complete ? "" : ` in the first ${found.read.toLocaleString("en-US")} items`}.
        </p>
      )}
      {((data && !query) || found) && items.length === 0 ? (
        <Empty title={found ? "No failing item matches." : "Nothing fails this check."} />
      ) : (
        items.length > 0 && (
          <Table caption="Failing items" testId="failing-items" columns={["Item", "Why it fails", canGrant && { label: "Actions", hidden: true }]}>
            {items.map((item) => (
              <tr key={item.resourceId} data-resource={item.resourceId}>
                <td>
                  {item.name ?? item.resourceId}
                  <div className="muted small mono">{item.resourceId}</div>
                </td>
                <td>{item.reason}</td>
                {canGrant && (
                  <td>
                    <button type="button" className="secondary" onClick={() => onGrant(item)}>
                      Accept as exception…
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </Table>
        )
      )}
      {!found && connection && connection.totalCount > PAGE_SIZE && (
        <ConnectionPager label="Failing items" connection={connection} pager={pager} pageSize={PAGE_SIZE} busy={fetching} />
      )}
    </section>
  );
}

function Exceptions(props: {
  id: string;
  version: number;
  excepted: Array<{ resourceId: string; name: string | null; exception: { id: string; expiresAt: string } | null }>;
  canRevoke: boolean;
  onChanged: () => void;
}) {
  const { id, version, excepted, canRevoke, onChanged } = props;
  const [{ data, fetching, error }, execute] = useQuery({ query: ExceptionsQuery, variables: { id } });
  useEffect(() => {
    if (version > 0) execute({ requestPolicy: "network-only" });
  }, [version, execute]);
  const [revoking, revoke] = useMutation(RevokeException);
  const [messages, setMessages] = useState<string[]>([]);
  const names = useMemo(() => new Map(excepted.map((e) => [e.resourceId, e.name])), [excepted]);
  const onRevoke = async (exceptionId: string) => {
    const r = await revoke({ id: exceptionId });
    const errs = mutationErrors(r.error, r.data?.revokeCheckException.userErrors).general;
    setMessages(errs);
    if (errs.length === 0) onChanged();
  };
  return (
    <section aria-labelledby="exceptions-h">
      <h2 id="exceptions-h">Exceptions</h2>
      <p className="muted">An accepted item stops failing the check until its exception expires or is revoked.</p>
      <UserErrors errors={messages} />
      {error && !data && <ErrorNotice problem={problemFrom(error)!} />}
      {fetching && !data && <Loading label="Loading exceptions…" />}
      {data && data.checkExceptions.edges.length === 0 && <Empty title="No exception for this check." />}
      {data && data.checkExceptions.edges.length > 0 && (
        <Table caption="Exceptions, newest first" columns={["Item", "Reason", "Status", "Expires", "Granted by", canRevoke && { label: "Actions", hidden: true }]}>
          {data.checkExceptions.edges.map(({ node }) => (
            <tr key={node.id}>
              <td>
                {names.get(node.resourceId) ?? node.resourceId}
                <div className="muted small mono">{node.resourceId}</div>
              </td>
              <td>{node.reason}</td>
              <td>
                <Tag tone={node.status === "ACTIVE" ? "info" : "neutral"}>{node.status.toLowerCase()}</Tag>
              </td>
              <td>
                <Time iso={node.expiresAt}>{formatDateTime(node.expiresAt)}</Time>
              </td>
              <td>{node.createdByActor.name ?? "a deleted key"}</td>
              {canRevoke && (
                <td>
                  {node.status === "ACTIVE" && (
                    <button type="button" className="secondary" disabled={revoking.fetching} onClick={() => onRevoke(node.id)}>
                      Revoke
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}

function GrantDialog({ checkId, item, onClose, onGranted }: { checkId: string; item: Item | null; onClose: () => void; onGranted: () => void }) {
  const [reason, setReason] = useState("");
  const [expires, setExpires] = useState(isoDay(90));
  const [{ fetching }, grant] = useMutation(CreateException);
  const { errors, submit } = useDialogForm(item, {
    required: { field: "reason", value: reason, message: "Give a reason: auditors read it." },
    reset: () => {
      setReason("");
      setExpires(isoDay(90));
    },
    send: async (failing) => {
      const r = await grant({
        input: { checkId, resourceId: failing.resourceId, reason: reason.trim(), expiresAt: `${expires}T00:00:00Z` },
      });
      return { error: r.error, userErrors: r.data?.createCheckException.userErrors };
    },
    onDone: onGranted,
    onClose,
  });
  return (
    <Dialog open={item !== null} title="Accept a failing item" onClose={onClose}>
      {item && (
        <form onSubmit={submit} noValidate>
          <p>
            <strong>{item.name ?? item.resourceId}</strong> will stop failing this check until the date below.
          </p>
          <UserErrors errors={errors.general} />
          <TextArea label="Reason (for auditors)" value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={2000} error={errors.byField.reason} />
          <TextField
            label="Expires on"
            type="date"
            value={expires}
            min={isoDay(1)}
            max={isoDay(365)}
            onChange={(e) => setExpires(e.target.value)}
            hint="At most 365 days from today (00:00 UTC that day)."
            error={errors.byField.expiresAt}
            required
          />
          <DialogActions confirm={<>Accept until {expires}</>} disabled={fetching} onCancel={onClose} />
        </form>
      )}
    </Dialog>
  );
}

function EvidenceRecords({ id, version }: { id: string; version: number }) {
  const pager = usePager(id);
  const [{ data, fetching, error }, execute] = useQuery({ query: EvidenceQuery, variables: { id, after: pager.after } });
  useEffect(() => {
    if (version > 0) execute({ requestPolicy: "network-only" });
  }, [version, execute]);
  const now = useNow();
  if (error && !data) return <ErrorNotice problem={problemFrom(error)!} onRetry={() => execute({ requestPolicy: "network-only" })} />;
  if (fetching && !data) return <Loading label="Loading evidence…" />;
  const conn = data?.evidence;
  if (!conn || conn.totalCount === 0) return <Empty title="No evidence recorded for this check yet." />;
  return (
    <>
      <Table
        caption="Evidence records, newest first"
        testId="evidence-records"
        columns={[{ label: "#", className: "num" }, "Status sealed", "Evaluated", "Data as of", "SHA-256"]}
      >
        {conn.edges.map(({ node }) => (
          <tr key={node.id}>
            <td className="num">{node.sequence}</td>
            <td>{node.status ? <StatusBadge status={node.status} /> : "remediation"}</td>
            <td>
              <Time iso={node.evaluatedAt}>{node.evaluatedAt ? relative(node.evaluatedAt, now) : "—"}</Time>
            </td>
            <td>
              <Time iso={node.dataAsOf}>{node.dataAsOf ? formatDateTime(node.dataAsOf) : "—"}</Time>
            </td>
            <td className="mono small" title={node.sha256}>
              {node.sha256.slice(0, 16)}…
            </td>
          </tr>
        ))}
      </Table>
      <ConnectionPager label="Evidence records" connection={conn} pager={pager} pageSize={10} busy={fetching} />
      {fetching && <Notice tone="info">Refreshing…</Notice>}
    </>
  );
}
