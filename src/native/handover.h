/* System calls for handing weft's descriptors to a successor process, and
 * for keeping the TAP past the process: a unix SOCK_SEQPACKET socket
 * (listen, connect, accept), one message with file descriptors attached
 * (SCM_RIGHTS) each way, and TUNSETPERSIST. No Node-API here; each returns
 * an fd, a count or 0, or -errno. */
#ifndef WEFT_HANDOVER_H
#define WEFT_HANDOVER_H

#include <stdint.h>

/* Most descriptors one message carries: a TAP per VNI and the UDP socket. */
#define WEFT_FDS_MAX 64

/* TUNSETPERSIST: on, the device outlives its last fd; off, it goes with it. */
int weft_tap_set_persist(int fd, int on);

/* A SOCK_SEQPACKET unix socket, non-blocking and close-on-exec: listening
 * on `path` (backlog 1), connected to `path`, or accepted from `fd`. */
int weft_unix_listen(const char *path);
int weft_unix_connect(const char *path);
int weft_unix_accept(int fd);

/* One message of `len` bytes with `nfds` descriptors attached. Returns
 * the bytes sent or -errno. */
int weft_fds_send(int fd, const uint8_t *data, int len, const int32_t *fds, int nfds);

/* One message into `buf` (at most `len` bytes); the descriptors that came
 * with it (close-on-exec) go to fds_out, their count to *nfds. Returns the
 * bytes read (0: the peer closed), or -errno (EAGAIN: nothing waiting;
 * EMSGSIZE: the message or its descriptors were cut short, and the
 * descriptors that did arrive are closed). */
int weft_fds_recv(int fd, uint8_t *buf, int len, int32_t *fds_out, int max, int *nfds);

/* One datagram `msg` to the unix datagram socket `path` (a leading '@'
 * names an abstract one): systemd's notification socket ($NOTIFY_SOCKET).
 * Returns 0 or -errno. */
int weft_notify(const char *path, const char *msg);

#endif
