/*
 * TAP device system calls. See tap.h for the contracts.
 *
 * A TAP moves one frame per read() or write(); there is no batched call for
 * a character device, so a "batch" here is a loop that stops as soon as the
 * kernel has nothing more (EAGAIN). What the batch saves is the crossing
 * from JavaScript into C, which costs more than the system call.
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

int weft_tap_name_ok(const char *name) {
  size_t len = strlen(name);
  if (len == 0) return 1;
  if (len >= IFNAMSIZ) return 0;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return 0;
  for (const char *p = name; *p; p++) {
    if (*p == '/' || *p == ':' || *p == ' ' || (*p >= '\t' && *p <= '\r')) return 0;
  }
  return 1;
}

int weft_netdev_exists(const char *name) {
  return name[0] != '\0' && if_nametoindex(name) != 0;
}

int weft_tap_open(const char *name, int flags, char name_out[IFNAMSIZ], enum weft_tap_step *step) {
  *step = WEFT_TAP_STEP_OPEN;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -errno;

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | (flags & (WEFT_TAP_VNET_HDR | WEFT_TAP_MULTI_QUEUE)));
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);

  *step = WEFT_TAP_STEP_SETIFF;
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
  if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)tun_flags) < 0) return -errno;
  return 0;
}

int weft_tap_set_vnet_hdr_size(int fd, int size) {
  if (ioctl(fd, TUNSETVNETHDRSZ, &size) < 0) return -errno;
  return 0;
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
  for (int i = 0; pstart != NULL && i < count; i++) {
    if (pstart[i + 1] - pstart[i] > WEFT_TAP_PIECES_MAX) return -EINVAL;
  }
  int n = 0;
  while (n < count) {
    int k = 0;
    iov[k].iov_base = (void *)(head + offs[n]);
    iov[k++].iov_len = (size_t)lens[n];
    for (int j = pstart != NULL ? pstart[n] : 0; pstart != NULL && j < pstart[n + 1]; j++) {
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

int weft_tap_write(int fd, const uint8_t *slab, const int32_t *offs, const int32_t *lens, int count) {
  return weft_tap_writev(fd, slab, offs, lens, NULL, NULL, NULL, NULL, count);
}
