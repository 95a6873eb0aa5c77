// Integrations: connect Confluence (OAuth round trip, API token, service account), attach the
// Admin API key, watch status, "Sync now" with a live progress bar, and errors in words.
import { useState, type FormEvent, type ReactNode } from "react";
import { useMutation, useSubscription } from "urql";
import { Checkbox, Dialog, DialogActions, Empty, ErrorNotice, Loading, Notice, Progress, Tag, TextField, Time, UserErrors } from "../components/ui";
import { graphql } from "../gql";
import type { IntegrationPurpose, IntegrationStatus, IntegrationsScreenQuery, SyncProgressSubscription } from "../gql/graphql";
import { mutationErrors, problemFrom } from "../lib/errors";
import { formatDateTime, relative } from "../lib/format";
import { useFormErrors, useNow, useRefreshOn, useScreenQuery } from "../lib/hooks";
import { can } from "../lib/roles";
import { phaseLabel, phaseStep } from "../lib/sync";
import { useSession, type OAuthReturn } from "../session";

const IntegrationsQuery = graphql(`
  query IntegrationsScreen {
    integrations {
      id purpose authMethod status statusMessage
      site { cloudId url name }
      availableSites { cloudId url name }
      grantedScopes connectedAt connectedAs lastSyncAt currentSnapshotAt syncIntervalMinutes
      hasAdminKey adminOrgId
      latestSyncRun { id status trigger finishedAt error errorEndpoint }
    }
  }
`);

const StatusChanges = graphql(`
  subscription IntegrationStatusChanges {
    integrationStatusChanged(initial: true) { id status statusMessage lastSyncAt currentSnapshotAt }
  }
`);

const SyncProgressSub = graphql(`
  subscription SyncProgress($integrationId: ID!) {
    syncProgress(integrationId: $integrationId) {
      id status trigger initial startedAt finishedAt error errorEndpoint
      progress { phase requestsMade itemsFetched retries rateLimitWaits }
      counts { accounts groups memberships pages }
    }
  }
`);

const StartOAuth = graphql(`
  mutation StartOAuth($purpose: IntegrationPurpose!) {
    startConfluenceOAuth(input: { purpose: $purpose, confirmAdminAccess: true }) {
      integration { id status }
      authorizationUrl
      userErrors { field code message }
    }
  }
`);

const SelectSite = graphql(`
  mutation SelectSite($integrationId: ID!, $cloudId: String!) {
    selectConfluenceSite(input: { integrationId: $integrationId, cloudId: $cloudId }) {
      integration { id status site { url } }
      userErrors { field code message }
    }
  }
`);

const ConnectApiToken = graphql(`
  mutation ConnectApiToken($input: ConnectApiTokenInput!) {
    connectConfluenceApiToken(input: $input) {
      integration { id status site { url } }
      userErrors { field code message }
    }
  }
`);

const ConnectServiceAccount = graphql(`
  mutation ConnectServiceAccount($input: ConnectClientCredentialsInput!) {
    connectConfluenceClientCredentials(input: $input) {
      integration { id status }
      userErrors { field code message }
    }
  }
`);

const SetAdminKey = graphql(`
  mutation SetAdminKey($input: SetAtlassianAdminKeyInput!) {
    setAtlassianAdminKey(input: $input) {
      integration { id hasAdminKey adminOrgId }
      userErrors { field code message }
    }
  }
`);

const RemoveAdminKey = graphql(`
  mutation RemoveAdminKey($integrationId: ID!) {
    removeAtlassianAdminKey(integrationId: $integrationId) {
      integration { id hasAdminKey }
      userErrors { field code message }
    }
  }
`);

const TriggerSync = graphql(`
  mutation TriggerSync($integrationId: ID!) {
    triggerSync(integrationId: $integrationId) {
      syncRun { id status }
      userErrors { field code message }
    }
  }
`);

const Disconnect = graphql(`
  mutation Disconnect($id: ID!) {
    disconnectIntegration(id: $id) {
      integration { id status statusMessage }
      userErrors { field code message }
    }
  }
`);

