// The catalogues Gigas' ids point at (issue 9, G24): templates (`template_id`, the image catalogue:
// public images and the account's own), locations (`location_id`, zones), networks, and data store
// groups (`data_store_group_*_id`, storage grades). Readable by anyone who can see the account.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { Hangar } from '../../core/context.js';
import { notFound } from '../../core/errors.js';
import { listImages, type Image } from '../../core/images.js';
import { listZones, type Zone } from '../../core/zones.js';
import { listNetworks, type Network } from '../../core/networks.js';
import { listGrades, type Grade } from '../../core/grades.js';
import type { AccountRow } from '../../store/schema.js';
import { Bool, Closed, NInt, NStr, Str } from '../responses.js';
import { AccountP, gigas, page, PageQ } from './schemas.js';
import { gigasAccount } from './place.js';

const Template = Closed({
  id: Str, label: Str, backup_id: NStr, public: Bool, status: Str, template_size: NInt,
  operating_system: NStr, operating_system_distro: NStr, operating_system_edition: NStr, operating_system_arch: NStr, clone_id: NStr,
}, { $id: 'GigasTemplate', description: 'A template (an image of the catalogue); template_size in GB' });
export const TemplateQueued = Closed({ ...Template.properties, queue_token: Str }, { $id: 'GigasTemplateQueued', description: 'The new template (pending), and the operation that makes it' });
const Location = Closed({ id: Str, label: Str, name: Str, region: Str, available: Bool }, { $id: 'GigasLocation', description: 'A location (a zone)' });
const GigasNetwork = Closed({
  id: Str, label: Str, vlan: Type.Integer(), network_group_id: NStr, status: Str, multidatacenter: Bool, public: Bool,
}, { $id: 'GigasNetwork', description: 'A network: the public one, or the account\'s private VLAN' });
const DataStoreGroup = Closed({ id: Str, label: Str, name: Str, default: Bool }, { $id: 'GigasDataStoreGroup', description: 'A data store group (a storage grade)' });

const Filter = (description: string) => Type.Optional(Type.String({ maxLength: 255, description }));
const TemplateQ = Type.Object({
  label: Filter('templates whose label contains this'), public: Type.Optional(Type.String({ pattern: '^(true|false|1|0)$' })),
  operating_system: Filter('exact'), operating_system_distro: Filter('exact'), operating_system_edition: Filter('exact'),
  operating_system_arch: Filter('exact'), status: Type.Optional(Type.Union(['inactive', 'active', 'pending'].map((s) => Type.Literal(s)))),
  clone_id: Filter('exact'), ...PageQ,
});
const NetworkQ = Type.Object({
  id: Filter('the network id'), vlan: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })), network_group_id: Filter('exact (no network here has one)'),
  type: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('private')])), console_id: Filter('accepted, matches nothing'), ...PageQ,
});
const ListQ = Type.Object({ ...PageQ });
const NoQ = Type.Object({});
const TemplateP = Type.Object({ ...AccountP.properties, template_id: Type.String({ maxLength: 64 }) });
const LocationP = Type.Object({ ...AccountP.properties, location_id: Type.String({ maxLength: 64 }) });
const NetworkP = Type.Object({ ...AccountP.properties, network_id: Type.String({ maxLength: 64 }) });
const GroupP = Type.Object({ ...AccountP.properties, data_store_group_id: Type.String({ maxLength: 64 }) });

/** The public catalogue and this account's own images (a cluster admin's other accounts' are not this account's). */
export async function templatesOf(h: Hangar, p: Parameters<typeof listImages>[1], account: AccountRow): Promise<Image[]> {
  return (await listImages(h, p)).filter((i) => i.ownerAccountId === null || i.ownerAccountId === account.id);
}

export function presentTemplate(i: Image): Static<typeof Template> {
  return {
    id: String(i.id), label: i.label, backup_id: null, public: i.ownerAccountId === null, status: i.status,
    template_size: i.defaultDiscMiB === null ? null : Math.ceil(i.defaultDiscMiB / 1024),
    operating_system: i.operatingSystem, operating_system_distro: i.distro, operating_system_edition: null, operating_system_arch: 'x86_64', clone_id: null,
  };
}

const location = (z: Zone): Static<typeof Location> => ({ id: String(z.id), label: z.label, name: z.name, region: z.region, available: z.available });
const network = (n: Network): Static<typeof GigasNetwork> => ({
  id: String(n.id), label: n.label, vlan: n.vlanNum, network_group_id: null, status: 'active', multidatacenter: n.zoneId === null, public: n.public,
});
const dataStoreGroup = (g: Grade): Static<typeof DataStoreGroup> => ({ id: String(g.id), label: g.description, name: g.name, default: g.isDefault });

