/*
 * The Node-API glue of weft's native addon (src/io/native.ts describes it):
 * each function checks its arguments (glue.h) and calls tap.c, udp.c or
 * csum.c, or handover.c (persistence, passing fds); the watcher is poll.c. A call moves a whole batch between a slab
 * and typed arrays of offsets and lengths, allocating nothing per packet.
 */
#define _GNU_SOURCE
#include "glue.h"
#include "csum.h"
#include "tap.h"
#include "udp.h"
#include "handover.h"
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
  if (flags & ~(int64_t)(WEFT_TAP_VNET_HDR | WEFT_TAP_MULTI_QUEUE | WEFT_TAP_TUN))
    return throw_range(env, "%s: flags may hold only TAP_VNET_HDR, TAP_MULTI_QUEUE and TAP_TUN", fn), NULL;
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

/* An optional typed-array argument: NULL when undefined. */
static bool opt_arr(napi_env env, const char *fn, napi_value v, const char *name, napi_typedarray_type type,
                    const char *type_name, void **data, int64_t need, const char *need_text) {
  napi_valuetype t;
  *data = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  return t == napi_undefined || arg_arr(env, fn, v, name, type, type_name, data, need, need_text);
}

static napi_value udp_recv(napi_env env, napi_callback_info info) {
  FN("udpRecv", 10);
  INT(fd, 0, 0, INT32_MAX);
  BUF(slab, 1);
  INT(maxLen, 4, 0, INT32_MAX);
  INT(max, 7, 0, INT32_MAX);
  ARR(offs, 2, int32, I32, max);
  ARR(lens, 3, int32, I32, max);
  ARR(srcAddr, 5, uint32, U32, 4 * max);
  ARR(srcPort, 6, uint16, U16, max);
  int32_t *segs = NULL;
  uint8_t *tos = NULL;
  if (!opt_arr(env, fn, argv[8], "segs", napi_int32_array, "an Int32Array or undefined", (void **)&segs, max, "max") ||
      !opt_arr(env, fn, argv[9], "tos", napi_uint8_array, "a Uint8Array or undefined", (void **)&tos, max, "max") ||
      !check_slots(env, fn, "datagram", slab_len, offs, NULL, maxLen, max)) return NULL;
  return count_or_throw(env, weft_udp_recv((int)fd, slab, offs, lens, (int)maxLen, srcAddr, srcPort, segs, tos, (int)max),
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
  FN("udpSend", 10);
  INT(fd, 0, 0, INT32_MAX);
  INT(family, 1, 4, 6);
  BUF(slab, 2);
  INT(count, 7, 0, INT32_MAX);
  ARR(offs, 3, int32, I32, count);
  ARR(lens, 4, int32, I32, count);
  ARR(dstAddr, 5, uint32, U32, 4 * count);
  ARR(dstPort, 6, uint16, U16, count);
  ARR(errors, 8, int32, I32, 1);
  uint8_t *tos = NULL;
  if (!opt_arr(env, fn, argv[9], "tos", napi_uint8_array, "a Uint8Array or undefined", (void **)&tos, count, "count") ||
      !check_slots(env, fn, "datagram", slab_len, offs, lens, 0, count)) return NULL;
  int r = weft_udp_send((int)fd, (int)family, slab, offs, lens, NULL, NULL, tos, dstAddr, dstPort, (int)count, errors);
  return count_or_throw(env, r, "sendmmsg", "sending UDP datagrams", fd);
}

static napi_value udp_send_gsov(napi_env env, napi_callback_info info) {
  FN("udpSendGsoV", 12);
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
  uint8_t *tos = NULL;
  if (!opt_arr(env, fn, argv[11], "tos", napi_uint8_array, "a Uint8Array or undefined", (void **)&tos, count, "count") ||
      !check_pieces(env, fn, pstart, count, argv[3], argv[4], 1, WEFT_UDP_PIECES_MAX, poffs, plens, slab_len) ||
      !check_segs(env, fn, segs, count)) return NULL;
  int r = weft_udp_send((int)fd, (int)family, slab, poffs, plens, pstart, segs, tos, dstAddr, dstPort, (int)count, errors);
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

static napi_value udp_set_recv_tos(napi_env env, napi_callback_info info) {
  FN("udpSetRecvTos", 2);
  INT(fd, 0, 0, INT32_MAX);
  INT(family, 1, 4, 6);
  int r = weft_udp_set_recv_tos((int)fd, (int)family);
  if (r < 0) return throw_errno(env, -r, "setsockopt", "asking for the outer TOS (IP_RECVTOS) on fd %d failed", (int)fd), NULL;
  return NULL;
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

static napi_value tap_set_persist(napi_env env, napi_callback_info info) {
  FN("tapSetPersist", 2);
  INT(fd, 0, 0, INT32_MAX);
  bool on;
  if (napi_get_value_bool(env, argv[1], &on) != napi_ok) return throw_type(env, fn, "on", "a boolean"), NULL;
  int r = weft_tap_set_persist((int)fd, on);
  if (r < 0) throw_errno(env, -r, "ioctl(TUNSETPERSIST)", "making the TAP %spersistent failed", on ? "" : "non-");
  return NULL;
}

/* unixListen(path) / unixConnect(path): the path as a string argument 0. */
static napi_value unix_open(napi_env env, napi_callback_info info, const char *fn, int listening) {
  napi_value argv[1];
  size_t argc = 1;
  char path[128];
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok) return throw_type(env, fn, "path", "a string"), NULL;
  if (len >= sizeof path - 1) return throw_errno(env, ENAMETOOLONG, fn, "unix socket path '%s' is too long", path), NULL;
  int fd = listening ? weft_unix_listen(path) : weft_unix_connect(path);
  if (fd < 0) return throw_errno(env, -fd, listening ? "bind" : "connect", "%s unix socket %s failed",
                                 listening ? "listening on" : "connecting to", path), NULL;
  return int_value(env, fd);
}

static napi_value unix_listen(napi_env env, napi_callback_info info) { return unix_open(env, info, "unixListen", 1); }
static napi_value unix_connect(napi_env env, napi_callback_info info) { return unix_open(env, info, "unixConnect", 0); }

/* The accepted fd, or -1 when no connection is waiting. */
static napi_value unix_accept(napi_env env, napi_callback_info info) {
  FN("unixAccept", 1);
  INT(fd, 0, 0, INT32_MAX);
  int c = weft_unix_accept((int)fd);
  if (c == -EAGAIN || c == -EWOULDBLOCK) return int_value(env, -1);
  return count_or_throw(env, c, "accept4", "accepting on a unix socket", fd);
}

static napi_value fds_send(napi_env env, napi_callback_info info) {
  FN("fdsSend", 4);
  INT(fd, 0, 0, INT32_MAX);
  BUF(data, 1);
  INT(nfds, 3, 0, WEFT_FDS_MAX);
  ARR(fds, 2, int32, I32, nfds);
  if (data_len > INT32_MAX) return throw_range(env, "%s: the message is too long", fn), NULL;
  return count_or_throw(env, weft_fds_send((int)fd, data, (int)data_len, fds, (int)nfds), "sendmsg", "sending descriptors", fd);
}

/* { len, nfds }, or null when no message is waiting. */
static napi_value fds_recv(napi_env env, napi_callback_info info) {
  FN("fdsRecv", 3);
  INT(fd, 0, 0, INT32_MAX);
  BUF(buf, 1);
  size_t max = 0;
  int32_t *out = NULL;
  if (!arg_arr(env, fn, argv[2], "fdsOut", napi_int32_array, I32, (void **)&out, 0, "0")) return NULL;
  napi_get_typedarray_info(env, argv[2], NULL, &max, NULL, NULL, NULL);
  if (max > WEFT_FDS_MAX) max = WEFT_FDS_MAX;
  if (buf_len > INT32_MAX) buf_len = INT32_MAX;
  int nfds = 0;
  int r = weft_fds_recv((int)fd, buf, (int)buf_len, out, (int)max, &nfds);
  if (r == -EAGAIN || r == -EWOULDBLOCK) return NULL;
  if (r < 0) return throw_errno(env, -r, "recvmsg", "receiving descriptors (fd %d) failed", (int)fd), NULL;
  napi_value o;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "len", int_value(env, r));
  napi_set_named_property(env, o, "nfds", int_value(env, nfds));
  return o;
}

/* notify(path, message): one datagram to systemd's notification socket. */
static napi_value notify(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  char path[128], msg[512];
  size_t plen = 0, mlen = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], msg, sizeof msg, &mlen) != napi_ok) return throw_type(env, "notify", "path and message", "strings"), NULL;
  if (plen >= sizeof path - 1 || mlen >= sizeof msg - 1) return throw_range(env, "notify: the path or the message is too long"), NULL;
  int r = weft_notify(path, msg);
  if (r < 0) throw_errno(env, -r, "sendto", "notifying %s failed", path);
  return NULL;
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
    CONSTANT("TAP_VNET_HDR", WEFT_TAP_VNET_HDR), CONSTANT("TAP_MULTI_QUEUE", WEFT_TAP_MULTI_QUEUE),
    CONSTANT("TAP_TUN", WEFT_TAP_TUN), CONSTANT("TUN_F_CSUM", WEFT_TUN_F_CSUM),
    CONSTANT("TUN_F_TSO4", WEFT_TUN_F_TSO4), CONSTANT("TUN_F_TSO6", WEFT_TUN_F_TSO6),
    CONSTANT("TUN_F_USO4", WEFT_TUN_F_USO4), CONSTANT("TUN_F_USO6", WEFT_TUN_F_USO6),
    METHOD("tapOpen", tap_open), METHOD("tapSetOffload", tap_set_offload),
    METHOD("tapSetVnetHdrSize", tap_set_vnet_hdr_size), METHOD("tapRead", tap_read), METHOD("tapWritev", tap_writev),
    METHOD("udpOpen", udp_open), METHOD("udpRecv", udp_recv), METHOD("udpSend", udp_send), METHOD("udpSendGsoV", udp_send_gsov),
    METHOD("udpGsoSupported", udp_gso_supported), METHOD("udpSetGro", udp_set_gro), METHOD("udpSetRecvTos", udp_set_recv_tos),
    METHOD("csum", csum), METHOD("csumRanges", csum_ranges), METHOD("csumCopySlices", csum_copy_slices),
    METHOD("tapSetPersist", tap_set_persist), METHOD("unixListen", unix_listen), METHOD("unixConnect", unix_connect),
    METHOD("unixAccept", unix_accept), METHOD("fdsSend", fds_send), METHOD("fdsRecv", fds_recv), METHOD("notify", notify),
    METHOD("pollStart", weft_poll_start), METHOD("pollStop", weft_poll_stop), METHOD("close", close_fd),
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
