// People and accounts: the accounts of the current snapshot with who they belong to and how
// they hold access (groups, admin, status); link an account to a person, mark it not staff;
// the HR people list and its CSV import with every row problem shown.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { useMutation, useQuery } from "urql";
import { AccountCell, Checkbox, ConnectionPager, Dialog, DialogActions, Empty, ErrorNotice, Loading, Notice, SelectField, Table, Tag, TextArea, TextField, Time, UserErrors } from "../components/ui";
import { graphql } from "../gql";
import type { AccountFilter, AccountsScreenQuery, IdentityClassification, NotStaffKind, PersonStatus } from "../gql/graphql";
import { mutationErrors, problemFrom } from "../lib/errors";
import { formatDate, formatDateTime, plural, relative } from "../lib/format";
import { useDebounced, useDialogForm, useRefreshOn, useScreenQuery } from "../lib/hooks";
import type { Credential } from "../lib/auth";
import { importPeople, type ImportOutcome } from "../lib/http";
import { usePager } from "../lib/pagination";
import { can } from "../lib/roles";
import { Link } from "../lib/router";
import { useSession } from "../session";

// What a decision about an account changes: who it belongs to (the screen's list shows it).
graphql(`
  fragment AccountIdentity on Account {
    accountId
    identity { classification kind reason method decidedAt person { id name email status } }
  }
`);

// What each decision about an account answers: the account's identity now, or why not.
graphql(`
  fragment AccountDecision on AccountPayload {
    account { ...AccountIdentity }
    userErrors { field code message }
  }
`);

const AccountsQuery = graphql(`
  query AccountsScreen($filter: AccountFilter, $first: Int!, $after: String) {
    accounts(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          displayName email accountType accountStatus isAdmin mfaEnabled groups lastActiveAt
          ...AccountIdentity
        }
      }
    }
  }
`);

const PeopleQuery = graphql(`
  query PeopleScreen($filter: PersonFilter, $first: Int!, $after: String) {
    people(filter: $filter, first: $first, after: $after, orderBy: { field: EMAIL, direction: ASC }) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id email name status jobRole startDate offboardedAt accounts { accountId displayName accountStatus } } }
    }
  }
`);

const PeopleChanges = graphql(`
  subscription PeopleChanges {
    peopleChanged(initial: true) { totalCount changedAt }
  }
`);

const PersonPicker = graphql(`
  query PersonPicker($search: String) {
    people(filter: { search: $search }, first: 8) {
      totalCount
      edges { node { id name email status } }
    }
  }
`);

const LinkAccount = graphql(`
  mutation LinkAccount($accountId: ID!, $personId: ID!) {
    linkAccount(input: { accountId: $accountId, personId: $personId }) { ...AccountDecision }
  }
`);

const MarkNotStaff = graphql(`
  mutation MarkNotStaff($input: MarkAccountNotStaffInput!) {
    markAccountNotStaff(input: $input) { ...AccountDecision }
  }
`);

const ClearIdentity = graphql(`
  mutation ClearIdentity($accountId: ID!) {
    clearAccountIdentity(accountId: $accountId) { ...AccountDecision }
  }
`);

type Account = AccountsScreenQuery["accounts"]["edges"][number]["node"];

const PAGE_SIZE = 50;

const CLASSIFICATION: Record<IdentityClassification, { label: string; tone: "good" | "warn" | "neutral" | "info" }> = {
  STAFF: { label: "Staff", tone: "good" },
  NOT_STAFF: { label: "Not staff", tone: "info" },
  UNIDENTIFIED: { label: "Unidentified", tone: "warn" },
};

const KINDS: Record<NotStaffKind, string> = {
  SERVICE: "service account",
  SHARED: "shared account",
  SYSTEM: "Atlassian app",
  EXTERNAL: "external person",
};

function Tabs({ current }: { current: "accounts" | "people" }) {
  return (
    <nav className="tabs" aria-label="People and accounts">
      <Link to="/accounts" aria-current={current === "accounts" ? "page" : undefined}>
        Accounts
      </Link>
      <Link to="/people" aria-current={current === "people" ? "page" : undefined}>
        People (HR)
      </Link>
    </nav>
  );
}

