// HeadDispatch for heads running inside this process.
import type { HeadDispatch } from '../core/context.js';
import type { HeadAgent } from './agent.js';

export class LocalDispatch implements HeadDispatch {
  readonly agents = new Map<number, HeadAgent>();

  constructor(private readonly waitMs: number) {}

  add(agent: HeadAgent): void {
    this.agents.set(agent.headId, agent);
  }

  async kick(headId: number, vmId: number | null): Promise<void> {
    const agent = this.agents.get(headId);
    if (!agent) return; // a head that is not connected converges when it comes back
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => { timer = setTimeout(resolve, this.waitMs); });
    await Promise.race([vmId === null ? agent.kickVolumes() : agent.kick(vmId), limit]);
    clearTimeout(timer);
  }
}
