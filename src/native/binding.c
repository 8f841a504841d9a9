/*
 * The Node-API glue for weft's native addon: argument checks, errors a user
 * can act on, and the readable-fd watcher. The system calls themselves are
 * in tap.c and udp.c, the checksum loop in csum.c; src/io/native.ts
 * describes the JavaScript side.
 *
 * Design notes
 *
 * - Every call is synchronous and moves a whole batch: JavaScript hands in
 *   one slab (a Buffer) and typed arrays of offsets and lengths, C fills or
 *   drains them. Nothing is allocated per packet on either side.
 * - JavaScript owns all memory the packets live in, so every offset and
 *   length is checked against the slab here, before any system call, and a
 *   bad one throws a RangeError: the kernel never writes out of bounds.
 * - A failed system call throws an Error whose `code` is the errno name
 *   ('EPERM'), with `errno` (negative, as Node's own errors) and `syscall`.
 *   tapOpen and udpOpen explain the errors a user can fix.
 * - pollStart wraps a uv_poll_t. The handle outlives pollStop until libuv's
 *   close callback frees it; the JavaScript object returned by pollStart
 *   only holds a token that forgets the handle when it is stopped, so a
 *   second pollStop, or one after the handle was freed, is safe.
 * - A worker thread may end with a watcher still running. An async cleanup
 *   hook closes it then, and Node waits for the close callback before it
 *   unloads the addon: a callback into unloaded code would crash.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include "csum.h"
#include "tap.h"
#include "udp.h"

#define WEFT_NATIVE_VERSION "0.1.0"

/* Messages are short; names and addresses inside them are bounded. */
#define MSG_LEN 256

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

/* The errno's name, e.g. "EADDRINUSE". */
static void errno_name(int err, char *buf, size_t len) {
  uv_err_name_r(-err, buf, len);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (strncmp(buf, "Unknown", 7) == 0) {
    const char *n = strerrorname_np(err);
    if (n != NULL) snprintf(buf, len, "%s", n);
  }
#endif
}

static const char *errno_text(int err, char *buf, size_t len) {
  return uv_strerror_r(-err, buf, len);
}

/* Throws Error(message) with code = the errno's name, errno = -err, syscall. */
static void throw_errno(napi_env env, int err, const char *syscall, const char *message) {
  char name[64];
  errno_name(err, name, sizeof name);
  napi_value code, msg, error, num, sc;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, -err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  napi_throw(env, error);
}

/* Throws with the message "<what>: <strerror>". */
static void throw_errno_what(napi_env env, int err, const char *syscall, const char *what) {
  char text[128], msg[MSG_LEN + 2 + sizeof text];
  snprintf(msg, sizeof msg, "%s: %s", what, errno_text(err, text, sizeof text));
  throw_errno(env, err, syscall, msg);
}

static void throw_type(napi_env env, const char *fn, const char *name, const char *expected) {
  char msg[MSG_LEN];
  snprintf(msg, sizeof msg, "%s: '%s' must be %s", fn, name, expected);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
}

static void throw_range(napi_env env, const char *message) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
}

/* ------------------------------------------------------------------------ */
/* Arguments                                                                 */

/* Fetches exactly `n` arguments (missing ones are undefined). */
static bool get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  return napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok;
}

/* An integer number in [min, max]. */
static bool arg_int(napi_env env, napi_value v, const char *fn, const char *name,
                    int64_t min, int64_t max, int64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    throw_type(env, fn, name, "a number");
    return false;
  }
  napi_get_value_double(env, v, &d);
  if (!(d >= (double)min && d <= (double)max) || d != (double)(int64_t)d) {
    char msg[MSG_LEN];
    snprintf(msg, sizeof msg, "%s: '%s' must be an integer from %" PRId64 " to %" PRId64 ", not %g",
             fn, name, min, max, d);
    throw_range(env, msg);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

static bool arg_fd(napi_env env, napi_value v, const char *fn, int *fd) {
  int64_t x;
  if (!arg_int(env, v, fn, "fd", 0, INT32_MAX, &x)) return false;
  *fd = (int)x;
  return true;
}

static bool arg_buffer(napi_env env, napi_value v, const char *fn, const char *name,
                       uint8_t **data, size_t *len) {
  bool is = false;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) {
    throw_type(env, fn, name, "a Buffer");
    return false;
  }
  void *p;
  napi_get_buffer_info(env, v, &p, len);
  *data = p;
  return true;
}

/* A typed array of `type`; `elems` gets its length in elements. */
static bool arg_typed(napi_env env, napi_value v, const char *fn, const char *name,
                      napi_typedarray_type type, const char *type_name, void **data, size_t *elems) {
  bool is = false;
  napi_typedarray_type got;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &got, elems, data, NULL, NULL) != napi_ok || got != type) {
    throw_type(env, fn, name, type_name);
    return false;
  }
  return true;
}

/* `count` must not exceed the `have` elements of array `name`. */
static bool check_room(napi_env env, const char *fn, const char *count_name, int64_t count,
                       const char *name, size_t have) {
  if ((uint64_t)count <= have) return true;
  char msg[MSG_LEN];
  snprintf(msg, sizeof msg, "%s: %s is %" PRId64 " but '%s' has room for %zu", fn, count_name, count, name, have);
  throw_range(env, msg);
  return false;
}

/* Each entry i < count, at offs[i] for lens[i] bytes (or `fixed` bytes when
 * lens is NULL), must lie inside the slab. */
static bool check_slots(napi_env env, const char *fn, const char *what, size_t slab_len,
                        const int32_t *offs, const int32_t *lens, int64_t fixed, int64_t count) {
  for (int64_t i = 0; i < count; i++) {
    int64_t off = offs[i];
    int64_t len = lens != NULL ? lens[i] : fixed;
    if (off < 0 || len < 0 || off + len > (int64_t)slab_len) {
      char msg[MSG_LEN];
      snprintf(msg, sizeof msg, "%s: %s %" PRId64 " (offset %" PRId64 ", %" PRId64 " bytes) does not fit in the %zu-byte slab",
               fn, what, i, off, len, slab_len);
      throw_range(env, msg);
      return false;
    }
  }
  return true;
}

/* Pieces of `count` messages: pstart[k]..pstart[k+1]-1 index poffs/plens
 * (n_pieces listed), at least `min` and at most `max` a message, each inside
 * the data buffer. */
