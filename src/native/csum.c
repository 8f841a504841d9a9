/*
 * The Internet checksum (csum.h). RFC 1071 §2(B): the one's-complement sum does not depend on byte order.
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
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static inline uint32_t load32(const uint8_t *p) { uint32_t v; memcpy(&v, p, sizeof v); return v; }
static inline uint16_t load16(const uint8_t *p) { uint16_t v; memcpy(&v, p, sizeof v); return v; }

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

#if defined(__x86_64__)
/* AVX2, chosen at run time: 64 bytes a step, each 32-bit word widened to a
 * 64-bit lane, four accumulators; twice the scalar loop's speed on a
 * segment's payload (bench/checksum.bench.ts). Returns the native-order sum
 * of the first *done bytes. */
__attribute__((target("avx2")))
static uint64_t sum_avx2(const uint8_t *p, size_t len, size_t *done) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  size_t i = 0;
  for (; i + 64 <= len; i += 64) {
    a = _mm256_add_epi64(a, _mm256_cvtepu32_epi64(_mm_loadu_si128((const __m128i *)(p + i))));
    b = _mm256_add_epi64(b, _mm256_cvtepu32_epi64(_mm_loadu_si128((const __m128i *)(p + i + 16))));
    c = _mm256_add_epi64(c, _mm256_cvtepu32_epi64(_mm_loadu_si128((const __m128i *)(p + i + 32))));
    d = _mm256_add_epi64(d, _mm256_cvtepu32_epi64(_mm_loadu_si128((const __m128i *)(p + i + 48))));
  }
  a = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
  __m128i h = _mm_add_epi64(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  *done = i;
  /* Four lanes of at most 2^32 adds of 32-bit words: no lane overflows,
   * and folding each to 32 bits first keeps their sum inside 64 bits. */
  uint64_t l0 = (uint64_t)_mm_cvtsi128_si64(h), l1 = (uint64_t)_mm_extract_epi64(h, 1);
  return (l0 & 0xffffffffu) + (l0 >> 32) + (l1 & 0xffffffffu) + (l1 >> 32);
}

static int have_avx2 = -1;
#endif

uint16_t weft_csum(const uint8_t *p, size_t len, uint32_t initial) {
  /* Two accumulators so consecutive adds do not wait on each other. */
  uint64_t a = 0, b = 0;
#if defined(__x86_64__)
  if (len >= 128) {
    if (have_avx2 < 0) {
      __builtin_cpu_init();
      have_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    if (have_avx2) {
      size_t done;
      a = sum_avx2(p, len, &done);
      p += done;
      len -= done;
    }
  }
#endif
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

/* One call for a whole batch of frames to verify: one call per frame cost
 * more than summing it. */
void weft_csum_ranges(const uint8_t *buf, const int32_t *offs, const int32_t *lens, int count, uint32_t *sums) {
  for (int i = 0; i < count; i++) sums[i] = weft_csum(buf + offs[i], (size_t)lens[i], 0);
}

/* One call per super-frame, not one per segment: the call cost was most of
 * a segment's. What the header bytes mean, and every checksum fix-up, stays
 * in TypeScript. memmove: a caller may cut a super-frame in place. */
int weft_csum_copy_slices(const uint8_t *src, size_t hoff, size_t hlen, size_t poff, size_t plen, size_t step,
                          uint8_t *dst, size_t doff, size_t stride, uint32_t *sums, int copy) {
  size_t n = (plen + step - 1) / step;
  for (size_t k = 0; k < n; k++) {
    uint8_t *d = dst + doff + k * stride;
    size_t len = k == n - 1 ? plen - k * step : step;
    memmove(d, src + hoff, hlen);
    if (copy) memmove(d + hlen, src + poff + k * step, len);
    sums[k] = weft_csum(copy ? d + hlen : src + poff + k * step, len, 0);
  }
  return (int)n;
}
