// The payload types of the extension, generated: src/generated/payload.schema.json (written
// from vel_jupyter/formats/shapes.py by `python -m vel_jupyter.formats.schema`) becomes
// src/generated/payload.ts with json-schema-to-typescript. Both files are committed;
// tests/contracts/test_payload_schema.py fails when the schema drifts from the Python shapes, and
// `--check` (run by `jlpm test`) when payload.ts drifts from the schema.
//
//   jlpm build:types                          schema from Python, then payload.ts
//   node scripts/payload-types.mjs            payload.ts from the committed schema
//   node scripts/payload-types.mjs --check    exit 1 if payload.ts is stale
import { readFileSync, writeFileSync } from 'node:fs';

import { compile } from 'json-schema-to-typescript';

const here = new URL('../src/generated/', import.meta.url);
const schema = JSON.parse(readFileSync(new URL('payload.schema.json', here), 'utf8'));
// The shapes allow unknown keys (what a newer version may add); the types list only the known
// ones: an index signature would make every misspelt field read as `unknown` instead of failing.
(function known(node) {
  if (Array.isArray(node)) {
    node.forEach(known);
  } else if (node && typeof node === 'object') {
    if (node.additionalProperties === true) {
      delete node.additionalProperties;
    }
    Object.values(node).forEach(known);
  }
})(schema);
const BANNER =
  '/* Generated from vel_jupyter/formats/shapes.py (payload.schema.json) by labextension/scripts/payload-types.mjs: edit the shapes, then run `jlpm build:types`. */';

const text = await compile(schema, 'PayloadsShape', {
  bannerComment: BANNER,
  additionalProperties: false,
  unreachableDefinitions: true,
  format: true,
  style: { singleQuote: true, printWidth: 120 }
});

const path = new URL('payload.ts', here);
let current = null;
try {
  current = readFileSync(path, 'utf8');
} catch {
  // missing: stale
}
if (current === text) {
  process.exit(0);
}
if (process.argv.includes('--check')) {
  console.error('labextension/src/generated/payload.ts is stale: run `jlpm build:types` in labextension/ and commit it');
  process.exit(1);
}
writeFileSync(path, text);
console.log('wrote labextension/src/generated/payload.ts');
