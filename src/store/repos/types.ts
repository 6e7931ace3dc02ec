// What a repository runs its queries on: the store, or a transaction the caller holds.
import type { Transaction } from 'kysely';
import type { Store } from '../db.js';
import type { Database } from '../schema.js';

export type Trx = Transaction<Database>;
export type Db = Store | Trx;
