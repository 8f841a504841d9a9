// Plays a dual-stack flanneld for the live test control-dual, inside one rig
// host: reads net-conf and the leases from etcd and configures the two kernel
// devices flannel's vxlan backend makes when EnableIPv6 is on
// (pkg/backend/vxlan/vxlan.go, vxlan_network.go) — `flannel.<VNI>` for IPv4
// on the IPv4 underlay and `flannel-v6.<VNI>` for IPv6 on the IPv6 underlay,
// each with its own MAC, no learning, and per remote lease a permanent
// neighbour, a permanent forwarding entry to that side's public address and
// an onlink route — then publishes its own lease in flannel's dual-stack
// shape. Nothing of weft's code is used, so this checks weft against
// flannel's layout, not against itself.
//
//   node flanneld-dual-sim.js ENDPOINT PREFIX PUBLIC_IP PUBLIC_IPV6 SUBNET SUBNET6 MAC MAC6
//
// Prints "t0 MS" just before the lease is written (the start of the
// convergence measurement) and "done" at the end. One difference from
// flanneld: the /128 goes on with `nodad`, so the test does not wait out
// duplicate address detection (the address is the same).

import { execFileSync } from 'node:child_process';
import { Etcd3 } from 'etcd3';

const [endpoint, prefix, publicIp, publicIpv6, subnet, subnet6, mac, mac6] = process.argv.slice(2);
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
// flannel's ParseSubnetKey (pkg/subnet/subnet.go): an IPv4 part, then an optional `&` and an IPv6 part.
const KEY = /(\d+\.\d+.\d+.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?$/;
const client = new Etcd3({ hosts: endpoint });
try {
  const conf = JSON.parse((await client.get(`${prefix}/config`).string())!) as { Backend: { VNI?: number; Port?: number } };
  const vni = conf.Backend.VNI ?? 1, port = conf.Backend.Port ?? 8472;
  const dev4 = `flannel.${vni}`, dev6 = `flannel-v6.${vni}`;

  // The devices, at the MTU the kernel gives a vxlan device over eth0 (flanneld sets none):
  // 1450 for flannel.1, 1430 for flannel-v6.1 (the kernel refuses more over IPv6).
  sh('ip', ['link', 'add', dev4, 'type', 'vxlan', 'id', String(vni), 'local', publicIp, 'dev', 'eth0', 'nolearning', 'dstport', String(port)]);
  sh('ip', ['link', 'set', dev4, 'address', mac, 'up']);
  sh('ip', ['addr', 'add', `${subnet.split('/')[0]}/32`, 'dev', dev4]);
  sh('ip', ['link', 'add', dev6, 'type', 'vxlan', 'id', String(vni), 'local', publicIpv6, 'dev', 'eth0', 'nolearning', 'dstport', String(port)]);
  sh('ip', ['link', 'set', dev6, 'address', mac6, 'up']);
  sh('ip', ['-6', 'addr', 'add', `${subnet6.split('/')[0]}/128`, 'dev', dev6, 'nodad']);

  // Every other lease, per family it carries.
  const leases = await client.getAll().prefix(`${prefix}/subnets/`).strings();
  for (const [key, value] of Object.entries(leases)) {
    const m = KEY.exec(key);
    if (!m || `${m[1]}/${m[2]}` === subnet) continue;
    const a = JSON.parse(value) as { PublicIP: string; PublicIPv6?: string; BackendData?: { VtepMAC: string }; BackendV6Data?: { VtepMAC: string } };
    if (a.BackendData && m[1] !== '0.0.0.0') {
      sh('ip', ['neigh', 'replace', m[1], 'lladdr', a.BackendData.VtepMAC, 'dev', dev4, 'nud', 'permanent']);
      sh('bridge', ['fdb', 'replace', a.BackendData.VtepMAC, 'dev', dev4, 'dst', a.PublicIP, 'self', 'permanent']);
      sh('ip', ['route', 'replace', `${m[1]}/${m[2]}`, 'via', m[1], 'dev', dev4, 'onlink']);
    }
    if (m[3] && a.PublicIPv6 && a.BackendV6Data) {
      sh('ip', ['-6', 'neigh', 'replace', m[3], 'lladdr', a.BackendV6Data.VtepMAC, 'dev', dev6, 'nud', 'permanent']);
      sh('bridge', ['fdb', 'replace', a.BackendV6Data.VtepMAC, 'dev', dev6, 'dst', a.PublicIPv6, 'self', 'permanent']);
      sh('ip', ['-6', 'route', 'replace', `${m[3]}/${m[4]}`, 'via', m[3], 'dev', dev6, 'onlink']);
    }
  }

  // Our lease, as flanneld writes it (LeaseAttrs' field order) on a 24 h etcd lease.
  const value = JSON.stringify({
    PublicIP: publicIp, PublicIPv6: publicIpv6, BackendType: 'vxlan',
    BackendData: { VNI: vni, VtepMAC: mac }, BackendV6Data: { VNI: vni, VtepMAC: mac6 },
  });
  const [n4, l4] = subnet.split('/'), [n6, l6] = subnet6.split('/');
  const grant = await client.leaseClient.leaseGrant({ TTL: 86400, ID: 0 });
  process.stdout.write(`t0 ${Date.now()}\n`);
  await client.put(`${prefix}/subnets/${n4}-${l4}&${n6}-${l6}`).value(value).lease(grant.ID);
  process.stdout.write('done\n');
} finally {
  client.close();
}
