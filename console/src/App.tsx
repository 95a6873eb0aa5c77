// The console's shell: sign-in gate (a person's session cookie, or an API key), the client
// for that credential, navigation, focus management between screens, and a live region
// announcing pushed changes.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Provider } from "urql";
import { Empty } from "./components/ui";
import { clearKey, loadKey, saveKey, SESSION, signInRefusal, signOutSession, type Credential } from "./lib/auth";
import { createConsoleClient, type ConsoleClient, type LiveState } from "./lib/client";
import { problemFrom, type Problem } from "./lib/errors";
import { roleDescription } from "./lib/roles";
import { Link, matchRoute, navigate, useLocation, type Route } from "./lib/router";
import { CheckDetail } from "./screens/CheckDetail";
import { Evidence } from "./screens/Evidence";
import { Integrations } from "./screens/Integrations";
import { Overview } from "./screens/Overview";
import { Accounts, People } from "./screens/People";
import { Remediation } from "./screens/Remediation";
import { ReviewDetail, Reviews } from "./screens/Reviews";
import { SignIn } from "./screens/SignIn";
import { MeQuery, oauthReturnFrom, SessionContext, type Me, type OAuthReturn, type Session } from "./session";

type State =
  | { phase: "signedOut"; notice: Problem | null }
  | { phase: "checking"; credential: Credential }
  | { phase: "signedIn"; credential: Credential; me: Me; console: ConsoleClient };

const INITIAL_LIVE: LiveState = { status: "connecting", problem: null, epoch: 0 };

