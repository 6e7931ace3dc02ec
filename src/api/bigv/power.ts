// BigV's power table (spec §5.2, docs/domain.md §13.3): how BigV's `power_on` / `autoreboot_on`
// PUT and its creation flags map onto the core's desired power state. BigV's `signal` stays the raw
// act (core/vms/actions.ts); the neutral power intents are core/vms/power.ts.
import type { DesiredPower, PowerRule } from '../../core/vms/model.js';

/**
 * BigV power semantics (spec §5.2): power_on is "should be on", autoreboot_on "restart after a
 * power-off". Start = {true,true}; stop = {false,false}; reboot = {power_on:false, autoreboot_on:true}
 * on a running VM: it goes off and straight back on, so it stays on with a fresh boot (`cycle`).
 */
export const nextPower: PowerRule = (current, req) => {
  const autorebootOn = req.autoreboot ?? current.autorebootOn;
  if (req.powerOn === true) return { powerOn: true, autorebootOn, cycle: false };
  if (req.powerOn === false) {
    if (current.powerOn && autorebootOn) return { powerOn: true, autorebootOn, cycle: true };
    return { powerOn: false, autorebootOn, cycle: false };
  }
  return { powerOn: current.powerOn, autorebootOn, cycle: false };
};

/** Power at creation (spec §4.5): docker-machine sends no flags yet waits for power_on with an image. */
export function powerAtCreate(req: DesiredPower, imaged: boolean): { powerOn: boolean; autoreboot: boolean } {
  const powerOn = req.powerOn === true || req.autoreboot === true || (imaged && req.powerOn !== false && req.autoreboot !== false);
  return { powerOn, autoreboot: req.autoreboot ?? powerOn };
}
