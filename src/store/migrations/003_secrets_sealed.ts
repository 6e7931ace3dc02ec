// Secrets at rest: VNC passwords and TOTP secrets stored in plain text before this are sealed with
// the server's secret key; the secrets in operations' args (reimage: the root password hash and
// the firstboot script) are sealed while queued and removed from finished operations. The schema
// does not change. It needs the key, so the migration is made with the server's box (store/db.ts).
import { type Kysely, type Migration, sql } from 'kysely';
import { isPostgres } from '../dialect.js';
import { SecretBox } from '../../core/secrets.js';

/** The args fields that held secrets before operations sealed them, by operation kind. */
const SECRET_ARGS: Record<string, [string, string][]> = {
  reimage: [['firstBoot', 'rootPasswordHash'], ['firstBoot', 'firstbootScript']],
};

export function sealSecrets(box: SecretBox): Migration {
  return {
    async up(db: Kysely<any>): Promise<void> {
      const pg = isPostgres(db);
      // SQLite: the plain text rewritten below is zeroed in the pages it leaves, not just unlinked.
      if (!pg) await sql`PRAGMA secure_delete = ON`.execute(db);
      for (const vm of await db.selectFrom('vms').select(['id', 'vnc_password']).execute()) {
        if (SecretBox.isSealed(vm.vnc_password)) continue;
        await db.updateTable('vms').set({ vnc_password: box.seal(vm.vnc_password) }).where('id', '=', vm.id).execute();
      }
      for (const u of await db.selectFrom('users').select(['id', 'totp_secret']).where('totp_secret', 'is not', null).execute()) {
        if (SecretBox.isSealed(u.totp_secret)) continue;
        await db.updateTable('users').set({ totp_secret: box.seal(u.totp_secret) }).where('id', '=', u.id).execute();
      }
      const ops = await db.selectFrom('operations').select(['id', 'kind', 'state', 'args']).where('kind', 'in', Object.keys(SECRET_ARGS)).execute();
      for (const op of ops) {
        const args = JSON.parse(op.args);
        let changed = false;
        for (const [outer, field] of SECRET_ARGS[op.kind] ?? []) {
          const holder = args[outer];
          if (!holder || typeof holder[field] !== 'string') continue;
          if (op.state === 'queued') holder[field] = { $secret: box.seal(holder[field]) };
          else delete holder[field];
          changed = true;
        }
        if (changed) await db.updateTable('operations').set({ args: JSON.stringify(args) }).where('id', '=', op.id).execute();
      }
      if (!pg) {
        await sql`PRAGMA secure_delete = OFF`.execute(db);
        // The old pages leave the write-ahead log too.
        await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
      }
    },
  };
}