static bool check_pieces(napi_env env, const char *fn, const int32_t *pstart, int64_t count, size_t n_pieces,
                         int min, int max, const int32_t *poffs, const int32_t *plens, size_t data_len) {
  for (int64_t k = 0; k < count; k++) {
    int32_t a = pstart[k], b = pstart[k + 1];
    if (a < 0 || b - a < min || b - a > max || (size_t)b > n_pieces) {
      char msg[MSG_LEN];
      snprintf(msg, sizeof msg, "%s: message %" PRId64 " has pieces %d to %d: from %d to %d pieces, within the %zu listed",
               fn, k, a, b, min, max, n_pieces);
      throw_range(env, msg);
      return false;
    }
  }
  return count == 0 || check_slots(env, fn, "piece", data_len, poffs + pstart[0], plens + pstart[0], 0, pstart[count] - pstart[0]);
}

/* ------------------------------------------------------------------------ */
/* Results                                                                   */

static napi_value int_value(napi_env env, int64_t n) {
  napi_value v;
  napi_create_int64(env, n, &v);
  return v;
}

static napi_value undefined_value(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

/* { fd, <key>: value }: tapOpen's name (string) or udpOpen's port. */
static napi_value fd_result(napi_env env, int fd, const char *key, napi_value value) {
  napi_value o;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "fd", int_value(env, fd));
  napi_set_named_property(env, o, key, value);
  return o;
}

/* ------------------------------------------------------------------------ */
/* TAP                                                                       */

/* tapOpen(name, flags) → { fd, name } */
static napi_value tap_open(napi_env env, napi_callback_info info) {
  static const char fn[] = "tapOpen";
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;

  char name[64];
  size_t name_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &name_len) != napi_ok) {
    throw_type(env, fn, "name", "a string");
    return NULL;
  }
  int64_t flags;
  if (!arg_int(env, argv[1], fn, "flags", 0, INT32_MAX, &flags)) return NULL;
  if (flags & ~(int64_t)(WEFT_TAP_VNET_HDR | WEFT_TAP_MULTI_QUEUE)) {
    char msg[MSG_LEN];
    snprintf(msg, sizeof msg, "%s: flags 0x%" PRIx64 " hold bits other than TAP_VNET_HDR and TAP_MULTI_QUEUE", fn, flags);
    throw_range(env, msg);
    return NULL;
  }

  char msg[MSG_LEN];
  /* Checked here because the kernel would silently cut a long name short. */
  if (name_len >= IFNAMSIZ) {
    snprintf(msg, sizeof msg, "TAP name '%s' is too long: an interface name has at most %d characters",
             name, IFNAMSIZ - 1);
    throw_errno(env, EINVAL, fn, msg);
    return NULL;
  }
  if (!weft_tap_name_ok(name)) {
    snprintf(msg, sizeof msg, "TAP name '%s' is not a valid interface name: it may not be '.' or '..' "
             "or contain '/', ':' or white space", name);
    throw_errno(env, EINVAL, fn, msg);
    return NULL;
  }

  char real[IFNAMSIZ];
  enum weft_tap_step step;
  int fd = weft_tap_open(name, (int)flags, real, &step);
  if (fd >= 0) {
    napi_value n;
    napi_create_string_utf8(env, real, NAPI_AUTO_LENGTH, &n);
    return fd_result(env, fd, "name", n);
  }

  int err = -fd;
  const char *syscall = step == WEFT_TAP_STEP_OPEN ? "open" : "ioctl(TUNSETIFF)";
  if (step == WEFT_TAP_STEP_OPEN && (err == ENOENT || err == ENODEV || err == ENXIO)) {
    throw_errno(env, err, syscall, "no /dev/net/tun: load the tun module (modprobe tun) or run where TUN/TAP is available");
  } else if (err == EPERM || err == EACCES) {
    throw_errno(env, err, syscall, "creating a TAP device needs CAP_NET_ADMIN: run as root");
  } else if (step == WEFT_TAP_STEP_SETIFF && (err == EBUSY || (err == EINVAL && weft_netdev_exists(name)))) {
    /* EBUSY: a TAP of that name is attached to another process. EINVAL:
     * the name belongs to a device that is not a TAP (or a TAP opened with
     * another multi-queue setting). */
    snprintf(msg, sizeof msg, "TAP name '%s' is taken by another device: pick another --tap", name);
    throw_errno(env, err, syscall, msg);
  } else {
    char what[MSG_LEN];
    snprintf(what, sizeof what, "opening TAP '%s' failed", name);
    throw_errno_what(env, err, syscall, what);
  }
  return NULL;
}

/* tapSetOffload(fd, tunFlags) */
static napi_value tap_set_offload(napi_env env, napi_callback_info info) {
  static const char fn[] = "tapSetOffload";
  napi_value argv[2];
  int fd;
  int64_t flags;
  if (!get_args(env, info, 2, argv) || !arg_fd(env, argv[0], fn, &fd) ||
      !arg_int(env, argv[1], fn, "tunFlags", 0, UINT32_MAX, &flags)) return NULL;
  int r = weft_tap_set_offload(fd, (unsigned int)flags);
  if (r < 0) {
    char what[MSG_LEN];
    snprintf(what, sizeof what, "setting TAP offloads 0x%" PRIx64 " (TUNSETOFFLOAD) failed", flags);
    throw_errno_what(env, -r, "ioctl(TUNSETOFFLOAD)", what);
    return NULL;
  }
  return undefined_value(env);
}

/* tapSetVnetHdrSize(fd, size) */
static napi_value tap_set_vnet_hdr_size(napi_env env, napi_callback_info info) {
  static const char fn[] = "tapSetVnetHdrSize";
  napi_value argv[2];
  int fd;
  int64_t size;
  if (!get_args(env, info, 2, argv) || !arg_fd(env, argv[0], fn, &fd) ||
      !arg_int(env, argv[1], fn, "size", 0, INT32_MAX, &size)) return NULL;
  int r = weft_tap_set_vnet_hdr_size(fd, (int)size);
  if (r < 0) {
    char what[MSG_LEN];
    snprintf(what, sizeof what, "setting the TAP's virtio-net header size to %" PRId64
             " (TUNSETVNETHDRSZ; at least 10) failed", size);
    throw_errno_what(env, -r, "ioctl(TUNSETVNETHDRSZ)", what);
    return NULL;
  }
  return undefined_value(env);
}

