// Open vSwitch's userspace datapath as a tunnel of the live benchmark: the
// userspace VTEP a user would otherwise pick, set up in each rig host the
// way OVS's userspace-tunnelling guide lays it out.
//
//        netns NAME-hI (I = 1, 2)
//   +------------------------------------------------------------+
//   |  br-int  10.244.3.I/24 (internal port = the host's overlay |
//   |     |    interface, MTU 1450)                              |
//   |  [br-int, netdev]--vxlan0 (VNI 3, UDP 4789, remote J)      |
//   |                      | native tunnelling: push/pop in the  |
//   |                      | datapath, routed by OVS's own table |
//   |  [br-phy, netdev]  br-phy 198.18.1.I/24 (internal port)    |
//   |     |                                                      |
//   |   eth1 (no address; a tc ingress rule drops what the host  |
//   |     |   stack would see after OVS's packet socket has it)  |
//   +-----|------------------------------------------------------+
//         +-- veth qI -- br0 in netns NAME-sw (the rig's switch)
//
// Contract: startOvs() brings up one ovsdb-server and one ovs-vswitchd per
// host (own database, sockets, pidfiles and logs in a rig temp dir; OVS_RUNDIR
// and friends point there, so nothing touches /var/run/openvswitch or the
// system service), builds the bridges and returns once a full-size ping
// crosses the tunnel; on any failure it stops what it started and throws
// with OVS's own words. Every process is started in the foreground through
// the rig, tracked by PID, and removed with the rig on every path out.
//
// Design notes
// - The underlay is a second veth per host (eth1, 198.18.1.0/24) on the same
//   switch as eth0, because the guide puts the underlay interface into
//   br-phy: eth0 there would send weft's, the kernel's and tinc's traffic
//   through ovs-vswitchd too.
// - eth1 stays a kernel device that ovs-vswitchd reads with a packet socket;
//   the host's IP stack would get a copy of every datagram as well (and
//   deliver it to the kernel vxlan socket on 4789, or answer it with ICMP).
//   Packet sockets see a frame before tc ingress does, so a drop-all ingress
//   filter on eth1 (clsact + cls_bpf) leaves OVS its copy and the stack none.
// - No `userspace-tso-enable`: with it OVS 3.1 drops tunnelled TSO frames
//   ("Tunneling packets with HW offload flags is not supported"), so every
//   segment crosses as one MTU-sized frame, as OVS's default does.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { kill, sleep, waitFor, type Proc, type Rig } from '../live/rig.js';

/** The host's overlay address on br-int. */
export const ovsOverlay = (i: number) => `10.244.3.${i}`;
const ovsUnderlay = (i: number) => `198.18.1.${i}`;
export const OVS_VNI = 3;
export const OVS_PORT = 4789;
/** The overlay MTU, the same as weft0, vx0 and tinc0 (underlay 1500 − 50). */
const OVS_MTU = 1450;
const SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';
/**
 * A classic BPF program of one instruction, `ret #2`: in direct-action mode
 * its return value is the verdict, TC_ACT_SHOT. cls_bpf rather than
 * matchall + gact, which a kernel built without modules may lack.
 */
const DROP_ALL = '1,6 0 0 2,';

export interface Ovs {
  /** `ovs-vswitchd --version`'s version. */
  version: string;
  /** Every process started (ovsdb-server and ovs-vswitchd of both hosts): their CPU is the tunnel's. */
  procs: Proc[];
}

/** What is missing to run OVS, as the line that installs it; null when everything is there. */
export function ovsMissing(): string | null {
  for (const cmd of ['ovs-vswitchd', 'ovsdb-server', 'ovsdb-tool', 'ovs-vsctl', 'tc']) {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore', timeout: 5000 });
    } catch {
      return cmd === 'tc' ? 'apt-get install -y iproute2' : 'apt-get install -y openvswitch-switch';
    }
  }
  return existsSync(SCHEMA) ? null : 'apt-get install -y openvswitch-common';
}

function tail(s: string, lines = 5): string {
  return s.trim().split('\n').slice(-lines).join('\n');
}

/** Both hosts' OVS up and carrying full-size frames; throws (after stopping what it started) if not. */
export async function startOvs(rig: Rig): Promise<Ovs> {
  const procs: Proc[] = [];
  try {
    const version = execFileSync('ovs-vswitchd', ['--version'], { encoding: 'utf8', timeout: 5000 })
      .split('\n')[0].replace(/^.*\) /, '').trim();
    const dirs: string[] = [];
    for (const i of [1, 2]) dirs.push(await startHost(rig, i, 3 - i, procs));
    await connected(rig, dirs, procs);
    return { version, procs };
  } catch (e) {
    await stopOvs(procs);
    throw e;
  }
}

export async function stopOvs(procs: Proc[]): Promise<void> {
  for (const p of procs) kill(p.pid, 'SIGTERM');
  await Promise.race([Promise.all(procs.map((p) => p.exited)), sleep(3000)]);
}

/** The environment that keeps an OVS process's files in `dir`; `env` execs in place, so the PID stays OVS's. */
const envIn = (dir: string) => ['env', `OVS_RUNDIR=${dir}`, `OVS_DBDIR=${dir}`, `OVS_LOGDIR=${dir}`, `OVS_SYSCONFDIR=${dir}`];

