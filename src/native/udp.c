/*
 * UDP socket system calls. See udp.h for the contracts.
 *
 * recvmmsg and sendmmsg move up to WEFT_MMSG_MAX datagrams per system call.
 * Their headers (mmsghdr, iovec, sockaddr) are built on the stack for each
 * call, pointing straight into the caller's slab: nothing is allocated and
 * no payload is copied on this side of the kernel.
 */
#define _GNU_SOURCE
#include "udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

union weft_sockaddr {
  struct sockaddr sa;
  struct sockaddr_in in4;
  struct sockaddr_in6 in6;
};

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
                  int *bound_port, enum weft_udp_step *step) {
  union weft_sockaddr sa;
  socklen_t salen;
  memset(&sa, 0, sizeof sa);

  *step = WEFT_UDP_STEP_ADDRESS;
  if (family == 4) {
    sa.in4.sin_family = AF_INET;
    sa.in4.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &sa.in4.sin_addr) != 1) return -EINVAL;
    salen = sizeof sa.in4;
  } else {
    sa.in6.sin6_family = AF_INET6;
    sa.in6.sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, address, &sa.in6.sin6_addr) != 1) return -EINVAL;
    salen = sizeof sa.in6;
  }

  *step = WEFT_UDP_STEP_SOCKET;
  int fd = socket(sa.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;

  int r = 0;
  if (opts->reuse_port) {
    *step = WEFT_UDP_STEP_REUSEPORT;
    if ((r = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1)) < 0) goto fail;
  }
  if (opts->rcvbuf > 0) {
    *step = WEFT_UDP_STEP_RCVBUF;
    if ((r = set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, opts->rcvbuf)) < 0) goto fail;
  }
  if (opts->sndbuf > 0) {
    *step = WEFT_UDP_STEP_SNDBUF;
    if ((r = set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, opts->sndbuf)) < 0) goto fail;
  }

  *step = WEFT_UDP_STEP_BIND;
  if (bind(fd, &sa.sa, salen) < 0) { r = -errno; goto fail; }

  *step = WEFT_UDP_STEP_GETSOCKNAME;
  union weft_sockaddr got;
  socklen_t gotlen = sizeof got;
  if (getsockname(fd, &got.sa, &gotlen) < 0) { r = -errno; goto fail; }
  *bound_port = ntohs(got.sa.sa_family == AF_INET ? got.in4.sin_port : got.in6.sin6_port);
  return fd;

fail:
  close(fd);
  return r;
}

/* A source address as four host-order words (IPv4 mapped). */
static void addr_to_words(const union weft_sockaddr *sa, uint32_t *w, uint16_t *port) {
  if (sa->sa.sa_family == AF_INET) {
    w[0] = 0; w[1] = 0; w[2] = 0xffff;
    w[3] = ntohl(sa->in4.sin_addr.s_addr);
    *port = ntohs(sa->in4.sin_port);
  } else if (sa->sa.sa_family == AF_INET6) {
    const uint32_t *a = (const uint32_t *)(const void *)&sa->in6.sin6_addr;
    for (int k = 0; k < 4; k++) w[k] = ntohl(a[k]);
    *port = ntohs(sa->in6.sin6_port);
  } else {
    w[0] = w[1] = w[2] = w[3] = 0;
    *port = 0;
  }
}

/* A destination for a socket of `family`. Returns its length, or 0 when
 * an IPv4 socket is given an address that is not IPv4-mapped. */
static socklen_t words_to_addr(int family, const uint32_t *w, uint16_t port, union weft_sockaddr *sa) {
  if (family == AF_INET) {
    if (w[0] != 0 || w[1] != 0 || w[2] != 0xffff) return 0;
    sa->in4.sin_family = AF_INET;
    sa->in4.sin_port = htons(port);
    sa->in4.sin_addr.s_addr = htonl(w[3]);
    memset(sa->in4.sin_zero, 0, sizeof sa->in4.sin_zero);
    return sizeof sa->in4;
  }
  memset(&sa->in6, 0, sizeof sa->in6);
  sa->in6.sin6_family = AF_INET6;
  sa->in6.sin6_port = htons(port);
  uint32_t *a = (uint32_t *)(void *)&sa->in6.sin6_addr;
  for (int k = 0; k < 4; k++) a[k] = htonl(w[k]);
  return sizeof sa->in6;
}

int weft_udp_recv(int fd, uint8_t *slab, const int32_t *offs, int32_t *lens, int max_len,
                  uint32_t *src_addr, uint16_t *src_port, int max) {
  struct mmsghdr msgs[WEFT_MMSG_MAX];
  struct iovec iov[WEFT_MMSG_MAX];
  union weft_sockaddr from[WEFT_MMSG_MAX];
  int n = 0;

  while (n < max) {
    int chunk = max - n < WEFT_MMSG_MAX ? max - n : WEFT_MMSG_MAX;
    for (int i = 0; i < chunk; i++) {
      iov[i].iov_base = slab + offs[n + i];
      iov[i].iov_len = (size_t)max_len;
      memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
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
    }
    n += r;
    if (r < chunk) break;   /* the queue is empty */
  }
  return n;
}

/* Errors about the socket rather than one datagram: sending more cannot help. */
static int socket_error(int err) {
  return err == EBADF || err == ENOTSOCK || err == EFAULT || err == EOPNOTSUPP;
}

int weft_udp_send(int fd, const uint8_t *slab, const int32_t *offs, const int32_t *lens,
                  const uint32_t *dst_addr, const uint16_t *dst_port, int count, int32_t *errors) {
  if (count <= 0) return 0;

  int family;
  socklen_t flen = sizeof family;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &flen) < 0) return -errno;

  struct mmsghdr msgs[WEFT_MMSG_MAX];
  struct iovec iov[WEFT_MMSG_MAX];
  union weft_sockaddr to[WEFT_MMSG_MAX];
  int i = 0, sent = 0;

  while (i < count) {
    /* Headers for the next run of datagrams, ending before one this
     * socket cannot address. */
    int built = 0;
    while (built < WEFT_MMSG_MAX && i + built < count) {
      int k = i + built;
      socklen_t len = words_to_addr(family, &dst_addr[4 * k], dst_port[k], &to[built]);
      if (len == 0) break;
      iov[built].iov_base = (void *)(slab + offs[k]);
      iov[built].iov_len = (size_t)lens[k];
      memset(&msgs[built], 0, sizeof msgs[built]);
      msgs[built].msg_hdr.msg_name = &to[built];
      msgs[built].msg_hdr.msg_namelen = len;
      msgs[built].msg_hdr.msg_iov = &iov[built];
      msgs[built].msg_hdr.msg_iovlen = 1;
      built++;
    }
    if (built == 0) {   /* an IPv6 destination on an IPv4 socket */
      (*errors)++;
      i++;
      continue;
    }

    /* sendmmsg reports an error only for the first datagram of a call; when
     * a later one fails it returns the count before it, and the next call
     * starts at the failing one and reports its error. */
    int r = sendmmsg(fd, msgs, (unsigned int)built, MSG_DONTWAIT);
    if (r < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      if (socket_error(err)) return i > 0 ? sent : -err;
      (*errors)++;   /* this datagram only: skip it */
      i++;
      continue;
    }
    sent += r;
    i += r;
  }
  return sent;
}
