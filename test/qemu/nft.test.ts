// The nftables scripts the QEMU driver loads (pure functions): a NIC's firewall and its rate limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nftScript } from '../../src/drivers/qemu/firewall.js';
import { rateLimitScript } from '../../src/drivers/qemu/limits.js';

test('a NIC firewall: one table per tap, replaced whole; rules in order, then the default policy', () => {
  const script = nftScript('hg5n0', {
    nicId: 1, defaultPolicy: 'drop', rules: [
      { command: 'accept', protocol: 'tcp', address: '192.0.2.0/24', port: '22,8000:8080' },
      { command: 'drop', protocol: 'udp', address: '2001:db8::1', port: '53' },
      { command: 'accept', protocol: 'udp', address: null, port: null },
      { command: 'accept', protocol: null, address: '10.0.0.1-10.0.0.9', port: null },
    ],
  });
  assert.equal(script, [
    'table bridge hangar_hg5n0',
    'delete table bridge hangar_hg5n0',
    'table bridge hangar_hg5n0 {',
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    '    oifname "hg5n0" jump guest',
    '  }',
    '  chain output {',
    '    type filter hook output priority 0; policy accept;',
    '    oifname "hg5n0" jump guest',
    '  }',
    '  chain guest {',
    '    meta protocol != { ip, ip6 } accept',
    '    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept',
    '    tcp flags & (syn | ack) != syn accept',
    '    ip saddr 192.0.2.0/24 tcp dport { 22, 8000-8080 } accept',
    '    ip6 saddr 2001:db8::1 udp dport 53 drop',
    '    meta l4proto udp accept',
    '    ip saddr 10.0.0.1-10.0.0.9 accept',
    '    drop',
    '  }',
    '}',
    '',
  ].join('\n'));
});

test('a rate limit polices what the guest sends; none removes the table', () => {
  assert.match(rateLimitScript('hg5n0', 8), /iifname "hg5n0" limit rate over 1000 kbytes\/second burst 64 kbytes drop/);
  assert.equal(rateLimitScript('hg5n0', null), 'table bridge hangar_rl_hg5n0\ndelete table bridge hangar_rl_hg5n0\n');
});
