// Plays flanneld's part for the interop test, inside one rig host: reads
// net-conf and the leases from etcd and configures a kernel `flannel.1` the
// way flannel's vxlan backend does (pkg/backend/vxlan/vxlan_network.go),
// then publishes its own lease in flannel's shape. Nothing of weft's code is
// used for the kernel side, so this checks weft against flannel's layout,
// not against itself.
//
//   node flanneld-sim.js ENDPOINT PREFIX PUBLIC_IP SUBNET VTEP_MAC
//
// Prints "t0 MS" just before the lease is written (the start of the
// convergence measurement) and "done" at the end.

import { execFileSync } from 'node:child_process';
import { Etcd3 } from 'etcd3';

const [endpoint, prefix, publicIp, subnet, mac] = process.argv.slice(2);
const [net, len] = subnet.split('/');
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
const client = new Etcd3({ hosts: endpoint });
try {
  const conf = JSON.parse((await client.get(`${prefix}/config`).string())!) as { Backend: { VNI?: number; Port?: number } };
  const vni = conf.Backend.VNI ?? 1, port = conf.Backend.Port ?? 8472;

  // The device: no learning; every neighbour and forwarding entry is put in by hand.
  sh('ip', ['link', 'add', 'flannel.1', 'type', 'vxlan', 'id', String(vni), 'local', publicIp, 'dev', 'eth0', 'nolearning', 'dstport', String(port)]);
  sh('ip', ['link', 'set', 'flannel.1', 'address', mac, 'mtu', '1450', 'up']);
  sh('ip', ['addr', 'add', `${net}/32`, 'dev', 'flannel.1']);

  // Every other lease: neighbour, forwarding entry, onlink route.
  const leases = await client.getAll().prefix(`${prefix}/subnets/`).strings();
  for (const [key, value] of Object.entries(leases)) {
    const sn = key.slice(`${prefix}/subnets/`.length).replace('-', '/');
    if (sn === subnet) continue;
    const a = JSON.parse(value) as { PublicIP: string; BackendData: { VtepMAC: string } };
    const gw = sn.split('/')[0];
    sh('ip', ['neigh', 'replace', gw, 'lladdr', a.BackendData.VtepMAC, 'dev', 'flannel.1', 'nud', 'permanent']);
    sh('bridge', ['fdb', 'replace', a.BackendData.VtepMAC, 'dev', 'flannel.1', 'dst', a.PublicIP, 'self', 'permanent']);
    sh('ip', ['route', 'replace', sn, 'via', gw, 'dev', 'flannel.1', 'onlink']);
  }

  // Our lease, as flanneld writes it: flannel's JSON on a 24 h etcd lease.
  const value = JSON.stringify({ PublicIP: publicIp, BackendType: 'vxlan', BackendData: { VNI: vni, VtepMAC: mac } });
  const grant = await client.leaseClient.leaseGrant({ TTL: 86400, ID: 0 });
  process.stdout.write(`t0 ${Date.now()}\n`);
  await client.put(`${prefix}/subnets/${net}-${len}`).value(value).lease(grant.ID);
  process.stdout.write('done\n');
} finally {
  client.close();
}
