// The QEMU command line of a machine, as a pure function of its spec and the paths the driver
// resolved for it. Golden tests (test/qemu/args.test.ts) pin the output, so any change to what a
// guest sees shows up in review. docs/config-drive.md describes the machine to image builders.
import type { DiscRef, MachineSpec, NicSpec } from '../driver.js';

export type Accel = 'kvm' | 'tcg';

export interface RunPaths {
  qmp: string;
  serial: string;
  consoleLog: string;
  pidfile: string;
  /** A file holding the VNC password, read by QEMU as it starts. */
  vncSecret: string;
}

/** How the first disc boots: directly from a kernel (files resolved to absolute paths) or via firmware. */
export interface DirectBoot { kernel: string; initrd: string | null; cmdline: string }

export interface QemuArgsInput {
  spec: MachineSpec;
  accel: Accel;
  paths: RunPaths;
  /** The spec's discs in order, each with its qcow2 file. */
  discs: { disc: DiscRef; file: string }[];
  configDrive: string | null;
  cdrom: string | null;
  boot: DirectBoot | null;
  /** One per spec NIC, in order: the tap for bridge mode (null for user mode). */
  taps: (string | null)[];
  /** VNC: first display number tried and last (QEMU takes the first free one). */
  vnc: { host: string; display: number; to: number };
}

/** Keymaps QEMU ships (/usr/share/qemu/keymaps); others are left to the VNC client. */
export const QEMU_KEYMAPS: readonly string[] = [
  'ar', 'bepo', 'cz', 'da', 'de', 'de-ch', 'en-gb', 'en-us', 'es', 'et', 'fi', 'fo', 'fr', 'fr-be', 'fr-ca',
  'fr-ch', 'hr', 'hu', 'is', 'it', 'ja', 'lt', 'lv', 'mk', 'nl', 'no', 'pl', 'pt', 'pt-br', 'ru', 'sl', 'sv',
  'th', 'tr',
];

/** Kernel parameters the driver always wants (see docs/config-drive.md). */
export const KERNEL_EXTRA = ['panic=1', 'no_timer_check'];

/** A value inside a QEMU `key=value,...` option: commas are doubled. */
export function optValue(value: string): string {
  return value.replace(/,/g, ',,');
}

export function discNode(disc: DiscRef): string {
  return `disc${disc.id}`;
}

export function kernelCmdline(cmdline: string): string {
  const words = cmdline.trim().split(/\s+/).filter(Boolean);
  for (const extra of KERNEL_EXTRA) {
    const key = extra.split('=')[0]!;
    if (!words.some((w) => w === key || w.startsWith(`${key}=`))) words.push(extra);
  }
  return words.join(' ');
}

function netdev(nic: NicSpec, index: number, tap: string | null, forwardSsh: boolean): string {
  if (nic.network.mode === 'bridge') {
    if (!tap) throw new Error(`NIC ${nic.id} is bridged but has no tap`);
    return `tap,id=net${index},ifname=${optValue(tap)},script=no,downscript=no`;
  }
  const fwd = forwardSsh ? `,hostfwd=tcp:127.0.0.1:${nic.network.sshPort}-:22` : '';
  return `user,id=net${index}${fwd}`;
}

/** Named models of each vendor whose every feature QEMU's TCG emulates (no warning, nothing missing). */
const TCG_CPU = { intel: 'Nehalem', amd: 'Opteron_G2' } as const;

export function qemuArgs(input: QemuArgsInput): string[] {
  const { spec, paths } = input;
  const a: string[] = [];
  a.push('-name', `guest=${optValue(spec.name)},process=hangar-vm${spec.vmId}`);
  a.push('-no-user-config', '-nodefaults', '-S');
  a.push('-machine', 'pc');
  if (input.accel === 'kvm') a.push('-accel', 'kvm', '-cpu', 'host');
  else a.push('-accel', 'tcg', ...(spec.cpuType ? ['-cpu', TCG_CPU[spec.cpuType]] : []));
  a.push('-smp', String(spec.cores), '-m', String(spec.memory));
  a.push('-action', 'reboot=shutdown,shutdown=poweroff');
  a.push('-rtc', 'base=utc');
  a.push('-display', 'none');
  a.push('-pidfile', paths.pidfile);
  a.push('-chardev', `socket,id=qmp,path=${optValue(paths.qmp)},server=on,wait=off`, '-mon', 'chardev=qmp,mode=control');
  a.push('-chardev', `socket,id=serial0,path=${optValue(paths.serial)},server=on,wait=off,logfile=${optValue(paths.consoleLog)}`);
  a.push('-serial', 'chardev:serial0');
  a.push('-device', 'VGA,id=vga');
  // The password comes from a file QEMU reads as it starts (never the command line, which any user
  // of the host can read): no monitor command before the guest runs (bench:power).
  a.push('-object', `secret,id=vncpass,file=${optValue(paths.vncSecret)},format=raw`);
  a.push('-vnc', `${input.vnc.host}:${input.vnc.display},to=${input.vnc.to},password-secret=vncpass`);
  if (spec.keymap && spec.keymap !== 'en-us' && QEMU_KEYMAPS.includes(spec.keymap)) a.push('-k', spec.keymap);

  if (input.boot) {
    a.push('-kernel', input.boot.kernel);
    if (input.boot.initrd) a.push('-initrd', input.boot.initrd);
    a.push('-append', kernelCmdline(input.boot.cmdline));
  }

  // Booting the CD (an installer) puts it before the first disc in the firmware's order.
  const cdFirst = spec.bootFrom === 'cdrom' && input.cdrom !== null;
  input.discs.forEach(({ disc, file }, i) => {
    const node = discNode(disc);
    a.push('-blockdev', `driver=file,filename=${optValue(file)},node-name=${node}-file,discard=unmap`);
    a.push('-blockdev', `driver=qcow2,file=${node}-file,node-name=${node},discard=unmap`);
    const serial = `hangar-${disc.id}`;
    a.push('-device', `virtio-blk-pci,drive=${node},id=${node}-dev,serial=${serial}${i === 0 ? `,bootindex=${cdFirst ? 2 : 1}` : ''}`);
  });
  if (input.configDrive) {
    a.push('-blockdev', `driver=file,filename=${optValue(input.configDrive)},node-name=cidata-file,read-only=on`);
    a.push('-blockdev', 'driver=raw,file=cidata-file,node-name=cidata,read-only=on');
    a.push('-device', 'virtio-blk-pci,drive=cidata,id=cidata-dev');
  }
  if (input.cdrom) {
    a.push('-blockdev', `driver=file,filename=${optValue(input.cdrom)},node-name=cdrom-file,read-only=on`);
    a.push('-blockdev', 'driver=raw,file=cdrom-file,node-name=cdrom,read-only=on');
    a.push('-device', `ide-cd,bus=ide.1,unit=0,drive=cdrom,id=cdrom-dev,bootindex=${cdFirst ? 1 : 2}`);
  } else {
    // An empty drive, so that an ISO can be put in while the guest runs (IDE has no hot-plug).
    a.push('-device', 'ide-cd,bus=ide.1,unit=0,id=cdrom-dev');
  }

  let sshForwarded = false;
  spec.nics.forEach((nic, i) => {
    const forward = nic.network.mode === 'user' && !sshForwarded;
    if (forward) sshForwarded = true;
    a.push('-netdev', netdev(nic, i, input.taps[i] ?? null, forward));
    a.push('-device', `virtio-net-pci,netdev=net${i},id=nic${i},mac=${nic.mac}`);
  });
  a.push('-device', 'virtio-rng-pci,id=rng0');
  return a;
}
