// The checksum primitive the offload code leans on: the native one when the
// addon has it (one pass at memory speed), else RFC 1071 in TypeScript.
// Same contract either way: the one's-complement sum of `len` bytes at
// `off`, plus `initial`, folded to 16 bits, not complemented.

import { sum16, fold } from '../wire/checksum.js';
import { native } from './native.js';

type Csum = (buf: Buffer, off: number, len: number, initial: number) => number;

function tsCsum(buf: Buffer, off: number, len: number, initial: number): number {
  return fold(sum16(buf, off, len, initial));
}

let impl: Csum | null = null;

export function csumImpl(): Csum {
  if (impl) return impl;
  let n: { csum?: Csum } | null = null;
  try { n = native() as unknown as { csum?: Csum }; } catch { n = null; }
  impl = n && typeof n.csum === 'function' ? n.csum.bind(n) : tsCsum;
  return impl;
}

type CsumCopy = (src: Buffer, srcOff: number, dst: Buffer, dstOff: number, len: number, initial: number) => number;

function tsCsumCopy(src: Buffer, srcOff: number, dst: Buffer, dstOff: number, len: number, initial: number): number {
  src.copy(dst, dstOff, srcOff, srcOff + len);
  return fold(sum16(dst, dstOff, len, initial));
}

let copyImpl: CsumCopy | null = null;

/** Copy `len` bytes and return their sum (as csumImpl) in one pass where the addon has it. */
export function csumCopyImpl(): CsumCopy {
  if (copyImpl) return copyImpl;
  let n: { csumCopy?: CsumCopy } | null = null;
  try { n = native() as unknown as { csumCopy?: CsumCopy }; } catch { n = null; }
  copyImpl = n && typeof n.csumCopy === 'function' ? n.csumCopy.bind(n) : tsCsumCopy;
  return copyImpl;
}
