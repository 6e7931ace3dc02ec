// Golden tests: a machine's spec → its exact QEMU command line. A change here changes what every
// guest sees; update docs/config-drive.md with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelCmdline, optValue, qemuArgs, type QemuArgsInput } from '../../src/drivers/qemu/args.js';
import type { MachineSpec } from '../../src/drivers/driver.js';

const paths = {
  qmp: '/d/run/7/qmp.sock', serial: '/d/run/7/serial.sock', consoleLog: '/d/run/7/console.log', pidfile: '/d/run/7/qemu.pid',
  vncSecret: '/d/run/7/vnc.secret',
};

function spec(over: Partial<MachineSpec> = {}): MachineSpec {
  return {
    vmId: 7, name: 'web', hostname: 'web.default.acme.hangar.local', cores: 1, memory: 256, hardwareProfile: 'virtio2013',
    keymap: null, cdromUrl: null, image: 'tiny', vncPassword: 'secret',
    discs: [{ id: 11, vmId: 7, label: 'vda', grade: 'sata', size: 1024 }],
    nics: [{ id: 3, mac: '52:54:00:00:00:07', ipv4: ['10.64.0.7'], ipv6: [], gateway4: '10.64.0.1', prefix4: 24, network: { mode: 'user', sshPort: 0 } }],
    ...over,
  };
}

function input(over: Partial<QemuArgsInput> = {}): QemuArgsInput {
  const s = over.spec ?? spec();
  return {
    spec: s, accel: 'tcg', paths,
    discs: s.discs.map((disc) => ({ disc, file: `/d/discs/${disc.grade}/disc-${disc.id}.qcow2` })),
    configDrive: '/d/run/7/cidata.iso', cdrom: null,
    boot: { kernel: '/img/tiny/vmlinuz', initrd: '/img/tiny/initrd.img', cmdline: 'root=/dev/vda rw console=ttyS0 quiet' },
    taps: [null], vnc: { host: '127.0.0.1', display: 0, to: 99 },
    ...over,
  };
}

const COMMON_HEAD = [
  '-name', 'guest=web,process=hangar-vm7',
  '-no-user-config', '-nodefaults', '-S',
  '-machine', 'pc',
];
const COMMON_MID = [
  '-smp', '1', '-m', '256',
  '-action', 'reboot=shutdown,shutdown=poweroff',
  '-rtc', 'base=utc',
  '-display', 'none',
  '-pidfile', '/d/run/7/qemu.pid',
  '-chardev', 'socket,id=qmp,path=/d/run/7/qmp.sock,server=on,wait=off', '-mon', 'chardev=qmp,mode=control',
  '-chardev', 'socket,id=serial0,path=/d/run/7/serial.sock,server=on,wait=off,logfile=/d/run/7/console.log',
  '-serial', 'chardev:serial0',
  '-device', 'VGA,id=vga',
  '-object', 'secret,id=vncpass,file=/d/run/7/vnc.secret,format=raw',
  '-vnc', '127.0.0.1:0,to=99,password-secret=vncpass',
];

test('tiny image, user networking, TCG: direct kernel boot, virtio disc, config drive, SSH forward', () => {
  assert.deepEqual(qemuArgs(input()), [
    ...COMMON_HEAD,
    '-accel', 'tcg',
    ...COMMON_MID,
    '-kernel', '/img/tiny/vmlinuz',
    '-initrd', '/img/tiny/initrd.img',
    '-append', 'root=/dev/vda rw console=ttyS0 quiet panic=1 no_timer_check',
    '-blockdev', 'driver=file,filename=/d/discs/sata/disc-11.qcow2,node-name=disc11-file,discard=unmap',
    '-blockdev', 'driver=qcow2,file=disc11-file,node-name=disc11,discard=unmap',
    '-device', 'virtio-blk-pci,drive=disc11,id=disc11-dev,serial=hangar-11,bootindex=1',
    '-blockdev', 'driver=file,filename=/d/run/7/cidata.iso,node-name=cidata-file,read-only=on',
    '-blockdev', 'driver=raw,file=cidata-file,node-name=cidata,read-only=on',
    '-device', 'virtio-blk-pci,drive=cidata,id=cidata-dev',
    '-device', 'ide-cd,bus=ide.1,unit=0,id=cdrom-dev',
    '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:0-:22',
    '-device', 'virtio-net-pci,netdev=net0,id=nic0,mac=52:54:00:00:00:07',
    '-device', 'virtio-rng-pci,id=rng0',
  ]);
});

