/*
 * The readable-fd watcher behind pollStart / pollStop (src/io/polled-fd.ts):
 * Node-API functions, registered by binding.c.
 */
#ifndef WEFT_POLL_H
#define WEFT_POLL_H

#include "glue.h"

/* pollStart(fd, cb) → handle; pollStop(handle), idempotent. */
napi_value weft_poll_start(napi_env env, napi_callback_info info);
napi_value weft_poll_stop(napi_env env, napi_callback_info info);

#endif