type Integration = IntegrationsScreenQuery["integrations"][number];
type Run = SyncProgressSubscription["syncProgress"];

const PURPOSES: Array<{ purpose: IntegrationPurpose; title: string; what: string }> = [
  {
    purpose: "ACCESS_REVIEW",
    title: "Users and groups",
    what: "Accounts, groups and admin rights of the site: the access checks and access reviews.",
  },
  { purpose: "POLICY", title: "Policy pages", what: "The site's policy pages: the policy checks." },
];

const STATUS_TEXT: Record<IntegrationStatus, { label: string; tone: "good" | "bad" | "warn" | "neutral" | "info" }> = {
  CONNECTED: { label: "Connected", tone: "good" },
  NEEDS_REAUTH: { label: "Needs reconnecting", tone: "bad" },
  ERROR: { label: "Error", tone: "bad" },
  PENDING_AUTHORIZATION: { label: "Waiting for Atlassian consent", tone: "warn" },
  SITE_SELECTION_REQUIRED: { label: "Choose a site", tone: "warn" },
  DISCONNECTED: { label: "Disconnected", tone: "neutral" },
};

const STATUS_ADVICE: Partial<Record<IntegrationStatus, string>> = {
  NEEDS_REAUTH: "Atlassian refused the stored credential (revoked or expired). Disconnect, then connect again with a fresh one; data and evidence are kept.",
  ERROR: "Connecting failed. Start connecting again below.",
  PENDING_AUTHORIZATION: "The Atlassian consent was not completed. Start again below (a consent link is valid for 10 minutes).",
  SITE_SELECTION_REQUIRED: "Atlassian granted access to several sites: choose the one to use.",
};

/** What to do about an integration's status, in words. */
export function statusAdvice(status: IntegrationStatus): string | null {
  return STATUS_ADVICE[status] ?? null;
}

export function Integrations() {
  const { me, oauthReturn, clearOAuthReturn } = useSession();
  const [{ data, fetching, error }, refresh] = useScreenQuery({ query: IntegrationsQuery });
  useRefreshOn({ query: StatusChanges }, refresh);
  const admin = can(me.role, "connect");
  return (
    <>
      <h1 tabIndex={-1}>Integrations</h1>
      {oauthReturn && <OAuthBanner value={oauthReturn} onDismiss={clearOAuthReturn} />}
      {error && !data && <ErrorNotice problem={problemFrom(error)!} onRetry={refresh} />}
      {fetching && !data && <Loading label="Loading integrations…" />}
      {data && (
        <div className="cards">
          {PURPOSES.map((p) => (
            <IntegrationCard
              key={p.purpose}
              {...p}
              integration={data.integrations.find((i) => i.purpose === p.purpose) ?? null}
              admin={admin}
              onChanged={refresh}
            />
          ))}
        </div>
      )}
    </>
  );
}

function OAuthBanner({ value, onDismiss }: { value: OAuthReturn; onDismiss: () => void }) {
  const dismiss = (
    <button type="button" className="secondary" onClick={onDismiss}>
      Dismiss
    </button>
  );
  switch (value.status) {
    case "connected":
      return (
        <Notice tone="success" title="Confluence connected">
          <p>Atlassian granted access. The first sync has started; checks update when it ends.</p>
          {dismiss}
        </Notice>
      );
    case "site_selection_required":
      return (
        <Notice tone="info" title="One more step: choose a site">
          <p>Atlassian granted access to several sites. Choose the one Vigil should use below.</p>
          {dismiss}
        </Notice>
      );
    case "denied":
      return (
        <Notice tone="warn" title="Nothing was connected">
          <p>The consent was cancelled on Atlassian's page. Start again when you are ready.</p>
          {dismiss}
        </Notice>
      );
    default:
      return (
        <Notice tone="error" title="Connecting did not work">
          <p>{value.message || "Atlassian's answer could not be used."} Start again; if it keeps failing, use an API token.</p>
          {dismiss}
        </Notice>
      );
  }
}

