// The console in a real browser (Debian's Chromium driven by playwright-core) against a
// running Vigil and the Confluence simulator. Started by tests/console/test_console_browser.py,
// which seeds the organization and passes what it made in the environment:
//   VIGIL_URL, VIGIL_ADMIN_KEY, VIGIL_VIEWER_KEY, OFFBOARD_PERSON_ID, OFFBOARD_ACCOUNT_ID,
//   LINK_ACCOUNT_ID, LINK_ACCOUNT_NAME, LINK_PERSON_NAME, SITE_URL, SIGNIN_PROVIDER_NAME,
//   SIGNIN_PERSON_NAME, SCREENSHOT_DIR, CHROMIUM (optional).
// Every wait is on a condition in the page (never a sleep); each screen is scanned with
// axe-core (no serious or critical violation) and photographed at 1280 px.
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium } from "playwright-core";
import sharp from "sharp";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const URL = env("VIGIL_URL");
const ADMIN = env("VIGIL_ADMIN_KEY");
const VIEWER = env("VIGIL_VIEWER_KEY");
const SHOTS = env("SCREENSHOT_DIR");
const OFFBOARDED_CHECK = "confluence-offboarded-access-removed";
const WAIT = 30_000;
mkdirSync(SHOTS, { recursive: true });

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

async function gql(query, variables = {}, key = ADMIN) {
  const response = await fetch(`${URL}/graphql`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  for (const value of Object.values(body.data)) {
    if (value && value.userErrors && value.userErrors.length) throw new Error(`userErrors: ${JSON.stringify(value.userErrors)}`);
  }
  return body.data;
}

/** Poll `check` until it is truthy (a condition, not a sleep: the deadline only bounds a bug). */
async function until(check, what, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const started = Date.now();
const timings = [];
let page;

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
  } catch (error) {
    if (page) await page.screenshot({ path: join(SHOTS, `failed-${name.replace(/\W+/g, "-")}.png`) }).catch(() => {});
    throw new Error(`step "${name}" failed: ${error.stack ?? error}`);
  }
  const ms = Date.now() - t0;
  timings.push([name, ms]);
  console.log(`ok  ${name} (${ms} ms)`);
}

