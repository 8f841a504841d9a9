/*
 * TAP device system calls (tap.h). A TAP moves one frame per read() or
 * writev(), so a batch is a loop that stops when the kernel has nothing
 * more (EAGAIN): what it saves is the crossing from JavaScript into C,
 * which costs more than the system call.
 */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/if_tun.h>

int weft_tap_open(const char *name, int flags, char name_out[IFNAMSIZ], const char **syscall) {
  *syscall = "open";
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -errno;

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = (short)(((flags & WEFT_TAP_TUN) ? IFF_TUN : IFF_TAP) | IFF_NO_PI | (flags & (WEFT_TAP_VNET_HDR | WEFT_TAP_MULTI_QUEUE)));
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);

  *syscall = "ioctl(TUNSETIFF)";
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  memcpy(name_out, ifr.ifr_name, IFNAMSIZ);
  name_out[IFNAMSIZ - 1] = '\0';
  return fd;
}

int weft_tap_set_offload(int fd, unsigned int tun_flags) {
  return ioctl(fd, TUNSETOFFLOAD, (unsigned long)tun_flags) < 0 ? -errno : 0;
}

int weft_tap_set_vnet_hdr_size(int fd, int size) {
  return ioctl(fd, TUNSETVNETHDRSZ, &size) < 0 ? -errno : 0;
}

int weft_tap_read(int fd, uint8_t *slab, const int32_t *offs, int32_t *lens, int max, int max_len) {
  int n = 0;
  while (n < max) {
    ssize_t r = read(fd, slab + offs[n], (size_t)max_len);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return n > 0 ? n : -errno;
    }
    lens[n++] = (int32_t)r;
  }
  return n;
}

int weft_tap_writev(int fd, const uint8_t *head, const int32_t *offs, const int32_t *lens,
                    const uint8_t *data, const int32_t *poffs, const int32_t *plens,
                    const int32_t *pstart, int count) {
  struct iovec iov[1 + WEFT_TAP_PIECES_MAX];
  int n = 0;
  while (n < count) {
    int k = 0;
    iov[k].iov_base = (void *)(head + offs[n]);
    iov[k++].iov_len = (size_t)lens[n];
    for (int j = pstart[n]; j < pstart[n + 1]; j++) {
      iov[k].iov_base = (void *)(data + poffs[j]);
      iov[k++].iov_len = (size_t)plens[j];
    }
    ssize_t r = writev(fd, iov, k);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return n > 0 ? n : -errno;
    }
    n++;
  }
  return n;
}
