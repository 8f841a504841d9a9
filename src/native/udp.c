/*
 * UDP socket system calls (udp.h). The headers of each recvmmsg / sendmmsg
 * are built on the stack, pointing into the caller's slab: nothing is
 * allocated or copied on this side of the kernel. sendmmsg saves system
 * calls but not the trip through the stack, where each datagram is routed
 * and queued on its own; with UDP GSO a 64 KiB message goes through once
 * and is cut into datagrams as late as possible, and UDP GRO is the mirror
 * image on receive. The caller groups datagrams by peer and size; this file
 * attaches and reads the control messages. The socket's family comes from
 * the caller: asking the socket (SO_DOMAIN) costs a system call per batch.
 */
#define _GNU_SOURCE
#include "udp.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Older C library headers lack these (linux/udp.h values, Linux 4.18, 5.0). */
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* One message's control buffer, aligned for cmsghdr. Out: UDP_SEGMENT
 * (a u16, the size the kernel insists on). In: UDP_GRO (an int), which the
 * kernel puts first, before any other control message, so a buffer that
 * holds it is enough even if later ones would be cut (MSG_CTRUNC). */
union weft_cmsg_segment { char buf[CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(int))]; struct cmsghdr align; };
/* In: UDP_GRO, then IP_TOS (a byte) or IPV6_TCLASS (an int) when asked for. */
union weft_cmsg_gro { char buf[CMSG_SPACE(sizeof(int)) * 2]; struct cmsghdr align; };
/* sin_port and sin6_port sit at the same offset. */
union weft_sockaddr { struct sockaddr sa; struct sockaddr_in in4; struct sockaddr_in6 in6; };

static int set_int(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value) < 0 ? -errno : 0;
}

/* The *FORCE variant first (it ignores net.core.[rw]mem_max but needs
 * CAP_NET_ADMIN), then the capped one. */
static int set_buf(int fd, int force_name, int name, int bytes) {
  int r = set_int(fd, SOL_SOCKET, force_name, bytes);
  if (r == -EPERM) r = set_int(fd, SOL_SOCKET, name, bytes);
  return r;
}

int weft_udp_open(int family, const char *address, int port, const struct weft_udp_opts *opts,
                  int *bound_port, const char **syscall) {
  union weft_sockaddr sa;
  socklen_t salen = family == 4 ? sizeof sa.in4 : sizeof sa.in6;
  memset(&sa, 0, sizeof sa);
  sa.sa.sa_family = family == 4 ? AF_INET : AF_INET6;
  sa.in4.sin_port = htons((uint16_t)port);
  *syscall = "inet_pton";
  if (inet_pton(sa.sa.sa_family, address, family == 4 ? (void *)&sa.in4.sin_addr : (void *)&sa.in6.sin6_addr) != 1) return -EINVAL;
  *syscall = "socket";
  int fd = socket(sa.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int r = 0;
  if ((opts->reuse_port && (*syscall = "setsockopt(SO_REUSEPORT)", r = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1)) < 0) ||
      (opts->rcvbuf > 0 && (*syscall = "setsockopt(SO_RCVBUF)", r = set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, opts->rcvbuf)) < 0) ||
      (opts->sndbuf > 0 && (*syscall = "setsockopt(SO_SNDBUF)", r = set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, opts->sndbuf)) < 0) ||
      (*syscall = "bind", bind(fd, &sa.sa, salen)) < 0 ||
      (*syscall = "getsockname", getsockname(fd, &sa.sa, &salen)) < 0) {
    r = r < 0 ? r : -errno;
    close(fd);
    return r;
  }
  *bound_port = ntohs(sa.in4.sin_port);
  return fd;
}

/* A source address as four host-order words (IPv4 mapped). */
static void addr_to_words(const union weft_sockaddr *sa, uint32_t *w, uint16_t *port) {
  const uint32_t *a = (const uint32_t *)(const void *)&sa->in6.sin6_addr;
  for (int k = 0; k < 4; k++) w[k] = sa->sa.sa_family == AF_INET6 ? ntohl(a[k]) : k == 2 ? 0xffff : 0;
  if (sa->sa.sa_family == AF_INET) w[3] = ntohl(sa->in4.sin_addr.s_addr);
  *port = ntohs(sa->in4.sin_port);
}

