// The fuzz campaign in CI: two million random and mutated packets through
// decap (datagrams, and whole underlay frames through the outer parser) and
// the TAP side (virtio-net headers, TCP/UDP super-frames, checksum
// completion) into encap and the ICMP answers to frames too big, with the
// TAP write side behind both; on VTEPs with roomy tables, tight ones, and
// the source allow-list and broadcast budget on. No exception
// may escape, every packet is counted exactly once, and good traffic still
// forwards afterwards. test/helpers/fuzz.ts describes the campaign; `npm run
// fuzz` runs a longer one (FUZZ_PACKETS, FUZZ_SEED).
//
// FUZZ_CI_PACKETS and FUZZ_SEED override the size and seed here too, to
// replay a failure: the same seed and count give the same packets.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCampaign } from '../helpers/fuzz.js';

const PACKETS = Number(process.env.FUZZ_CI_PACKETS ?? 2_000_000);
const SEED = Number(process.env.FUZZ_SEED ?? 7);

test(`fuzz: ${PACKETS.toLocaleString('en')} packets (seed ${SEED}) — no crash, every packet counted once, good traffic after`, () => {
  const r = runCampaign({ packets: PACKETS, seed: SEED });
  const rate = Math.round(r.packets / (r.ms / 1000));
  process.stdout.write(`\n  fuzzed ${r.packets} packets in ${(r.ms / 1000).toFixed(1)} s (${rate}/s; decap ${r.byPath.decap}, outer ${r.byPath.outer}, tap-read ${r.byPath['tap-read']}); crashes ${r.crashes.length}, problems ${r.problemCount}\n`);
  for (const c of r.crashes) process.stdout.write(`  crash (${c.path}, batch ${c.batch}): ${c.error}\n    input ${c.input.subarray(0, 64).toString('hex')}…\n`);
  assert.ok(r.packets >= PACKETS);
  assert.is(r.crashes.length, 0, 'crashes');
  assert.equal(r.problems, [], 'counting or well-formedness problems');
  assert.equal(r.goodAfter, [], 'good traffic after the campaign');
  // The campaign reached the paths it means to: every drop reason decap has
  // for a packet on its own, and the offload paths.
  const c = r.counters;
  for (const k of ['rx_frames', 'rx_drop_too_short', 'rx_drop_truncated', 'rx_drop_no_i_flag', 'rx_drop_reserved_bits', 'rx_drop_unknown_vni',
    'rx_drop_bad_src_mac', 'rx_drop_own_mac', 'rx_drop_static_conflict', 'rx_drop_fdb_full', 'rx_drop_peer_table_full',
    'rx_drop_unknown_source', 'tx_unicast', 'tx_flooded', 'tx_drop_too_short', 'tx_drop_too_big', 'tx_drop_bum_rate',
    'icmp_too_big_sent', 'icmp_too_big_limited', 'fdb_learned', 'fdb_moved']) {
    assert.ok(c[k] > 0, `${k} never counted: ${JSON.stringify(c)}`);
  }
  for (const k of ['vxlan_datagrams', 'truncated', 'bad_ip_checksum', 'not_our_port', 'bad_udp_checksum', 'udp_csum_partial']) {
    assert.ok(r.outer[k] > 0, `outer ${k} never counted: ${JSON.stringify(r.outer)}`);
  }
  assert.ok(r.tap.superFramesIn > 0 && r.tap.segmentsOut > r.tap.superFramesIn && r.tap.csumCompletedIn > 0 && r.tap.badIn > 0, JSON.stringify(r.tap));
  assert.is(r.tap.lost, 0, 'segments dropped uncounted');
  assert.ok(r.tapWrite.coalesced > 0 && r.tapWrite.csumMarkedOut > 0 && r.tapWrite.refused > 0, JSON.stringify(r.tapWrite));
});

test.run();
