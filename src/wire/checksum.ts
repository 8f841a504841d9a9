// Internet checksum helpers.
//
// RFC 1071 (computing the Internet checksum), RFC 791 §3.1 (IPv4 header
// checksum), RFC 768 (UDP checksum over the IPv4 pseudo-header) and
// RFC 8200 §8.1 (upper-layer checksums over the IPv6 pseudo-header).
//
// Everything works on 32-bit partial sums so callers can add pieces (pseudo
// header, header, payload) and fold once; nothing allocates.

/**
 * RFC 1071 one's-complement sum of `len` bytes at `off`, added to `initial`.
 * Returns an unfolded 32-bit partial sum: pass it on, or `fold()` it.
 * An odd trailing byte is padded with zero on the right (RFC 1071 §4.1).
 */
export function sum16(buf: Buffer, off: number, len: number, initial = 0): number {
  let s = initial;
  const end = off + (len & ~1);
  let i = off;
  // Sums stay below 2^32 for any frame under 64 KiB: 32768 words * 0xffff < 2^31.
  for (; i < end; i += 2) s += (buf[i] << 8) | buf[i + 1];
  if (len & 1) s += buf[end] << 8;
  // Fold now and then so callers can chain very long inputs safely.
  return (s & 0xffff) + Math.floor(s / 0x10000);
}

/** Folds a partial sum to 16 bits (end-around carry, RFC 1071 §2). */
export function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The checksum field value for a partial sum: one's complement of the fold. */
export function finish(s: number): number {
  return ~fold(s) & 0xffff;
}

/** RFC 791 §3.1: checksum over the IPv4 header with its checksum field zero. */
export function ipv4HeaderChecksum(buf: Buffer, off: number, ihlBytes: number): number {
  // Sum everything, then subtract the stored field by skipping it.
  let s = sum16(buf, off, 10);
  s = sum16(buf, off + 12, ihlBytes - 12, s);
  return finish(s);
}

/** Partial sum of the IPv4 pseudo-header (RFC 768): src, dst, zero, proto, length. */
export function pseudoSumV4(buf: Buffer, srcOff: number, dstOff: number, proto: number, l4len: number): number {
  let s = sum16(buf, srcOff, 4);
  s = sum16(buf, dstOff, 4, s);
  return s + proto + l4len;
}

/** Partial sum of the IPv6 pseudo-header (RFC 8200 §8.1): src, dst, length, next header. */
export function pseudoSumV6(buf: Buffer, srcOff: number, dstOff: number, proto: number, l4len: number): number {
  let s = sum16(buf, srcOff, 16);
  s = sum16(buf, dstOff, 16, s);
  return s + (l4len >>> 16) + (l4len & 0xffff) + proto;
}

/**
 * Checksum of an L4 segment (UDP, TCP) at `l4off`, `l4len` bytes long, whose
 * checksum field sits at `csumOff` (absolute), given the pseudo-header sum.
 * The field's current content is ignored.
 */
export function l4Checksum(buf: Buffer, l4off: number, l4len: number, csumOff: number, pseudo: number): number {
  const rel = csumOff - l4off;
  let s = sum16(buf, l4off, rel, pseudo);
  s = sum16(buf, csumOff + 2, l4len - rel - 2, s);
  return finish(s);
}

/**
 * UDP rule (RFC 768): a computed checksum of zero is sent as all ones, since
 * zero on the wire means "no checksum" (over IPv4; over IPv6 zero is invalid,
 * RFC 8200 §8.1).
 */
export function udpChecksumField(c: number): number {
  return c === 0 ? 0xffff : c;
}

/** True when a received segment's checksum verifies (sum over all, field included, is 0xffff). */
export function verifies(buf: Buffer, l4off: number, l4len: number, pseudo: number): boolean {
  return fold(sum16(buf, l4off, l4len, pseudo)) === 0xffff;
}