/* A destination for a socket of `family` (4 or 6). Returns its length, or 0
 * when an IPv4 socket is given an address that is not IPv4-mapped. */
static socklen_t words_to_addr(int family, const uint32_t *w, uint16_t port, union weft_sockaddr *sa) {
  memset(sa, 0, sizeof *sa);
  sa->in4.sin_port = htons(port);
  if (family == 4) {
    sa->in4.sin_family = AF_INET;
    sa->in4.sin_addr.s_addr = htonl(w[3]);
    return w[0] == 0 && w[1] == 0 && w[2] == 0xffff ? sizeof sa->in4 : 0;
  }
  sa->in6.sin6_family = AF_INET6;
  uint32_t *a = (uint32_t *)(void *)&sa->in6.sin6_addr;
  for (int k = 0; k < 4; k++) a[k] = htonl(w[k]);
  return sizeof sa->in6;
}

/* The UDP_GRO segment size of a received message of `len` bytes (0 when it
 * holds a single datagram) into *seg, and its outer TOS / traffic class
 * byte into *tos (0 when the socket does not ask for it). */
static void read_cmsgs(struct msghdr *h, unsigned int len, int32_t *seg, uint8_t *tos) {
  *seg = 0; *tos = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
    int v = 0;
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      memcpy(&v, CMSG_DATA(c), sizeof v);
      *seg = v > 0 && (unsigned int)v < len ? v : 0;
    } else if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_TOS) {
      *tos = *(const uint8_t *)CMSG_DATA(c);
    } else if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_TCLASS) {
      memcpy(&v, CMSG_DATA(c), sizeof v);
      *tos = (uint8_t)v;
    }
  }
}

int weft_udp_recv(int fd, uint8_t *slab, const int32_t *offs, int32_t *lens, int max_len,
                  uint32_t *src_addr, uint16_t *src_port, int32_t *segs, uint8_t *tos, int max) {
  struct mmsghdr msgs[WEFT_MMSG_MAX];
  struct iovec iov[WEFT_MMSG_MAX];
  union weft_sockaddr from[WEFT_MMSG_MAX];
  union weft_cmsg_gro ctrl[WEFT_MMSG_MAX];
  int n = 0;

  while (n < max) {
    int chunk = max - n < WEFT_MMSG_MAX ? max - n : WEFT_MMSG_MAX;
    for (int i = 0; i < chunk; i++) {
      iov[i] = (struct iovec){ slab + offs[n + i], (size_t)max_len };
      msgs[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &iov[i], .msg_iovlen = 1,
                                         .msg_control = segs != NULL || tos != NULL ? ctrl[i].buf : NULL,
                                         .msg_controllen = segs != NULL || tos != NULL ? sizeof ctrl[i].buf : 0 };
    }
    int r = recvmmsg(fd, msgs, (unsigned int)chunk, MSG_DONTWAIT, NULL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return n > 0 ? n : -errno;
    }
    for (int i = 0; i < r; i++) {
      int k = n + i;
      lens[k] = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (int32_t)msgs[i].msg_len;
      addr_to_words(&from[i], &src_addr[4 * k], &src_port[k]);
      if (segs != NULL || tos != NULL) {
        int32_t seg;
        uint8_t t;
        read_cmsgs(&msgs[i].msg_hdr, msgs[i].msg_len, &seg, &t);
        if (segs != NULL) segs[k] = seg;
        if (tos != NULL) tos[k] = t;
      }
    }
    n += r;
    if (r < chunk) break;   /* the queue is empty */
  }
  return n;
}

/* Errors about the socket rather than one datagram: sending more cannot help. */
#define SOCKET_ERROR(err) ((err) == EBADF || (err) == ENOTSOCK || (err) == EFAULT || (err) == EOPNOTSUPP)

/* iovecs one sendmmsg call may use in all: a message of pieces takes several. */
#define WEFT_IOV_BUDGET 1024

