// A bridged NIC's firewall as nftables: one table per tap (`bridge hangar_<tap>`), replaced whole in
// one `nft -f` transaction, so a change never leaves the NIC half filtered. The rules see what goes
// *into* the guest through its tap: from the bridge (other guests, the outside) on the forward hook,
// from the host's own address on the bridge on the output hook.
// Stateless: bridge-family conntrack (nf_conntrack_bridge) is not on every head, so a TCP rule judges
// connection attempts (SYN without ACK) and lets the later packets of a connection through; UDP is
// judged packet by packet. Non-IP frames (ARP) and IPv6 neighbour discovery always pass.
import type { NicFirewallSpec } from '../driver.js';
import { run } from './exec.js';

export function tableName(tap: string): string {
  return `hangar_${tap.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** The `ip saddr` / `ip6 saddr` match of a rule address (core checked its syntax). */
function addressMatch(address: string): string {
  const v6 = address.includes(':');
  return `${v6 ? 'ip6' : 'ip'} saddr ${address}`;
}

function portMatch(protocol: string, port: string): string {
  const items = port.split(',').map((p) => p.replace(':', '-'));
  return `${protocol} dport ${items.length > 1 ? `{ ${items.join(', ')} }` : items[0]}`;
}

/** The nft script that replaces the tap's table with this NIC's firewall (pure; golden-tested). */
export function nftScript(tap: string, fw: NicFirewallSpec): string {
  const table = tableName(tap);
  const lines: string[] = [];
  for (const rule of fw.rules) {
    const m: string[] = [];
    if (rule.address) m.push(addressMatch(rule.address));
    if (rule.protocol && rule.port) m.push(portMatch(rule.protocol, rule.port));
    else if (rule.protocol) m.push(`meta l4proto ${rule.protocol}`);
    lines.push(`    ${[...m, rule.command].join(' ')}`);
  }
  return [
    `table bridge ${table}`,
    `delete table bridge ${table}`,
    `table bridge ${table} {`,
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    `    oifname "${tap}" jump guest`,
    '  }',
    '  chain output {',
    '    type filter hook output priority 0; policy accept;',
    `    oifname "${tap}" jump guest`,
    '  }',
    '  chain guest {',
    '    meta protocol != { ip, ip6 } accept',
    '    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept',
    '    tcp flags & (syn | ack) != syn accept',
    ...lines,
    `    ${fw.defaultPolicy}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

function nftArgs(netns: string | null): [string, string[]] {
  return netns ? ['ip', ['netns', 'exec', netns, 'nft', '-f', '-']] : ['nft', ['-f', '-']];
}

export async function applyNft(tap: string, fw: NicFirewallSpec, netns: string | null): Promise<void> {
  const [cmd, args] = nftArgs(netns);
  await run(cmd, args, { input: nftScript(tap, fw) });
}

/** Remove a tap's table (the tap is going away); nothing when there is none. */
export async function removeNft(tap: string, netns: string | null): Promise<void> {
  const table = tableName(tap);
  const [cmd, args] = nftArgs(netns);
  await run(cmd, args, { input: `table bridge ${table}\ndelete table bridge ${table}\n` }).catch(() => undefined);
}
