/*
 * The readable-fd watcher (src/io/polled-fd.ts): a uv_poll_t calling a
 * JavaScript function whenever its fd is readable. The handle outlives
 * pollStop until libuv's close callback frees it; the object pollStart
 * returns holds only a token that forgets the handle when stopped, so a
 * second pollStop is safe. A worker may end with a watcher running: an
 * async cleanup hook closes it, and Node waits for the close callback
 * before it unloads the addon (a callback into unloaded code would crash).
 */
#define _GNU_SOURCE
#include "glue.h"
#include <errno.h>
#include <stdlib.h>

typedef struct weft_poll weft_poll;
/* What the JavaScript handle holds, freed with it: the watcher, NULL once stopped. */
typedef struct { weft_poll *poll; } weft_poll_token;

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

/* Stops watching and releases everything but the struct, which libuv's
 * close callback frees once the loop is done with it. */
static void poll_release(weft_poll *p) {
  p->released = true;
  uv_poll_stop(&p->handle);
  napi_delete_reference(p->env, p->cb);
  napi_async_destroy(p->env, p->ctx);
  if (p->token != NULL) p->token->poll = NULL;
  uv_close((uv_handle_t *)&p->handle, poll_closed);
}

/* The environment is ending (a worker stops) with the watcher running. */
static void poll_teardown(napi_async_cleanup_hook_handle hook, void *arg) {
  (void)hook;
  if (!((weft_poll *)arg)->released) poll_release(arg);
}

static void token_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  if (((weft_poll_token *)data)->poll != NULL) ((weft_poll_token *)data)->poll->token = NULL;
  free(data);
}

static void poll_ready(uv_poll_t *h, int status, int events) {
  (void)events;
  weft_poll *p = (weft_poll *)h;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, global, result, err = NULL;
  if (napi_get_reference_value(env, p->cb, &cb) == napi_ok && cb != NULL && napi_get_global(env, &global) == napi_ok) {
    if (status < 0) {
      /* libuv has stopped the watcher (the fd reported an error, e.g. its
       * device went away): say so once, as an Error the callback gets. */
      throw_errno(env, -status, "uv_poll", "watching fd %d stopped", p->fd);
      napi_get_and_clear_last_exception(env, &err);
    }
    /* napi_make_callback runs queued microtasks and nextTicks afterwards,
     * as for any I/O callback. An exception the callback throws is handed
     * to process 'uncaughtException' rather than lost. */
    if (napi_make_callback(env, p->ctx, global, cb, err != NULL, &err, &result) != napi_ok) {
      bool pending = false;
      napi_value exc;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
          napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

napi_value weft_poll_start(napi_env env, napi_callback_info info) {
  FN("pollStart", 2);
  INT(fd, 0, 0, INT32_MAX);
  napi_valuetype t;
  uv_loop_t *loop;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) return throw_type(env, fn, "cb", "a function"), NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return napi_throw_error(env, NULL, "pollStart: no event loop"), NULL;
  weft_poll *p = calloc(1, sizeof *p);
  weft_poll_token *tok = calloc(1, sizeof *tok);
  int r = p == NULL || tok == NULL ? UV_ENOMEM : uv_poll_init(loop, &p->handle, (int)fd);
  if (r < 0) free(p);
  else if ((r = uv_poll_start(&p->handle, UV_READABLE, poll_ready)) < 0) uv_close((uv_handle_t *)&p->handle, poll_closed);
  if (r < 0) return free(tok), throw_errno(env, -r, "uv_poll_start", "watching fd %d failed", (int)fd), NULL;
  p->env = env;
  p->fd = (int)fd;
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

napi_value weft_poll_stop(napi_env env, napi_callback_info info) {
  FN("pollStop", 1);
  napi_valuetype t;
  bool tagged = false;
  weft_poll_token *tok;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_object ||
      napi_check_object_type_tag(env, argv[0], &POLL_TAG, &tagged) != napi_ok || !tagged)
    return throw_type(env, fn, "handle", "a handle returned by pollStart"), NULL;
  if (napi_unwrap(env, argv[0], (void **)&tok) == napi_ok && tok->poll != NULL) poll_release(tok->poll);
  return NULL;
}
