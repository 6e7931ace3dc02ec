// The generated API documents: the app as `hangar server` builds it (in-memory store, no head, the
// auth endpoint also under /auth as by default), its registered routes as docs/endpoints.md and its
// OpenAPI document as docs/openapi.json. `npm run docs` writes them; `npm run docs:check` and a
// test compare them with the checked-in files.
import pino from 'pino';
import { startHangar } from './start.js';
import { registeredRoutes } from '../api/app.js';
import { endpointsMarkdown } from '../api/endpoints-doc.js';

/** File name under docs/ → its generated content. */
export async function generatedDocs(): Promise<Record<string, string>> {
  const running = await startHangar({ storeUrl: ':memory:', heads: [], log: pino({ level: 'silent' }), authPrefix: '/auth' });
  try {
    return {
      'endpoints.md': endpointsMarkdown(registeredRoutes(running.app)),
      'openapi.json': `${JSON.stringify(running.app.swagger(), null, 2)}\n`,
    };
  } finally {
    await running.close();
  }
}