/* tapRead(fd, slab, offs, lens, max, maxLen) → count */
static napi_value tap_read(napi_env env, napi_callback_info info) {
  static const char fn[] = "tapRead";
  napi_value argv[6];
  int fd;
  uint8_t *slab;
  size_t slab_len, n_offs, n_lens;
  int32_t *offs, *lens;
  int64_t max, max_len;
  if (!get_args(env, info, 6, argv) || !arg_fd(env, argv[0], fn, &fd) ||
      !arg_buffer(env, argv[1], fn, "slab", &slab, &slab_len) ||
      !arg_typed(env, argv[2], fn, "offs", napi_int32_array, "an Int32Array", (void **)&offs, &n_offs) ||
      !arg_typed(env, argv[3], fn, "lens", napi_int32_array, "an Int32Array", (void **)&lens, &n_lens) ||
      !arg_int(env, argv[4], fn, "max", 0, INT32_MAX, &max) ||
      !arg_int(env, argv[5], fn, "maxLen", 0, INT32_MAX, &max_len) ||
      !check_room(env, fn, "max", max, "offs", n_offs) ||
      !check_room(env, fn, "max", max, "lens", n_lens) ||
      !check_slots(env, fn, "frame", slab_len, offs, NULL, max_len, max)) return NULL;

  int r = weft_tap_read(fd, slab, offs, lens, (int)max, (int)max_len);
  if (r < 0) {
    char what[MSG_LEN];
    snprintf(what, sizeof what, "reading frames from the TAP (fd %d) failed", fd);
    throw_errno_what(env, -r, "read", what);
    return NULL;
  }
  return int_value(env, r);
}

/* tapWrite(fd, slab, offs, lens, count) → written */
static napi_value tap_write(napi_env env, napi_callback_info info) {
  static const char fn[] = "tapWrite";
  napi_value argv[5];
  int fd;
  uint8_t *slab;
  size_t slab_len, n_offs, n_lens;
  int32_t *offs, *lens;
  int64_t count;
  if (!get_args(env, info, 5, argv) || !arg_fd(env, argv[0], fn, &fd) ||
      !arg_buffer(env, argv[1], fn, "slab", &slab, &slab_len) ||
      !arg_typed(env, argv[2], fn, "offs", napi_int32_array, "an Int32Array", (void **)&offs, &n_offs) ||
      !arg_typed(env, argv[3], fn, "lens", napi_int32_array, "an Int32Array", (void **)&lens, &n_lens) ||
      !arg_int(env, argv[4], fn, "count", 0, INT32_MAX, &count) ||
      !check_room(env, fn, "count", count, "offs", n_offs) ||
      !check_room(env, fn, "count", count, "lens", n_lens) ||
      !check_slots(env, fn, "frame", slab_len, offs, lens, 0, count)) return NULL;

  int r = weft_tap_write(fd, slab, offs, lens, (int)count);
  if (r < 0) {
    char what[MSG_LEN];
    snprintf(what, sizeof what, "writing a %d-byte frame to the TAP (fd %d) failed", lens[0], fd);
    throw_errno_what(env, -r, "write", what);
    return NULL;
  }
  return int_value(env, r);
}

/* tapWritev(fd, head, offs, lens, data, poffs, plens, pstart, count) → frames
 * written: frame i is head[offs[i], +lens[i]) then the pieces
 * pstart[i]..pstart[i+1]-1 of data (a coalesced super-frame whose payloads
 * stay where the socket put them). */
static napi_value tap_writev(napi_env env, napi_callback_info info) {
  static const char fn[] = "tapWritev";
  napi_value argv[9];
  int fd;
  uint8_t *head, *data;
  size_t head_len, data_len, n_offs, n_lens, n_poffs, n_plens, n_pstart;
  int32_t *offs, *lens, *poffs, *plens, *pstart;
  int64_t count;
  if (!get_args(env, info, 9, argv) || !arg_fd(env, argv[0], fn, &fd) ||
      !arg_buffer(env, argv[1], fn, "head", &head, &head_len) ||
      !arg_typed(env, argv[2], fn, "offs", napi_int32_array, "an Int32Array", (void **)&offs, &n_offs) ||
      !arg_typed(env, argv[3], fn, "lens", napi_int32_array, "an Int32Array", (void **)&lens, &n_lens) ||
      !arg_buffer(env, argv[4], fn, "data", &data, &data_len) ||
      !arg_typed(env, argv[5], fn, "poffs", napi_int32_array, "an Int32Array", (void **)&poffs, &n_poffs) ||
      !arg_typed(env, argv[6], fn, "plens", napi_int32_array, "an Int32Array", (void **)&plens, &n_plens) ||
      !arg_typed(env, argv[7], fn, "pstart", napi_int32_array, "an Int32Array", (void **)&pstart, &n_pstart) ||
      !arg_int(env, argv[8], fn, "count", 0, INT32_MAX, &count) ||
      !check_room(env, fn, "count", count, "offs", n_offs) ||
      !check_room(env, fn, "count", count, "lens", n_lens) ||
      !check_room(env, fn, "count + 1", count + 1, "pstart", n_pstart) ||
      !check_slots(env, fn, "frame", head_len, offs, lens, 0, count) ||
      !check_pieces(env, fn, pstart, count, n_poffs < n_plens ? n_poffs : n_plens, 0, WEFT_TAP_PIECES_MAX, poffs, plens, data_len)) return NULL;

  int r = weft_tap_writev(fd, head, offs, lens, data, poffs, plens, pstart, (int)count);
  if (r < 0) {
    char what[MSG_LEN];
    snprintf(what, sizeof what, "writing a %d-byte frame head and %d pieces to the TAP (fd %d) failed", lens[0], pstart[1] - pstart[0], fd);
    throw_errno_what(env, -r, "writev", what);
    return NULL;
  }
  return int_value(env, r);
}

/* ------------------------------------------------------------------------ */
/* UDP                                                                       */

