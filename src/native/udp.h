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

/* Where weft_udp_open failed, so the caller can explain the errno. */
enum weft_udp_step {
  WEFT_UDP_STEP_ADDRESS,   /* the address string does not parse (-EINVAL) */
  WEFT_UDP_STEP_SOCKET,
  WEFT_UDP_STEP_REUSEPORT,
  WEFT_UDP_STEP_RCVBUF,
  WEFT_UDP_STEP_SNDBUF,
  WEFT_UDP_STEP_BIND,
  WEFT_UDP_STEP_GETSOCKNAME,
};

/*
 * Opens a non-blocking, close-on-exec UDP socket of `family` (4 or 6) and
 * binds it to `address`:`port` (port 0: the kernel picks one). Buffer sizes
 * are forced past the system maximum when the process may (SO_RCVBUFFORCE,
 * SO_SNDBUFFORCE need CAP_NET_ADMIN), and capped by it otherwise.
 * Returns the fd with the bound port in `*bound_port`, or -errno with
 * `*step` saying which call failed.
 */
int weft_udp_open(int family, const char *address, int port, const struct weft_udp_opts *opts,
                  int *bound_port, enum weft_udp_step *step);

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

/*
 * sendmmsg: datagram i is lens[i] bytes at slab + offs[i], to
 * dst_addr[4i..4i+3]:dst_port[i]. Sends in order until all are done or the
 * socket buffer is full (EAGAIN). A datagram the kernel refuses on its own
 * account (no route, too big, port 0, netfilter, an IPv6 destination on an
 * IPv4 socket…) is skipped and counted in `*errors`, and sending goes on.
 *
 * Returns how many were sent. The datagrams handled are the first
 * (sent + the increase of *errors); any after them were not tried.
 * An error that concerns the socket itself (EBADF, ENOTSOCK…) before
 * anything was handled is -errno.
 */
int weft_udp_send(int fd, const uint8_t *slab, const int32_t *offs, const int32_t *lens,
                  const uint32_t *dst_addr, const uint16_t *dst_port, int count, int32_t *errors);

/*
 * weft_udp_send with UDP GSO: when 0 < segs[i] < lens[i], message i goes
 * out with a UDP_SEGMENT control message and the kernel (or the NIC) cuts
 * it into datagrams of segs[i] bytes, the last one shorter or equal, all to
 * the same destination. Other messages are sent as one datagram each. The
 * count returned and *errors are in messages, as for weft_udp_send. A GSO
 * message the kernel refuses (more than UDP_MAX_SEGMENTS segments or a
 * segment larger than the path MTU: EINVAL; a route through IPsec or a
 * device that cannot offload the UDP checksum: EIO) is skipped and counted
 * like any refused datagram.
 */
int weft_udp_send_gso(int fd, const uint8_t *slab, const int32_t *offs, const int32_t *lens,
                      const int32_t *segs, const uint32_t *dst_addr, const uint16_t *dst_port,
                      int count, int32_t *errors);

/* Most pieces one gathered message may have (a GSO message of 64 datagrams
 * of a head and a payload each). */
#define WEFT_UDP_PIECES_MAX 128

/*
 * weft_udp_send_gso for messages gathered from pieces: message k is pieces
 * pstart[k]..pstart[k+1]-1, piece j being plens[j] bytes at slab + poffs[j]
 * (writev-style, so a datagram's header and payload need not be adjacent).
 * segs, addresses and outcomes as for weft_udp_send_gso; -EINVAL, before
 * anything is sent, if a message has no piece or more than
 * WEFT_UDP_PIECES_MAX.
 */
int weft_udp_send_gsov(int fd, const uint8_t *slab, const int32_t *poffs, const int32_t *plens,
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
