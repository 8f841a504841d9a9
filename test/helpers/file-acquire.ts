// One weft's allocation against a shared lease file, as a separate process:
// `node file-acquire.js LEASES NETCONF PUBLICIP` prints the subnet it got.
// test/unit/control-store.test.ts runs several at once.

import { readFileSync } from 'node:fs';
import { FileStore } from '../../src/control/file-store.js';
import { acquireLease } from '../../src/control/allocate.js';
import { parseNetConf } from '../../src/control/net-conf.js';
import { formatSubnet } from '../../src/control/ip4.js';

const [leases, netconf, publicIp] = process.argv.slice(2);
const conf = parseNetConf(readFileSync(netconf, 'utf8'), netconf);
const store = new FileStore(leases);
const l = await acquireLease(store, { conf, attrs: { publicIp, backendType: 'vxlan', vni: 1, vtepMac: 0x020000000001 } });
process.stdout.write(formatSubnet(l.subnet) + '\n');