/** How an account's identity reads in one line. */
export function identityText(identity: Account["identity"]): string {
  if (identity.classification === "STAFF") {
    const p = identity.person;
    const who = p ? p.name ?? p.email : "a person";
    return p?.status === "OFFBOARDED" ? `${who} (offboarded)` : who;
  }
  if (identity.classification === "NOT_STAFF") {
    const kind = identity.kind ? KINDS[identity.kind] : "not staff";
    return identity.reason && identity.method === "MANUAL" ? `${kind}: ${identity.reason}` : kind;
  }
  return "Nobody yet";
}

export function Accounts() {
  const { me } = useSession();
  const [search, setSearch] = useState("");
  const [classification, setClassification] = useState<IdentityClassification | "">("");
  const [status, setStatus] = useState<"" | "ACTIVE" | "INACTIVE" | "CLOSED" | "UNKNOWN">("");
  const [adminsOnly, setAdminsOnly] = useState(false);
  const [personStatus, setPersonStatus] = useState<PersonStatus | "">("");
  const term = useDebounced(search.trim(), 300);
  const filter: AccountFilter = {
    ...(term ? { search: term } : {}),
    ...(classification ? { classification } : {}),
    ...(status ? { status } : {}),
    ...(adminsOnly ? { admin: true } : {}),
    ...(personStatus ? { personStatus } : {}),
  };
  const pager = usePager(JSON.stringify(filter));
  const [{ data, fetching, error }, refresh] = useScreenQuery({
    query: AccountsQuery,
    variables: { filter, first: PAGE_SIZE, after: pager.after },
  });
  const [linking, setLinking] = useState<Account | null>(null);
  const [classifying, setClassifying] = useState<Account | null>(null);
  const [clearState, clear] = useMutation(ClearIdentity);
  const [rowErrors, setRowErrors] = useState<string[]>([]);
  const admin = can(me.role, "manageIdentities");
  const conn = data?.accounts;
  const onClear = async (account: Account) => {
    const r = await clear({ accountId: account.accountId });
    setRowErrors(mutationErrors(r.error, r.data?.clearAccountIdentity.userErrors).general);
    refresh();
  };

  return (
    <>
      <h1 tabIndex={-1}>People and accounts</h1>
      <Tabs current="accounts" />
      <p className="muted">
        The Confluence accounts of the latest sync, who each belongs to, and how it holds access.
      </p>
      <form className="toolbar" role="search" onSubmit={(e) => e.preventDefault()}>
        <TextField label="Search accounts" type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="name or email" />
        <SelectField
          label="Identity"
          value={classification}
          onChange={(e) => setClassification(e.target.value as IdentityClassification | "")}
          options={[
            { value: "", label: "Any" },
            { value: "UNIDENTIFIED", label: "Unidentified" },
            { value: "STAFF", label: "Staff" },
            { value: "NOT_STAFF", label: "Not staff" },
          ]}
        />
        <SelectField
          label="Account status"
          value={status}
          onChange={(e) => setStatus(e.target.value as typeof status)}
          options={[
            { value: "", label: "Any" },
            { value: "ACTIVE", label: "Active" },
            { value: "INACTIVE", label: "Inactive" },
            { value: "CLOSED", label: "Closed" },
            { value: "UNKNOWN", label: "Unknown" },
          ]}
        />
        <SelectField
          label="Person"
          value={personStatus}
          onChange={(e) => setPersonStatus(e.target.value as PersonStatus | "")}
          options={[
            { value: "", label: "Anyone" },
            { value: "ACTIVE", label: "Works here" },
            { value: "OFFBOARDED", label: "Has left (offboarded)" },
          ]}
        />
        <Checkbox label="Admins only" checked={adminsOnly} onChange={(e) => setAdminsOnly(e.target.checked)} />
      </form>
      <UserErrors errors={rowErrors} />
      {error && !data && <ErrorNotice problem={problemFrom(error)!} onRetry={refresh} />}
      {fetching && !data && <Loading label="Loading accounts…" />}
      {conn && conn.totalCount === 0 && (
        <Empty title={Object.keys(filter).length ? "No account matches these filters." : "No accounts yet"}>
          {!Object.keys(filter).length && (
            <p>
              Accounts appear after the first sync of the <Link to="/integrations">users and groups integration</Link>.
            </p>
          )}
        </Empty>
      )}
      {conn && conn.edges.length > 0 && (
        <Table
          caption="Accounts, by account id"
          className="accounts"
          testId="accounts"
          busy={fetching}
          columns={["Account", "Access", "Belongs to", admin && { label: "Actions", hidden: true }]}
        >
          {conn.edges.map(({ node: a }) => (
            <tr key={a.accountId} data-account={a.accountId}>
              <AccountCell account={a} hiddenEmail="email hidden by the profile's visibility">
                {a.accountType.toLowerCase()} · last active{" "}
                <Time iso={a.lastActiveAt}>{a.lastActiveAt ? relative(a.lastActiveAt) : "unknown"}</Time>
              </AccountCell>
              <td>
                <Tag tone={a.accountStatus === "ACTIVE" ? "good" : "neutral"}>{a.accountStatus.toLowerCase()}</Tag>{" "}
                {a.isAdmin && <Tag tone="warn">admin</Tag>}{" "}
                {a.mfaEnabled === false && <Tag tone="bad">no MFA</Tag>}
                <div className="small">
                  {a.groups.length === 0 ? "no group" : `${plural(a.groups.length, "group")}: ${a.groups.slice(0, 4).join(", ")}${a.groups.length > 4 ? "…" : ""}`}
                </div>
              </td>
              <td data-identity={a.identity.classification}>
                <Tag tone={CLASSIFICATION[a.identity.classification].tone}>{CLASSIFICATION[a.identity.classification].label}</Tag>{" "}
                <span className="identity">{identityText(a.identity)}</span>
                {a.identity.method && (
                  <div className="muted small">
                    {a.identity.method === "MANUAL" ? "decided by hand" : a.identity.method === "AUTO_EMAIL" ? "matched by email" : "classified automatically"}
                    {a.identity.decidedAt && `, ${formatDateTime(a.identity.decidedAt)}`}
                  </div>
                )}
              </td>
              {admin && (
                <td className="row-actions">
                  <button type="button" className="secondary" onClick={() => setLinking(a)} aria-label={`Link ${a.displayName ?? a.accountId} to a person`}>
                    Link…
                  </button>
                  <button type="button" className="secondary" onClick={() => setClassifying(a)} aria-label={`Mark ${a.displayName ?? a.accountId} as not staff`}>
                    Not staff…
                  </button>
                  {a.identity.method === "MANUAL" && (
                    <button type="button" className="secondary" onClick={() => onClear(a)} disabled={clearState.fetching} aria-label={`Clear the decision on ${a.displayName ?? a.accountId}`}>
                      Clear
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </Table>
      )}
      {conn && conn.totalCount > 0 && (
        <ConnectionPager label="Accounts" connection={conn} pager={pager} pageSize={PAGE_SIZE} busy={fetching} />
      )}
      <LinkDialog account={linking} onClose={() => setLinking(null)} onDone={refresh} />
      <NotStaffDialog account={classifying} onClose={() => setClassifying(null)} onDone={refresh} />
    </>
  );
}

function LinkDialog({ account, onClose, onDone }: { account: Account | null; onClose: () => void; onDone: () => void }) {
  const [search, setSearch] = useState("");
  const term = useDebounced(search.trim(), 250);
  const [personId, setPersonId] = useState("");
  const [errors, setErrors] = useState<string[]>([]);
  const [{ data, fetching }] = useQuery({ query: PersonPicker, variables: { search: term || null }, pause: !account });
  const [state, link] = useMutation(LinkAccount);
  useEffect(() => {
    setSearch(account?.displayName ?? "");
    setPersonId("");
    setErrors([]);
  }, [account]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!account || !personId) {
      setErrors(["Choose the person this account belongs to."]);
      return;
    }
    const r = await link({ accountId: account.accountId, personId });
    const errs = mutationErrors(r.error, r.data?.linkAccount.userErrors).general;
    setErrors(errs);
    if (errs.length === 0) {
      onDone();
      onClose();
    }
  };
  const people = data?.people.edges.map((e) => e.node) ?? [];
  return (
    <Dialog open={account !== null} title="Link the account to a person" onClose={onClose}>
      {account && (
        <form onSubmit={submit}>
          <p>
            <strong>{account.displayName ?? account.accountId}</strong> {account.email && <span className="muted">({account.email})</span>} becomes
            staff, belonging to the person you choose. Automatic matching never overrides this.
          </p>
          <UserErrors errors={errors} />
          <TextField label="Find a person" type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="name or email" />
          <fieldset className="field picker">
            <legend>Person</legend>
            {fetching && !data && <Loading label="Searching people…" />}
            {data && people.length === 0 && <p className="muted">No person matches. Import people from HR first.</p>}
            {people.map((p) => (
              <label key={p.id} className="picker__option">
                <input type="radio" name="person" value={p.id} checked={personId === p.id} onChange={() => setPersonId(p.id)} />{" "}
                {p.name ?? p.email} <span className="muted small">{p.email}</span>
                {p.status === "OFFBOARDED" && <Tag tone="warn">offboarded</Tag>}
              </label>
            ))}
            {data && data.people.totalCount > people.length && <p className="muted small">{data.people.totalCount - people.length} more: refine the search.</p>}
          </fieldset>
          <DialogActions confirm="Link" disabled={state.fetching || !personId} onCancel={onClose} />
        </form>
      )}
    </Dialog>
  );
}

function NotStaffDialog({ account, onClose, onDone }: { account: Account | null; onClose: () => void; onDone: () => void }) {
  const [kind, setKind] = useState<NotStaffKind>("SERVICE");
  const [reason, setReason] = useState("");
  const [state, mark] = useMutation(MarkNotStaff);
  const { errors, submit } = useDialogForm(account, {
    required: { field: "reason", value: reason, message: "Give a reason: auditors read it." },
    reset: () => {
      setKind("SERVICE");
      setReason("");
    },
    send: async (marked) => {
      const r = await mark({ input: { accountId: marked.accountId, kind, reason: reason.trim() } });
      return { error: r.error, userErrors: r.data?.markAccountNotStaff.userErrors };
    },
    onDone,
    onClose,
  });
  return (
    <Dialog open={account !== null} title="Mark the account as not staff" onClose={onClose}>
      {account && (
        <form onSubmit={submit} noValidate>
          <p>
            <strong>{account.displayName ?? account.accountId}</strong> will not count as a person of the workforce.
          </p>
          <UserErrors errors={errors.general} />
          <SelectField
            label="What kind of account"
            value={kind}
            onChange={(e) => setKind(e.target.value as NotStaffKind)}
            options={(["SERVICE", "SHARED", "EXTERNAL"] as const).map((k) => ({ value: k, label: KINDS[k] }))}
            error={errors.byField.kind}
          />
          <TextArea label="Reason (for auditors)" value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} required error={errors.byField.reason} />
          <DialogActions confirm="Mark not staff" disabled={state.fetching} onCancel={onClose} />
        </form>
      )}
    </Dialog>
  );
}

export function People() {
  const { me, credential } = useSession();
  const [search, setSearch] = useState("");
  const [status, setStatus] = useState<PersonStatus | "">("");
  const term = useDebounced(search.trim(), 300);
  const filter = { ...(term ? { search: term } : {}), ...(status ? { status } : {}) };
  const pager = usePager(JSON.stringify(filter));
  const [{ data, fetching, error }, refresh] = useScreenQuery({ query: PeopleQuery, variables: { filter, first: PAGE_SIZE, after: pager.after } });
  useRefreshOn({ query: PeopleChanges }, refresh);
  const conn = data?.people;
  return (
    <>
      <h1 tabIndex={-1}>People and accounts</h1>
      <Tabs current="people" />
      <p className="muted">People come from HR; their emails link them to accounts.</p>
      {can(me.role, "importPeople") && <CsvImport credential={credential} />}
      <form className="toolbar" role="search" onSubmit={(e) => e.preventDefault()}>
        <TextField label="Search people" type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="name or email" />
        <SelectField
          label="Status"
          value={status}
          onChange={(e) => setStatus(e.target.value as PersonStatus | "")}
          options={[
            { value: "", label: "Any" },
            { value: "ACTIVE", label: "Active" },
            { value: "OFFBOARDED", label: "Offboarded" },
          ]}
        />
      </form>
      {error && !data && <ErrorNotice problem={problemFrom(error)!} onRetry={refresh} />}
      {fetching && !data && <Loading label="Loading people…" />}
      {conn && conn.totalCount === 0 && <Empty title={Object.keys(filter).length ? "Nobody matches." : "No people yet: import them from HR."} />}
      {conn && conn.edges.length > 0 && (
        <Table caption="People, by email" testId="people" busy={fetching} columns={["Person", "Status", "Job role", "Started", "Left", "Accounts"]}>
          {conn.edges.map(({ node: p }) => (
            <tr key={p.id}>
              <td>
                <strong>{p.name ?? p.email}</strong>
                <div className="muted small">{p.email}</div>
              </td>
              <td>
                <Tag tone={p.status === "ACTIVE" ? "good" : "warn"}>{p.status.toLowerCase()}</Tag>
              </td>
              <td>{p.jobRole ?? "—"}</td>
              <td>{formatDate(p.startDate)}</td>
              <td>
                <Time iso={p.offboardedAt}>{p.offboardedAt ? formatDateTime(p.offboardedAt) : "—"}</Time>
              </td>
              <td data-accounts={p.accounts.length}>
                {p.accounts.length === 0
                  ? "—"
                  : p.accounts.map((a) => (
                      <div key={a.accountId} className="small">
                        {a.displayName ?? a.accountId}{" "}
                        {p.status === "OFFBOARDED" && a.accountStatus === "ACTIVE" ? <Tag tone="bad">still active</Tag> : <span className="muted">{a.accountStatus.toLowerCase()}</span>}
                      </div>
                    ))}
              </td>
            </tr>
          ))}
        </Table>
      )}
      {conn && conn.totalCount > 0 && (
        <ConnectionPager label="People" connection={conn} pager={pager} pageSize={PAGE_SIZE} busy={fetching} />
      )}
    </>
  );
}

function CsvImport({ credential }: { credential: Credential }) {
  const input = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<ImportOutcome | null>(null);
  const [missing, setMissing] = useState<string | undefined>();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const file = input.current?.files?.[0];
    if (!file) {
      setMissing("Choose a CSV file first.");
      return;
    }
    setMissing(undefined);
    setBusy(true);
    setOutcome(null);
    setOutcome(await importPeople(credential, file));
    setBusy(false);
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="import-h">
      <h2 id="import-h">Import people from a CSV file</h2>
      <p className="muted small">
        Header <code>email,name,status,job_role,start_date,offboarded_at</code>; UTF-8; at most 10 MB. A file with any bad row
        is rejected whole and nothing changes.
      </p>
      <TextField label="CSV file" type="file" accept=".csv,text/csv" error={missing} inputRef={input} />
      <button type="submit" disabled={busy}>
        {busy ? "Importing…" : "Import"}
      </button>
      {outcome?.kind === "imported" && (
        <Notice tone="success" title="Imported">
          <p>
            {plural(outcome.counts.imported, "person", "people")}: {outcome.counts.created} new, {outcome.counts.updated} changed,{" "}
            {outcome.counts.unchanged} unchanged.
          </p>
        </Notice>
      )}
      {outcome?.kind === "rejected" && (
        <div className="notice notice--error" role="alert">
          <p className="notice__title">The file was not imported: {plural(outcome.rows.length, "problem")}</p>
          <p>Fix these rows and import the file again.</p>
          <Table caption="Problems by row" testId="import-problems" wrap={false} columns={[{ label: "Line", className: "num" }, "Column", "Problem"]}>
            {outcome.rows.map((r, i) => (
              <tr key={i}>
                <td className="num">{r.row ?? "—"}</td>
                <td className="mono">{r.column ?? "—"}</td>
                <td>{r.message}</td>
              </tr>
            ))}
          </Table>
        </div>
      )}
      {outcome?.kind === "failed" && <ErrorNotice problem={outcome.problem} />}
    </form>
  );
}
