// Overview: every check grouped by framework and control, status as a word and a colour,
// failing counts and "data as of", kept live by `checkResultUpdated`.
import { useMemo, useState, type ReactNode } from "react";
import { useSubscription } from "urql";
import { ErrorNotice, Empty, Loading, StatusBadge, Time } from "../components/ui";
import { graphql } from "../gql";
import type { Framework, OverviewResultFragment } from "../gql/graphql";
import { problemFrom } from "../lib/errors";
import { formatDateTime, plural, relative } from "../lib/format";
import { useNow, useScreenQuery } from "../lib/hooks";
import { Link } from "../lib/router";
import { statusInfo, tally, worstStatus } from "../lib/status";
import { useSession } from "../session";

graphql(`
  fragment OverviewResult on CheckResult {
    id
    status
    reason
    evaluatedAt
    dataAsOf
    changedAt
    failingItems(first: 1) { totalCount }
    exceptedItems { resourceId }
  }
`);

const OverviewQuery = graphql(`
  query Overview {
    checkSummary {
      framework
      controls {
        control { framework id title }
        checks { id }
      }
    }
    checks {
      id
      title
      result { ...OverviewResult }
    }
  }
`);

// With initial: true the current result of every check comes first, once the subscription
// listens: no change between the query and the subscription is lost. Each push names its
// Check (`check.id`) and is that check's latest result.
const CheckUpdates = graphql(`
  subscription OverviewCheckUpdates {
    checkResultUpdated(initial: true) {
      check { id result { ...OverviewResult } }
    }
  }
`);

export type ResultView = OverviewResultFragment;

const FRAMEWORK_NAMES: Record<Framework, string> = { SOC2: "SOC 2", ISO27001: "ISO/IEC 27001" };

/** Keep a pushed result by its check id; whether it changes the status shown (the first
 * messages of `initial: true` repeat what the query showed: nothing to announce). */
export function applyPush(
  pushed: Readonly<Record<string, ResultView>>,
  checkId: string,
  result: ResultView,
  fromQuery: ResultView | null | undefined,
): { next: Record<string, ResultView>; statusChanged: boolean } {
  const before = pushed[checkId] ?? fromQuery;
  return { next: { ...pushed, [checkId]: result }, statusChanged: Boolean(before) && before!.status !== result.status };
}

