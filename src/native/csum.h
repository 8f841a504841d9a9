/* The Internet checksum (RFC 1071), without Node-API: over a range, a batch
 * of ranges, and the slices of a super-frame as they are copied. Ranges are
 * trusted here: the glue (binding.c) checks each against its buffer. */
#ifndef WEFT_CSUM_H
#define WEFT_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* The one's-complement sum of the big-endian 16-bit words at p[0..len)
 * (from p, whatever its alignment; an odd last byte is the high byte of a
 * zero-padded word, RFC 1071 §4.1) plus `initial` (up to 32 bits), folded
 * to 16 bits, NOT complemented. 0 only when every word and `initial` are. */
uint16_t weft_csum(const uint8_t *p, size_t len, uint32_t initial);

/* sums[i] = weft_csum(buf + offs[i], lens[i], 0) for i < count. */
void weft_csum_ranges(const uint8_t *buf, const int32_t *offs, const int32_t *lens, int count, uint32_t *sums);

/* Cuts src[poff, poff+plen) into n = ceil(plen / step) slices; slice k goes
 * to dst + doff + k*stride + hlen, behind a copy of the hlen bytes at
 * src + hoff, and sums[k] gets its weft_csum (initial 0). With `copy` 0 only
 * the headers are copied and the slices summed where they lie. Returns n. */
int weft_csum_copy_slices(const uint8_t *src, size_t hoff, size_t hlen, size_t poff, size_t plen, size_t step,
                          uint8_t *dst, size_t doff, size_t stride, uint32_t *sums, int copy);

#endif
