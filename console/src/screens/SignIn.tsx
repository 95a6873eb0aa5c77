// Sign in: people with their Atlassian account or the organization's OpenID Connect provider
// (a session cookie the page never sees); machines with an API key, kept in this tab's
// session storage only.
import { useEffect, useState, type FormEvent } from "react";
import { ErrorNotice, TextField } from "../components/ui";
import { loadProviders, normaliseKey, type Provider } from "../lib/auth";
import type { Problem } from "../lib/errors";

export function SignIn({ onSubmit, problem, busy }: { onSubmit: (key: string) => void; problem: Problem | null; busy: boolean }) {
  const [key, setKey] = useState("");
  const [missing, setMissing] = useState<string | undefined>();
  const [providers, setProviders] = useState<Provider[] | null>(null);
  useEffect(() => {
    let live = true;
    void loadProviders().then((found) => live && setProviders(found));
    return () => {
      live = false;
    };
  }, []);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const value = normaliseKey(key);
    if (!value) {
      setMissing("Paste an API key.");
      return;
    }
    setMissing(undefined);
    onSubmit(value);
  };
  const keyForm = (
    <form onSubmit={submit} noValidate className="card">
      <TextField
        label="API key"
        type="password"
        name="apiKey"
        autoComplete="off"
        spellCheck={false}
        value={key}
        onChange={(e) => setKey(e.target.value)}
        error={missing}
        hint="A key starts with vgl_. Ask an ADMIN for one (vigil apikey create), or use the one `make demo` printed."
      />
      <button type="submit" disabled={busy}>
        {busy ? "Checking the key…" : "Sign in with the key"}
      </button>
      <p className="muted small">
        The key stays in this browser tab only (session storage) and is forgotten when the tab closes. It never appears in an
        address.
      </p>
    </form>
  );
  return (
    <main id="main" className="signin" tabIndex={-1}>
      <h1>Sign in to Vigil</h1>
      <p>Continuous compliance evidence from Confluence Cloud.</p>
      {problem && <ErrorNotice problem={problem} />}
      {providers && providers.length > 0 && (
        <div className="card signin__providers">
          {providers.map((p) => (
            <a key={p.id} className="button" href={`/auth/${encodeURIComponent(p.id)}/start`} data-provider={p.id}>
              Sign in with {p.name}
            </a>
          ))}
          <p className="muted small">Vigil lets in the people an ADMIN of your organization invited, by email address.</p>
        </div>
      )}
      {providers && providers.length > 0 ? (
        <details className="signin__key">
          <summary>Sign in with an API key (machines, CI)</summary>
          {keyForm}
        </details>
      ) : (
        keyForm
      )}
    </main>
  );
}
