// The lines a user reads when a TAP or the UDP socket cannot be opened
// (src/io/native-errors.ts, and the flag weft run adds: src/cli/run.ts),
// from errors shaped as the addon throws them. No device, no root.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { errnoError, tapNameProblem, tapOpenMessage, udpOpenMessage, netdevExists } from '../../src/io/native-errors.js';
import { openErrorLine } from '../../src/cli/run.js';

const err = (code: 'EBUSY' | 'EINVAL' | 'ENOENT' | 'EPERM' | 'EADDRINUSE' | 'EADDRNOTAVAIL' | 'EACCES' | 'EAFNOSUPPORT' | 'EIO', syscall: string) =>
  errnoError(code, syscall, `${syscall} failed: the addon's text`);

test('tapNameProblem: too long, or a name the kernel refuses; the empty name and ordinary ones pass', () => {
  assert.is(tapNameProblem('weft-0123456789a'), "TAP name 'weft-0123456789a' is too long: an interface name has at most 15 characters");
  for (const bad of ['wt/0', 'a:b', 'a b', '.', '..', 'x\ty']) assert.match(tapNameProblem(bad) ?? '', `TAP name '${bad}' is not a valid interface name`);
  for (const ok of ['', 'wt0', 'weft-012345678'] ) assert.is(tapNameProblem(ok), null, ok);
});

test('errnoError: code, negative errno and syscall as Node and the addon give them', () => {
  const e = errnoError('EINVAL', 'tapOpen', 'x');
  assert.equal([e.code, e.errno, e.syscall, e.message], ['EINVAL', -22, 'tapOpen', 'x']);
});

test('tapOpenMessage: no tun device, not root, a name taken; anything else keeps the addon text', () => {
  const none = () => false, all = () => true;
  assert.is(tapOpenMessage(err('ENOENT', 'open'), 'wt0', none), 'no /dev/net/tun: load the tun module (modprobe tun) or run where TUN/TAP is available');
  assert.is(tapOpenMessage(err('EPERM', 'ioctl(TUNSETIFF)'), 'wt0', none), 'creating a TAP device needs CAP_NET_ADMIN: run as root');
  assert.is(tapOpenMessage(err('EBUSY', 'ioctl(TUNSETIFF)'), 'wt0', none), "TAP name 'wt0' is taken by another device");
  assert.is(tapOpenMessage(err('EINVAL', 'ioctl(TUNSETIFF)'), 'eth0', all), "TAP name 'eth0' is taken by another device");
  assert.is(tapOpenMessage(err('EINVAL', 'ioctl(TUNSETIFF)'), 'wt0', none), null, 'EINVAL without such a device');
  assert.is(tapOpenMessage(err('EIO', 'ioctl(TUNSETIFF)'), 'wt0', all), null);
  assert.is(netdevExists('lo'), true, 'lo is in every namespace');
  assert.is(netdevExists('no-such-dev-9'), false);
});

test('udpOpenMessage: the address, the port, the family; anything else keeps the addon text', () => {
  assert.is(udpOpenMessage(err('EINVAL', 'inet_pton'), 4, 'fd00::1', 8472), "'fd00::1' is not an IPv4 address");
  assert.is(udpOpenMessage(err('EINVAL', 'inet_pton'), 6, 'x'.repeat(80), 8472), `'${'x'.repeat(40)}...' is not an IPv6 address`);
  assert.is(udpOpenMessage(err('EAFNOSUPPORT', 'socket'), 6, '::', 8472), 'this host has no IPv6 (disabled or not built into the kernel)');
  assert.is(udpOpenMessage(err('EADDRINUSE', 'bind'), 4, '0.0.0.0', 8472),
    'UDP port 8472 on 0.0.0.0 is in use: another VTEP (weft or a kernel vxlan device) may be bound to it');
  assert.is(udpOpenMessage(err('EADDRNOTAVAIL', 'bind'), 4, '198.18.0.1', 8472), '198.18.0.1 is not an address of this host');
  assert.is(udpOpenMessage(err('EACCES', 'bind'), 4, '0.0.0.0', 80), 'binding UDP port 80 needs root: it is below the first unprivileged port');
  assert.is(udpOpenMessage(err('EIO', 'bind'), 4, '0.0.0.0', 80), null);
});

test('openErrorLine: weft run names the flag that fixes a taken TAP name or a foreign --local, and no other', () => {
  const taken = errnoError('EBUSY', 'ioctl(TUNSETIFF)', "TAP name 'wt0' is taken by another device");
  assert.is(openErrorLine(taken), "TAP name 'wt0' is taken by another device: pick another --tap");
  const far = errnoError('EADDRNOTAVAIL', 'bind', '198.18.0.1 is not an address of this host');
  assert.is(openErrorLine(far), '198.18.0.1 is not an address of this host: check --local');
  const other = errnoError('EADDRINUSE', 'bind', 'in use');
  assert.is(openErrorLine(other), 'in use');
});

test.run();
