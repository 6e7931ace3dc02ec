// The `hangar` command.
import path from 'node:path';
import fsp from 'node:fs/promises';
import os from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { startHangar } from '../brain/start.js';
import { makeLogger } from '../core/log.js';
import { bootstrap } from '../brain/bootstrap.js';
import { resolveTls, tlsPlan } from '../brain/tls.js';
import { gradeSpace, makeDriver, positiveInteger } from './make-driver.js';
import { allowList } from '../core/config.js';
import { adminCommands } from './admin.js';
import { buildableImages, buildImage, listBuiltImages } from '../images/build.js';

function listen(value: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(value);
  const port = Number(m?.[2]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:8080');
  return { host: m[1] || '127.0.0.1', port };
}

export function dataDirOption(cmd: Command): Command {
  return cmd.option('--data <dir>', 'data directory (SQLite store, images, VM discs, runtime files)', process.env.HANGAR_DATA ?? path.join(process.cwd(), '.data'));
}

const program = new Command('hangar').description('Hangar: a self-hosted cloud-server control plane speaking the BigV API').version('0.1.0');

dataDirOption(program.command('server'))
  .description('run the API server (brain) with an embedded head on this machine')
  .option('--listen <host:port>', 'address to serve on (HTTPS unless it is loopback without --tls)', listen, listen(process.env.HANGAR_LISTEN ?? '127.0.0.1:8080'))
  .option('--tls-cert <file>', 'PEM certificate (leaf first, then intermediates) to serve HTTPS with', process.env.HANGAR_TLS_CERT || undefined)
  .option('--tls-key <file>', 'PEM private key of --tls-cert', process.env.HANGAR_TLS_KEY || undefined)
  .option('--tls', 'serve HTTPS on a loopback address too (self-signed under <data>/tls unless --tls-cert is given)', /^(1|true|yes|on)$/i.test(process.env.HANGAR_TLS ?? ''))
  .option('--tls-names <list>', 'more DNS names or addresses for the generated certificate, comma-separated', (v: string) => v.split(',').map((n) => n.trim()).filter(Boolean),
    (process.env.HANGAR_TLS_NAMES ?? '').split(',').map((n) => n.trim()).filter(Boolean))
  .option('--database <url>', 'postgres://... to keep state in PostgreSQL (default: SQLite under --data)', process.env.HANGAR_DATABASE_URL)
  .option('--driver <kind>', 'hypervisor driver of the embedded head: qemu or fake', process.env.HANGAR_DRIVER ?? 'qemu')
  // The fake head's size, so benchmarks and users never edit the store by hand (re-read on every start).
  .addOption(new Option('--fake-cores <n>', 'cores of the fake head (VMs may claim 4 times as many)').env('HANGAR_FAKE_CORES').argParser(positiveInteger))
  .addOption(new Option('--fake-memory <MiB>', 'memory of the fake head').env('HANGAR_FAKE_MEMORY').argParser(positiveInteger))
  .addOption(new Option('--fake-grade <grade=MiB>', 'disc space of one storage grade on the fake head (repeatable; the env var takes a comma-separated list)')
    .env('HANGAR_FAKE_GRADES').argParser(gradeSpace))
  .option('--head <label>', 'label of the embedded head', process.env.HANGAR_HEAD_LABEL ?? 'head1')
  .option('--zone <zone>', 'zone of the embedded head', process.env.HANGAR_ZONE ?? 'default')
  .option('--bridge <name>', 'attach guest NICs to this bridge (default: user-mode networking with an SSH forward)', process.env.HANGAR_BRIDGE)
  .option('--auth-prefix <path>', 'also serve the auth endpoint under this path prefix', '/auth')
  .option('--iso-dir <dir>', 'ISO library: the only place file:// cdrom_urls may name (default: <data>/isos)', process.env.HANGAR_ISO_DIR)
  .option('--url-allow <list>', 'internal hosts, addresses and CIDRs that URLs handed to heads may reach (comma-separated)', process.env.HANGAR_URL_ALLOW)
  .action(async (o) => {
    if (o.driver !== 'qemu' && o.driver !== 'fake') throw new InvalidArgumentError('--driver must be qemu or fake');
    if (o.driver !== 'fake' && [o.fakeCores, o.fakeMemory, o.fakeGrade].some((v) => v !== undefined)) {
      throw new InvalidArgumentError('--fake-cores, --fake-memory and --fake-grade (HANGAR_FAKE_*) size the fake driver\'s head: use them with --driver fake');
    }
    // Everything the server and the tools it runs create is its own alone (file modes are also set
    // where files are made; this catches the rest).
    process.umask(0o077);
    const log = makeLogger();
    const dataDir = path.resolve(o.data);
    // TLS first: a bad certificate or key stops the start before anything else runs.
    const tls = await resolveTls(tlsPlan({ host: o.listen.host, certFile: o.tlsCert, keyFile: o.tlsKey, force: o.tls, names: o.tlsNames }), {
      dataDir, host: o.listen.host, onRenew: (reason) => log.warn({ reason }, 'generating a new self-signed TLS certificate: the old one cannot be reused'),
    });
    const imagesDir = path.join(dataDir, 'images');
    const urls = { isoDir: path.resolve(o.isoDir ?? path.join(dataDir, 'isos')), allow: allowList(o.urlAllow) };
    await fsp.mkdir(urls.isoDir, { recursive: true });
    const driver = await makeDriver(o.driver, { dataDir, imagesDir, log, urls, fake: { cores: o.fakeCores, memory: o.fakeMemory, grades: o.fakeGrade } });
    const running = await startHangar({
      storeUrl: o.database ?? path.join(dataDir, 'hangar.sqlite'), dataDir, log, authPrefix: o.authPrefix, config: { urls }, tls: tls ?? undefined,
      heads: [{
        driver, label: o.head, zone: o.zone, managementAddress: o.listen.host === '0.0.0.0' ? os.hostname() : o.listen.host,
        network: o.bridge ? { mode: 'bridge', bridge: o.bridge } : { mode: 'user' },
      }],
    });
    const first = await bootstrap(running.hangar);
    const address = await running.app.listen({ host: o.listen.host, port: o.listen.port });
    // The fingerprint on every start (before the log line that says it serves), so users can check what clients see.
    if (tls) {
      const what = tls.generated === 'new' ? 'generated a self-signed certificate' : tls.generated === 'reused' ? 'self-signed certificate' : 'certificate';
      process.stdout.write([
        `HTTPS: ${what} ${tls.certFile}`,
        `  SHA-256 fingerprint ${tls.fingerprint}`,
        ...(tls.generated ? [`  trust it with SSL_CERT_FILE=${tls.certFile} (bytemark, docker-machine), REQUESTS_CA_BUNDLE=${tls.certFile} (bigv-python), curl --cacert`] : []),
      ].join('\n') + '\n');
    }
    log.info({ address, data: dataDir, driver: o.driver, isoDir: urls.isoDir, urlAllow: urls.allow, ...(tls ? { cert: tls.certFile, fingerprint: tls.fingerprint } : {}) }, 'hangar is serving');
    const curl = tls?.generated ? `curl --cacert ${tls.certFile}` : 'curl';
    if (first) {
      const lines = [
        '',
        `Hangar is serving the BigV API at ${address} (auth endpoint: ${address}/session)`,
        `Cluster admin: ${first.username}${first.password ? `  password: ${first.password}  (generated; set HANGAR_ADMIN_PASSWORD to choose)` : ' (password from HANGAR_ADMIN_PASSWORD)'}`,
        ...(first.account ? [`Demo account: ${first.account} (group: default)`] : []),
        `Try: TOKEN=$(${curl} -s -d username=${first.username} -d password=... ${address}/session)`,
        `     ${curl} -H "Authorization: Bearer $TOKEN" ${address}/accounts?view=overview`,
        '',
      ];
      process.stdout.write(lines.join('\n') + '\n');
    }
    const stop = async () => {
      log.info('stopping (guests keep running and are adopted on the next start)');
      await running.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
  });

const images = program.command('images').description('OS images for reimage (BigV distributions)');
dataDirOption(images.command('build'))
  .description('build an image from Debian packages (tiny: busybox + dropbear, seconds; bookworm: Debian 12, minutes)')
  .argument('<name>', `image name (${buildableImages().join(', ')}; aliases such as stretch build bookworm)`)
  .option('--images <dir>', 'images directory (default: <data>/images)')
  .option('--force', 'rebuild even if it exists')
  .action(async (name: string, o) => {
    const imagesDir = path.resolve(o.images ?? path.join(o.data, 'images'));
    const started = Date.now();
    const result = await buildImage(name, { imagesDir, force: !!o.force, log: (line: string) => process.stderr.write(`${line}\n`) });
    process.stdout.write(`${name}: ${result.dir} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  });
dataDirOption(images.command('list'))
  .description('list built images')
  .option('--images <dir>', 'images directory (default: <data>/images)')
  .action(async (o) => {
    for (const m of await listBuiltImages(path.resolve(o.images ?? path.join(o.data, 'images')))) {
      process.stdout.write(`${m.name}\t${m.description}\t${m.builtAt}\n`);
    }
  });

adminCommands(program);

program.parseAsync(process.argv).catch((err) => {
  process.stderr.write(`hangar: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
