/* TAP device system calls, without Node-API: each returns a count, or 0, or
 * -errno. Positions and counts are trusted: the glue (binding.c) checks each
 * against its buffer first. */
#ifndef WEFT_TAP_H
#define WEFT_TAP_H

#include <stdint.h>
#include <net/if.h>

/* weft_tap_open's flags, passed straight through to TUNSETIFF: IFF_VNET_HDR,
 * and IFF_MULTI_QUEUE (each open of the same name adds a queue; the kernel
 * spreads the host's flows over the queues and keeps each flow on one);
 * WEFT_TAP_TUN asks for an L3 device (IFF_TUN: bare IP packets) instead of a TAP. */
#define WEFT_TAP_VNET_HDR 0x4000
#define WEFT_TAP_MULTI_QUEUE 0x0100
#define WEFT_TAP_TUN 0x0001

/* TUNSETOFFLOAD bits (linux/if_tun.h; older headers lack USO, Linux 6.2). */
#define WEFT_TUN_F_CSUM 0x01
#define WEFT_TUN_F_TSO4 0x02
#define WEFT_TUN_F_TSO6 0x04
#define WEFT_TUN_F_USO4 0x20
#define WEFT_TUN_F_USO6 0x40

/* Most pieces after the head of one gathered frame (writev's iovecs). */
#define WEFT_TAP_PIECES_MAX 255

/* Opens /dev/net/tun non-blocking and close-on-exec, attached to the TAP
 * `name` (shorter than IFNAMSIZ; created if missing; IFF_TAP, or IFF_TUN
 * when `flags` has WEFT_TAP_TUN, | IFF_NO_PI | IFF_VNET_HDR if asked); its real name goes to `name_out`. Returns the fd, or -errno
 * with `*syscall` naming the call that failed. */
int weft_tap_open(const char *name, int flags, char name_out[IFNAMSIZ], const char **syscall);

/* TUNSETOFFLOAD with WEFT_TUN_F_* bits; TUNSETVNETHDRSZ. */
int weft_tap_set_offload(int fd, unsigned int tun_flags);
int weft_tap_set_vnet_hdr_size(int fd, int size);

/* Reads up to `max` frames, frame i into slab + offs[i] with room for
 * `max_len` bytes, its length into lens[i]; stops when none is waiting.
 * Returns the count; an error after the first frame ends the batch and is
 * the next call's. */
int weft_tap_read(int fd, uint8_t *slab, const int32_t *offs, int32_t *lens, int max, int max_len);

/* One writev a frame: frame i is the lens[i] bytes at head + offs[i], then
 * pieces pstart[i]..pstart[i+1]-1 (plens[j] bytes at data + poffs[j]).
 * Stops at EAGAIN or at a frame the kernel refuses; returns how many were
 * written, -errno when the first fails. */
int weft_tap_writev(int fd, const uint8_t *head, const int32_t *offs, const int32_t *lens,
                    const uint8_t *data, const int32_t *poffs, const int32_t *plens,
                    const int32_t *pstart, int count);

#endif
