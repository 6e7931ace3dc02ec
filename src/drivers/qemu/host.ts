// What this host can do: are the QEMU tools installed, and does KVM really work here?
// /dev/kvm existing is not enough: on nested hosts it can be kvm_pvm (software nested
// virtualisation without VMX), which boots ordinary guest kernels about 75x slower than TCG.
import fs from 'node:fs';
import { works } from './exec.js';
import type { Accel } from './args.js';

export type AccelChoice = 'auto' | Accel;

export interface AccelDecision { accel: Accel; reason: string }

function kvmUsable(): { ok: boolean; reason: string } {
  try {
    fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    return { ok: false, reason: '/dev/kvm is missing or not accessible' };
  }
  if (fs.existsSync('/sys/module/kvm_pvm')) {
    return { ok: false, reason: '/dev/kvm is kvm_pvm (software nested virtualisation, far slower than TCG)' };
  }
  let cpuinfo = '';
  try {
    cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // unknown: trust /dev/kvm
  }
  if (cpuinfo && !/^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo)) {
    return { ok: false, reason: 'the CPU has no hardware virtualisation (vmx/svm)' };
  }
  return { ok: true, reason: '/dev/kvm with hardware virtualisation' };
}

export function chooseAccel(choice: AccelChoice): AccelDecision {
  if (choice === 'tcg') return { accel: 'tcg', reason: 'configured' };
  if (choice === 'kvm') return { accel: 'kvm', reason: 'configured' };
  const kvm = kvmUsable();
  return kvm.ok ? { accel: 'kvm', reason: kvm.reason } : { accel: 'tcg', reason: kvm.reason };
}

/** Why this head cannot run machines, or null when the tools are there. */
export async function toolsProblem(tools: { qemu: string; qemuImg: string; genisoimage: string }): Promise<string | null> {
  const missing: string[] = [];
  if (!(await works(tools.qemu, ['--version']))) missing.push(`${tools.qemu} (Debian package qemu-system-x86)`);
  if (!(await works(tools.qemuImg, ['--version']))) missing.push(`${tools.qemuImg} (Debian package qemu-utils)`);
  if (!(await works(tools.genisoimage, ['-version']))) missing.push(`${tools.genisoimage} (Debian package genisoimage)`);
  if (missing.length === 0) return null;
  return `QEMU is not usable on this head: missing ${missing.join(', ')}`;
}