test('firmware boot, KVM, two discs, cdrom, keymap, bridged NICs, fixed SSH port on the first user NIC only', () => {
  const s = spec({
    cores: 2, memory: 1024, keymap: 'de', image: null, cdromUrl: 'file:///isos/x.iso',
    discs: [
      { id: 11, vmId: 7, label: 'vda', grade: 'sata', size: 1024 },
      { id: 12, vmId: 7, label: 'data', grade: 'ssd', size: 2048 },
    ],
    nics: [
      { id: 3, mac: '52:54:00:00:00:07', ipv4: [], ipv6: [], gateway4: null, prefix4: null, network: { mode: 'bridge', bridge: 'br0' } },
      { id: 4, mac: '52:54:00:00:00:08', ipv4: [], ipv6: [], gateway4: null, prefix4: null, network: { mode: 'user', sshPort: 2222 } },
      { id: 5, mac: '52:54:00:00:00:09', ipv4: [], ipv6: [], gateway4: null, prefix4: null, network: { mode: 'user', sshPort: 2223 } },
    ],
  });
  const args = qemuArgs(input({ spec: s, accel: 'kvm', boot: null, cdrom: '/cache/abc.iso', taps: ['hg7n0', null, null] }));
  assert.deepEqual(args, [
    ...COMMON_HEAD,
    '-accel', 'kvm', '-cpu', 'host',
    '-smp', '2', '-m', '1024',
    ...COMMON_MID.slice(4),
    '-k', 'de',
    '-blockdev', 'driver=file,filename=/d/discs/sata/disc-11.qcow2,node-name=disc11-file,discard=unmap',
    '-blockdev', 'driver=qcow2,file=disc11-file,node-name=disc11,discard=unmap',
    '-device', 'virtio-blk-pci,drive=disc11,id=disc11-dev,serial=hangar-11,bootindex=1',
    '-blockdev', 'driver=file,filename=/d/discs/ssd/disc-12.qcow2,node-name=disc12-file,discard=unmap',
    '-blockdev', 'driver=qcow2,file=disc12-file,node-name=disc12,discard=unmap',
    '-device', 'virtio-blk-pci,drive=disc12,id=disc12-dev,serial=hangar-12',
    '-blockdev', 'driver=file,filename=/d/run/7/cidata.iso,node-name=cidata-file,read-only=on',
    '-blockdev', 'driver=raw,file=cidata-file,node-name=cidata,read-only=on',
    '-device', 'virtio-blk-pci,drive=cidata,id=cidata-dev',
    '-blockdev', 'driver=file,filename=/cache/abc.iso,node-name=cdrom-file,read-only=on',
    '-blockdev', 'driver=raw,file=cdrom-file,node-name=cdrom,read-only=on',
    '-device', 'ide-cd,bus=ide.1,unit=0,drive=cdrom,id=cdrom-dev,bootindex=2',
    '-netdev', 'tap,id=net0,ifname=hg7n0,script=no,downscript=no',
    '-device', 'virtio-net-pci,netdev=net0,id=nic0,mac=52:54:00:00:00:07',
    '-netdev', 'user,id=net1,hostfwd=tcp:127.0.0.1:2222-:22',
    '-device', 'virtio-net-pci,netdev=net1,id=nic1,mac=52:54:00:00:00:08',
    '-netdev', 'user,id=net2',
    '-device', 'virtio-net-pci,netdev=net2,id=nic2,mac=52:54:00:00:00:09',
    '-device', 'virtio-rng-pci,id=rng0',
  ]);
});

test('commas in names and paths are escaped; unknown keymaps and en-us add no -k', () => {
  const s = spec({ name: 'a,b', keymap: 'nl-be' });
  const args = qemuArgs(input({ spec: s, paths: { ...paths, qmp: '/d/x,y/qmp.sock' } }));
  assert.equal(args[1], 'guest=a,,b,process=hangar-vm7');
  assert.ok(args.includes('socket,id=qmp,path=/d/x,,y/qmp.sock,server=on,wait=off'));
  assert.ok(!args.includes('-k'));
  assert.ok(!qemuArgs(input({ spec: spec({ keymap: 'en-us' }) })).includes('-k'));
  assert.equal(optValue('a,,b'), 'a,,,,b');
});

test('kernel command line: panic=1 and no_timer_check appended once', () => {
  assert.equal(kernelCmdline('root=/dev/vda  console=ttyS0'), 'root=/dev/vda console=ttyS0 panic=1 no_timer_check');
  assert.equal(kernelCmdline('panic=10 no_timer_check quiet'), 'panic=10 no_timer_check quiet');
});

test('a bridged NIC without a tap is a programming error', () => {
  const s = spec({ nics: [{ id: 3, mac: '52:54:00:00:00:07', ipv4: [], ipv6: [], gateway4: null, prefix4: null, network: { mode: 'bridge', bridge: 'br0' } }] });
  assert.throws(() => qemuArgs(input({ spec: s, taps: [null] })), /has no tap/);
});

test('boot from the CD: no direct kernel, the CD first in the firmware order, the disc second', () => {
  const s = spec({ bootFrom: 'cdrom', cdromUrl: 'file:///isos/x.iso' });
  const args = qemuArgs(input({ spec: s, boot: null, cdrom: '/cache/abc.iso' }));
  assert.ok(!args.includes('-kernel'));
  assert.ok(args.includes('ide-cd,bus=ide.1,unit=0,drive=cdrom,id=cdrom-dev,bootindex=1'), args.join(' '));
  assert.ok(args.includes('virtio-blk-pci,drive=disc11,id=disc11-dev,serial=hangar-11,bootindex=2'), args.join(' '));
  // Without an ISO there is nothing to boot from it: the disc stays first.
  const none = qemuArgs(input({ spec: spec({ bootFrom: 'cdrom' }) }));
  assert.ok(none.includes('virtio-blk-pci,drive=disc11,id=disc11-dev,serial=hangar-11,bootindex=1'));
});

test('cpu_type picks a named model of its vendor under TCG; KVM keeps the host CPU', () => {
  const cpu = (args: string[]) => (args.includes('-cpu') ? args[args.indexOf('-cpu') + 1] : null);
  assert.equal(cpu(qemuArgs(input({ spec: spec({ cpuType: 'intel' }) }))), 'Nehalem');
  assert.equal(cpu(qemuArgs(input({ spec: spec({ cpuType: 'amd' }) }))), 'Opteron_G2');
  assert.equal(cpu(qemuArgs(input({ spec: spec({ cpuType: null }) }))), null, 'QEMU\'s default CPU');
  assert.equal(cpu(qemuArgs(input({ spec: spec({ cpuType: 'amd' }), accel: 'kvm' }))), 'host');
});
