/*
 * The Internet checksum (RFC 1071) over a byte range, without Node-API.
 */
#ifndef WEFT_CSUM_H
#define WEFT_CSUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * The one's-complement sum of the 16-bit big-endian words at p[0..len),
 * counted from p whatever its alignment (an odd last byte is the high byte
 * of a zero-padded word, RFC 1071 §4.1), plus `initial` (a partial sum of
 * up to 32 bits), folded to 16 bits and NOT complemented: the checksum
 * field is ~result & 0xffff. The result is 0 only when every word and
 * `initial` are 0, as with the same sum done word by word.
 */
uint16_t weft_csum(const uint8_t *p, size_t len, uint32_t initial);

#endif
