// A VNC client that does the RFB 3.8 handshake with VNC authentication (DES of the server's
// challenge under the password) and says whether the server accepted it. Run as a script
// (`node vnc.js HOST PORT PASSWORD`, printing ok / failed) so a test can run it inside a network
// namespace. DES in Node's OpenSSL 3 is only there as des-ede-ecb: with the key twice it is plain DES.
import net from 'node:net';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

/** VNC's DES key: the password's first 8 bytes, each with its bits mirrored. */
export function vncKey(password: string): Buffer {
  const key = Buffer.alloc(8);
  Buffer.from(password.slice(0, 8), 'latin1').copy(key);
  for (let i = 0; i < 8; i++) {
    let b = key[i]!;
    let r = 0;
    for (let bit = 0; bit < 8; bit++) { r = (r << 1) | (b & 1); b >>= 1; }
    key[i] = r;
  }
  return key;
}

export async function vncHandshake(host: string, port: number, password: string): Promise<'ok' | 'failed'> {
  const sock = net.createConnection({ host, port });
  let buf = Buffer.alloc(0);
  let ended: Error | null = null;
  const waiters: (() => void)[] = [];
  const wake = (): void => { waiters.splice(0).forEach((w) => w()); };
  sock.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); wake(); });
  sock.on('error', (err) => { ended = err; wake(); });
  sock.on('close', () => { ended ??= new Error('VNC: connection closed'); wake(); });
  const read = async (n: number): Promise<Buffer> => {
    const deadline = Date.now() + 5000;
    while (buf.length < n) {
      if (ended) throw ended;
      if (Date.now() > deadline) throw new Error('VNC: no answer');
      await new Promise<void>((resolve) => { waiters.push(resolve); setTimeout(resolve, 100); });
    }
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return out;
  };
  try {
    const version = (await read(12)).toString();
    if (!version.startsWith('RFB 003.')) throw new Error(`VNC: bad greeting ${version}`);
    sock.write('RFB 003.008\n');
    const count = (await read(1))[0]!;
    if (count === 0) return 'failed'; // the server refuses before authentication (its reason follows)
    const types = [...(await read(count))];
    if (!types.includes(2)) throw new Error(`VNC: no password authentication offered (${types.join(',')})`);
    sock.write(Buffer.from([2]));
    const challenge = await read(16);
    const key = vncKey(password);
    const cipher = crypto.createCipheriv('des-ede-ecb', Buffer.concat([key, key]), null);
    cipher.setAutoPadding(false);
    sock.write(Buffer.concat([cipher.update(challenge), cipher.final()]));
    return (await read(4)).readUInt32BE(0) === 0 ? 'ok' : 'failed';
  } finally {
    sock.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [host, port, password] = process.argv.slice(2);
  vncHandshake(host!, Number(port), password!).then((r) => console.log(r), (err: Error) => { console.log(`error ${err.message}`); process.exitCode = 1; });
}
