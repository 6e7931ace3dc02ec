// BigV's power table (spec §5.2, docs/domain.md §13.3): how BigV's `power_on` / `autoreboot_on`
// PUT and its creation flags map onto the core's desired power state. BigV's `signal` stays the raw
// act (core/vms/actions.ts); the neutral power intents are core/vms/power.ts.

/**
 * BigV power semantics (spec §5.2): power_on is "should be on", autoreboot_on "restart after a
 * power-off". Start = {true,true}; stop = {false,false}; reboot = {power_on:false, autoreboot_on:true}
 * on a running VM: it goes off and straight back on, so it stays on with a fresh boot (`cycle`).
 */
export function nextPower(
  current: { powerOn: boolean; autorebootOn: boolean },
  req: { power_on?: boolean; autoreboot_on?: boolean },
): { powerOn: boolean; autorebootOn: boolean; cycle: boolean } {
  const autorebootOn = req.autoreboot_on ?? current.autorebootOn;
  if (req.power_on === true) return { powerOn: true, autorebootOn, cycle: false };
  if (req.power_on === false) {
    if (current.powerOn && autorebootOn) return { powerOn: true, autorebootOn, cycle: true };
    return { powerOn: false, autorebootOn, cycle: false };
  }
  return { powerOn: current.powerOn, autorebootOn, cycle: false };
}

/** Power at creation (spec §4.5): docker-machine sends no flags yet waits for power_on with an image. */
export function powerAtCreate(req: { power_on?: boolean; autoreboot_on?: boolean }, imaged: boolean): { powerOn: boolean; autorebootOn: boolean } {
  const powerOn = req.power_on === true || req.autoreboot_on === true || (imaged && req.power_on !== false && req.autoreboot_on !== false);
  return { powerOn, autorebootOn: req.autoreboot_on ?? powerOn };
}
