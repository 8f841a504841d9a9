/*
 * The Internet checksum. See csum.h for the contract.
 *
 * RFC 1071 §2(B): the one's-complement sum does not depend on byte order.
 * Summing the bytes as native-order words and byte-swapping the folded
 * result gives the sum of the big-endian words, so the loop needs no swaps.
 * §2(C): 32-bit loads go into a 64-bit accumulator and carries are folded
 * back once at the end; 2^32 loads would be needed to overflow it.
 * Loads go through memcpy, which compiles to a plain load where unaligned
 * access is allowed, so `p` may sit at any offset (odd ones included).
 */
#include "csum.h"

#include <arpa/inet.h>
#include <string.h>

static inline uint32_t load32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline uint16_t load16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* End-around carry down to 16 bits (RFC 1071 §2(C)): 2^16 ≡ 1 mod 0xffff.
 * Never turns a non-zero sum into 0. */
static inline uint16_t fold(uint64_t s) {
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  return (uint16_t)s;
}

uint16_t weft_csum(const uint8_t *p, size_t len, uint32_t initial) {
  /* Two accumulators so consecutive adds do not wait on each other. */
  uint64_t a = 0, b = 0;
  for (; len >= 32; p += 32, len -= 32) {
    a += load32(p);      b += load32(p + 4);
    a += load32(p + 8);  b += load32(p + 12);
    a += load32(p + 16); b += load32(p + 20);
    a += load32(p + 24); b += load32(p + 28);
  }
  for (; len >= 4; p += 4, len -= 4) a += load32(p);
  if (len & 2) {
    a += load16(p);
    p += 2;
  }
  if (len & 1) {
    /* The high byte of a big-endian word: where a native-order load of
     * {p[0], 0} puts it. */
    const uint8_t last[2] = { p[0], 0 };
    a += load16(last);
  }
  /* Native-order sum → big-endian sum, then add the caller's partial sum. */
  return fold((uint64_t)ntohs(fold(a + b)) + initial);
}
