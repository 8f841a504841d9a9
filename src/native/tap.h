/*
 * TAP device system calls, without Node-API: open a TAP, set its virtio-net
 * header size and offloads, and move batches of frames.
 *
 * Every function returns a count or 0 on success, and -errno on failure.
 * Frame positions come from the caller and are trusted here: the Node-API
 * glue (binding.c) checks that each one fits in its buffer before calling.
 */
#ifndef WEFT_TAP_H
#define WEFT_TAP_H

#include <stdint.h>
#include <net/if.h>

/* weft_tap_open's flag: IFF_VNET_HDR, passed straight through to TUNSETIFF. */
#define WEFT_TAP_VNET_HDR 0x4000

/* TUNSETOFFLOAD bits (linux/if_tun.h). USO arrived in Linux 6.2; older
 * headers lack the names, the kernel rejects the bits if it does not know them. */
#define WEFT_TUN_F_CSUM 0x01
#define WEFT_TUN_F_TSO4 0x02
#define WEFT_TUN_F_TSO6 0x04
#define WEFT_TUN_F_USO4 0x20
#define WEFT_TUN_F_USO6 0x40

/*
 * Opens /dev/net/tun (O_RDWR | O_NONBLOCK | O_CLOEXEC) and attaches it to
 * the TAP `name` (shorter than IFNAMSIZ; IFF_TAP | IFF_NO_PI | `flags`),
 * creating the device if it does not exist. The device's real name goes to
 * `name_out`. Returns the fd, or -errno with `*syscall` naming the call
 * that failed.
 */
int weft_tap_open(const char *name, int flags, char name_out[IFNAMSIZ], const char **syscall);

/* TUNSETOFFLOAD with WEFT_TUN_F_* bits. */
int weft_tap_set_offload(int fd, unsigned int tun_flags);

/* TUNSETVNETHDRSZ: the size of the virtio-net header in front of each frame. */
int weft_tap_set_vnet_hdr_size(int fd, int size);

/*
 * Reads up to `max` frames, frame i into slab + offs[i] with room for
 * `max_len` bytes; lens[i] gets its length. Stops early when no frame is
 * waiting. Returns the count. An error after at least one frame ends the
 * batch and is reported by the next call; an error on the first is -errno.
 */
int weft_tap_read(int fd, uint8_t *slab, const int32_t *offs, int32_t *lens, int max, int max_len);

/* Most pieces after the head of one gathered frame (the glue checks it). */
#define WEFT_TAP_PIECES_MAX 255

/*
 * Writes frames 0..count-1 with one writev each: frame i is the lens[i]
 * bytes at head + offs[i], followed by pieces pstart[i]..pstart[i+1]-1,
 * piece j being plens[j] bytes at data + poffs[j]. Stops at EAGAIN or at a
 * frame the kernel refuses. Returns how many were written; an error on the
 * first frame is -errno.
 */
int weft_tap_writev(int fd, const uint8_t *head, const int32_t *offs, const int32_t *lens,
                    const uint8_t *data, const int32_t *poffs, const int32_t *plens,
                    const int32_t *pstart, int count);

#endif
