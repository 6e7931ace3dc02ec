// bw_stats and cpu_stats (S003 *Get bandwith stats*, *Get cpu stats*) from the samples the heads record
// (core/stats.ts). Periods and units: bw `-1H` 12 × 5 minutes, `-1day` 24 × 1 hour, `-1M` 30 × 1 day,
// `-1Y` 365 × 1 day; cpu `-1H` 12 × 5 minutes, `-30days` 30 × 1 day. Traffic is bytes in and out per
// interface and unit; CPU is the percent of the VM's cores used per unit. No samples: `traffic` is `{}`
// and `data` `[]`. Where the head cannot count a VM's traffic (user-mode networking) `traffic` is `{}`
// and `note` says so, rather than zeros that look measured.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Hangar } from '../../core/context.js';
import { cpuStats, readStats, RESOLUTIONS, type Resolution, type StatsBucket } from '../../core/stats.js';
import { loadVmView } from '../../core/views.js';
import { nicNetworks } from '../../core/nics.js';
import { listNetworks } from '../../core/networks.js';
import { Closed, Int, Str } from '../responses.js';
import { gigas, VmP } from './schemas.js';
import { vmOfPath } from './place.js';

const BW: Record<string, [Resolution, number]> = { '-1H': ['5m', 12], '-1day': ['1h', 24], '-1M': ['1d', 30], '-1Y': ['1d', 365] };
const CPU: Record<string, [Resolution, number, string]> = { '-1H': ['5m', 12, 'last hour'], '-30days': ['1d', 30, 'last 30 days'] };
const UNIT_WORDS: Record<Resolution, string> = { '5m': '5 minutes', '1h': '1 hour', '1d': '1 day' };

const Traffic = Type.Record(Type.String(), Type.Object({ traffic_in: Type.Number(), traffic_out: Type.Number() }));
const Interface = Closed({ network_id: Type.Union([Int, Type.Null()]), is_public: Type.Boolean(), interface_id: Int, data: Traffic });
const BwStats = Closed({
  date_from: Int, date_to: Int, traffic: Type.Union([Type.Array(Type.Array(Interface)), Closed({})]),
  note: Type.Optional(Str),
}, { $id: 'GigasBwStats', description: 'Network usage per interface and unit (bytes); traffic is {} without data' });
const CpuStats = Closed({ lapse: Str, machine_id: Int, data: Type.Array(Type.Number()), time_units: Str }, { $id: 'GigasCpuStats', description: 'CPU usage per unit (percent of the VM\'s cores); data is [] without samples' });
const BwQ = Type.Object({ period: Type.Union(Object.keys(BW).map((p) => Type.Literal(p)), { description: Object.keys(BW).join(', ') }) });
const CpuQ = Type.Object({ period: Type.Union(Object.keys(CPU).map((p) => Type.Literal(p)), { description: Object.keys(CPU).join(', ') }) });

/** The `units` buckets of `res` that end with the current one. */
function range(now: number, res: Resolution, units: number) {
  const size = RESOLUTIONS[res];
  const to = Math.floor(now / size) * size + size;
  return { resolution: res, from: to - units * size, to };
}

export function statsRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['gigas'];

    app.get('/account/:account_id/virtual_machine/:virtual_machine_id/bw_stats', { schema: { tags, summary: 'Network usage per interface (bytes in and out per unit) over a period', response: gigas(BwStats), params: VmP, querystring: BwQ } }, async (req) => {
      const at = await vmOfPath(h, req);
      const [res, units] = BW[req.query.period as string]!;
      const r = range(h.now(), res, units);
      const buckets = await readStats(h, req.principal, at, r);
      const base = { date_from: Math.floor(r.from / 1000), date_to: Math.floor(r.to / 1000) };
      const net = (b: StatsBucket) => b.rxBytes !== null || b.txBytes !== null;
      if (buckets.length > 0 && !buckets.some(net)) {
        return { ...base, traffic: {}, note: 'traffic is not measured for this VM: its head uses user-mode networking, which cannot count it' };
      }
      const view = await loadVmView(h.db, h.config.clusterDomain, at.vm.id);
      const [byNic, networks] = await Promise.all([nicNetworks(h, at), listNetworks(h, req.principal)]);
      // Per-interface samples where the head gave them; a VM with one interface has all its traffic on it.
      const perNic = buckets.some((b) => b.nicId !== null && net(b));
      const traffic = view.nics.flatMap((n) => {
        const mine = buckets.filter((b) => (perNic ? b.nicId === n.id : b.nicId === null && view.nics.length === 1) && net(b));
        if (mine.length === 0) return [];
        const data: Record<string, { traffic_in: number; traffic_out: number }> = {};
        for (let i = 0; i < units; i++) {
          const b = mine.find((x) => x.bucketStart === r.from + i * RESOLUTIONS[res]);
          data[String(i)] = { traffic_in: b?.rxBytes ?? 0, traffic_out: b?.txBytes ?? 0 };
        }
        const network = networks.find((x) => x.id === byNic.get(n.id));
        return [[{ network_id: network?.id ?? null, is_public: network?.public ?? false, interface_id: n.id, data }]];
      });
      return { ...base, traffic: traffic.length ? traffic : {} };
    });

    app.get('/account/:account_id/virtual_machine/:virtual_machine_id/cpu_stats', { schema: { tags, summary: 'CPU usage (percent of the VM\'s cores per unit) over a period', response: gigas(CpuStats), params: VmP, querystring: CpuQ } }, async (req) => {
      const at = await vmOfPath(h, req);
      const [res, units, lapse] = CPU[req.query.period as string]!;
      const r = range(h.now(), res, units);
      const rows = await cpuStats(h, req.principal, at, r);
      const data = rows.length === 0 ? [] : Array.from({ length: units }, (_, i) => rows.find((x) => x.bucketStart === r.from + i * RESOLUTIONS[res])?.percent ?? 0);
      return { lapse, machine_id: at.vm.id, data, time_units: UNIT_WORDS[res] };
    });
  };
}
