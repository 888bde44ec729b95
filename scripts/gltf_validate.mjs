// Validate glTF / GLB files with the Khronos glTF-Validator (npm package `gltf-validator`,
// installed by `make gltf-validator` into build/node/). Prints every issue; exit status 0 when no
// file has errors, 1 when one has, 2 when a file cannot be read or is no glTF at all.
//
//   node scripts/gltf_validate.mjs take.glb [other.gltf ...] [--json]
//
// --json prints each file's full report (the validator's own JSON) instead of the summary lines.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const here = path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(path.join(process.env.GLTF_VALIDATOR_PREFIX ?? path.join(here, "..", "build", "node"), "noop.js"));
let validator;
try {
  validator = require("gltf-validator");
} catch (err) {
  console.error(`gltf-validator is not installed (run \`make gltf-validator\`): ${err.message}`);
  process.exit(2);
}

const SEVERITY = ["error", "warning", "info", "hint"];
const args = process.argv.slice(2);
const json = args.includes("--json");
const files = args.filter((a) => a !== "--json");
if (files.length === 0) {
  console.error("usage: node scripts/gltf_validate.mjs FILE.glb|FILE.gltf ... [--json]");
  process.exit(2);
}

let status = 0;
for (const file of files) {
  let report;
  try {
    const bytes = new Uint8Array(fs.readFileSync(file));
    report = await validator.validateBytes(bytes, {
      uri: path.basename(file),
      maxIssues: 0, // all of them
      externalResourceFunction: (uri) =>
        fs.promises.readFile(path.resolve(path.dirname(file), decodeURIComponent(uri))).then((b) => new Uint8Array(b)),
    });
  } catch (err) {
    console.error(`${file}: cannot validate: ${err}`);
    status = 2;
    continue;
  }
  const issues = report.issues;
  if (json) {
    console.log(JSON.stringify(report));
  } else {
    console.log(`${file}: ${issues.numErrors} errors, ${issues.numWarnings} warnings, ` +
                `${issues.numInfos} infos, ${issues.numHints} hints (glTF-Validator ${report.validatorVersion})`);
    for (const m of issues.messages) {
      console.log(`  ${SEVERITY[m.severity] ?? m.severity} ${m.code} ${m.pointer ?? ""}: ${m.message}`);
    }
  }
  if (issues.numErrors > 0 && status === 0) status = 1;
}
process.exit(status);
