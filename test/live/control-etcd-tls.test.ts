// etcd behind TLS with client certificates, as a flannel operator runs it:
// certificates made here with openssl; etcd demands a client certificate
// signed by our CA. Two wefts take leases over https:// and reach each
// other; each mistake an operator makes (the wrong CA, a missing key, a
// certificate etcd does not trust, none at all, an address the server's
// certificate does not name, TLS to the wrong scheme) ends a third weft
// with exit 1 and one line saying which; and an outage of the TLS etcd is
// survived as the plain one is (control-etcd-outage), though shorter.
//
//   h1, h2, h3: weft ── 198.18.0.0/24 ── etcd https://198.18.0.254:2379 (also .253, a name its certificate lacks)

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, waitFor, type Proc } from '../helpers/rig.js';
import { Etcd, routesConverged } from '../helpers/etcd.js';
import { makeCerts, type TestCerts } from '../helpers/tls-certs.js';
import { WEFT, tempDir } from '../helpers/paths.js';

const PREFIX = '/coreos.com/network';
const OUTAGE_MS = 10_000;
let rig: Rig;
let etcd: Etcd;
let certs: TestCerts;
let tmp: { dir: string; done: () => void };
const w: Proc[] = [];
const subnet: string[] = [];
const gw = (sn: string) => sn.split('/')[0];
const base = (i: number) => ['--local', rig.underlay(i), '--subnet-file', join(tmp.dir, `h${i}.env`)];
const good = () => ['--etcd-endpoints', etcd.endpoint, '--etcd-cafile', certs.ca, '--etcd-certfile', certs.client, '--etcd-keyfile', certs.clientKey];

test.before(async () => {
  rig = Rig.up(3);
  tmp = tempDir('etcd-tls');
  certs = makeCerts(tmp.dir, '198.18.0.254');
  etcd = await Etcd.start(rig, { certs, clientCertAuth: true, alsoListen: ['198.18.0.253'] });
  etcd.put(`${PREFIX}/config`, '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}');
});
test.after(async () => {
  rig.down();
  await etcd?.done();
  tmp?.done();
});

test('two wefts take leases over TLS with client certificates and reach each other', async () => {
  assert.ok(etcd.endpoint.startsWith('https://'));
  for (const i of [1, 2]) {
    w[i] = await rig.weft(i, [...good(), ...base(i)], 20_000);
    subnet[i] = /"msg":"lease (\S+) in /.exec(w[i].stderr())![1];
  }
  await routesConverged(rig, [1, 2], subnet);
  assert.is(ping(rig, 1, gw(subnet[2]), 2).received, 2);
  assert.is(ping(rig, 2, gw(subnet[1]), 2).received, 2);
  assert.is(etcd.list(`${PREFIX}/subnets/`).length, 2);
});

/** Runs weft in h3 with `args`; it must exit 1 with one line matching `re`. */
function refused(args: string[], re: RegExp): void {
  const r = rig.try(3, [process.execPath, WEFT, 'run', ...args, ...base(3)], 30_000);
  const lines = r.err.trim().split('\n').filter((l) => !/"level"/.test(l));
  assert.is(r.status, 1, `exit status for ${re}: ${r.err}`);
  assert.is(lines.length, 1, `one line: ${r.err}`);
  assert.match(lines[0], re, lines[0]);
}

test('each mistake ends weft with exit 1 and the line that names it', () => {
  const g = good();
  const swap = (flag: string, v: string) => g.map((x, k) => (g[k - 1] === flag ? v : x));
  const drop = (flag: string) => g.filter((x, k) => x !== flag && g[k - 1] !== flag);
  refused(swap('--etcd-cafile', certs.ca2), /^weft: etcd https:\/\/198\.18\.0\.254:2379 \S+: cannot read the network configuration: etcd's certificate is not signed by --etcd-cafile \S+ca2\.crt: check --etcd-cafile/);
  refused(swap('--etcd-keyfile', join(tmp.dir, 'missing.key')), /^weft: --etcd-keyfile \S+missing\.key: cannot read it \(ENOENT\)$/);
  refused(swap('--etcd-keyfile', certs.strangerKey), /^weft: --etcd-keyfile \S+stranger\.key: not the key of --etcd-certfile/);
  refused([...swap('--etcd-certfile', certs.stranger).map((x) => (x === certs.clientKey ? certs.strangerKey : x))],
    /cannot read the network configuration: etcd refused our client certificate --etcd-certfile \S+stranger\.crt: it is not signed by a CA etcd trusts/);
  refused(drop('--etcd-certfile').filter((x, k, a) => x !== '--etcd-keyfile' && a[k - 1] !== '--etcd-keyfile'),
    /cannot read the network configuration: etcd wants a client certificate: give --etcd-certfile and --etcd-keyfile$/);
  refused(swap('--etcd-endpoints', etcd.url('198.18.0.253')),
    /etcd's certificate does not name the endpoint \(IP: 198\.18\.0\.253 is not in the cert's list: 198\.18\.0\.254\): give --etcd-endpoints a name or address the certificate holds/);
  refused(['--etcd-endpoints', 'http://198.18.0.254:2379'], /cannot read the network configuration: the endpoint did not answer as a plain etcd \(a TLS etcd\?\): write it as https:\/\//);
  // None of those took a lease.
  assert.is(etcd.list(`${PREFIX}/subnets/`).length, 2);
});

test('the TLS etcd down for 10 s: pings keep flowing; back, a new host is programmed by both', async () => {
  await etcd.stop();
  const t0 = Date.now();
  const pinger = rig.spawn(1, ['ping', '-c', String(OUTAGE_MS / 500 - 2), '-i', '0.5', '-W', '1', gw(subnet[2])]);
  await waitFor(() => /lease store unreachable/.test(w[1].stderr()) && /lease store unreachable/.test(w[2].stderr()), 15_000, 'both wefts to log the outage');
  await pinger.exited;
  const m = /(\d+) packets transmitted, (\d+) received/.exec(pinger.stdout());
  assert.ok(m, pinger.stdout());
  assert.is(Number(m![2]), Number(m![1]), `lost pings during the outage: ${m![0]}`);
  await waitFor(() => Date.now() - t0 >= OUTAGE_MS, OUTAGE_MS + 1000, 'the outage to last');
  await etcd.start();
  w[3] = await rig.weft(3, [...good(), ...base(3)], 20_000);
  subnet[3] = /"msg":"lease (\S+) in /.exec(w[3].stderr())![1];
  for (const i of [1, 2]) {
    await waitFor(() => /lease store reachable again; resynced/.test(w[i].stderr()), 20_000, `h${i} to resync`);
    await waitFor(() => rig.exec(i, ['ip', 'route', 'show', 'dev', 'weft0']).includes(subnet[3]), 20_000, `h${i} to route to h3`);
    assert.is(ping(rig, i, gw(subnet[3]), 2).received, 2, `h${i} → h3`);
  }
  for (const i of [1, 2, 3]) {
    assert.ok(w[i].child.exitCode === null, `h${i} still running`);
    // stderr stays JSON lines: no warning from the TLS stack slipped in.
    for (const l of w[i].stderr().trim().split('\n')) assert.ok(l.startsWith('{'), `not JSON: ${l}`);
  }
});

test.run();