int weft_udp_send(int fd, int family, const uint8_t *slab, const int32_t *offs, const int32_t *lens,
                  const int32_t *pstart, const int32_t *segs, const uint8_t *tos, const uint32_t *dst_addr,
                  const uint16_t *dst_port, int count, int32_t *errors) {
  struct mmsghdr msgs[WEFT_MMSG_MAX];
  struct iovec iov[WEFT_IOV_BUDGET];
  union weft_sockaddr to[WEFT_MMSG_MAX];
  union weft_cmsg_segment ctrl[WEFT_MMSG_MAX];
  int i = 0, sent = 0;

  while (i < count) {
    /* Headers for the next run of messages, ending before one this
     * socket cannot address or when the iovecs run out. */
    int built = 0, used = 0;
    while (built < WEFT_MMSG_MAX && i + built < count) {
      int k = i + built;
      int first = pstart != NULL ? pstart[k] : k;
      int pieces = pstart != NULL ? pstart[k + 1] - pstart[k] : 1;
      if (used + pieces > WEFT_IOV_BUDGET) break;
      socklen_t len = words_to_addr(family, &dst_addr[4 * k], dst_port[k], &to[built]);
      if (len == 0) break;
      size_t total = 0;
      for (int j = 0; j < pieces; j++) {
        iov[used + j] = (struct iovec){ (void *)(slab + offs[first + j]), (size_t)lens[first + j] };
        total += (size_t)lens[first + j];
      }
      struct msghdr *h = &msgs[built].msg_hdr;
      *h = (struct msghdr){ .msg_name = &to[built], .msg_namelen = len, .msg_iov = &iov[used], .msg_iovlen = (size_t)pieces };
      used += pieces;
      size_t clen = 0;
      if (segs != NULL && segs[k] > 0 && (size_t)segs[k] < total) {
        uint16_t size = (uint16_t)segs[k];
        struct cmsghdr *c = (struct cmsghdr *)(void *)ctrl[built].buf;
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof size);
        memcpy(CMSG_DATA(c), &size, sizeof size);
        clen = CMSG_SPACE(sizeof size);
      }
      /* A TOS of 0 is the socket's own: only a nonzero one needs saying. */
      if (tos != NULL && tos[k] != 0) {
        int v = tos[k];
        struct cmsghdr *c = (struct cmsghdr *)(void *)(ctrl[built].buf + clen);
        c->cmsg_level = family == 4 ? SOL_IP : SOL_IPV6;
        c->cmsg_type = family == 4 ? IP_TOS : IPV6_TCLASS;
        c->cmsg_len = CMSG_LEN(sizeof v);
        memcpy(CMSG_DATA(c), &v, sizeof v);
        clen += CMSG_SPACE(sizeof v);
      }
      if (clen > 0) { h->msg_control = ctrl[built].buf; h->msg_controllen = clen; }
      built++;
    }
    if (built == 0) { (*errors)++; i++; continue; }   /* an IPv6 destination on an IPv4 socket */

    /* sendmmsg reports an error only for the first datagram of a call; when
     * a later one fails it returns the count before it, and the next call
     * starts at the failing one and reports its error. */
    int r = sendmmsg(fd, msgs, (unsigned int)built, MSG_DONTWAIT);
    if (r < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      if (SOCKET_ERROR(err)) return i > 0 ? sent : -err;
      (*errors)++;   /* this datagram only: skip it */
      i++;
      continue;
    }
    sent += r;
    i += r;
  }
  return sent;
}

int weft_udp_gso_supported(int fd) {
  int size;
  socklen_t len = sizeof size;
  return getsockopt(fd, SOL_UDP, UDP_SEGMENT, &size, &len) == 0 ? 1 : errno == ENOPROTOOPT ? 0 : -errno;
}

int weft_udp_set_recv_tos(int fd, int family) {
  if (family == 6) {
    int r = set_int(fd, SOL_IPV6, IPV6_RECVTCLASS, 1);
    if (r < 0) return r;
    /* IPv4 datagrams reaching a dual-stack socket carry IP_TOS; an IPv6-only one refuses it. */
    set_int(fd, SOL_IP, IP_RECVTOS, 1);
    return 0;
  }
  return set_int(fd, SOL_IP, IP_RECVTOS, 1);
}

int weft_udp_set_gro(int fd, int on) {
  int r = set_int(fd, SOL_UDP, UDP_GRO, on ? 1 : 0);
  return r == 0 ? 1 : r == -ENOPROTOOPT ? 0 : r;
}