export function App() {
  const [state, setState] = useState<State>(() => {
    const refused = signInRefusal(window.location.search);
    if (refused) {
      window.history.replaceState(null, "", window.location.pathname);
      return { phase: "signedOut", notice: { kind: "unauthenticated", title: "You could not sign in", detail: refused } };
    }
    const key = loadKey();
    // Without a key, a session cookie may be there (the page cannot see it): ask Vigil.
    return { phase: "checking", credential: key ? { kind: "key", key } : SESSION };
  });
  const [live, setLive] = useState<LiveState>(INITIAL_LIVE);
  const current = useRef<ConsoleClient | null>(null);

  const signOut = useCallback((notice: Problem | null = null) => {
    clearKey();
    current.current?.dispose();
    current.current = null;
    setLive(INITIAL_LIVE);
    setState({ phase: "signedOut", notice });
  }, []);

  const signIn = useCallback(
    async (credential: Credential) => {
      setState({ phase: "checking", credential });
      current.current?.dispose();
      let refused: Problem | null = null;
      // The callbacks can run while createConsoleClient is still building (the socket opens
      // at once): they compare against `holder`, filled right after.
      const holder: { made: ConsoleClient | null; confirmed: boolean } = { made: null, confirmed: false };
      const made = createConsoleClient(credential, {
        onRefused: (problem) => {
          refused = problem;
          // Before `me` answered, the check below reports it (or, with no session, nothing).
          if (holder.confirmed && current.current === holder.made) signOut(problem);
        },
        onLive: (s) => {
          if (holder.made === null || current.current === holder.made) setLive(s);
        },
      });
      holder.made = made;
      current.current = made;
      const result = await made.client.query(MeQuery, {}, { requestPolicy: "network-only" }).toPromise();
      if (current.current !== made) return;
      if (result.data?.me) {
        holder.confirmed = true;
        if (credential.kind === "key") saveKey(credential.key);
        setState({ phase: "signedIn", credential, me: result.data.me, console: made });
      } else {
        made.dispose();
        current.current = null;
        clearKey();
        // No session is no news: the sign-in screen is where a person starts.
        const quiet = credential.kind === "session" && result.error?.response?.status === 401;
        setState({ phase: "signedOut", notice: quiet ? null : (refused ?? problemFrom(result.error)) });
      }
    },
    [signOut],
  );

  useEffect(() => {
    if (state.phase === "checking" && current.current === null) void signIn(state.credential);
    // Only on start: a stored key, or the session cookie, is checked once.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  if (state.phase === "signedIn") {
    return <Shell state={state} live={live} signOut={signOut} />;
  }
  if (state.phase === "checking" && state.credential.kind === "session") {
    return (
      <main id="main" className="signin" tabIndex={-1}>
        <p className="muted">Checking whether you are signed in…</p>
      </main>
    );
  }
  return (
    <SignIn
      onSubmit={(key) => void signIn({ kind: "key", key })}
      problem={state.phase === "signedOut" ? state.notice : null}
      busy={state.phase === "checking"}
    />
  );
}

const NAV: Array<{ to: string; label: string; match: Route["name"][] }> = [
  { to: "/", label: "Overview", match: ["overview", "check"] },
  { to: "/integrations", label: "Integrations", match: ["integrations"] },
  { to: "/accounts", label: "People & accounts", match: ["accounts", "people"] },
  { to: "/reviews", label: "Access reviews", match: ["reviews", "review"] },
  { to: "/remediation", label: "Remediation", match: ["remediation"] },
  { to: "/evidence", label: "Evidence", match: ["evidence"] },
];

function Shell({ state, live, signOut }: { state: Extract<State, { phase: "signedIn" }>; live: LiveState; signOut: (p?: Problem | null) => void }) {
  const person = state.credential.kind === "session";
  const leave = (everywhere: boolean) => {
    if (person) void signOutSession(everywhere).then(() => signOut(null));
    else signOut(null);
  };
  const { path, search } = useLocation();
  const route = matchRoute(path);
  const [announcement, setAnnouncement] = useState("");
  const [oauthReturn, setOAuthReturn] = useState<OAuthReturn | null>(() => oauthReturnFrom(search));
  // Atlassian's consent sends the browser back to /console/?integration=…: show the outcome
  // on the Integrations screen and drop the parameters from the address.
  useEffect(() => {
    if (oauthReturnFrom(window.location.search)) navigate("/integrations", { replace: true });
  }, []);
  const announce = useCallback((message: string) => {
    setAnnouncement("");
    setTimeout(() => setAnnouncement(message), 50);
  }, []);
  const session: Session = useMemo(
    () => ({
      credential: state.credential,
      me: state.me,
      client: state.console.client,
      live,
      signOut: (p) => signOut(p ?? null),
      announce,
      oauthReturn,
      clearOAuthReturn: () => setOAuthReturn(null),
    }),
    [state, live, signOut, announce, oauthReturn],
  );
  // Move focus to the new screen's heading (not on the first render: the page just loaded).
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const heading = document.querySelector<HTMLElement>("main h1");
    heading?.focus();
    window.scrollTo(0, 0);
  }, [path]);
  useEffect(() => {
    document.title = `${NAV.find((n) => n.match.includes(route.name))?.label ?? "Vigil"} · Vigil console`;
  }, [route.name]);

  return (
    <SessionContext.Provider value={session}>
      <Provider value={state.console.client}>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="topbar">
          <span className="brand">Vigil</span>
          <span className="org">{state.me.organization.name}</span>
          <LiveIndicator live={live} />
          <span className="who" title={roleDescription(state.me.role)}>
            {state.me.user ? `${state.me.user.displayName} · ${state.me.role}` : `${state.me.role} key`}
          </span>
          <button type="button" className="secondary" onClick={() => leave(false)}>
            Sign out
          </button>
          {person && (
            <button type="button" className="secondary" onClick={() => leave(true)}>
              Sign out everywhere
            </button>
          )}
        </header>
        <div className="layout">
          <nav className="sidenav" aria-label="Main">
            <ul>
              {NAV.map((n) => (
                <li key={n.to}>
                  <Link to={n.to} aria-current={n.match.includes(route.name) ? "page" : undefined}>
                    {n.label}
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
          <main id="main" tabIndex={-1}>
            {live.problem && live.problem.kind !== "unauthenticated" && (
              <div className="notice notice--warn" role="alert">
                <p className="notice__title">{live.problem.title}</p>
                <p>{live.problem.detail}</p>
              </div>
            )}
            <Screen route={route} />
          </main>
        </div>
        <div className="sr-only" role="status" aria-live="polite" aria-atomic="true">
          {announcement}
        </div>
      </Provider>
    </SessionContext.Provider>
  );
}

function LiveIndicator({ live }: { live: LiveState }) {
  const text = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", stopped: "Not live" }[live.status];
  return (
    <span className={`live live--${live.status}`} role="status" title="Updates pushed by Vigil over WebSocket">
      <span aria-hidden="true" className="live__dot" />
      {text}
    </span>
  );
}

function Screen({ route }: { route: Route }) {
  switch (route.name) {
    case "overview":
      return <Overview />;
    case "check":
      return <CheckDetail key={route.id} id={route.id} />;
    case "integrations":
      return <Integrations />;
    case "accounts":
      return <Accounts />;
    case "people":
      return <People />;
    case "reviews":
      return <Reviews />;
    case "review":
      return <ReviewDetail key={route.id} id={route.id} />;
    case "remediation":
      return <Remediation />;
    case "evidence":
      return <Evidence />;
    case "notFound":
      return (
        <>
          <h1 tabIndex={-1}>Page not found</h1>
          <Empty title={`Nothing lives at ${route.path}.`}>
            <p>
              Go to the <Link to="/">overview</Link>.
            </p>
          </Empty>
        </>
      );
  }
}
