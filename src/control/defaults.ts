// flanneld's defaults, in one place so that option parsing can name them
// without loading the stores (the etcd client is only loaded when used).

/** Key prefix of the network in etcd. */
export const DEFAULT_ETCD_PREFIX = '/coreos.com/network';
/** Where subnet.env goes. */
export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
/** A lease lives 24 h and is renewed 1 h before it lapses. */
export const LEASE_TTL_MS = 24 * 3600_000;
export const RENEW_MARGIN_MS = 3600_000;
/**
 * With a lease store the peer table is sized to the network's hosts, at most
 * this: a 10.0.0.0/8 network of /24 subnets (65,536 hosts), about 4.6 MB of
 * peer table and source allow-list. Larger networks need --peer-capacity.
 */
export const PEER_CAPACITY_CEILING = 65536;
/**
 * How often the direct routes weft owns are checked for and any missing one
 * put back: flannel's routeCheck (pkg/backend/route_network.go,
 * routeCheckRetries seconds), a constant there too.
 */
export const ROUTE_CHECK_MS = 10_000;
