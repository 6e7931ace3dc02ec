// A writer for the "newc" cpio format the kernel unpacks as an initramfs. Writing the archive
// ourselves means device nodes (/dev/console) and root ownership without being root or using cpio(1).
import { gzipSync } from 'node:zlib';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

export class CpioWriter {
  private readonly chunks: Buffer[] = [];
  private ino = 1;
  private readonly names = new Set<string>();
  private finished = false;

  constructor(private readonly mtime = 0) {}

  private entry(name: string, mode: number, data: Buffer, rdev: [number, number] = [0, 0]): void {
    if (this.finished) throw new Error('cpio archive already finished');
    const clean = name.replace(/^\/+/, '');
    if (clean === '' || this.names.has(clean)) throw new Error(`cpio: bad or duplicate entry "${name}"`);
    this.names.add(clean);
    const nameBuf = Buffer.from(clean + '\0', 'utf8');
    const header =
      '070701' +
      hex8(this.ino++) +
      hex8(mode) +
      hex8(0) + // uid
      hex8(0) + // gid
      hex8((mode & S_IFDIR) === S_IFDIR ? 2 : 1) +
      hex8(this.mtime) +
      hex8(data.length) +
      hex8(0) +
      hex8(0) +
      hex8(rdev[0]) +
      hex8(rdev[1]) +
      hex8(nameBuf.length) +
      hex8(0);
    const head = Buffer.concat([Buffer.from(header, 'ascii'), nameBuf]);
    this.chunks.push(head, Buffer.alloc(pad4(head.length)), data, Buffer.alloc(pad4(data.length)));
  }

  dir(name: string, perm = 0o755): this {
    this.entry(name, S_IFDIR | perm, Buffer.alloc(0));
    return this;
  }

  file(name: string, data: Buffer | string, perm = 0o644): this {
    this.entry(name, S_IFREG | perm, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    return this;
  }

  symlink(name: string, target: string): this {
    this.entry(name, S_IFLNK | 0o777, Buffer.from(target, 'utf8'));
    return this;
  }

  charDevice(name: string, major: number, minor: number, perm = 0o600): this {
    this.entry(name, S_IFCHR | perm, Buffer.alloc(0), [major, minor]);
    return this;
  }

  has(name: string): boolean {
    return this.names.has(name.replace(/^\/+/, ''));
  }

  /** The archive, with its trailer. */
  finish(): Buffer {
    if (!this.finished) {
      this.ino = 0;
      const trailer = '070701' + hex8(0) + hex8(0) + hex8(0) + hex8(0) + hex8(1) + hex8(0) + hex8(0) +
        hex8(0) + hex8(0) + hex8(0) + hex8(0) + hex8('TRAILER!!!\0'.length) + hex8(0) + 'TRAILER!!!\0';
      this.chunks.push(Buffer.from(trailer, 'ascii'), Buffer.alloc(pad4(trailer.length)));
      this.finished = true;
    }
    const out = Buffer.concat(this.chunks);
    // The kernel reads in 512-byte blocks; pad like cpio(1) does.
    return Buffer.concat([out, Buffer.alloc((512 - (out.length % 512)) % 512)]);
  }

  finishGzip(): Buffer {
    return gzipSync(this.finish(), { level: 6 });
  }
}
