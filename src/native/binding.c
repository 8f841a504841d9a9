/*
 * The Node-API glue of weft's native addon (src/io/native.ts describes it):
 * each function checks its arguments (glue.h) and calls tap.c, udp.c or
 * csum.c; the watcher is poll.c. A call moves a whole batch between a slab
 * and typed arrays of offsets and lengths, allocating nothing per packet.
 */
#define _GNU_SOURCE
#include "glue.h"
#include "csum.h"
#include "tap.h"
#include "udp.h"
#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

#define I32 "an Int32Array"
#define U32 "a Uint32Array"
#define U16 "a Uint16Array"

/* Pieces of `count` messages: pstart[k]..pstart[k+1]-1 index poffs/plens
 * (typed arrays a and b), min to max a message, each inside the data buffer. */
static bool check_pieces(napi_env env, const char *fn, const int32_t *pstart, int64_t count, napi_value a_, napi_value b_,
                         int min, int max, const int32_t *poffs, const int32_t *plens, size_t data_len) {
  size_t n_pieces = 0, n_plens = 0;
  napi_get_typedarray_info(env, a_, NULL, &n_pieces, NULL, NULL, NULL);
  napi_get_typedarray_info(env, b_, NULL, &n_plens, NULL, NULL, NULL);
  if (n_plens < n_pieces) n_pieces = n_plens;
  for (int64_t k = 0; k < count; k++) {
    int32_t a = pstart[k], b = pstart[k + 1];
    if (a < 0 || b - a < min || b - a > max || (size_t)b > n_pieces)
      return throw_range(env, "%s: message %" PRId64 " has pieces %d to %d: from %d to %d pieces, within the %zu listed",
                         fn, k, a, b, min, max, n_pieces);
  }
  return count == 0 || check_slots(env, fn, "piece", data_len, poffs + pstart[0], plens + pstart[0], 0, pstart[count] - pstart[0]);
}

/* { fd, <key>: value }: tapOpen's name or udpOpen's port. */
static napi_value fd_result(napi_env env, int fd, const char *key, napi_value value) {
  napi_value o;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "fd", int_value(env, fd));
  napi_set_named_property(env, o, key, value);
  return o;
}

static napi_value count_or_throw(napi_env env, int r, const char *syscall, const char *what, int64_t fd) {
  if (r < 0) return throw_errno(env, -r, syscall, "%s (fd %d) failed", what, (int)fd), NULL;
  return int_value(env, r);
}

static napi_value tap_open(napi_env env, napi_callback_info info) {
  FN("tapOpen", 2);
  INT(flags, 1, 0, INT32_MAX);
  char name[64], real[IFNAMSIZ];
  size_t len = 0;
  const char *syscall;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) return throw_type(env, fn, "name", "a string"), NULL;
  if (flags & ~(int64_t)(WEFT_TAP_VNET_HDR | WEFT_TAP_TUN)) return throw_range(env, "%s: flags may hold only TAP_VNET_HDR and TAP_TUN", fn), NULL;
  /* The kernel would silently cut a long name short. */
  if (len >= IFNAMSIZ) return throw_errno(env, EINVAL, fn, "TAP name '%s' is too long", name), NULL;
  int fd = weft_tap_open(name, (int)flags, real, &syscall);
  if (fd < 0) return throw_errno(env, -fd, syscall, "opening TAP '%s' failed", name), NULL;
  return fd_result(env, fd, "name", str_value(env, real));
}

static napi_value tap_set_offload(napi_env env, napi_callback_info info) {
  FN("tapSetOffload", 2);
  INT(fd, 0, 0, INT32_MAX);
  INT(tunFlags, 1, 0, UINT32_MAX);
  int r = weft_tap_set_offload((int)fd, (unsigned int)tunFlags);
  if (r < 0) throw_errno(env, -r, "ioctl(TUNSETOFFLOAD)", "setting TAP offloads 0x%" PRIx64 " failed", tunFlags);
  return NULL;
}

static napi_value tap_set_vnet_hdr_size(napi_env env, napi_callback_info info) {
  FN("tapSetVnetHdrSize", 2);
  INT(fd, 0, 0, INT32_MAX);
  INT(size, 1, 0, INT32_MAX);
  int r = weft_tap_set_vnet_hdr_size((int)fd, (int)size);
  if (r < 0) throw_errno(env, -r, "ioctl(TUNSETVNETHDRSZ)", "setting the TAP's virtio-net header size to %d (at least 10) failed", (int)size);
  return NULL;
}