export function Overview() {
  const { announce } = useSession();
  const [{ data, fetching, error }, refresh] = useScreenQuery({ query: OverviewQuery });
  const now = useNow();
  // urql's document cache merges nothing: the pushed results, by check id, are newer than
  // the query's (a normalised cache would merge them into `checks` by itself).
  const [pushed, setPushed] = useState<Record<string, ResultView>>({});
  const [live, setLive] = useState(false);
  const shown = useMemo(() => new Map(data?.checks.map((c) => [c.id, c]) ?? []), [data]);
  useSubscription({ query: CheckUpdates }, (_prev: unknown, event) => {
    const { check } = event.checkResultUpdated;
    const result = check.result;
    setLive(true);
    if (!result) return event;
    setPushed((p) => {
      const { next, statusChanged } = applyPush(p, check.id, result, shown.get(check.id)?.result);
      if (statusChanged) announce(`${shown.get(check.id)?.title ?? check.id}: ${statusInfo(result.status).label}`);
      return next;
    });
    return event;
  });

  const checks = useMemo(
    () => new Map((data?.checks ?? []).map((c) => [c.id, { id: c.id, title: c.title, result: pushed[c.id] ?? c.result ?? null }])),
    [data, pushed],
  );

  if (error && !data) return <Page><ErrorNotice problem={problemFrom(error)!} onRetry={refresh} /></Page>;
  if (fetching && !data) return <Page><Loading label="Loading checks…" /></Page>;
  if (!data) return <Page><Empty title="No data" /></Page>;

  const all = [...checks.values()];
  const totals = tally(all.map((c) => c.result?.status));
  const asOf = all
    .map((c) => c.result?.dataAsOf)
    .filter((d): d is string => Boolean(d))
    .sort()[0];

  return (
    <Page>
      <section aria-label="Summary" className="summary" data-live-checks={live ? "yes" : "no"}>
        <p className="summary__counts">
          <span className="count count--bad">{plural(totals.failing, "check")} failing</span>
          <span className="count count--warn">{totals.error} in error</span>
          <span className="count count--good">{totals.passing} passing</span>
          <span className="count">{totals.notMonitored} not monitored</span>
        </p>
        <p className="muted">
          Data as of{" "}
          {asOf ? (
            <Time iso={asOf}>
              {formatDateTime(asOf)} ({relative(asOf, now)})
            </Time>
          ) : (
            "— (nothing synced yet)"
          )}
          . {live ? "Updates appear here as they happen." : "Connecting for live updates…"}
        </p>
      </section>
      {totals.notMonitored === totals.total && (
        <Empty title="Nothing is monitored yet">
          <p>
            Connect Confluence on the <Link to="/integrations">Integrations</Link> screen; checks start once the first sync
            is done.
          </p>
        </Empty>
      )}
      {data.checkSummary.length === 0 && <Empty title="No framework is active" />}
      {data.checkSummary.map((framework) => {
        const ids = new Set(framework.controls.flatMap((c) => c.checks.map((k) => k.id)));
        const counts = tally([...ids].map((id) => checks.get(id)?.result?.status));
        return (
          <section key={framework.framework} className="framework" aria-labelledby={`fw-${framework.framework}`}>
            <h2 id={`fw-${framework.framework}`}>
              {FRAMEWORK_NAMES[framework.framework] ?? framework.framework}
              <span className="framework__counts">
                {counts.failing} failing · {counts.passing} passing · {counts.error + counts.notMonitored} other, of{" "}
                {counts.total}
              </span>
            </h2>
            {framework.controls.map((control) => {
              const rows = control.checks.map((c) => checks.get(c.id)).filter((c) => c !== undefined);
              const status = worstStatus(rows.map((c) => c.result?.status));
              const headingId = `ctl-${framework.framework}-${control.control.id}`;
              return (
                <div key={control.control.id} className="control">
                  <h3 id={headingId}>
                    <StatusBadge status={status} /> <span className="control__id">{control.control.id}</span>{" "}
                    {control.control.title}
                  </h3>
                  <table className="table checks-table" aria-labelledby={headingId}>
                    <thead>
                      <tr>
                        <th scope="col">Check</th>
                        <th scope="col">Status</th>
                        <th scope="col" className="num">
                          Failing
                        </th>
                        <th scope="col">Data as of</th>
                      </tr>
                    </thead>
                    <tbody>
                      {rows.map((check) => (
                        <tr key={check.id} data-check={check.id}>
                          <td>
                            <Link to={`/checks/${encodeURIComponent(check.id)}`}>{check.title}</Link>
                            {check.result?.reason && (check.result.status === "ERROR" || check.result.status === "NOT_MONITORED") && (
                              <p className="muted small">{check.result.reason}</p>
                            )}
                          </td>
                          <td>
                            <StatusBadge status={check.result?.status} />
                          </td>
                          <td className="num" data-failing={check.result?.failingItems.totalCount ?? 0}>
                            {check.result && check.result.status !== "NOT_MONITORED"
                              ? check.result.failingItems.totalCount.toLocaleString("en-US")
                              : "—"}
                            {check.result && check.result.exceptedItems.length > 0 && (
                              <span className="muted small"> (+{check.result.exceptedItems.length} excepted)</span>
                            )}
                          </td>
                          <td>
                            <Time iso={check.result?.dataAsOf}>{check.result?.dataAsOf ? relative(check.result.dataAsOf, now) : "—"}</Time>
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              );
            })}
          </section>
        );
      })}
      <OtherChecks
        checks={all.filter((c) => !data.checkSummary.some((f) => f.controls.some((k) => k.checks.some((x) => x.id === c.id))))}
        now={now}
      />
    </Page>
  );
}

function OtherChecks({ checks, now }: { checks: Array<{ id: string; title: string; result: ResultView | null }>; now: number }) {
  if (checks.length === 0) return null;
  return (
    <section className="framework" aria-labelledby="fw-other">
      <h2 id="fw-other">Checks without a framework control</h2>
      <ul className="plain-list">
        {checks.map((c) => (
          <li key={c.id} data-check={c.id}>
            <StatusBadge status={c.result?.status} /> <Link to={`/checks/${encodeURIComponent(c.id)}`}>{c.title}</Link>{" "}
            <span className="muted small">
              {c.result ? `${c.result.failingItems.totalCount} failing · data ${relative(c.result.dataAsOf, now)}` : ""}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Page({ children }: { children: ReactNode }) {
  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      {children}
    </>
  );
}