/* An optional property of `opts`: a boolean, or an integer in [0, INT32_MAX]. */
static bool opt_value(napi_env env, napi_value opts, const char *key, bool boolean, int *out) {
  napi_value v;
  napi_valuetype t;
  *out = 0;
  if (napi_get_named_property(env, opts, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_undefined) return true;
  if (boolean) {
    bool b;
    if (t != napi_boolean) {
      throw_type(env, "udpOpen", key, "a boolean");
      return false;
    }
    napi_get_value_bool(env, v, &b);
    *out = b;
    return true;
  }
  int64_t x;
  if (!arg_int(env, v, "udpOpen", key, 0, INT32_MAX, &x)) return false;
  *out = (int)x;
  return true;
}

/* udpOpen(family, address, port, opts) → { fd, port } */
static napi_value udp_open(napi_env env, napi_callback_info info) {
  static const char fn[] = "udpOpen";
  napi_value argv[4];
  int64_t family, port;
  if (!get_args(env, info, 4, argv) || !arg_int(env, argv[0], fn, "family", 4, 6, &family)) return NULL;
  if (family != 4 && family != 6) {
    throw_range(env, "udpOpen: 'family' must be 4 or 6");
    return NULL;
  }
  char addr[INET6_ADDRSTRLEN + 16];
  size_t addr_len = 0;
  if (napi_get_value_string_utf8(env, argv[1], addr, sizeof addr, &addr_len) != napi_ok) {
    throw_type(env, fn, "address", "a string");
    return NULL;
  }
  if (!arg_int(env, argv[2], fn, "port", 0, 65535, &port)) return NULL;

  struct weft_udp_opts o = { 0, 0, 0 };
  napi_valuetype t;
  napi_typeof(env, argv[3], &t);
  if (t == napi_object) {
    if (!opt_value(env, argv[3], "reusePort", true, &o.reuse_port) ||
        !opt_value(env, argv[3], "rcvbuf", false, &o.rcvbuf) ||
        !opt_value(env, argv[3], "sndbuf", false, &o.sndbuf)) return NULL;
  } else if (t != napi_undefined) {
    throw_type(env, fn, "opts", "an object");
    return NULL;
  }

  char msg[MSG_LEN], what[MSG_LEN];
  if (addr_len >= sizeof addr - 1) {
    snprintf(msg, sizeof msg, "'%.40s...' is not an IPv%d address", addr, (int)family);
    throw_errno(env, EINVAL, "inet_pton", msg);
    return NULL;
  }

  int bound = 0;
  enum weft_udp_step step;
  int fd = weft_udp_open((int)family, addr, (int)port, &o, &bound, &step);
  if (fd >= 0) return fd_result(env, fd, "port", int_value(env, bound));

  int err = -fd;
  switch (step) {
  case WEFT_UDP_STEP_ADDRESS:
    snprintf(msg, sizeof msg, "'%s' is not an IPv%d address", addr, (int)family);
    throw_errno(env, err, "inet_pton", msg);
    break;
  case WEFT_UDP_STEP_SOCKET:
    if (err == EAFNOSUPPORT) {
      snprintf(msg, sizeof msg, "this host has no IPv%d (disabled or not built into the kernel)", (int)family);
      throw_errno(env, err, "socket", msg);
    } else {
      throw_errno_what(env, err, "socket", "creating a UDP socket failed");
    }
    break;
  case WEFT_UDP_STEP_REUSEPORT:
    throw_errno_what(env, err, "setsockopt", "setting SO_REUSEPORT failed");
    break;
  case WEFT_UDP_STEP_RCVBUF:
  case WEFT_UDP_STEP_SNDBUF:
    snprintf(what, sizeof what, "setting the UDP %s buffer to %d bytes failed",
             step == WEFT_UDP_STEP_RCVBUF ? "receive" : "send",
             step == WEFT_UDP_STEP_RCVBUF ? o.rcvbuf : o.sndbuf);
    throw_errno_what(env, err, "setsockopt", what);
    break;
  case WEFT_UDP_STEP_BIND:
    if (err == EADDRINUSE) {
      snprintf(msg, sizeof msg, "UDP port %d on %s is in use: another VTEP (weft or a kernel vxlan device) "
               "may be bound to it", (int)port, addr);
      throw_errno(env, err, "bind", msg);
    } else if (err == EADDRNOTAVAIL) {
      snprintf(msg, sizeof msg, "%s is not an address of this host: check --local", addr);
      throw_errno(env, err, "bind", msg);
    } else if (err == EACCES) {
      snprintf(msg, sizeof msg, "binding UDP port %d needs root: it is below the first unprivileged port", (int)port);
      throw_errno(env, err, "bind", msg);
    } else {
      snprintf(what, sizeof what, "binding UDP port %d on %s failed", (int)port, addr);
      throw_errno_what(env, err, "bind", what);
    }
    break;
  case WEFT_UDP_STEP_GETSOCKNAME:
    throw_errno_what(env, err, "getsockname", "reading the bound UDP port failed");
    break;
  }
  return NULL;
}

/* udpRecv(fd, slab, offs, lens, maxLen, srcAddr, srcPort, max[, segs]) → count */
static napi_value udp_recv(napi_env env, napi_callback_info info) {
  static const char fn[] = "udpRecv";
  napi_value argv[9];
  int fd;
  uint8_t *slab;
  size_t slab_len, n_offs, n_lens, n_addr, n_port, n_segs = 0;
  int32_t *offs, *lens, *segs = NULL;
  uint32_t *src_addr;
  uint16_t *src_port;
  int64_t max_len, max;
  napi_valuetype t;
  if (!get_args(env, info, 9, argv) || !arg_fd(env, argv[0], fn, &fd) ||
      !arg_buffer(env, argv[1], fn, "slab", &slab, &slab_len) ||
      !arg_typed(env, argv[2], fn, "offs", napi_int32_array, "an Int32Array", (void **)&offs, &n_offs) ||
      !arg_typed(env, argv[3], fn, "lens", napi_int32_array, "an Int32Array", (void **)&lens, &n_lens) ||
      !arg_int(env, argv[4], fn, "maxLen", 0, INT32_MAX, &max_len) ||
      !arg_typed(env, argv[5], fn, "srcAddr", napi_uint32_array, "a Uint32Array", (void **)&src_addr, &n_addr) ||
      !arg_typed(env, argv[6], fn, "srcPort", napi_uint16_array, "a Uint16Array", (void **)&src_port, &n_port) ||
      !arg_int(env, argv[7], fn, "max", 0, INT32_MAX, &max) ||
      napi_typeof(env, argv[8], &t) != napi_ok ||
      (t != napi_undefined &&
       (!arg_typed(env, argv[8], fn, "segs", napi_int32_array, "an Int32Array or undefined", (void **)&segs, &n_segs) ||
        !check_room(env, fn, "max", max, "segs", n_segs))) ||
      !check_room(env, fn, "max", max, "offs", n_offs) ||
      !check_room(env, fn, "max", max, "lens", n_lens) ||
      !check_room(env, fn, "4 * max", 4 * max, "srcAddr", n_addr) ||
      !check_room(env, fn, "max", max, "srcPort", n_port) ||
      !check_slots(env, fn, "datagram", slab_len, offs, NULL, max_len, max)) return NULL;

  int r = weft_udp_recv(fd, slab, offs, lens, (int)max_len, src_addr, src_port, segs, (int)max);
  if (r < 0) {
    char what[MSG_LEN];
    snprintf(what, sizeof what, "receiving UDP datagrams (fd %d) failed", fd);
    throw_errno_what(env, -r, "recvmmsg", what);
    return NULL;
  }
  return int_value(env, r);
}

/* What udpSend and udpSendGso share: the arguments besides segs. */
struct send_args {
  int fd;
  uint8_t *slab;
  int32_t *offs, *lens, *errors;
  uint32_t *dst_addr;
  uint16_t *dst_port;
  int64_t count;
};

/* Reads (fd, slab, offs, lens, <skip>, dstAddr, dstPort, count, errors)
 * from `argv`, `skip` being 1 when a segs argument sits after lens. */
static bool send_args(napi_env env, const char *fn, napi_value *argv, int skip, struct send_args *a) {
  size_t slab_len, n_offs, n_lens, n_addr, n_port, n_err;
  napi_value *rest = argv + 4 + skip;
  return arg_fd(env, argv[0], fn, &a->fd) &&
      arg_buffer(env, argv[1], fn, "slab", &a->slab, &slab_len) &&
      arg_typed(env, argv[2], fn, "offs", napi_int32_array, "an Int32Array", (void **)&a->offs, &n_offs) &&
      arg_typed(env, argv[3], fn, "lens", napi_int32_array, "an Int32Array", (void **)&a->lens, &n_lens) &&
      arg_typed(env, rest[0], fn, "dstAddr", napi_uint32_array, "a Uint32Array", (void **)&a->dst_addr, &n_addr) &&
      arg_typed(env, rest[1], fn, "dstPort", napi_uint16_array, "a Uint16Array", (void **)&a->dst_port, &n_port) &&
      arg_int(env, rest[2], fn, "count", 0, INT32_MAX, &a->count) &&
      arg_typed(env, rest[3], fn, "errors", napi_int32_array, "an Int32Array", (void **)&a->errors, &n_err) &&
      check_room(env, fn, "count", a->count, "offs", n_offs) &&
      check_room(env, fn, "count", a->count, "lens", n_lens) &&
      check_room(env, fn, "4 * count", 4 * a->count, "dstAddr", n_addr) &&
      check_room(env, fn, "count", a->count, "dstPort", n_port) &&
      check_room(env, fn, "1", 1, "errors", n_err) &&
      check_slots(env, fn, "datagram", slab_len, a->offs, a->lens, 0, a->count);
}

static napi_value send_result(napi_env env, int fd, int r) {
  if (r < 0) {
    char what[MSG_LEN];
    snprintf(what, sizeof what, "sending UDP datagrams (fd %d) failed", fd);
    throw_errno_what(env, -r, "sendmmsg", what);
    return NULL;
  }
  return int_value(env, r);
}

/* udpSend(fd, slab, offs, lens, dstAddr, dstPort, count, errors) → sent */
static napi_value udp_send(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  struct send_args a;
  if (!get_args(env, info, 8, argv) || !send_args(env, "udpSend", argv, 0, &a)) return NULL;
  int r = weft_udp_send(a.fd, a.slab, a.offs, a.lens, a.dst_addr, a.dst_port, (int)a.count, a.errors);
  return send_result(env, a.fd, r);
}

/* Each segs[k], k < count: a UDP_SEGMENT size (1…65535), or 0 for a plain datagram. */
static bool check_segs(napi_env env, const char *fn, const int32_t *segs, int64_t count) {
  for (int64_t k = 0; k < count; k++) {
    if (segs[k] < 0 || segs[k] > 65535) {
      char msg[MSG_LEN];
      snprintf(msg, sizeof msg, "%s: segs[%" PRId64 "] is %d: a segment size is from 1 to 65535, "
               "or 0 to send the message as one datagram", fn, k, segs[k]);
      throw_range(env, msg);
      return false;
    }
  }
  return true;
}

/* udpSendGso(fd, slab, offs, lens, segs, dstAddr, dstPort, count, errors) → sent */
static napi_value udp_send_gso(napi_env env, napi_callback_info info) {
  static const char fn[] = "udpSendGso";
  napi_value argv[9];
  struct send_args a;
  int32_t *segs;
  size_t n_segs;
  if (!get_args(env, info, 9, argv) || !send_args(env, fn, argv, 1, &a) ||
      !arg_typed(env, argv[4], fn, "segs", napi_int32_array, "an Int32Array", (void **)&segs, &n_segs) ||
      !check_room(env, fn, "count", a.count, "segs", n_segs)) return NULL;
  if (!check_segs(env, fn, segs, a.count)) return NULL;
  int r = weft_udp_send_gso(a.fd, a.slab, a.offs, a.lens, segs, a.dst_addr, a.dst_port, (int)a.count, a.errors);
  return send_result(env, a.fd, r);
}

/* udpSendGsoV(fd, slab, poffs, plens, pstart, segs, dstAddr, dstPort, count, errors) → sent:
 * message k gathers pieces pstart[k]..pstart[k+1]-1 (a datagram's fresh
 * headers and its payload where the TAP read left it). */
static napi_value udp_send_gsov(napi_env env, napi_callback_info info) {
  static const char fn[] = "udpSendGsoV";
  napi_value argv[10];
  int fd;
  uint8_t *slab;
  size_t slab_len, n_poffs, n_plens, n_pstart, n_segs, n_addr, n_port, n_err;
  int32_t *poffs, *plens, *pstart, *segs, *errors;
  uint32_t *dst_addr;
  uint16_t *dst_port;
  int64_t count;
  if (!get_args(env, info, 10, argv) || !arg_fd(env, argv[0], fn, &fd) ||
      !arg_buffer(env, argv[1], fn, "slab", &slab, &slab_len) ||
      !arg_typed(env, argv[2], fn, "poffs", napi_int32_array, "an Int32Array", (void **)&poffs, &n_poffs) ||
      !arg_typed(env, argv[3], fn, "plens", napi_int32_array, "an Int32Array", (void **)&plens, &n_plens) ||
      !arg_typed(env, argv[4], fn, "pstart", napi_int32_array, "an Int32Array", (void **)&pstart, &n_pstart) ||
      !arg_typed(env, argv[5], fn, "segs", napi_int32_array, "an Int32Array", (void **)&segs, &n_segs) ||
      !arg_typed(env, argv[6], fn, "dstAddr", napi_uint32_array, "a Uint32Array", (void **)&dst_addr, &n_addr) ||
      !arg_typed(env, argv[7], fn, "dstPort", napi_uint16_array, "a Uint16Array", (void **)&dst_port, &n_port) ||
      !arg_int(env, argv[8], fn, "count", 0, INT32_MAX, &count) ||
      !arg_typed(env, argv[9], fn, "errors", napi_int32_array, "an Int32Array", (void **)&errors, &n_err) ||
      !check_room(env, fn, "count + 1", count + 1, "pstart", n_pstart) ||
      !check_room(env, fn, "count", count, "segs", n_segs) ||
      !check_room(env, fn, "4 * count", 4 * count, "dstAddr", n_addr) ||
      !check_room(env, fn, "count", count, "dstPort", n_port) ||
      !check_room(env, fn, "1", 1, "errors", n_err) ||
      !check_pieces(env, fn, pstart, count, n_poffs < n_plens ? n_poffs : n_plens, 1, WEFT_UDP_PIECES_MAX, poffs, plens, slab_len)) return NULL;
  if (!check_segs(env, fn, segs, count)) return NULL;
  int r = weft_udp_send_gsov(fd, slab, poffs, plens, pstart, segs, dst_addr, dst_port, (int)count, errors);
  return send_result(env, fd, r);
}

static napi_value bool_value(napi_env env, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}

/* udpGsoSupported(fd) → boolean */
static napi_value udp_gso_supported(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !arg_fd(env, argv[0], "udpGsoSupported", &fd)) return NULL;
  int r = weft_udp_gso_supported(fd);
  if (r < 0) {
    char what[MSG_LEN];
    snprintf(what, sizeof what, "asking fd %d for UDP GSO (getsockopt UDP_SEGMENT) failed", fd);
    throw_errno_what(env, -r, "getsockopt", what);
    return NULL;
  }
  return bool_value(env, r == 1);
}

