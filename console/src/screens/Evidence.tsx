// Evidence: verify the organization's hash chain (optionally against a signed checkpoint
// kept outside Vigil) and export a check's records as JSON or CSV.
import { useState, type FormEvent } from "react";
import { useClient, useQuery } from "urql";
import { ErrorNotice, Loading, Notice, SelectField, TextArea } from "../components/ui";
import { graphql } from "../gql";
import type { VerifyChainQuery } from "../gql/graphql";
import { problemFrom, type Problem } from "../lib/errors";
import { downloadEvidence } from "../lib/http";
import { useSession } from "../session";

const VerifyQuery = graphql(`
  query VerifyChain($checkpoint: JSON) {
    verifyEvidenceChain(checkpoint: $checkpoint) {
      valid
      checkedCount
      headSequence
      firstBrokenLink { sequence recordId problem message }
    }
  }
`);

const ChecksList = graphql(`
  query EvidenceChecks {
    checks { id title result { evidenceId } }
  }
`);

type Verdict = VerifyChainQuery["verifyEvidenceChain"];

/** "Verify chain": walks the whole chain on the server and shows the verdict. */
export function ChainVerification({ withCheckpoint = false }: { withCheckpoint?: boolean }) {
  const client = useClient();
  const [verdict, setVerdict] = useState<Verdict | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [checkpoint, setCheckpoint] = useState("");
  const [checkpointError, setCheckpointError] = useState<string | undefined>();
  const verify = async (event: FormEvent) => {
    event.preventDefault();
    let parsed: unknown = null;
    setCheckpointError(undefined);
    if (checkpoint.trim()) {
      try {
        parsed = JSON.parse(checkpoint);
      } catch {
        setCheckpointError("This is not JSON: paste the whole output of `vigil evidence checkpoint`.");
        return;
      }
    }
    setBusy(true);
    setProblem(null);
    setVerdict(null);
    const r = await client.query(VerifyQuery, { checkpoint: parsed }, { requestPolicy: "network-only" }).toPromise();
    setBusy(false);
    if (r.error) setProblem(problemFrom(r.error));
    else if (r.data) setVerdict(r.data.verifyEvidenceChain);
  };
  return (
    <form className="card" onSubmit={verify} aria-label="Verify the evidence chain">
      <p>
        Every record is hash-chained and sealed with an HMAC. Verification re-reads the organization's whole chain.
      </p>
      {withCheckpoint && (
        <details>
          <summary>Hold the chain to a checkpoint kept outside Vigil</summary>
          <TextArea
            label="Checkpoint (JSON from `vigil evidence checkpoint`)"
            value={checkpoint}
            onChange={(e) => setCheckpoint(e.target.value)}
            rows={4}
            error={checkpointError}
          />
        </details>
      )}
      <button type="submit" disabled={busy}>
        Verify chain
      </button>
      {busy && <Loading label="Verifying the chain…" />}
      {problem && <ErrorNotice problem={problem} />}
      {verdict &&
        (verdict.valid ? (
          <Notice tone="success" title="Chain valid">
            <p>
              {verdict.checkedCount.toLocaleString("en-US")} records verified, up to record #{verdict.headSequence}.
            </p>
          </Notice>
        ) : (
          <Notice tone="error" title="Chain broken">
            <p>
              {verdict.firstBrokenLink
                ? `At record #${verdict.firstBrokenLink.sequence} (${verdict.firstBrokenLink.problem}): ${verdict.firstBrokenLink.message}`
                : "The chain does not verify."}
            </p>
            <p>{verdict.checkedCount} records verified before the break. Keep this page as evidence and tell your auditor.</p>
          </Notice>
        ))}
    </form>
  );
}

export function Evidence() {
  const { credential } = useSession();
  const [{ data, fetching, error }, execute] = useQuery({ query: ChecksList });
  const [checkId, setCheckId] = useState("");
  const [format, setFormat] = useState<"csv" | "json">("csv");
  const [outcome, setOutcome] = useState<{ problem?: Problem; saved?: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const chosen = checkId || data?.checks[0]?.id || "";
  const download = async (event: FormEvent) => {
    event.preventDefault();
    if (!chosen) return;
    setBusy(true);
    setOutcome(null);
    const r = await downloadEvidence(credential, chosen, format);
    setBusy(false);
    setOutcome(typeof r === "string" ? { saved: r } : { problem: r });
  };
  return (
    <>
      <h1 tabIndex={-1}>Evidence</h1>
      <section aria-labelledby="verify-h">
        <h2 id="verify-h">Chain verification</h2>
        <ChainVerification withCheckpoint />
      </section>
      <section aria-labelledby="export-h">
        <h2 id="export-h">Export</h2>
        {error && !data && <ErrorNotice problem={problemFrom(error)!} onRetry={() => execute({ requestPolicy: "network-only" })} />}
        {fetching && !data && <Loading label="Loading checks…" />}
        {data && (
          <form className="card" onSubmit={download}>
            <p>A check's records, oldest first, with their hashes and HMACs, for an auditor.</p>
            <SelectField
              label="Check"
              value={chosen}
              onChange={(e) => setCheckId(e.target.value)}
              options={data.checks.map((c) => ({ value: c.id, label: c.title }))}
            />
            <fieldset className="field">
              <legend>Format</legend>
              {(["csv", "json"] as const).map((f) => (
                <label key={f} className="inline">
                  <input type="radio" name="format" value={f} checked={format === f} onChange={() => setFormat(f)} /> {f.toUpperCase()}
                </label>
              ))}
            </fieldset>
            <button type="submit" disabled={busy || !chosen}>
              Download
            </button>
            {busy && <Loading label="Preparing the file…" />}
            {outcome?.saved && <Notice tone="success">Saved as {outcome.saved}.</Notice>}
            {outcome?.problem && <ErrorNotice problem={outcome.problem} />}
          </form>
        )}
      </section>
    </>
  );
}