function IntegrationCard(props: {
  purpose: IntegrationPurpose;
  title: string;
  what: string;
  integration: Integration | null;
  admin: boolean;
  onChanged: () => void;
}) {
  const { purpose, title, what, integration: i, admin, onChanged } = props;
  const now = useNow();
  const [confirmDisconnect, setConfirmDisconnect] = useState(false);
  const [disconnectState, disconnect] = useMutation(Disconnect);
  const [errors, setErrors] = useState<string[]>([]);
  const status = i ? STATUS_TEXT[i.status] : null;
  const showConnect = !i || ["PENDING_AUTHORIZATION", "ERROR"].includes(i.status);
  const headingId = `int-${purpose}`;
  const doDisconnect = async () => {
    if (!i) return;
    const r = await disconnect({ id: i.id });
    setConfirmDisconnect(false);
    setErrors(mutationErrors(r.error, r.data?.disconnectIntegration.userErrors).general);
    onChanged();
  };
  return (
    <section className="card integration" aria-labelledby={headingId} data-purpose={purpose}>
      <h2 id={headingId}>
        {title} {status ? <Tag tone={status.tone}>{status.label}</Tag> : <Tag>Not connected</Tag>}
      </h2>
      <p className="muted">{what}</p>
      <UserErrors errors={errors} />
      {i && (
        <>
          {i.statusMessage && i.status !== "CONNECTED" && <Notice tone="warn">{i.statusMessage}</Notice>}
          {statusAdvice(i.status) && <p>{statusAdvice(i.status)}</p>}
          <dl className="facts">
            <Fact term="Site">{i.site ? <a href={i.site.url}>{i.site.name ?? i.site.url}</a> : "—"}</Fact>
            <Fact term="Method">{{ OAUTH: "OAuth (Atlassian consent)", API_TOKEN: "API token", CLIENT_CREDENTIALS: "Service account" }[i.authMethod]}</Fact>
            <Fact term="Acts as">{i.connectedAs ?? "—"}</Fact>
            <Fact term="Last sync">
              <Time iso={i.lastSyncAt}>{i.lastSyncAt ? `${relative(i.lastSyncAt, now)} (${formatDateTime(i.lastSyncAt)})` : "never"}</Time>
            </Fact>
            <Fact term="Syncs every">{i.syncIntervalMinutes} min</Fact>
            {purpose === "ACCESS_REVIEW" && (
              <Fact term="Admin API key">{i.hasAdminKey ? `attached (organization ${i.adminOrgId ?? "?"})` : "none: MFA is not known"}</Fact>
            )}
          </dl>
          {i.status === "SITE_SELECTION_REQUIRED" && admin && <SiteChoice integration={i} onChanged={onChanged} />}
          {["CONNECTED", "NEEDS_REAUTH"].includes(i.status) && <SyncPanel integration={i} admin={admin} onFinished={onChanged} />}
          {purpose === "ACCESS_REVIEW" && i.status === "CONNECTED" && admin && <AdminKey integration={i} onChanged={onChanged} />}
          {admin && i.status !== "DISCONNECTED" && (
            <p>
              <button type="button" className="danger" onClick={() => setConfirmDisconnect(true)}>
                Disconnect…
              </button>
            </p>
          )}
          <Dialog open={confirmDisconnect} title={`Disconnect ${title.toLowerCase()}?`} onClose={() => setConfirmDisconnect(false)}>
            <p>Vigil deletes the stored credential and stops syncing. Collected data and evidence are kept.</p>
            <DialogActions confirm="Disconnect" onConfirm={doDisconnect} danger disabled={disconnectState.fetching} onCancel={() => setConfirmDisconnect(false)} />
          </Dialog>
        </>
      )}
      {showConnect && (admin ? <ConnectForms purpose={purpose} onConnected={onChanged} /> : <Empty title="Not connected">
        <p>Ask someone with an ADMIN key to connect it.</p>
      </Empty>)}
    </section>
  );
}