/* udpSetGro(fd, on) → boolean */
static napi_value udp_set_gro(napi_env env, napi_callback_info info) {
  static const char fn[] = "udpSetGro";
  napi_value argv[2];
  int fd;
  bool on;
  if (!get_args(env, info, 2, argv) || !arg_fd(env, argv[0], fn, &fd)) return NULL;
  if (napi_get_value_bool(env, argv[1], &on) != napi_ok) {
    throw_type(env, fn, "on", "a boolean");
    return NULL;
  }
  int r = weft_udp_set_gro(fd, on);
  if (r < 0) {
    char what[MSG_LEN];
    snprintf(what, sizeof what, "turning UDP GRO %s (setsockopt UDP_GRO, fd %d) failed", on ? "on" : "off", fd);
    throw_errno_what(env, -r, "setsockopt", what);
    return NULL;
  }
  return bool_value(env, r == 1);
}

/* ------------------------------------------------------------------------ */
/* Checksum                                                                  */

/* csum(buf, off, len, initial) → the folded, uncomplemented sum */
static napi_value csum(napi_env env, napi_callback_info info) {
  static const char fn[] = "csum";
  napi_value argv[4];
  uint8_t *buf;
  size_t buf_len;
  int64_t off, len, initial;
  if (!get_args(env, info, 4, argv) ||
      !arg_buffer(env, argv[0], fn, "buf", &buf, &buf_len) ||
      !arg_int(env, argv[1], fn, "off", 0, INT64_C(1) << 53, &off) ||
      !arg_int(env, argv[2], fn, "len", 0, INT64_C(1) << 53, &len) ||
      !arg_int(env, argv[3], fn, "initial", 0, UINT32_MAX, &initial)) return NULL;
  if ((uint64_t)(off + len) > buf_len) {
    char msg[MSG_LEN];
    snprintf(msg, sizeof msg, "%s: %" PRId64 " bytes at offset %" PRId64 " do not fit in the %zu-byte buffer",
             fn, len, off, buf_len);
    throw_range(env, msg);
    return NULL;
  }
  napi_value v;
  napi_create_uint32(env, weft_csum(buf + off, (size_t)len, (uint32_t)initial), &v);
  return v;
}

