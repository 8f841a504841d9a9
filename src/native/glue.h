/*
 * What binding.c and poll.c share: errors thrown as Node's own (code, errno,
 * syscall; what one means to a user is said in src/io/native-errors.ts),
 * and argument checks. JavaScript owns every byte a packet lives in, so each
 * offset and length is checked against its buffer before C touches it.
 */
#ifndef WEFT_GLUE_H
#define WEFT_GLUE_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MSG_LEN 256

static inline napi_value int_value(napi_env env, int64_t n) {
  napi_value v;
  return napi_create_int64(env, n, &v) == napi_ok ? v : NULL;
}

static inline napi_value str_value(napi_env env, const char *s) {
  napi_value v;
  return napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v) == napi_ok ? v : NULL;
}

/* Error(message + ": " + strerror) with code, errno and syscall. */
static inline void throw_errno(napi_env env, int err, const char *syscall, const char *fmt, ...) {
  char msg[MSG_LEN], text[128], name[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n < sizeof msg) snprintf(msg + n, sizeof msg - n, ": %s", uv_strerror_r(-err, text, sizeof text));
  uv_err_name_r(-err, name, sizeof name);
  napi_value error;
  napi_create_error(env, str_value(env, name), str_value(env, msg), &error);
  napi_set_named_property(env, error, "errno", int_value(env, -err));
  napi_set_named_property(env, error, "syscall", str_value(env, syscall));
  napi_throw(env, error);
}

/* RangeError(code ERR_OUT_OF_RANGE) or, with `type`, TypeError(ERR_INVALID_ARG_TYPE); returns false. */
static inline bool throw_arg(napi_env env, bool type, const char *fmt, ...) {
  char msg[MSG_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  (type ? napi_throw_type_error : napi_throw_range_error)(env, type ? "ERR_INVALID_ARG_TYPE" : "ERR_OUT_OF_RANGE", msg);
  return false;
}
#define throw_range(env, ...) throw_arg(env, false, __VA_ARGS__)
#define throw_type(env, fn, name, expected) throw_arg(env, true, "%s: '%s' must be %s", fn, name, expected)

/* An integer number in [min, max]. */
static inline bool arg_int(napi_env env, const char *fn, napi_value v, const char *name,
                           int64_t min, int64_t max, int64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return throw_type(env, fn, name, "a number");
  napi_get_value_double(env, v, &d);
  if (!(d >= (double)min && d <= (double)max) || d != (double)(int64_t)d)
    return throw_range(env, "%s: '%s' must be an integer from %" PRId64 " to %" PRId64 ", not %g", fn, name, min, max, d);
  *out = (int64_t)d;
  return true;
}

static inline bool arg_buf(napi_env env, const char *fn, napi_value v, const char *name, uint8_t **data, size_t *len) {
  bool is = false;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) return throw_type(env, fn, name, "a Buffer");
  return napi_get_buffer_info(env, v, (void **)data, len) == napi_ok;
}

/* A typed array of `type` holding at least `need` (named `need_text`) elements. */
static inline bool arg_arr(napi_env env, const char *fn, napi_value v, const char *name, napi_typedarray_type type,
                           const char *type_name, void **data, int64_t need, const char *need_text) {
  bool is = false;
  napi_typedarray_type got;
  size_t have;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &got, &have, data, NULL, NULL) != napi_ok || got != type)
    return throw_type(env, fn, name, type_name);
  if ((uint64_t)need > have)
    return throw_range(env, "%s: %s is %" PRId64 " but '%s' has room for %zu", fn, need_text, need, name, have);
  return true;
}

/* Entries i < count, at offs[i] for lens[i] bytes (`fixed` when lens is
 * NULL), must lie inside the `len`-byte buffer. */
static inline bool check_slots(napi_env env, const char *fn, const char *what, size_t len,
                               const int32_t *offs, const int32_t *lens, int64_t fixed, int64_t count) {
  for (int64_t i = 0; i < count; i++) {
    int64_t off = offs[i], n = lens != NULL ? lens[i] : fixed;
    if (off < 0 || n < 0 || off + n > (int64_t)len)
      return throw_range(env, "%s: %s %" PRId64 " (offset %" PRId64 ", %" PRId64 " bytes) does not fit in the %zu-byte slab",
                         fn, what, i, off, n, len);
  }
  return true;
}

/* An exported function's first lines: FN names it and fetches n arguments;
 * INT, BUF and ARR each declare the variable they name from argument i, or
 * throw and return. ARR's `need`: the elements the array must hold. */
#define FN(name, n) static const char fn[] = name; napi_value argv[n]; size_t argc_ = n; \
  if (napi_get_cb_info(env, info, &argc_, argv, NULL, NULL) != napi_ok) return NULL
#define INT(var, i, min, max) int64_t var = 0; if (!arg_int(env, fn, argv[i], #var, min, max, &var)) return NULL
#define BUF(var, i) uint8_t *var = NULL; size_t var##_len = 0; \
  if (!arg_buf(env, fn, argv[i], #var, &var, &var##_len)) return NULL
#define ARR(var, i, type, js, need) type##_t *var = NULL; \
  if (!arg_arr(env, fn, argv[i], #var, napi_##type##_array, js, (void **)&var, need, #need)) return NULL

/* The watcher (poll.c): pollStart(fd, cb) → handle; pollStop(handle), idempotent. */
napi_value weft_poll_start(napi_env env, napi_callback_info info);
napi_value weft_poll_stop(napi_env env, napi_callback_info info);

#endif
