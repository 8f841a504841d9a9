/*
 * UDP socket system calls, without Node-API: open and bind a socket, and
 * move batches of datagrams with recvmmsg / sendmmsg, optionally as GSO
 * super-datagrams out and GRO-coalesced ones in.
 *
 * Addresses cross this interface as four 32-bit words in host byte order,
 * the form weft's peer table keys on: an IPv6 address word by word, an IPv4
 * address IPv4-mapped (0, 0, 0xffff, a.b.c.d), so 198.18.0.2 is
 * {0, 0, 0xffff, 0xc6120002}. Ports are in host byte order too.
 *
 * Every function returns a count or 0 on success, and -errno on failure.
 * Datagram positions come from the caller and are trusted here: the
 * Node-API glue (binding.c) checks that each one fits in its slab.
 */
#ifndef WEFT_UDP_H
#define WEFT_UDP_H

#include <stdint.h>

/* Messages per recvmmsg / sendmmsg call. Larger batches take several calls.
 * The message headers live on the stack (about 130 bytes per message with
 * their control buffers, 34 KiB in all). */
#define WEFT_MMSG_MAX 256

struct weft_udp_opts {
  int reuse_port;   /* SO_REUSEPORT before bind */
  int rcvbuf;       /* bytes; 0 leaves the system default */
  int sndbuf;       /* bytes; 0 leaves the system default */
};

/*
 * Opens a non-blocking, close-on-exec UDP socket of `family` (4 or 6) and
 * binds it to `address`:`port` (port 0: the kernel picks one). Buffer sizes
 * are forced past the system maximum when the process may (SO_RCVBUFFORCE,
 * SO_SNDBUFFORCE need CAP_NET_ADMIN), and capped by it otherwise.
 * Returns the fd with the bound port in `*bound_port`, or -errno with
 * `*syscall` naming the call that failed ("inet_pton" when `address` does
 * not parse).
 */
int weft_udp_open(int family, const char *address, int port, const struct weft_udp_opts *opts,
                  int *bound_port, const char **syscall);

/*
 * recvmmsg: up to `max` waiting datagrams, datagram i into slab + offs[i]
 * with room for `max_len` bytes. lens[i] gets its length, or -1 when it was
 * longer than `max_len` (truncated); src_addr[4i..4i+3] and src_port[i] its
 * source. Returns the count, 0 when nothing is waiting. An error after at
 * least one datagram ends the batch and is reported by the next call.
 *
 * With `segs` (NULL: no control data is read), segs[i] gets the segment
 * size when message i is several datagrams of one flow that GRO coalesced
 * (see weft_udp_set_gro): datagrams of segs[i] bytes back to back, the last
 * one shorter or equal. It is 0 when the message is a single datagram.
 */
int weft_udp_recv(int fd, uint8_t *slab, const int32_t *offs, int32_t *lens, int max_len,
                  uint32_t *src_addr, uint16_t *src_port, int32_t *segs, int max);

/* Most pieces one gathered message may have (a GSO message of 64 datagrams
 * of a head and a payload each; the glue checks it). */
#define WEFT_UDP_PIECES_MAX 128

/*
 * sendmmsg on a socket of `family` (4 or 6, as opened): message k is pieces
 * pstart[k]..pstart[k+1]-1, piece j being lens[j] bytes at slab + offs[j]
 * (writev-style, so a datagram's header and payload need not be adjacent),
 * or, with `pstart` NULL, the lens[k] bytes at slab + offs[k]; to
 * dst_addr[4k..4k+3]:dst_port[k]. Sends in order until all are done or the
 * socket buffer is full (EAGAIN).
 *
 * With `segs` (UDP GSO), when 0 < segs[k] < the message's length, message k
 * goes out with a UDP_SEGMENT control message and the kernel (or the NIC)
 * cuts it into datagrams of segs[k] bytes, the last one shorter or equal,
 * all to the same destination; other messages are one datagram each.
 *
 * A message the kernel refuses on its own account (no route, too big, port
 * 0, netfilter, an IPv6 destination on an IPv4 socket; for GSO more than
 * UDP_MAX_SEGMENTS segments or a segment past the path MTU: EINVAL, a route
 * through IPsec or a device that cannot offload the checksum: EIO) is
 * skipped and counted in `*errors`, and sending goes on.
 *
 * Returns how many messages were sent. Those handled are the first
 * (sent + the increase of *errors); any after them were not tried. An error
 * that concerns the socket itself (EBADF, ENOTSOCK…) before anything was
 * handled is -errno.
 */
int weft_udp_send(int fd, int family, const uint8_t *slab, const int32_t *offs, const int32_t *lens,
                  const int32_t *pstart, const int32_t *segs, const uint32_t *dst_addr,
                  const uint16_t *dst_port, int count, int32_t *errors);

/* 1 when the kernel knows UDP GSO (getsockopt UDP_SEGMENT succeeds: Linux
 * 4.18 and later), 0 when it does not (ENOPROTOOPT), -errno otherwise. */
int weft_udp_gso_supported(int fd);

/* setsockopt UDP_GRO: `on` lets the kernel hand this socket coalesced
 * datagrams (Linux 5.0 and later). 1 when done, 0 when the kernel does not
 * know the option (ENOPROTOOPT), -errno otherwise. */
int weft_udp_set_gro(int fd, int on);

#endif
