/*
 * TAP device system calls, without Node-API: open a TAP, set its virtio-net
 * header size and offloads, and move batches of frames.
 *
 * Every function returns a count or 0 on success, and -errno on failure.
 * Frame positions come from the caller and are trusted here: the Node-API
 * glue (binding.c) checks that each one fits in its slab before calling.
 */
#ifndef WEFT_TAP_H
#define WEFT_TAP_H

#include <stdint.h>
#include <net/if.h>

/* Flag bits for weft_tap_open: the kernel's own IFF_* values, so they pass
 * straight through to TUNSETIFF. */
#define WEFT_TAP_VNET_HDR    0x4000 /* IFF_VNET_HDR */
#define WEFT_TAP_MULTI_QUEUE 0x0100 /* IFF_MULTI_QUEUE */

/* TUNSETOFFLOAD bits (linux/if_tun.h). USO arrived in Linux 6.2; older
 * headers lack the names, the kernel rejects the bits if it does not know them. */
#define WEFT_TUN_F_CSUM    0x01
#define WEFT_TUN_F_TSO4    0x02
#define WEFT_TUN_F_TSO6    0x04
#define WEFT_TUN_F_TSO_ECN 0x08
#define WEFT_TUN_F_UFO     0x10
#define WEFT_TUN_F_USO4    0x20
#define WEFT_TUN_F_USO6    0x40

/* Where weft_tap_open failed, so the caller can explain the errno. */
enum weft_tap_step {
  WEFT_TAP_STEP_OPEN,     /* open("/dev/net/tun") */
  WEFT_TAP_STEP_SETIFF,   /* ioctl(TUNSETIFF) */
};

/* 1 when `name` is one the kernel accepts for an interface (dev_valid_name):
 * 1 to IFNAMSIZ-1 bytes, not "." or "..", no '/', ':' or whitespace.
 * The empty name is accepted too: the kernel then picks "tapN". */
int weft_tap_name_ok(const char *name);

/* 1 when a network device called `name` exists in this namespace. */
int weft_netdev_exists(const char *name);

/*
 * Opens /dev/net/tun (O_RDWR | O_NONBLOCK | O_CLOEXEC) and attaches it to
 * the TAP `name` (IFF_TAP | IFF_NO_PI | `flags`), creating the device if it
 * does not exist. The device's real name, NUL-terminated, goes to
 * `name_out`. Returns the fd, or -errno with `*step` saying which call failed.
 */
int weft_tap_open(const char *name, int flags, char name_out[IFNAMSIZ], enum weft_tap_step *step);

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

/*
 * Writes frames 0..count-1, frame i being lens[i] bytes at slab + offs[i].
 * Stops at EAGAIN or at a frame the kernel refuses. Returns how many were
 * written; an error on the first frame is -errno.
 */
int weft_tap_write(int fd, const uint8_t *slab, const int32_t *offs, const int32_t *lens, int count);

/* Most pieces after the head of one gathered frame. */
#define WEFT_TAP_PIECES_MAX 255

/*
 * Writes frames 0..count-1 with one writev each: frame i is the lens[i]
 * bytes at head + offs[i], followed by pieces pstart[i]..pstart[i+1]-1,
 * piece j being plens[j] bytes at data + poffs[j] (none when pstart is
 * NULL: that is weft_tap_write). The same outcomes as weft_tap_write;
 * -EINVAL if a frame has more than WEFT_TAP_PIECES_MAX pieces (checked
 * before anything is written).
 */
int weft_tap_writev(int fd, const uint8_t *head, const int32_t *offs, const int32_t *lens,
                    const uint8_t *data, const int32_t *poffs, const int32_t *plens,
                    const int32_t *pstart, int count);

#endif
