#!/usr/bin/env node
// The built CLI lives in dist/ (npm run build); this shim keeps the bin path stable.
import('../dist/src/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
    console.error('hangar is not built yet: run `npm run build` first');
    process.exit(1);
  }
  throw err;
});
