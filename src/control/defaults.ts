// flanneld's defaults, in one place so that option parsing can name them
// without loading the stores (the etcd client is only loaded when used).

/** Key prefix of the network in etcd. */
export const DEFAULT_ETCD_PREFIX = '/coreos.com/network';
/** Where subnet.env goes. */
export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
/** A lease lives 24 h and is renewed 1 h before it lapses. */
export const LEASE_TTL_MS = 24 * 3600_000;
export const RENEW_MARGIN_MS = 3600_000;