/** axe-core on the page as it is: no serious or critical WCAG 2.x A/AA violation. */
async function axe(name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } }),
  );
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length) {
    const lines = bad.map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(", ")}`);
    throw new Error(`axe found ${bad.length} serious/critical violation(s) on ${name}:\n${lines.join("\n")}`);
  }
  console.log(`    axe ${name}: ${result.passes.length} rules pass, ${result.violations.length} minor issue(s)`);
}

/** A screenshot from the top of the page, as a small palette PNG (about a third of Chromium's). */
async function shot(name, { fullPage = false } = {}) {
  await page.evaluate(() => window.scrollTo(0, 0));
  const png = await page.screenshot({ fullPage, animations: "disabled", caret: "hide" });
  await sharp(png).png({ palette: true, quality: 90, compressionLevel: 9, effort: 8 }).toFile(join(SHOTS, `${name}.png`));
}

/** At tablet width (820 px) the page itself never scrolls sideways. */
async function fitsTablet(name) {
  await page.setViewportSize({ width: 820, height: 1180 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.setViewportSize({ width: 1280, height: 860 });
  if (overflow > 1) throw new Error(`${name} is ${overflow} px wider than a tablet`);
}

async function screen(name, file, options) {
  await axe(name);
  await fitsTablet(name);
  await shot(file, options);
}

const nav = (label) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: label }).click();
const heading = (name) => page.getByRole("heading", { level: 1, name }).waitFor({ timeout: WAIT });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.stack ?? e.message));
  page.on("console", (m) => m.type() === "error" && !/Failed to load resource/.test(m.text()) && pageErrors.push(m.text()));
  page.setDefaultTimeout(WAIT);

  // What the page can do with the session cookie alone: a query over HTTP (with the CSRF
  // header the console sends) and a subscription over WebSocket. Each resolves to what Vigil
  // answered: the status and `me`, and the first message after connection_init.
  const cookieQuery = () =>
    page.evaluate(async () => {
      const response = await fetch("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", "x-vigil-csrf": "1" },
        body: JSON.stringify({ query: "{ me { kind role user { displayName } } }" }),
      });
      return { status: response.status, body: await response.json() };
    });
  const cookieSubscription = () =>
    page.evaluate(
      () =>
        new Promise((resolve) => {
          const ws = new WebSocket(`${location.origin.replace(/^http/, "ws")}/graphql`, "graphql-transport-ws");
          const seen = [];
          ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init", payload: {} }));
          ws.onmessage = (event) => {
            const message = JSON.parse(event.data);
            seen.push(message.type);
            if (message.type === "connection_ack") {
              ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: "subscription { peopleChanged { totalCount } }" } }));
              window.__pushNow?.();
            }
            if (message.type === "next") {
              ws.close();
              resolve({ seen, data: message.payload.data });
            }
          };
          ws.onclose = (event) => resolve({ seen, code: event.code });
        }),
    );

  await step("a person signs in through the identity provider's consent page (cookie only)", async () => {
    await page.goto(`${URL}/console/`);
    await heading("Sign in to Vigil");
    const load = await page.evaluate(() => performance.getEntriesByType("navigation")[0].loadEventEnd);
    console.log(`    first load of /console/: ${Math.round(load)} ms (informative, not asserted)`);
    await screen("sign in", "01-sign-in");
    await page.getByRole("link", { name: `Sign in with ${env("SIGNIN_PROVIDER_NAME")}` }).click();
    await page.waitForURL((u) => !u.pathname.startsWith("/console"));
    await page.getByRole("radio", { name: new RegExp(env("SIGNIN_PERSON_NAME")) }).check();
    await page.getByRole("button", { name: "Continue" }).click();
    await heading("Overview");
    await page.getByText(`${env("SIGNIN_PERSON_NAME")} · ADMIN`).waitFor();
    await page.locator(".live--live").waitFor();
    // Nothing secret in the page: the session is an HttpOnly cookie, no storage is used.
    const kept = await page.evaluate(() => [document.cookie, sessionStorage.length, localStorage.length]);
    if (kept[0].includes("vigil_session") || kept[1] !== 0 || kept[2] !== 0) throw new Error(`the page holds a secret: ${kept}`);
    const query = await cookieQuery();
    if (query.status !== 200 || query.body.data.me.kind !== "PERSON") throw new Error(`query with the cookie: ${JSON.stringify(query)}`);
    // A change made through the API is pushed to the cookie's subscription.
    await page.exposeFunction("__pushNow", () =>
      gql(`mutation($people: [PersonInput!]!) { upsertPeople(input: $people) { created userErrors { code message } } }`, {
        people: [{ email: "pushed@hr.example", name: "Pushed Person" }],
      }),
    );
    const pushed = await cookieSubscription();
    if (!pushed.data?.peopleChanged) throw new Error(`subscription with the cookie: ${JSON.stringify(pushed)}`);
  });

  await step("sign out: the cookie's query and subscription are refused", async () => {
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await heading("Sign in to Vigil");
    const query = await cookieQuery();
    if (query.status !== 401 || query.body.errors[0].extensions.code !== "UNAUTHENTICATED") throw new Error(`after sign-out: ${JSON.stringify(query)}`);
    const socket = await cookieSubscription();
    if (socket.code !== 4401 || socket.data) throw new Error(`socket after sign-out: ${JSON.stringify(socket)}`);
  });

  await step("sign in with an API key (a refused key, then the ADMIN key)", async () => {
    await page.getByText("Sign in with an API key (machines, CI)").click();
    await page.getByLabel("API key").fill("vgl_not-a-real-key");
    await page.getByRole("button", { name: "Sign in with the key" }).click();
    await page.getByText("Your key was refused").waitFor();
    await page.getByLabel("API key").fill(ADMIN);
    await page.getByRole("button", { name: "Sign in with the key" }).click();
    await heading("Overview");
    if (page.url().includes(ADMIN)) throw new Error("the key is in the address");
    const stored = await page.evaluate(() => [sessionStorage.length, localStorage.length]);
    if (stored[0] !== 1 || stored[1] !== 0) throw new Error(`unexpected storage use: ${stored}`);
  });

  const row = () => page.locator(`tr[data-check="${OFFBOARDED_CHECK}"]`).first();
  await step("overview: every check, the offboarding check passing, live", async () => {
    await row().locator('[data-status="PASSING"]').waitFor();
    await page.locator(".live--live").waitFor();
    await screen("overview", "02-overview");
    await page.setViewportSize({ width: 820, height: 1180 });
    await shot("02-overview-tablet");
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  await step("offboardPerson through the API turns the check failing without a reload", async () => {
    await page.evaluate(() => {
      window.__sameDocument = true;
    });
    // The overview subscribes with initial: true: its first push (the current results) says
    // the subscription listens, so the push of the change below cannot be missed.
    await page.locator('[data-live-checks="yes"]').waitFor();
    const left = new Date(Date.now() - 2 * 86400_000).toISOString();
    await gql(
      `mutation($input: OffboardPersonInput!) { offboardPerson(input: $input) { person { id status } userErrors { code message } } }`,
      { input: { personId: env("OFFBOARD_PERSON_ID"), offboardedAt: left } },
    );
    await row().locator('[data-status="FAILING"]').waitFor();
    await row().locator('td[data-failing="1"]').waitFor();
    if (!(await page.evaluate(() => window.__sameDocument === true))) throw new Error("the page was reloaded");
  });

  await step("check detail: failing item, history chart, evidence, verify chain, exception dialog", async () => {
    await row().getByRole("link").click();
    await heading("Confluence access should be removed for offboarded user");
    await page.locator(`[data-testid="failing-items"] tr[data-resource="${env("OFFBOARD_ACCOUNT_ID")}"]`).waitFor();
    await page.locator(".chart canvas").first().waitFor();
    await page.locator('[data-testid="evidence-records"] tbody tr').first().waitFor();
    await page.getByRole("button", { name: "Verify chain" }).click();
    await page.getByText("Chain valid").waitFor();
    await screen("check detail", "03-check-detail", { fullPage: true });
    await page.getByRole("searchbox", { name: "Search failing items" }).fill("no such person at all");
    await page.getByText("No failing item matches.").waitFor();
    await page.getByRole("searchbox", { name: "Search failing items" }).fill("");
    await page.getByRole("button", { name: "Accept as exception…" }).first().click();
    await page.getByRole("dialog", { name: "Accept a failing item" }).waitFor();
    await axe("exception dialog");
    // The dialog holds the focus and Escape closes it.
    if (!(await page.evaluate(() => document.activeElement?.closest("dialog") !== null))) throw new Error("focus is outside the dialog");
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "hidden" });
  });

  await step("remediation: plan, confirm in a dialog naming the calls, every action VERIFIED", async () => {
    await nav("Remediation");
    await heading("Remediation");
    const planned = page.locator('[data-testid="plan"] tbody tr');
    await planned.first().waitFor();
    const count = await planned.count();
    await page.getByLabel(/Select every executable action/).check();
    await page.getByRole("button", { name: /Review and confirm/ }).click();
    const dialog = page.getByRole("dialog", { name: "Call Atlassian?" });
    await dialog.waitFor();
    const calls = await dialog.locator("code").allTextContents();
    // With the Admin API key, offboarding is one deactivation or suspension per account.
    if (calls.length !== count || !calls.every((c) => /^(DELETE|POST|PUT) \//.test(c))) {
      throw new Error(`the dialog names ${calls.length} calls for ${count} actions: ${calls}`);
    }
    await axe("remediation confirmation");
    await shot("05-remediation-confirm");
    await dialog.getByRole("button", { name: /Call Atlassian/ }).click();
    const batch = page.locator('[data-testid="batch"]');
    await batch.waitFor();
    await page.waitForFunction(
      (n) => document.querySelectorAll('[data-testid="batch"] [data-action-state="VERIFIED"]').length === n,
      count,
      { timeout: 60_000 },
    );
    await batch.getByText("Every action is verified").waitFor();
    await screen("remediation", "05-remediation");
    // The execution syncs the site again; once that sync is evaluated the check pushes a
    // change, the screen re-reads the plan, and the plan is empty.
    await page.getByText("Nothing to remediate").waitFor({ timeout: 60_000 });
    await nav("Overview");
    await row().locator('[data-status="PASSING"]').waitFor({ timeout: 60_000 });
  });

  await step("accounts: link an account to a person and see its identity change", async () => {
    await nav("People & accounts");
    await heading("People and accounts");
    await page.locator('[data-testid="accounts"] tbody tr').first().waitFor();
    await screen("accounts", "06-accounts");
    await page.getByRole("searchbox", { name: "Search accounts" }).fill(env("LINK_ACCOUNT_NAME"));
    const account = page.locator(`tr[data-account="${env("LINK_ACCOUNT_ID")}"]`);
    await account.locator('td[data-identity="UNIDENTIFIED"]').waitFor();
    await account.getByRole("button", { name: /^Link .* to a person$/ }).click();
    const dialog = page.getByRole("dialog", { name: "Link the account to a person" });
    await dialog.getByRole("searchbox", { name: "Find a person" }).fill(env("LINK_PERSON_NAME"));
    await dialog.getByRole("radio", { name: new RegExp(env("LINK_PERSON_NAME")) }).check();
    await axe("link dialog");
    await dialog.getByRole("button", { name: "Link" }).click();
    await account.locator('td[data-identity="STAFF"]').getByText(env("LINK_PERSON_NAME")).waitFor();
    // Filtered by its person's status (AccountFilter.personStatus): Robin works here.
    await page.getByLabel("Person", { exact: true }).selectOption("ACTIVE");
    await account.locator('td[data-identity="STAFF"]').waitFor();
    await page.getByLabel("Person", { exact: true }).selectOption("OFFBOARDED");
    await account.waitFor({ state: "detached" });
    await page.getByLabel("Person", { exact: true }).selectOption("");
  });

  await step("people: a CSV with a bad row is refused with the row's problem", async () => {
    await page.getByRole("navigation", { name: "People and accounts" }).getByRole("link", { name: "People (HR)" }).click();
    await page.locator('[data-testid="people"] tbody tr').first().waitFor();
    await page.getByLabel("CSV file", { exact: true }).setInputFiles({
      name: "people.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("email,name,status,job_role,start_date,offboarded_at\nnot-an-email,Nobody,ACTIVE,,,\n"),
    });
    await page.getByRole("button", { name: "Import" }).click();
    await page.locator('[data-testid="import-problems"] tbody tr td', { hasText: /^2$/ }).first().waitFor();
    await screen("people", "07-people");
  });

  await step("access reviews: start one, revoke an entry with a note, complete it", async () => {
    await nav("Access reviews");
    await heading("Access reviews");
    await page.getByRole("button", { name: "Start a review" }).waitFor();
    await screen("access reviews", "08-access-reviews");
    await page.getByRole("button", { name: "Start a review" }).click();
    await heading("Access review");
    const entries = page.locator('[data-testid="review-entries"] tbody tr');
    await entries.first().waitFor();
    const before = await page.locator(".progress__label").first().textContent();
    await entries.first().getByRole("button", { name: /^Revoke/ }).click();
    const dialog = page.getByRole("dialog", { name: "Revoke access" });
    await dialog.getByRole("button", { name: "Revoke" }).click();
    await dialog.getByText("A note is required").waitFor();
    await dialog.getByLabel("Note").fill("left the team in March");
    await dialog.getByRole("button", { name: "Revoke" }).click();
    await page.locator(".progress__label", { hasText: /^Decided1 of/ }).waitFor();
    if (!before?.includes("0 of")) throw new Error(`progress before deciding: ${before}`);
    await screen("access review", "09-access-review");
    // Complete it: the pending entries are kept.
    await page.getByRole("button", { name: "Complete the review…" }).click();
    const complete = page.getByRole("dialog", { name: "Complete the review" });
    await complete.getByLabel("Pending entries become").selectOption("KEEP");
    await axe("complete dialog");
    await complete.getByRole("button", { name: "Complete" }).click();
    await page.getByText("completed", { exact: true }).first().waitFor();
    await page.getByText("Every entry is decided.").waitFor();
  });

  await step("integrations: sync now with a live progress bar", async () => {
    await nav("Integrations");
    await heading("Integrations");
    const card = page.locator('[data-purpose="ACCESS_REVIEW"]');
    await card.getByRole("button", { name: "Sync now" }).waitFor();
    // syncProgress first sends the latest run (initial: true): its line proves the
    // subscription is live before the new run starts.
    await card.getByText("Last sync succeeded").waitFor();
    await page.evaluate(() => {
      const card = document.querySelector('[data-purpose="ACCESS_REVIEW"]');
      new MutationObserver(() => {
        if (card.querySelector("progress")) window.__sawProgress = true;
      }).observe(card, { childList: true, subtree: true });
    });
    await card.getByRole("button", { name: "Sync now" }).click();
    await card.getByText("Sync finished").waitFor({ timeout: 60_000 });
    if (!(await page.evaluate(() => window.__sawProgress === true))) throw new Error("no progress bar was shown");
  });

  await step("integrations: connect through the OAuth round trip", async () => {
    const card = page.locator('[data-purpose="POLICY"]');
    await card.getByText("Not connected").waitFor();
    await screen("integrations", "04-integrations");
    // A refused API token is explained in words a person can act on.
    await card.getByRole("radio", { name: "API token" }).check();
    await card.getByLabel("Site").fill(env("SITE_URL"));
    await card.getByLabel("Atlassian account email").fill("nobody@example.com");
    await card.locator('input[type="password"]').fill("not-a-token");
    await card.getByLabel("Vigil may use these credentials").check();
    await card.getByRole("button", { name: "Connect" }).click();
    await card.getByRole("alert").getByText(/Create a new API token at id\.atlassian\.com/).waitFor();
    await card.getByRole("radio", { name: /Atlassian consent/ }).check();
    await card.getByRole("button", { name: "Continue to Atlassian" }).click();
    await card.getByText("Confirm that you are a site admin").waitFor();
    await card.getByLabel("I am an admin of the Confluence site I will choose").check();
    await card.getByRole("button", { name: "Continue to Atlassian" }).click();
    await page.waitForURL((u) => !u.pathname.startsWith("/console"));
    await page.getByRole("button", { name: "Accept" }).click();
    await page.waitForURL((u) => u.pathname === "/console/integrations");
    await page.getByText("Confluence connected").waitFor();
    await page.locator('[data-purpose="POLICY"]').getByText("Connected", { exact: true }).waitFor();
    await screen("integrations after OAuth", "04-integrations-connected");
  });

  await step("evidence: verify the chain and download an export", async () => {
    await nav("Evidence");
    await heading("Evidence");
    await page.getByRole("button", { name: "Verify chain" }).click();
    await page.getByText("Chain valid").waitFor();
    const download = page.waitForEvent("download");
    await page.getByRole("button", { name: "Download" }).click();
    const file = await download;
    if (!file.suggestedFilename().endsWith(".csv")) throw new Error(`downloaded ${file.suggestedFilename()}`);
    await page.getByText(/^The download has started/).waitFor();
    await screen("evidence", "10-evidence");
  });

  await step("a VIEWER key sees no button it may not use", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("Sign in with an API key (machines, CI)").click();
    await page.getByLabel("API key").fill(VIEWER);
    await page.getByRole("button", { name: "Sign in with the key" }).click();
    await page.getByText("VIEWER key").waitFor(); // back on the screen where the ADMIN signed out
    await heading("Evidence");
    await nav("Integrations");
    await page.locator('[data-purpose="ACCESS_REVIEW"]').getByText("Connected", { exact: true }).waitFor();
    for (const name of ["Sync now", "Disconnect…"]) {
      if (await page.getByRole("button", { name }).count()) throw new Error(`a VIEWER sees "${name}"`);
    }
    await nav("Remediation");
    await heading("Remediation");
    await page.getByRole("heading", { name: "Plan" }).waitFor();
    if (await page.getByRole("button", { name: /Review and confirm/ }).count()) throw new Error("a VIEWER may confirm");
    await nav("People & accounts");
    await page.locator('[data-testid="accounts"] tbody tr').first().waitFor();
    if (await page.getByRole("button", { name: /^Link / }).count()) throw new Error("a VIEWER may link accounts");
  });

  if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join(" | ")}`);
} finally {
  await browser.close();
}
console.log(`console browser test: ${timings.length} steps in ${((Date.now() - started) / 1000).toFixed(1)} s`);
