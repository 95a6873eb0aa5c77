// The console's JavaScript budget: at most 300 KB compressed (gzip), all chunks together.
// Run after `vite build` (npm run build does); prints the figures and fails over budget.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_KB = 300;
const dir = new URL("../dist/assets/", import.meta.url).pathname;
const files = readdirSync(dir).filter((f) => f.endsWith(".js"));
if (files.length === 0) {
  console.error(`no JavaScript in ${dir}: run vite build first`);
  process.exit(1);
}
let raw = 0;
let gzip = 0;
const rows = [];
for (const f of files) {
  const bytes = readFileSync(join(dir, f));
  const z = gzipSync(bytes, { level: 9 }).length;
  raw += bytes.length;
  gzip += z;
  rows.push(`  ${f.padEnd(34)} ${(bytes.length / 1024).toFixed(1).padStart(7)} KB  ${(z / 1024).toFixed(1).padStart(6)} KB gzip`);
}
console.log(rows.join("\n"));
const kb = gzip / 1024;
console.log(`console JavaScript: ${kb.toFixed(1)} KB gzip (${(raw / 1024).toFixed(1)} KB raw, ${files.length} files); budget ${BUDGET_KB} KB`);
if (kb > BUDGET_KB) {
  console.error(`over the ${BUDGET_KB} KB budget`);
  process.exit(1);
}