/* csumRanges(buf, offs, lens, count, sums) → count: sums[i] gets the sum
 * (as csum, initial 0) of the lens[i] bytes at offs[i], for i < count. One
 * call for a whole batch of frames to verify: one call per frame cost more
 * than summing it. */
static napi_value csum_ranges(napi_env env, napi_callback_info info) {
  static const char fn[] = "csumRanges";
  napi_value argv[5];
  uint8_t *buf;
  size_t buf_len, n_offs, n_lens, n_sums;
  int32_t *offs, *lens;
  uint32_t *sums;
  int64_t count;
  if (!get_args(env, info, 5, argv) ||
      !arg_buffer(env, argv[0], fn, "buf", &buf, &buf_len) ||
      !arg_typed(env, argv[1], fn, "offs", napi_int32_array, "an Int32Array", (void **)&offs, &n_offs) ||
      !arg_typed(env, argv[2], fn, "lens", napi_int32_array, "an Int32Array", (void **)&lens, &n_lens) ||
      !arg_int(env, argv[3], fn, "count", 0, INT32_MAX, &count) ||
      !arg_typed(env, argv[4], fn, "sums", napi_uint32_array, "a Uint32Array", (void **)&sums, &n_sums) ||
      !check_room(env, fn, "count", count, "offs", n_offs) ||
      !check_room(env, fn, "count", count, "lens", n_lens) ||
      !check_room(env, fn, "count", count, "sums", n_sums) ||
      !check_slots(env, fn, "range", buf_len, offs, lens, 0, count)) return NULL;
  for (int64_t i = 0; i < count; i++) sums[i] = weft_csum(buf + offs[i], (size_t)lens[i], 0);
  return int_value(env, count);
}

