/*
 * Handover and persistence system calls (handover.h). SOCK_SEQPACKET keeps
 * each message whole, so the descriptors arrive with the one message they
 * were sent with and never glued to a neighbour's bytes.
 */
#define _GNU_SOURCE
#include "handover.h"
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/if_tun.h>

int weft_tap_set_persist(int fd, int on) {
  return ioctl(fd, TUNSETPERSIST, (unsigned long)(on ? 1 : 0)) < 0 ? -errno : 0;
}

static int unix_addr(const char *path, struct sockaddr_un *a) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof a->sun_path) return -ENAMETOOLONG;
  strcpy(a->sun_path, path);
  return 0;
}

static int unix_socket(const char *path, int listening) {
  struct sockaddr_un a;
  int r = unix_addr(path, &a);
  if (r < 0) return r;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  r = listening ? bind(fd, (struct sockaddr *)&a, sizeof a) : connect(fd, (struct sockaddr *)&a, sizeof a);
  if (r == 0 && listening) r = listen(fd, 1);
  if (r < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

int weft_unix_listen(const char *path) { return unix_socket(path, 1); }
int weft_unix_connect(const char *path) { return unix_socket(path, 0); }

int weft_unix_accept(int fd) {
  int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  return c < 0 ? -errno : c;
}

int weft_fds_send(int fd, const uint8_t *data, int len, const int32_t *fds, int nfds) {
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int) * WEFT_FDS_MAX)]; } ctl;
  struct iovec iov = { (void *)data, (size_t)len };
  struct msghdr m;
  memset(&m, 0, sizeof m);
  memset(&ctl, 0, sizeof ctl);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (nfds > 0) {
    m.msg_control = ctl.buf;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    for (int k = 0; k < nfds; k++) memcpy(CMSG_DATA(c) + sizeof(int) * (size_t)k, &fds[k], sizeof(int));
  }
  ssize_t r;
  do r = sendmsg(fd, &m, MSG_NOSIGNAL); while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : (int)r;
}

int weft_fds_recv(int fd, uint8_t *buf, int len, int32_t *fds_out, int max, int *nfds) {
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int) * WEFT_FDS_MAX)]; } ctl;
  struct iovec iov = { buf, (size_t)len };
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl.buf;
  m.msg_controllen = sizeof ctl.buf;
  *nfds = 0;
  ssize_t r;
  do r = recvmsg(fd, &m, MSG_CMSG_CLOEXEC); while (r < 0 && errno == EINTR);
  if (r < 0) return -errno;
  int got = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int k = 0; k < n; k++) {
      int x;
      memcpy(&x, CMSG_DATA(c) + sizeof(int) * (size_t)k, sizeof x);
      /* Past what the caller has room for: not ours to keep. */
      if (got < max) fds_out[got++] = x;
      else close(x);
    }
  }
  if ((m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || got > max) {
    for (int k = 0; k < got; k++) close(fds_out[k]);
    return -EMSGSIZE;
  }
  *nfds = got;
  return (int)r;
}

int weft_notify(const char *path, const char *msg) {
  struct sockaddr_un a;
  int r = unix_addr(path, &a);
  if (r < 0) return r;
  socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
  if (path[0] == '@') a.sun_path[0] = '\0';
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  ssize_t n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&a, len);
  int err = n < 0 ? errno : 0;
  close(fd);
  return -err;
}
