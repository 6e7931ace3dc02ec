// Key names for BigV's `sendkey` signal (its `sendkeys` definition, dash-separated like
// `ctrl-alt-del`) → QEMU QKeyCode names for QMP send-key.
import { DriverError } from '../driver.js';

/** BigV's `sendkeys` list; every name is also a QEMU qcode. */
export const SENDKEYS: readonly string[] = [
  'shift', 'shift_r', 'alt', 'alt_r', 'altgr', 'altgr_r', 'ctrl', 'ctrl_r', 'menu', 'esc', '1', '2', '3', '4', '5',
  '6', '7', '8', '9', '0', 'minus', 'equal', 'backspace', 'tab', 'q', 'w', 'e', 'r', 't', 'y', 'u', 'i', 'o', 'p',
  'ret', 'a', 's', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'z', 'x', 'c', 'v', 'b', 'n', 'm', 'comma', 'dot', 'slash',
  'asterisk', 'spc', 'caps_lock', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8', 'f9', 'f10', 'f11', 'f12',
  'num_lock', 'scroll_lock', 'kp_divide', 'kp_multiply', 'kp_subtract', 'kp_add', 'kp_enter', 'kp_decimal',
  'sysrq', 'kp_0', 'kp_1', 'kp_2', 'kp_3', 'kp_4', 'kp_5', 'kp_6', 'kp_7', 'kp_8', 'kp_9', 'print', 'home',
  'pgup', 'pgdn', 'end', 'left', 'up', 'down', 'right', 'insert', 'delete',
];

const ALIASES: Record<string, string> = {
  del: 'delete', control: 'ctrl', enter: 'ret', return: 'ret', space: 'spc', escape: 'esc',
  pageup: 'pgup', pagedown: 'pgdn', ins: 'insert',
};

/** Turn `['ctrl-alt-del']` or `['ctrl', 'alt', 'delete']` into qcodes; DriverError on an unknown key. */
export function qcodes(keys: readonly string[]): string[] {
  const names = keys.flatMap((k) => k.split('-')).map((k) => k.trim().toLowerCase()).filter(Boolean);
  if (names.length === 0) throw new DriverError('sendkey needs at least one key', 'data');
  return names.map((name) => {
    const code = ALIASES[name] ?? name;
    if (!SENDKEYS.includes(code)) throw new DriverError(`unknown key ${name}`, 'data');
    return code;
  });
}