/** The networks of the account: the public ones and its own private VLANs. */
export async function networksOf(h: Hangar, p: Parameters<typeof listNetworks>[1], account: AccountRow): Promise<Network[]> {
  return (await listNetworks(h, p)).filter((n) => n.public || n.accountId === account.id);
}

function one<T extends { id: string }>(items: T[], id: string, entity: string): T {
  const hit = items.find((i) => i.id === id);
  if (!hit) throw notFound(entity);
  return hit;
}

export function catalogueRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['gigas'];

    app.get('/account/:account_id/templates', { schema: { tags, summary: 'Templates: the public catalogue and the account\'s own images', response: gigas(Type.Array(Template)), params: AccountP, querystring: TemplateQ } }, async (req, reply) => {
      const q = req.query;
      const all = (await templatesOf(h, req.principal, await gigasAccount(h, req, req.params.account_id))).map(presentTemplate);
      const eq = (v: unknown, want: string | undefined) => want === undefined || String(v) === want;
      const shown = all.filter((t) => (q.label === undefined || t.label.toLowerCase().includes(q.label.toLowerCase()))
        && (q.public === undefined || t.public === /^(true|1)$/.test(q.public)) && eq(t.operating_system, q.operating_system)
        && eq(t.operating_system_distro, q.operating_system_distro) && eq(t.operating_system_edition, q.operating_system_edition)
        && eq(t.operating_system_arch, q.operating_system_arch) && eq(t.status, q.status) && eq(t.clone_id, q.clone_id));
      return page(reply, shown, q);
    });
    app.get('/account/:account_id/template/:template_id', { schema: { tags, summary: 'A template', response: gigas(Template), params: TemplateP, querystring: NoQ } }, async (req) => {
      const all = (await templatesOf(h, req.principal, await gigasAccount(h, req, req.params.account_id))).map(presentTemplate);
      return one(all, req.params.template_id, 'template');
    });

    app.get('/account/:account_id/locations', { schema: { tags, summary: 'Locations (zones): `location_id` of a create', response: gigas(Type.Array(Location)), params: AccountP, querystring: ListQ } }, async (req, reply) => {
      await gigasAccount(h, req, req.params.account_id);
      return page(reply, (await listZones(h)).map(location), req.query);
    });
    app.get('/account/:account_id/location/:location_id', { schema: { tags, summary: 'A location', response: gigas(Location), params: LocationP, querystring: NoQ } }, async (req) => {
      await gigasAccount(h, req, req.params.account_id);
      return one((await listZones(h)).map(location), req.params.location_id, 'location');
    });

    app.get('/account/:account_id/networks', { schema: { tags, summary: 'Networks: the public one and the account\'s private VLANs', response: gigas(Type.Array(GigasNetwork)), params: AccountP, querystring: NetworkQ } }, async (req, reply) => {
      const q = req.query;
      const all = (await networksOf(h, req.principal, await gigasAccount(h, req, req.params.account_id))).map(network);
      const shown = all.filter((n) => (q.id === undefined || n.id === q.id) && (q.vlan === undefined || n.vlan === Number(q.vlan))
        && (q.network_group_id === undefined || n.network_group_id === q.network_group_id) && q.console_id === undefined
        && (q.type === undefined || n.public === (q.type === 'public')));
      return page(reply, shown, q);
    });
    app.get('/account/:account_id/network/:network_id', { schema: { tags, summary: 'A network', response: gigas(GigasNetwork), params: NetworkP, querystring: NoQ } }, async (req) => {
      const all = (await networksOf(h, req.principal, await gigasAccount(h, req, req.params.account_id))).map(network);
      return one(all, req.params.network_id, 'network');
    });

    app.get('/account/:account_id/data_store_groups', { schema: { tags, summary: 'Data store groups (storage grades): `data_store_group_*_id` of a create', response: gigas(Type.Array(DataStoreGroup)), params: AccountP, querystring: ListQ } }, async (req, reply) => {
      await gigasAccount(h, req, req.params.account_id);
      return page(reply, (await listGrades(h)).map(dataStoreGroup), req.query);
    });
    app.get('/account/:account_id/data_store_group/:data_store_group_id', { schema: { tags, summary: 'A data store group', response: gigas(DataStoreGroup), params: GroupP, querystring: NoQ } }, async (req) => {
      await gigasAccount(h, req, req.params.account_id);
      return one((await listGrades(h)).map(dataStoreGroup), req.params.data_store_group_id, 'data_store_group');
    });
  };
}