/* csumCopySlices(src, hdrOff, hdrLen, payOff, payLen, step, dst, dstOff,
 * stride, sums[, copyPayload]) → n: cuts src[payOff, payOff+payLen) into
 * n = ceil(payLen / step) slices; slice k goes to dst + dstOff + k*stride +
 * hdrLen behind a copy of the hdrLen bytes at src + hdrOff, and sums[k] gets
 * its folded, uncomplemented sum. With copyPayload false only the headers
 * are copied and the slices summed where they are (for a gathering send).
 * One call per super-frame, not one per segment: the call cost was most of
 * a segment's. What the header bytes mean, and every checksum fix-up, stays
 * in TypeScript. */
static napi_value csum_copy_slices(napi_env env, napi_callback_info info) {
  static const char fn[] = "csumCopySlices";
  napi_value argv[11];
  uint8_t *src, *dst;
  size_t src_len, dst_len, nsums;
  bool copy = true;
  uint32_t *sums;
  int64_t hoff, hlen, poff, plen, step, doff, stride;
  if (!get_args(env, info, 11, argv) ||
      !arg_buffer(env, argv[0], fn, "src", &src, &src_len) ||
      !arg_int(env, argv[1], fn, "hdrOff", 0, INT32_MAX, &hoff) ||
      !arg_int(env, argv[2], fn, "hdrLen", 0, INT32_MAX, &hlen) ||
      !arg_int(env, argv[3], fn, "payOff", 0, INT32_MAX, &poff) ||
      !arg_int(env, argv[4], fn, "payLen", 1, INT32_MAX, &plen) ||
      !arg_int(env, argv[5], fn, "step", 1, INT32_MAX, &step) ||
      !arg_buffer(env, argv[6], fn, "dst", &dst, &dst_len) ||
      !arg_int(env, argv[7], fn, "dstOff", 0, INT32_MAX, &doff) ||
      !arg_int(env, argv[8], fn, "stride", 0, INT32_MAX, &stride) ||
      !arg_typed(env, argv[9], fn, "sums", napi_uint32_array, "a Uint32Array", (void **)&sums, &nsums)) return NULL;
  napi_valuetype t;
  if (napi_typeof(env, argv[10], &t) == napi_ok && t != napi_undefined && napi_get_value_bool(env, argv[10], &copy) != napi_ok) {
    throw_type(env, fn, "copyPayload", "a boolean");
    return NULL;
  }
  int64_t n = (plen + step - 1) / step;
  int64_t last = plen - (n - 1) * step;
  int64_t room = copy ? hlen + step : hlen;
  if ((uint64_t)(hoff + hlen) > src_len || (uint64_t)(poff + plen) > src_len ||
      stride < room || (uint64_t)(doff + (n - 1) * stride + (copy ? hlen + last : hlen)) > dst_len) {
    char msg[MSG_LEN];
    snprintf(msg, sizeof msg, "%s: %" PRId64 " slices do not fit (src %zu bytes, dst %zu bytes from %" PRId64 " by %" PRId64 ")",
             fn, n, src_len, dst_len, doff, stride);
    throw_range(env, msg);
    return NULL;
  }
  if (!check_room(env, fn, "the slice count", n, "sums", nsums)) return NULL;
  for (int64_t k = 0; k < n; k++) {
    uint8_t *d = dst + doff + k * stride;
    size_t len = (size_t)(k == n - 1 ? last : step);
    memmove(d, src + hoff, (size_t)hlen);
    if (copy) {
      memmove(d + hlen, src + poff + k * step, len);
      sums[k] = weft_csum(d + hlen, len, 0);
    } else {
      sums[k] = weft_csum(src + poff + k * step, len, 0);
    }
  }
  napi_value v;
  napi_create_uint32(env, (uint32_t)n, &v);
  return v;
}

/* ------------------------------------------------------------------------ */
/* Readable-fd watcher                                                       */

typedef struct weft_poll weft_poll;

/* What the JavaScript handle holds; freed with the handle. */
typedef struct {
  weft_poll *poll;   /* NULL once stopped */
} weft_poll_token;

struct weft_poll {
  uv_poll_t handle;          /* first: the uv handle's address is the struct's */
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
  napi_async_cleanup_hook_handle teardown;
  weft_poll_token *token;    /* NULL once the JavaScript handle is gone */
  int fd;
  bool released;
};

/* Tells pollStop a handle came from pollStart. */
static const napi_type_tag POLL_TAG = { 0x77656674706f6c6cULL, 0x9d2c5680f3a1b7e4ULL };

/* The last step: libuv is done with the handle. Removing the teardown hook
 * tells Node, if the environment is ending, that this addon's code will not
 * run again for this watcher, so the library may be unloaded. */
static void poll_closed(uv_handle_t *h) {
  weft_poll *p = (weft_poll *)h;
  if (p->teardown != NULL) napi_remove_async_cleanup_hook(p->teardown);
  free(p);
}

/* Stops watching and releases everything; the struct itself is freed by
 * libuv's close callback, after the loop is done with it. */
static void poll_release(weft_poll *p) {
  p->released = true;
  uv_poll_stop(&p->handle);
  napi_delete_reference(p->env, p->cb);
  napi_async_destroy(p->env, p->ctx);
  if (p->token != NULL) p->token->poll = NULL;
  uv_close((uv_handle_t *)&p->handle, poll_closed);
}

/* The environment is ending (a worker stops) with the watcher running.
 * Node waits for poll_closed before it unloads the addon, whose code the
 * close callback is. */
static void poll_teardown(napi_async_cleanup_hook_handle hook, void *arg) {
  (void)hook;
  weft_poll *p = arg;
  if (!p->released) poll_release(p);
}

static void token_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  weft_poll_token *t = data;
  if (t->poll != NULL) t->poll->token = NULL;
  free(t);
}

