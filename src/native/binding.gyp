# weft's native addon: TAP and UDP system calls in batches (UDP with GSO and
# GRO), the Internet checksum, and a readable-fd watcher. Built by `npm ci`
# (the package's install script runs node-gyp).
# Plain C: tap.c, udp.c and handover.c hold the system calls, csum.c the Internet
# checksum, poll.c the watcher, binding.c (with glue.h) the Node-API glue.
{
  "targets": [
    {
      "target_name": "weft_native",
      "sources": ["binding.c", "csum.c", "handover.c", "poll.c", "tap.c", "udp.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "cflags_c": ["-std=gnu11"],
      "cflags!": ["-O3"],
      "configurations": {
        "Release": { "cflags!": ["-O3"] }
      }
    }
  ]
}