static napi_value tap_read(napi_env env, napi_callback_info info) {
  FN("tapRead", 6);
  INT(fd, 0, 0, INT32_MAX);
  BUF(slab, 1);
  INT(max, 4, 0, INT32_MAX);
  INT(maxLen, 5, 0, INT32_MAX);
  ARR(offs, 2, int32, I32, max);
  ARR(lens, 3, int32, I32, max);
  if (!check_slots(env, fn, "frame", slab_len, offs, NULL, maxLen, max)) return NULL;
  return count_or_throw(env, weft_tap_read((int)fd, slab, offs, lens, (int)max, (int)maxLen), "read", "reading frames from the TAP", fd);
}

static napi_value tap_writev(napi_env env, napi_callback_info info) {
  FN("tapWritev", 9);
  INT(fd, 0, 0, INT32_MAX);
  BUF(head, 1);
  BUF(data, 4);
  INT(count, 8, 0, INT32_MAX);
  ARR(offs, 2, int32, I32, count);
  ARR(lens, 3, int32, I32, count);
  ARR(poffs, 5, int32, I32, 0);
  ARR(plens, 6, int32, I32, 0);
  ARR(pstart, 7, int32, I32, count + 1);
  if (!check_slots(env, fn, "frame", head_len, offs, lens, 0, count) ||
      !check_pieces(env, fn, pstart, count, argv[5], argv[6], 0, WEFT_TAP_PIECES_MAX, poffs, plens, data_len)) return NULL;
  return count_or_throw(env, weft_tap_writev((int)fd, head, offs, lens, data, poffs, plens, pstart, (int)count),
                        "writev", "writing frames to the TAP", fd);
}

/* udpOpen(family, address, port, reusePort, rcvbuf, sndbuf): native.ts wraps it. */
static napi_value udp_open(napi_env env, napi_callback_info info) {
  FN("udpOpen", 6);
  INT(family, 0, 4, 6);
  INT(port, 2, 0, 65535);
  INT(reusePort, 3, 0, 1);
  INT(rcvbuf, 4, 0, INT32_MAX);
  INT(sndbuf, 5, 0, INT32_MAX);
  char addr[INET6_ADDRSTRLEN + 16];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[1], addr, sizeof addr, &len) != napi_ok) return throw_type(env, fn, "address", "a string"), NULL;
  if (family == 5) return throw_range(env, "%s: 'family' must be 4 or 6", fn), NULL;
  struct weft_udp_opts o = { (int)reusePort, (int)rcvbuf, (int)sndbuf };
  const char *syscall = "inet_pton";
  int bound = 0;
  /* A string cut short to fit `addr` might still parse. */
  int fd = len >= sizeof addr - 1 ? -EINVAL : weft_udp_open((int)family, addr, (int)port, &o, &bound, &syscall);
  if (fd < 0) return throw_errno(env, -fd, syscall, "opening UDP port %d on %s failed", (int)port, addr), NULL;
  return fd_result(env, fd, "port", int_value(env, bound));
}

static napi_value udp_recv(napi_env env, napi_callback_info info) {
  FN("udpRecv", 9);
  INT(fd, 0, 0, INT32_MAX);
  BUF(slab, 1);
  INT(maxLen, 4, 0, INT32_MAX);
  INT(max, 7, 0, INT32_MAX);
  ARR(offs, 2, int32, I32, max);
  ARR(lens, 3, int32, I32, max);
  ARR(srcAddr, 5, uint32, U32, 4 * max);
  ARR(srcPort, 6, uint16, U16, max);
  int32_t *segs = NULL;
  napi_valuetype t;
  if (napi_typeof(env, argv[8], &t) != napi_ok ||
      (t != napi_undefined && !arg_arr(env, fn, argv[8], "segs", napi_int32_array, "an Int32Array or undefined", (void **)&segs, max, "max")) ||
      !check_slots(env, fn, "datagram", slab_len, offs, NULL, maxLen, max)) return NULL;
  return count_or_throw(env, weft_udp_recv((int)fd, slab, offs, lens, (int)maxLen, srcAddr, srcPort, segs, (int)max),
                        "recvmmsg", "receiving UDP datagrams", fd);
}

