// The head protocol in-process, for the head embedded in `hangar server`: each message goes to the
// brain's endpoint (brain/link.ts) and its answer comes back through a JSON round trip, exactly the
// plain data a network link carries (nothing else, no shared objects, crosses).
import type { Store } from '../store/db.js';
import type { SecretBox } from '../core/secrets.js';
import { HeadEndpoint } from '../brain/link.js';
import { MessageLink, type Transport, type UpMessage } from './link.js';

/** Carries messages to an endpoint in this process as JSON text, both ways. */
export class JsonTransport implements Transport {
  constructor(private readonly endpoint: Pick<HeadEndpoint, 'receive'>) {}

  async send(message: UpMessage): Promise<unknown> {
    const answer = await this.endpoint.receive(JSON.parse(JSON.stringify(message)));
    return JSON.parse(JSON.stringify(answer));
  }
}

export class LocalLink extends MessageLink {
  /** `secrets` opens what the head needs in plain (the VNC password, operations' secret args).
   *  `leaseMs`: how long an operation this head takes stays its own without a renewal. */
  constructor(db: Store, clusterDomain: string, secrets: SecretBox, now: () => number = Date.now, leaseMs = 60_000) {
    super(new JsonTransport(new HeadEndpoint(db, { clusterDomain, secrets, now, leaseMs })));
  }
}