static void poll_ready(uv_poll_t *h, int status, int events) {
  (void)events;
  weft_poll *p = (weft_poll *)h;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  napi_value cb, global, result, argv[1];
  size_t argc = 0;
  if (napi_get_reference_value(env, p->cb, &cb) == napi_ok && cb != NULL &&
      napi_get_global(env, &global) == napi_ok) {
    if (status < 0) {
      /* libuv has stopped the watcher (the fd reported an error, e.g. its
       * device went away); say so once. */
      char name[64], text[128], msg[MSG_LEN];
      napi_value code, m;
      errno_name(-status, name, sizeof name);
      snprintf(msg, sizeof msg, "watching fd %d stopped: %s", p->fd, uv_strerror_r(status, text, sizeof text));
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
      napi_create_error(env, code, m, &argv[0]);
      argc = 1;
    }
    /* napi_make_callback runs queued microtasks and nextTicks afterwards,
     * as for any I/O callback. An exception the callback throws is handed
     * to process 'uncaughtException' rather than lost. */
    if (napi_make_callback(env, p->ctx, global, cb, argc, argv, &result) != napi_ok) {
      bool pending = false;
      napi_value exc;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
          napi_get_and_clear_last_exception(env, &exc) == napi_ok) {
        napi_fatal_exception(env, exc);
      }
    }
  }
  napi_close_handle_scope(env, scope);
}

/* pollStart(fd, cb) → handle */
static napi_value poll_start(napi_env env, napi_callback_info info) {
  static const char fn[] = "pollStart";
  napi_value argv[2];
  int fd;
  napi_valuetype t;
  if (!get_args(env, info, 2, argv) || !arg_fd(env, argv[0], fn, &fd)) return NULL;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    throw_type(env, fn, "cb", "a function");
    return NULL;
  }

  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    napi_throw_error(env, NULL, "pollStart: no event loop");
    return NULL;
  }
  weft_poll *p = calloc(1, sizeof *p);
  weft_poll_token *tok = calloc(1, sizeof *tok);
  if (p == NULL || tok == NULL) {
    free(p);
    free(tok);
    throw_errno(env, ENOMEM, "calloc", "pollStart: out of memory");
    return NULL;
  }
  p->env = env;
  p->fd = fd;

  int r = uv_poll_init(loop, &p->handle, fd);
  if (r < 0) {
    free(p);
    free(tok);
    char what[MSG_LEN];
    snprintf(what, sizeof what, "watching fd %d failed", fd);
    throw_errno_what(env, -r, "uv_poll_init", what);
    return NULL;
  }
  r = uv_poll_start(&p->handle, UV_READABLE, poll_ready);
  if (r < 0) {
    uv_close((uv_handle_t *)&p->handle, poll_closed);
    free(tok);
    char what[MSG_LEN];
    snprintf(what, sizeof what, "watching fd %d failed", fd);
    throw_errno_what(env, -r, "uv_poll_start", what);
    return NULL;
  }

  napi_value handle, resource_name;
  napi_create_object(env, &handle);
  napi_create_string_utf8(env, "weft:poll", NAPI_AUTO_LENGTH, &resource_name);
  napi_create_reference(env, argv[1], 1, &p->cb);
  napi_async_init(env, NULL, resource_name, &p->ctx);
  napi_add_async_cleanup_hook(env, poll_teardown, p, &p->teardown);
  napi_type_tag_object(env, handle, &POLL_TAG);
  tok->poll = p;
  p->token = tok;
  napi_wrap(env, handle, tok, token_finalize, NULL, NULL);
  return handle;
}

/* pollStop(handle): idempotent */
static napi_value poll_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  napi_valuetype t;
  bool tagged = false;
  if (!get_args(env, info, 1, argv)) return NULL;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_object ||
      napi_check_object_type_tag(env, argv[0], &POLL_TAG, &tagged) != napi_ok || !tagged) {
    throw_type(env, "pollStop", "handle", "a handle returned by pollStart");
    return NULL;
  }
  weft_poll_token *tok;
  if (napi_unwrap(env, argv[0], (void **)&tok) == napi_ok && tok->poll != NULL) poll_release(tok->poll);
  return undefined_value(env);
}

/* close(fd) */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !arg_fd(env, argv[0], "close", &fd)) return NULL;
  /* On Linux the fd is released even when close() reports EINTR. */
  int err = close(fd) < 0 ? errno : 0;
  if (err != 0 && err != EINTR) {
    char what[MSG_LEN];
    snprintf(what, sizeof what, "closing fd %d failed", fd);
    throw_errno_what(env, err, "close", what);
    return NULL;
  }
  return undefined_value(env);
}

/* ------------------------------------------------------------------------ */
/* Module                                                                    */

static napi_property_descriptor method(const char *name, napi_callback cb) {
  napi_property_descriptor d = { name, NULL, cb, NULL, NULL, NULL, napi_enumerable, NULL };
  return d;
}

static napi_property_descriptor constant(napi_env env, const char *name, int64_t value) {
  napi_property_descriptor d = { name, NULL, NULL, NULL, NULL, int_value(env, value), napi_enumerable, NULL };
  return d;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value version;
  napi_create_string_utf8(env, WEFT_NATIVE_VERSION, NAPI_AUTO_LENGTH, &version);
  napi_property_descriptor props[] = {
    { "version", NULL, NULL, NULL, NULL, version, napi_enumerable, NULL },
    constant(env, "TAP_VNET_HDR", WEFT_TAP_VNET_HDR),
    constant(env, "TAP_MULTI_QUEUE", WEFT_TAP_MULTI_QUEUE),
    constant(env, "TUN_F_CSUM", WEFT_TUN_F_CSUM),
    constant(env, "TUN_F_TSO4", WEFT_TUN_F_TSO4),
    constant(env, "TUN_F_TSO6", WEFT_TUN_F_TSO6),
    constant(env, "TUN_F_TSO_ECN", WEFT_TUN_F_TSO_ECN),
    constant(env, "TUN_F_UFO", WEFT_TUN_F_UFO),
    constant(env, "TUN_F_USO4", WEFT_TUN_F_USO4),
    constant(env, "TUN_F_USO6", WEFT_TUN_F_USO6),
    method("tapOpen", tap_open),
    method("tapSetOffload", tap_set_offload),
    method("tapSetVnetHdrSize", tap_set_vnet_hdr_size),
    method("tapRead", tap_read),
    method("tapWrite", tap_write),
    method("udpOpen", udp_open),
    method("udpRecv", udp_recv),
    method("udpSend", udp_send),
    method("udpSendGso", udp_send_gso),
    method("udpSendGsoV", udp_send_gsov),
    method("udpGsoSupported", udp_gso_supported),
    method("udpSetGro", udp_set_gro),
    method("csum", csum),
    method("tapWritev", tap_writev),
    method("csumCopySlices", csum_copy_slices),
    method("csumRanges", csum_ranges),
    method("pollStart", poll_start),
    method("pollStop", poll_stop),
    method("close", close_fd),
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
