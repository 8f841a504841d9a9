// Byte helpers for tests: hex strings with spaces allowed, for readable fixtures.

export function unhex(s: string): Buffer {
  return Buffer.from(s.replace(/[^0-9a-fA-F]/g, ''), 'hex');
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** A buffer of `before + len + after` bytes of 0xee, for writing `len` bytes at offset `before`. */
export function guarded(before: number, len: number, after = 2): Buffer {
  return Buffer.alloc(before + len + after, 0xee);
}

/** The bytes outside `[off, off + len)` as hex; all 'ee' when a write stayed inside its range. */
export function outside(buf: Uint8Array, off: number, len: number): string {
  return hex(buf.subarray(0, off)) + hex(buf.subarray(off + len));
}
