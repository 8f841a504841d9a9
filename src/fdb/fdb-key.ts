// The forwarding table's key, (VNI, MAC), as fdb.ts hashes and stores it:
// the MAC as a 48-bit number split into its high 16 and low 32 bits, the
// seeded hash of the key, and a used slot's tag.

export const TWO_32 = 0x100000000;

export function macHi(mac: number): number { return Math.floor(mac / TWO_32) & 0xffff; }
export function macLo(mac: number): number { return mac | 0; } // low 32 bits as int32 (exact below 2^53)

/** Seeded 32-bit mix of the key (murmur3-style finaliser rounds). */
export function hashKey(seed: number, vni: number, hi: number, lo: number): number {
  let h = Math.imul(lo ^ seed, 0xcc9e2d51);
  h ^= h >>> 15;
  h = Math.imul(h ^ hi ^ (vni << 16), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h ^ (vni >>> 16), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** A used slot's tag: the top 7 bits of the hash (the slot index uses the low bits), never 0. */
export function tagOf(h: number): number { return (h >>> 25) | 0x80; }
