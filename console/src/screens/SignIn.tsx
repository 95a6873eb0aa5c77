// Sign in. Until people sign in with their own session (a later issue), the console uses an
// API key: checked against Vigil, then kept in this tab's session storage only.
import { useState, type FormEvent } from "react";
import { ErrorNotice, TextField } from "../components/ui";
import { normaliseKey } from "../lib/auth";
import type { Problem } from "../lib/errors";

export function SignIn({ onSubmit, problem, busy }: { onSubmit: (key: string) => void; problem: Problem | null; busy: boolean }) {
  const [key, setKey] = useState("");
  const [missing, setMissing] = useState<string | undefined>();
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
  return (
    <main id="main" className="signin" tabIndex={-1}>
      <h1>Sign in to Vigil</h1>
      <p>Continuous compliance evidence from Confluence Cloud.</p>
      {problem && <ErrorNotice problem={problem} />}
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
          autoFocus
        />
        <button type="submit" disabled={busy}>
          {busy ? "Checking the key…" : "Sign in"}
        </button>
      </form>
      <p className="muted small">
        The key stays in this browser tab only (session storage) and is forgotten when the tab closes. It never appears in an
        address.
      </p>
    </main>
  );
}
