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

/** The addon's function `name` where it has one, else the TypeScript form. */
function nativeOr<F extends (...args: never[]) => number>(name: string, ts: F): F {
  let n: Record<string, unknown> | null = null;
  try { n = native() as unknown as Record<string, unknown>; } catch { n = null; }
  const f = n?.[name];
  return typeof f === 'function' ? (f as F).bind(n) as F : ts;
}

let impl: Csum | null = null;

export function csumImpl(): Csum {
  return impl ??= nativeOr('csum', tsCsum);
}

type CsumCopySlices = (src: Buffer, hdrOff: number, hdrLen: number, payOff: number, payLen: number, step: number,
  dst: Buffer, dstOff: number, stride: number, sums: Uint32Array, copyPayload?: boolean) => number;

function tsCsumCopySlices(src: Buffer, hdrOff: number, hdrLen: number, payOff: number, payLen: number, step: number,
  dst: Buffer, dstOff: number, stride: number, sums: Uint32Array, copyPayload = true): number {
  const n = Math.ceil(payLen / step);
  for (let k = 0; k < n; k++) {
    const d = dstOff + k * stride;
    const len = k === n - 1 ? payLen - k * step : step;
    src.copy(dst, d, hdrOff, hdrOff + hdrLen);
    if (copyPayload) src.copy(dst, d + hdrLen, payOff + k * step, payOff + k * step + len);
    sums[k] = fold(sum16(src, payOff + k * step, len));
  }
  return n;
}

let slicesImpl: CsumCopySlices | null = null;

/**
 * Cuts `payLen` bytes at `payOff` into slices of `step` (the last shorter),
 * each copied behind a copy of the `hdrLen`-byte header at `hdrOff`, slice k
 * at dstOff + k * stride; sums[k] is slice k's sum (as csumImpl, initial 0).
 * With copyPayload false only the headers are copied (the slices stay put).
 * Returns the slice count. One native call per super-frame where the addon
 * has it.
 */
export function csumCopySlicesImpl(): CsumCopySlices {
  return slicesImpl ??= nativeOr('csumCopySlices', tsCsumCopySlices);
}

type CsumRanges = (buf: Buffer, offs: Int32Array, lens: Int32Array, count: number, sums: Uint32Array) => number;

function tsCsumRanges(buf: Buffer, offs: Int32Array, lens: Int32Array, count: number, sums: Uint32Array): number {
  for (let i = 0; i < count; i++) sums[i] = fold(sum16(buf, offs[i], lens[i]));
  return count;
}

let rangesImpl: CsumRanges | null = null;

/** sums[i] = the sum (as csumImpl, initial 0) of lens[i] bytes at offs[i], i < count: one native call a batch. */
export function csumRangesImpl(): CsumRanges {
  return rangesImpl ??= nativeOr('csumRanges', tsCsumRanges);
}

/** Forces the TypeScript forms (tests compare the two). */
export function useTsChecksums(on: boolean): void {
  impl = on ? tsCsum : null;
  slicesImpl = on ? tsCsumCopySlices : null;
  rangesImpl = on ? tsCsumRanges : null;
}
