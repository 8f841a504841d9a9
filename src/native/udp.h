/*
 * UDP socket system calls, without Node-API: open a socket, move batches of
 * datagrams (GSO super-datagrams out, GRO-coalesced ones in). Addresses are
 * four host-order words, the peer table's form: IPv6 word by word, IPv4
 * mapped (0, 0, 0xffff, a.b.c.d). Functions return a count, or 0, or
 * -errno. Positions and counts are trusted: the glue (binding.c) checks
 * each against its buffer.
 */
#ifndef WEFT_UDP_H
#define WEFT_UDP_H

#include <stdint.h>

/* Messages a recvmmsg / sendmmsg (headers on the stack, ~130 bytes each). */
#define WEFT_MMSG_MAX 256

/* Most pieces one gathered message may have: a GSO message of 64 datagrams
 * of a head and a payload each. */
#define WEFT_UDP_PIECES_MAX 128

struct weft_udp_opts {
  int reuse_port;   /* SO_REUSEPORT before bind */
  int rcvbuf;       /* bytes; 0 leaves the system default */
  int sndbuf;       /* bytes; 0 leaves the system default */
};

/* A non-blocking, close-on-exec UDP socket of `family` (4 or 6) bound to
 * `address`:`port` (0: any). Returns the fd and the port in `*bound_port`,
 * or -errno with `*syscall` naming the call that failed. */
int weft_udp_open(int family, const char *address, int port, const struct weft_udp_opts *opts,
                  int *bound_port, const char **syscall);

/* recvmmsg: up to `max` messages, message i into slab + offs[i] (room:
 * `max_len`); lens[i] its length (-1: truncated), src_addr[4i..] and
 * src_port[i] its source, with `segs` segs[i] its GRO segment size
 * (0: one datagram), with `tos` tos[i] its outer IPv4 TOS / IPv6 traffic
 * class (weft_udp_set_recv_tos). An error after the first message is the
 * next call's. */
int weft_udp_recv(int fd, uint8_t *slab, const int32_t *offs, int32_t *lens, int max_len,
                  uint32_t *src_addr, uint16_t *src_port, int32_t *segs, uint8_t *tos, int max);

/*
 * sendmmsg on a socket of `family` (4 or 6, as opened): message k is pieces
 * pstart[k]..pstart[k+1]-1 (lens[j] bytes at slab + offs[j]; with pstart
 * NULL, just piece k) to dst_addr[4k..]:dst_port[k], with UDP_SEGMENT
 * segs[k] when 0 < segs[k] < its length, and with `tos` an IP_TOS /
 * IPV6_TCLASS of tos[k] when that is not 0. Stops at EAGAIN. A message the
 * kernel refuses on its own account is skipped and counted in *errors.
 * Returns the messages sent; an error of the socket itself before any was
 * handled is -errno.
 */
int weft_udp_send(int fd, int family, const uint8_t *slab, const int32_t *offs, const int32_t *lens,
                  const int32_t *pstart, const int32_t *segs, const uint8_t *tos, const uint32_t *dst_addr,
                  const uint16_t *dst_port, int count, int32_t *errors);

/* 1 when the kernel does UDP GSO (4.18+) / took UDP_GRO (5.0+), 0 when it
 * does not know it, or -errno. */
int weft_udp_gso_supported(int fd);
int weft_udp_set_gro(int fd, int on);
/* IP_RECVTOS (and IPV6_RECVTCLASS on a `family` 6 socket): 0 or -errno. */
int weft_udp_set_recv_tos(int fd, int family);

#endif