/* Each segs[k], k < count: a UDP_SEGMENT size (1…65535), or 0 for a plain datagram. */
static bool check_segs(napi_env env, const char *fn, const int32_t *segs, int64_t count) {
  for (int64_t k = 0; k < count; k++) {
    if (segs[k] < 0 || segs[k] > 65535)
      return throw_range(env, "%s: segs[%" PRId64 "] is %d: a segment size is from 1 to 65535, "
                         "or 0 to send the message as one datagram", fn, k, segs[k]);
  }
  return true;
}

static napi_value udp_send(napi_env env, napi_callback_info info) {
  FN("udpSend", 9);
  INT(fd, 0, 0, INT32_MAX);
  INT(family, 1, 4, 6);
  BUF(slab, 2);
  INT(count, 7, 0, INT32_MAX);
  ARR(offs, 3, int32, I32, count);
  ARR(lens, 4, int32, I32, count);
  ARR(dstAddr, 5, uint32, U32, 4 * count);
  ARR(dstPort, 6, uint16, U16, count);
  ARR(errors, 8, int32, I32, 1);
  if (!check_slots(env, fn, "datagram", slab_len, offs, lens, 0, count)) return NULL;
  int r = weft_udp_send((int)fd, (int)family, slab, offs, lens, NULL, NULL, dstAddr, dstPort, (int)count, errors);
  return count_or_throw(env, r, "sendmmsg", "sending UDP datagrams", fd);
}

static napi_value udp_send_gsov(napi_env env, napi_callback_info info) {
  FN("udpSendGsoV", 11);
  INT(fd, 0, 0, INT32_MAX);
  INT(family, 1, 4, 6);
  BUF(slab, 2);
  INT(count, 9, 0, INT32_MAX);
  ARR(poffs, 3, int32, I32, 0);
  ARR(plens, 4, int32, I32, 0);
  ARR(pstart, 5, int32, I32, count + 1);
  ARR(segs, 6, int32, I32, count);
  ARR(dstAddr, 7, uint32, U32, 4 * count);
  ARR(dstPort, 8, uint16, U16, count);
  ARR(errors, 10, int32, I32, 1);
  if (!check_pieces(env, fn, pstart, count, argv[3], argv[4], 1, WEFT_UDP_PIECES_MAX, poffs, plens, slab_len) ||
      !check_segs(env, fn, segs, count)) return NULL;
  int r = weft_udp_send((int)fd, (int)family, slab, poffs, plens, pstart, segs, dstAddr, dstPort, (int)count, errors);
  return count_or_throw(env, r, "sendmmsg", "sending UDP datagrams", fd);
}

static napi_value bool_or_throw(napi_env env, int r, const char *what, int64_t fd) {
  napi_value v;
  if (r < 0) return throw_errno(env, -r, "getsockopt", "%s (fd %d) failed", what, (int)fd), NULL;
  napi_get_boolean(env, r == 1, &v);
  return v;
}

static napi_value udp_gso_supported(napi_env env, napi_callback_info info) {
  FN("udpGsoSupported", 1);
  INT(fd, 0, 0, INT32_MAX);
  return bool_or_throw(env, weft_udp_gso_supported((int)fd), "asking for UDP GSO (UDP_SEGMENT)", fd);
}

static napi_value udp_set_gro(napi_env env, napi_callback_info info) {
  FN("udpSetGro", 2);
  INT(fd, 0, 0, INT32_MAX);
  bool on;
  if (napi_get_value_bool(env, argv[1], &on) != napi_ok) return throw_type(env, fn, "on", "a boolean"), NULL;
  return bool_or_throw(env, weft_udp_set_gro((int)fd, on), on ? "turning UDP GRO on" : "turning UDP GRO off", fd);
}

static napi_value csum(napi_env env, napi_callback_info info) {
  FN("csum", 4);
  BUF(buf, 0);
  INT(off, 1, 0, INT64_C(1) << 53);
  INT(len, 2, 0, INT64_C(1) << 53);
  INT(initial, 3, 0, UINT32_MAX);
  if ((uint64_t)(off + len) > buf_len)
    return throw_range(env, "%s: %" PRId64 " bytes at offset %" PRId64 " do not fit in the %zu-byte buffer", fn, len, off, buf_len), NULL;
  return int_value(env, weft_csum(buf + off, (size_t)len, (uint32_t)initial));
}

