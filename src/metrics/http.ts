// The HTTP side of --metrics: /metrics (Prometheus text), /healthz and
// /readyz (200 "ok", or 503 and the reason in one line). Nothing else; no
// request body is read.

import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { RuntimeError } from '../config/errors.js';
import { formatHostPort } from '../wire/ipv6.js';

/** A probe's answer: null when fine, else why not. */
export type Probe = () => string | null;

export class MetricsServer {
  private constructor(private readonly server: Server, readonly host: string, readonly port: number) {}

  static async start(host: string, port: number, reg: Registry, health: Probe, ready: Probe): Promise<MetricsServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET\n');
        return;
      }
      if (path === '/healthz' || path === '/readyz') {
        const why = (path === '/healthz' ? health : ready)();
        res.writeHead(why === null ? 200 : 503, { 'content-type': 'text/plain' }).end(why === null ? 'ok\n' : why + '\n');
        return;
      }
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('weft serves /metrics, /healthz and /readyz\n');
        return;
      }
      reg.metrics().then(
        (text) => res.writeHead(200, { 'content-type': reg.contentType }).end(text),
        (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${e.message}\n`),
      );
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    server.keepAliveTimeout = 5_000;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => { server.off('error', reject); resolve(); });
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const hint = code === 'EADDRINUSE' ? 'the port is in use' : code === 'EADDRNOTAVAIL' ? 'no interface has that address' : (e as Error).message;
      throw new RuntimeError(`--metrics ${formatHostPort(host, port)}: cannot listen (${hint})`);
    }
    const a = server.address();
    return new MetricsServer(server, host, typeof a === 'object' && a ? a.port : port);
  }

  get url(): string {
    return `http://${formatHostPort(this.host, this.port)}/metrics`;
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }
}