/** Starts one OVS daemon in host i and waits until the sockets it serves (`ready`) exist. */
async function daemon(rig: Rig, i: number, dir: string, name: string, cmd: string[], ready: string[], procs: Proc[]): Promise<void> {
  const p = rig.spawn(i, [...envIn(dir), ...cmd]);
  procs.push(p);
  await waitFor(() => ready.every((f) => existsSync(f)) || !p.running(), 15_000, `${name} to start in ${rig.ns(i)}`);
  if (!p.running()) throw new Error(`${name} in ${rig.ns(i)} exited at start:\n${tail(p.stderr())}`);
}

/** One host: its underlay link, its two daemons and bridges, its addresses. Returns its OVS directory. */
async function startHost(rig: Rig, i: number, j: number, procs: Proc[]): Promise<string> {
  const sw = `${rig.name}-sw`;
  // Created inside the host's namespace, the peer end moved straight to the switch.
  rig.exec(i, ['ip', 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', `q${i}`, 'netns', sw]);
  rig.exec(i, ['ip', '-n', sw, 'link', 'set', `q${i}`, 'master', 'br0', 'up']);
  rig.exec(i, ['ip', 'link', 'set', 'eth1', 'up']);
  rig.exec(i, ['tc', 'qdisc', 'add', 'dev', 'eth1', 'clsact']);
  rig.exec(i, ['tc', 'filter', 'add', 'dev', 'eth1', 'ingress', 'bpf', 'da', 'bytecode', DROP_ALL]);

  const dir = rig.tmpdir(`ovs-h${i}`);
  const db = join(dir, 'conf.db'), dbSock = join(dir, 'db.sock'), sock = `unix:${dbSock}`;
  const ctl = (name: string) => join(dir, `${name}.ctl`);
  execFileSync('ovsdb-tool', ['create', db, SCHEMA], { timeout: 10_000, stdio: ['ignore', 'ignore', 'pipe'] });
  await daemon(rig, i, dir, 'ovsdb-server', ['ovsdb-server', db, `--remote=p${sock}`,
    `--pidfile=${join(dir, 'ovsdb-server.pid')}`, `--unixctl=${ctl('ovsdb-server')}`, '-vconsole:warn'], [dbSock, ctl('ovsdb-server')], procs);
  const vsctl = (...args: string[]) => rig.exec(i, [...envIn(dir), 'ovs-vsctl', `--db=${sock}`, '--timeout=15', ...args], 20_000);
  vsctl('--no-wait', 'init');
  await daemon(rig, i, dir, 'ovs-vswitchd', ['ovs-vswitchd', sock,
    `--pidfile=${join(dir, 'ovs-vswitchd.pid')}`, `--unixctl=${ctl('ovs-vswitchd')}`, '-vconsole:warn'], [ctl('ovs-vswitchd')], procs);
  vsctl('add-br', 'br-phy', '--', 'set', 'bridge', 'br-phy', 'datapath_type=netdev',
    '--', 'add-port', 'br-phy', 'eth1',
    '--', 'add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'datapath_type=netdev',
    '--', 'add-port', 'br-int', 'vxlan0', '--', 'set', 'interface', 'vxlan0', 'type=vxlan',
    `options:remote_ip=${ovsUnderlay(j)}`, `options:key=${OVS_VNI}`, `options:dst_port=${OVS_PORT}`);
  // The bridges' internal ports are TAPs ovs-vswitchd made in this namespace.
  rig.exec(i, ['ip', 'addr', 'add', `${ovsUnderlay(i)}/24`, 'dev', 'br-phy']);
  rig.exec(i, ['ip', 'link', 'set', 'br-phy', 'up']);
  rig.exec(i, ['ip', 'link', 'set', 'br-int', 'mtu', String(OVS_MTU)]);
  rig.exec(i, ['ip', 'addr', 'add', `${ovsOverlay(i)}/24`, 'dev', 'br-int']);
  rig.exec(i, ['ip', 'link', 'set', 'br-int', 'up']);
  return dir;
}

function ping(rig: Rig, i: number, to: string, size?: number): boolean {
  try {
    rig.exec(i, ['ping', '-c', '2', '-i', '0.2', '-W', '1', ...(size ? ['-M', 'do', '-s', String(size)] : []), to], 10_000);
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits for a full-size ping across the tunnel. OVS's tunnel push needs the
 * remote endpoint's MAC in its neighbour cache, which it learns from ARP on
 * br-phy: the underlay pings both ways fill it before the overlay is tried.
 */
async function connected(rig: Rig, dirs: string[], procs: Proc[]): Promise<void> {
  const end = Date.now() + 20_000;
  const logs = () => procs.map((p) => tail(p.stderr(), 2)).filter(Boolean).join('\n') || '(nothing logged)';
  for (;;) {
    if (procs.some((p) => !p.running())) throw new Error(`an OVS daemon exited:\n${logs()}`);
    if (ping(rig, 1, ovsUnderlay(2)) && ping(rig, 2, ovsUnderlay(1)) && ping(rig, 1, ovsOverlay(2), OVS_MTU - 28)) return;
    if (Date.now() > end) {
      const neigh = (() => {
        try {
          return rig.exec(1, ['ovs-appctl', '-t', join(dirs[0], 'ovs-vswitchd.ctl'), 'tnl/neigh/show']);
        } catch (e) {
          return (e as Error).message;
        }
      })();
      throw new Error(`no full-size ping reply across OVS (${ovsOverlay(1)} → ${ovsOverlay(2)}); h1's tunnel neighbours:\n${neigh}\n${logs()}`);
    }
    await sleep(500);
  }
}
