// `weft run --help`: every option of the run command, with the control
// plane's, the operator's side's, persistence's and the workers' own parts.
import { CONTROL_HELP } from '../config/control-config.js';
import { OPS_HELP } from '../config/ops-config.js';
import { PERSIST_HELP } from '../config/persist-config.js';
import { WORKERS_HELP } from './run-workers.js';

export const RUN_HELP = `Usage: weft run [--config FILE] [options]

Runs a VXLAN tunnel endpoint: frames from the TAP device go out as VXLAN
(RFC 7348) over UDP to the VTEP that has the destination MAC (or to every
--peer for broadcast, multicast and unknown destinations); VXLAN datagrams
that arrive are checked, their source MAC is learned, and the inner frames
are written into the TAP. Needs root (CAP_NET_ADMIN).

Options (a --config JSON file takes the same names, e.g.
{"vni": 1, "peer": ["198.18.0.2"], "address": "10.244.1.1/24"}; every
option may also be set in the environment as WEFT_<OPTION>, upper case,
dashes to underscores (WEFT_BUM_RATE=500), and those flanneld has as
FLANNELD_<OPTION> too (FLANNELD_ETCD_ENDPOINTS); a repeatable option's
values comma-separated. Flags win over the environment (WEFT_ over
FLANNELD_), which wins over the --config file):
  --tap NAME           TAP device to create, or to reattach to when an
                       earlier weft left it (default weft0); removed at
                       SIGINT/SIGTERM unless --keep-tap
  --vni N              VXLAN network identifier, 0–16777215 (default 1)
  --vni N:TAP[:CIDR]   repeatable: several VNIs in one weft, one TAP each,
                       on one UDP socket (frames never cross VNIs). The
                       first --vni may leave out TAP and CIDR (then --tap
                       and --address); each after it names its TAP and may
                       give it an address, e.g. --vni 10 --vni 20:weft20:
                       10.245.0.1/24. Every VNI floods to every --peer.
                       Not with a lease store (it carries one VNI)
  --port N             UDP port to listen on and send to (default 8472, as
                       Linux and flannel; 4789 is the IANA port)
  --local IP           underlay address to bind and send from (default: any
                       address of the peers' family)
  --peer IP[:PORT]     a VTEP to flood broadcast/multicast/unknown frames to
                       (repeatable; the kernel's all-zeros fdb entry)
  --address CIDR       assign this address to the TAP (e.g. 10.244.1.1/24)
  --mac MAC            the TAP's MAC, on every TAP with several VNIs (a MAC
                       need only be unique within its VNI) (default:
                       derived from host, --local, the TAP and the VNI, so
                       it is the same after a restart)
  --mtu N              the TAP's MTU (default: underlay MTU − 50 for IPv4,
                       − 70 for IPv6). A frame from the TAP larger than it
                       (+ 14, + 4 with a VLAN tag) is dropped
                       (tx_drop_too_big), and its sender told so: ICMP
                       "fragmentation needed" for IPv4 with DF, "packet
                       too big" for IPv6, so path MTU discovery works
  --fdb-ageing S       forget a learned MAC S seconds after its last frame
                       (default 300)
  --fdb-max N          most forwarding-table entries (default 65536); when
                       full, frames from new MACs are dropped and counted
  --peer-capacity N    most remote VTEPs weft tracks (its peer table and the
                       source allow-list; about 70 bytes each). Default:
                       with a lease store, one per subnet the network
                       holds (2^(SubnetLen − prefix), at most 65536);
                       else 4096. When full, a VTEP learned from the wire
                       is dropped (rx_drop_peer_table_full) and a lease is
                       refused (weft_leases_refused_total, weft peers) and
                       taken once a removal makes room; --peer and
                       --static beyond it are refused at start (exit 2)
  --static MAC=IP[@VNI]
                       pin MAC to the VTEP at IP (repeatable), in the first
                       VNI or the one after @
  --allow-any-source   take datagrams from any underlay address. By
                       default, when weft knows its peers (--peer,
                       --static, leases), datagrams from other addresses
                       are dropped (rx_drop_unknown_source); with learning
                       only (no peers) any source is taken anyway
  --bum-rate N         broadcast, multicast and unknown-unicast frames a
                       second that one source MAC may have flooded, per
                       VNI (default 1000; 0: no limit); more are dropped
                       (tx_drop_bum_rate)
  --bum-burst N        how many of those may come at once (default: N of
                       --bum-rate, one second's worth)
  --icmp-rate N        most ICMP too-big answers a second (default 100,
                       in bursts of up to 10; 0: none)
  --ignore-reserved    accept datagrams with reserved VXLAN bits set (RFC
                       7348 §5); by default they are dropped, as Linux does
  --batch N            packets per system call (default 64)
  --tap-queue N        frames the TAP queues for weft before the kernel
                       drops them (its txqueuelen; default 10000, the
                       kernel's is 1000): room for bursts while weft waits
                       for a CPU
  --tun NAME           the TUN device of a Backend.Type "udp" network
                       (default flannel0, as flanneld; --tap names it too)
  --no-offload         no TSO/GSO/GRO: one frame per MTU through the TAP and
                       the socket (slower; for kernels without them, or to
                       compare)
  --src-port-range MIN-MAX
                       UDP source ports of the datagrams sent, one per
                       inner flow from its hash, as Linux's vxlan device
                       (default: net.ipv4.ip_local_port_range); MIN-MAX
                       equal to --port sends all from the VXLAN port
${WORKERS_HELP}
  -h, --help           this text

${CONTROL_HELP}

${OPS_HELP}

${PERSIST_HELP}

Logs go to stderr: state changes only (start, stop, leases, forwarding
entries added or removed by hand, drops at most once a minute per reason),
never a line per packet.

Signals: SIGINT/SIGTERM stop it (the TAP, unless --keep-tap, and the
control socket are removed); SIGUSR1 logs the counters and the forwarding table as one record
with "event":"status" (also logged at exit).

Exit status: 0 stopped by a signal, 1 runtime failure (no privilege, port
in use, …), 2 bad usage or configuration.`;