static napi_value csum_ranges(napi_env env, napi_callback_info info) {
  FN("csumRanges", 5);
  BUF(buf, 0);
  INT(count, 3, 0, INT32_MAX);
  ARR(offs, 1, int32, I32, count);
  ARR(lens, 2, int32, I32, count);
  ARR(sums, 4, uint32, U32, count);
  if (!check_slots(env, fn, "range", buf_len, offs, lens, 0, count)) return NULL;
  weft_csum_ranges(buf, offs, lens, (int)count, sums);
  return int_value(env, count);
}

static napi_value csum_copy_slices(napi_env env, napi_callback_info info) {
  FN("csumCopySlices", 11);
  BUF(src, 0);
  INT(hdrOff, 1, 0, INT32_MAX);
  INT(hdrLen, 2, 0, INT32_MAX);
  INT(payOff, 3, 0, INT32_MAX);
  INT(payLen, 4, 1, INT32_MAX);
  INT(step, 5, 1, INT32_MAX);
  BUF(dst, 6);
  INT(dstOff, 7, 0, INT32_MAX);
  INT(stride, 8, 0, INT32_MAX);
  int64_t n = (payLen + step - 1) / step, last = payLen - (n - 1) * step;
  ARR(sums, 9, uint32, U32, n);
  bool copy = true;
  napi_valuetype t;
  if (napi_typeof(env, argv[10], &t) == napi_ok && t != napi_undefined && napi_get_value_bool(env, argv[10], &copy) != napi_ok)
    return throw_type(env, fn, "copyPayload", "a boolean"), NULL;
  if ((uint64_t)(hdrOff + hdrLen) > src_len || (uint64_t)(payOff + payLen) > src_len || stride < (copy ? hdrLen + step : hdrLen) ||
      (uint64_t)(dstOff + (n - 1) * stride + (copy ? hdrLen + last : hdrLen)) > dst_len)
    return throw_range(env, "%s: %" PRId64 " slices do not fit (src %zu bytes, dst %zu bytes from %" PRId64 " by %" PRId64 ")",
                       fn, n, src_len, dst_len, dstOff, stride), NULL;
  return int_value(env, weft_csum_copy_slices(src, (size_t)hdrOff, (size_t)hdrLen, (size_t)payOff, (size_t)payLen, (size_t)step,
                                              dst, (size_t)dstOff, (size_t)stride, sums, copy));
}

/* close(fd); on Linux the fd is released even when close() reports EINTR. */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  FN("close", 1);
  INT(fd, 0, 0, INT32_MAX);
  if (close((int)fd) < 0 && errno != EINTR) throw_errno(env, errno, "close", "closing fd %d failed", (int)fd);
  return NULL;
}

#define METHOD(name, cb) { name, NULL, cb, NULL, NULL, NULL, napi_enumerable, NULL }
#define CONSTANT(name, value) { name, NULL, NULL, NULL, NULL, int_value(env, value), napi_enumerable, NULL }

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
    CONSTANT("TAP_VNET_HDR", WEFT_TAP_VNET_HDR), CONSTANT("TAP_TUN", WEFT_TAP_TUN), CONSTANT("TUN_F_CSUM", WEFT_TUN_F_CSUM),
    CONSTANT("TUN_F_TSO4", WEFT_TUN_F_TSO4), CONSTANT("TUN_F_TSO6", WEFT_TUN_F_TSO6),
    CONSTANT("TUN_F_USO4", WEFT_TUN_F_USO4), CONSTANT("TUN_F_USO6", WEFT_TUN_F_USO6),
    METHOD("tapOpen", tap_open), METHOD("tapSetOffload", tap_set_offload),
    METHOD("tapSetVnetHdrSize", tap_set_vnet_hdr_size), METHOD("tapRead", tap_read), METHOD("tapWritev", tap_writev),
    METHOD("udpOpen", udp_open), METHOD("udpRecv", udp_recv), METHOD("udpSend", udp_send), METHOD("udpSendGsoV", udp_send_gsov),
    METHOD("udpGsoSupported", udp_gso_supported), METHOD("udpSetGro", udp_set_gro),
    METHOD("csum", csum), METHOD("csumRanges", csum_ranges), METHOD("csumCopySlices", csum_copy_slices),
    METHOD("pollStart", weft_poll_start), METHOD("pollStop", weft_poll_stop), METHOD("close", close_fd),
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