function Fact({ term, children }: { term: string; children: ReactNode }) {
  return (
    <>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </>
  );
}

function SyncPanel({ integration, admin, onFinished }: { integration: Integration; admin: boolean; onFinished: () => void }) {
  const [run, setRun] = useState<Run | null>(null);
  const [step, setStep] = useState({ id: "", value: 0 });
  const [triggerState, trigger] = useMutation(TriggerSync);
  const [errors, setErrors] = useState<string[]>([]);
  const now = useNow();
  const [{ error }] = useSubscription({ query: SyncProgressSub, variables: { integrationId: integration.id } }, (_p: unknown, e) => {
    const r = e.syncProgress;
    setRun(r);
    setStep((s) => {
      const previous = s.id === r.id ? s.value : 0;
      return { id: r.id, value: phaseStep(integration.purpose, r.progress.phase, previous).value };
    });
    if (!r.initial && (r.status === "SUCCEEDED" || r.status === "FAILED")) onFinished();
    return e;
  });
  const running = run && !run.initial && (run.status === "QUEUED" || run.status === "RUNNING");
  const sync = async () => {
    setErrors([]);
    const r = await trigger({ integrationId: integration.id });
    setErrors(mutationErrors(r.error, r.data?.triggerSync.userErrors).general);
  };
  const latest = run ?? null;
  const max = phaseStep(integration.purpose, "DONE").max;
  return (
    <div className="sync">
      {admin && (
        <button type="button" onClick={sync} disabled={Boolean(running) || triggerState.fetching}>
          Sync now
        </button>
      )}
      <UserErrors errors={errors} />
      {error && <ErrorNotice problem={problemFrom(error)!} />}
      {running && latest && (
        <Progress
          label={phaseLabel(latest.progress.phase)}
          value={step.id === latest.id ? step.value : 0}
          max={max}
          text={`${latest.progress.itemsFetched.toLocaleString("en-US")} items, ${latest.progress.requestsMade} requests${
            latest.progress.rateLimitWaits ? `, waited ${latest.progress.rateLimitWaits}× for Atlassian's rate limit` : ""
          }`}
        />
      )}
      {latest && !running && latest.status === "SUCCEEDED" && (
        <p role="status" className="sync__done">
          {latest.initial ? "Last sync succeeded" : "Sync finished"}{" "}
          <Time iso={latest.finishedAt}>{relative(latest.finishedAt, now)}</Time>
          {latest.counts &&
            (integration.purpose === "POLICY"
              ? `: ${latest.counts.pages} pages.`
              : `: ${latest.counts.accounts} accounts, ${latest.counts.groups} groups.`)}
        </p>
      )}
      {latest && !running && latest.status === "FAILED" && (
        <Notice tone="error" title={latest.initial ? "The last sync failed" : "The sync failed"}>
          <p>{latest.error ?? "No reason was recorded."}</p>
          {latest.errorEndpoint && <p className="muted small">Atlassian endpoint: {latest.errorEndpoint}</p>}
          <p>The previous data is still shown. Fix the cause, then sync again.</p>
        </Notice>
      )}
    </div>
  );
}

function SiteChoice({ integration, onChanged }: { integration: Integration; onChanged: () => void }) {
  const [cloudId, setCloudId] = useState(integration.availableSites[0]?.cloudId ?? "");
  const [state, select] = useMutation(SelectSite);
  const [errors, setErrors] = useState<string[]>([]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const r = await select({ integrationId: integration.id, cloudId });
    const errs = mutationErrors(r.error, r.data?.selectConfluenceSite.userErrors).general;
    setErrors(errs);
    if (errs.length === 0) onChanged();
  };
  return (
    <form onSubmit={submit}>
      <fieldset className="field">
        <legend>Site to use</legend>
        {integration.availableSites.map((s) => (
          <label key={s.cloudId ?? s.url} className="inline">
            <input type="radio" name="site" value={s.cloudId ?? ""} checked={cloudId === s.cloudId} onChange={() => setCloudId(s.cloudId ?? "")} />{" "}
            {s.name ?? s.url} <span className="muted small">{s.url}</span>
          </label>
        ))}
      </fieldset>
      <UserErrors errors={errors} />
      <button type="submit" disabled={state.fetching || !cloudId}>
        Use this site
      </button>
    </form>
  );
}

function AdminKey({ integration, onChanged }: { integration: Integration; onChanged: () => void }) {
  const [orgId, setOrgId] = useState(integration.adminOrgId ?? "");
  const [apiKey, setApiKey] = useState("");
  const { errors, take, setErrors } = useFormErrors();
  const [setState, setKey] = useMutation(SetAdminKey);
  const [removeState, removeKey] = useMutation(RemoveAdminKey);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const r = await setKey({ input: { integrationId: integration.id, orgId: orgId.trim(), apiKey: apiKey.trim() } });
    if (take(r.error, r.data?.setAtlassianAdminKey.userErrors)) {
      setApiKey("");
      onChanged();
    }
  };
  const remove = async () => {
    const r = await removeKey({ integrationId: integration.id });
    setErrors({ byField: {}, general: mutationErrors(r.error, r.data?.removeAtlassianAdminKey.userErrors).general });
    onChanged();
  };
  return (
    <details className="subform">
      <summary>{integration.hasAdminKey ? "Replace or remove the Admin API key" : "Add an Atlassian Admin API key (MFA, authoritative status)"}</summary>
      <form onSubmit={submit} noValidate>
        <UserErrors errors={errors.general} />
        <TextField label="Atlassian organization id" value={orgId} onChange={(e) => setOrgId(e.target.value)} hint="In admin.atlassian.com, the id in the address of your organization." error={errors.byField.orgId} required autoComplete="off" />
        <TextField label="Admin API key" type="password" value={apiKey} onChange={(e) => setApiKey(e.target.value)} error={errors.byField.apiKey} required autoComplete="off" />
        <div className="actions">
          <button type="submit" disabled={setState.fetching || !orgId.trim() || !apiKey.trim()}>
            Save the key
          </button>
          {integration.hasAdminKey && (
            <button type="button" className="secondary" onClick={remove} disabled={removeState.fetching}>
              Remove the key
            </button>
          )}
        </div>
      </form>
    </details>
  );
}

type Method = "oauth" | "token" | "service";

function ConnectForms({ purpose, onConnected }: { purpose: IntegrationPurpose; onConnected: () => void }) {
  const [method, setMethod] = useState<Method>("oauth");
  const name = `method-${purpose}`;
  return (
    <div className="connect">
      <fieldset className="field">
        <legend>Connect with</legend>
        {(
          [
            ["oauth", "Atlassian consent (OAuth, recommended)"],
            ["token", "API token"],
            ["service", "Service account"],
          ] as const
        ).map(([value, label]) => (
          <label key={value} className="inline">
            <input type="radio" name={name} value={value} checked={method === value} onChange={() => setMethod(value)} /> {label}
          </label>
        ))}
      </fieldset>
      {method === "oauth" && <OAuthForm purpose={purpose} />}
      {method === "token" && <ApiTokenForm purpose={purpose} onConnected={onConnected} />}
      {method === "service" && <ServiceAccountForm purpose={purpose} onConnected={onConnected} />}
    </div>
  );
}

function OAuthForm({ purpose }: { purpose: IntegrationPurpose }) {
  const [confirmed, setConfirmed] = useState(false);
  const { errors, take, refuse } = useFormErrors();
  const [state, start] = useMutation(StartOAuth);
  const [leaving, setLeaving] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!confirmed) {
      refuse("confirmAdminAccess", "Confirm that you are a site admin: Vigil reads admin-only data.");
      return;
    }
    const r = await start({ purpose });
    const payload = r.data?.startConfluenceOAuth;
    if (take(r.error, payload?.userErrors) && payload?.authorizationUrl) {
      setLeaving(true);
      window.location.assign(payload.authorizationUrl);
    }
  };
  return (
    <form onSubmit={submit} noValidate>
      <p>You will be sent to Atlassian to grant Vigil read access, then brought back here.</p>
      <UserErrors errors={errors.general} />
      <Checkbox
        label="I am an admin of the Confluence site I will choose"
        checked={confirmed}
        onChange={(e) => setConfirmed(e.target.checked)}
        error={errors.byField.confirmAdminAccess}
      />
      <button type="submit" disabled={state.fetching || leaving}>
        Continue to Atlassian
      </button>
      {leaving && <Loading label="Opening Atlassian's consent page…" />}
    </form>
  );
}

function ApiTokenForm({ purpose, onConnected }: { purpose: IntegrationPurpose; onConnected: () => void }) {
  const [domain, setDomain] = useState("");
  const [email, setEmail] = useState("");
  const [token, setToken] = useState("");
  const [confirmed, setConfirmed] = useState(false);
  const { errors, take, refuse } = useFormErrors();
  const [state, connect] = useMutation(ConnectApiToken);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!confirmed) {
      refuse("confirmCredentials", "Confirm that Vigil may use these credentials.");
      return;
    }
    const r = await connect({ input: { purpose, domain: domain.trim(), email: email.trim(), apiToken: token.trim(), confirmCredentials: true } });
    if (take(r.error, r.data?.connectConfluenceApiToken.userErrors)) {
      setToken("");
      onConnected();
    }
  };
  return (
    <form onSubmit={submit} noValidate>
      <UserErrors errors={errors.general} />
      <TextField label="Site" value={domain} onChange={(e) => setDomain(e.target.value)} placeholder="acme.atlassian.net" error={errors.byField.domain} required autoComplete="url" />
      <TextField label="Atlassian account email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} error={errors.byField.email} required autoComplete="email" />
      <TextField label="API token" type="password" value={token} onChange={(e) => setToken(e.target.value)} hint="Created at id.atlassian.com → Security → API tokens. Stored encrypted, never shown again." error={errors.byField.apiToken} required autoComplete="off" />
      <Checkbox label="Vigil may use these credentials" checked={confirmed} onChange={(e) => setConfirmed(e.target.checked)} error={errors.byField.confirmCredentials} />
      <button type="submit" disabled={state.fetching}>
        {state.fetching ? "Checking with Atlassian…" : "Connect"}
      </button>
    </form>
  );
}

function ServiceAccountForm({ purpose, onConnected }: { purpose: IntegrationPurpose; onConnected: () => void }) {
  const [siteUrl, setSiteUrl] = useState("");
  const [clientId, setClientId] = useState("");
  const [secret, setSecret] = useState("");
  const { errors, take } = useFormErrors();
  const [state, connect] = useMutation(ConnectServiceAccount);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const r = await connect({ input: { purpose, siteUrl: siteUrl.trim(), clientId: clientId.trim(), clientSecret: secret.trim() } });
    if (take(r.error, r.data?.connectConfluenceClientCredentials.userErrors)) {
      setSecret("");
      onConnected();
    }
  };
  return (
    <form onSubmit={submit} noValidate>
      <UserErrors errors={errors.general} />
      <TextField label="Site" value={siteUrl} onChange={(e) => setSiteUrl(e.target.value)} placeholder="acme.atlassian.net" error={errors.byField.siteUrl} required />
      <TextField label="Client id" value={clientId} onChange={(e) => setClientId(e.target.value)} error={errors.byField.clientId} required autoComplete="off" />
      <TextField label="Client secret" type="password" value={secret} onChange={(e) => setSecret(e.target.value)} error={errors.byField.clientSecret} required autoComplete="off" />
      <button type="submit" disabled={state.fetching}>
        {state.fetching ? "Checking with Atlassian…" : "Connect"}
      </button>
    </form>
  );
}
