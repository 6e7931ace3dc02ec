#!/usr/bin/env node
// `npm run docs`: write docs/endpoints.md and docs/openapi.json from the registered routes.
// `npm run docs:check` (CI): generate them into a temp dir and compare with docs/; exit 1 with the
// difference when the checked-in ones are stale. Runs on the build (dist/), as `npm test` does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generatedDocs } from '../dist/src/brain/docs.js';

const docs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs');
const files = await generatedDocs();

if (!process.argv.includes('--check')) {
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(docs, name), text);
  console.log(`wrote ${Object.keys(files).map((n) => `docs/${n}`).join(', ')}`);
  process.exit(0);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-docs-'));
const stale = [];
try {
  for (const [name, text] of Object.entries(files)) {
    const fresh = path.join(tmp, name);
    fs.writeFileSync(fresh, text);
    const checkedIn = path.join(docs, name);
    if (fs.existsSync(checkedIn) && fs.readFileSync(checkedIn, 'utf8') === text) continue;
    stale.push(`docs/${name}`);
    spawnSync('diff', ['-u', '--label', `docs/${name} (checked in)`, '--label', `docs/${name} (from the routes)`, fs.existsSync(checkedIn) ? checkedIn : '/dev/null', fresh], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
if (stale.length) {
  console.error(`docs:check: ${stale.join(' and ')} ${stale.length > 1 ? 'are' : 'is'} stale (not what the registered routes generate): run \`npm run docs\` and commit the result`);
  process.exit(1);
}
console.log('docs:check: docs/endpoints.md and docs/openapi.json match the registered routes');
