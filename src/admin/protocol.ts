// The control socket's protocol: JSON lines over a unix stream socket.
//
// A client writes one request per line and reads one reply per line, in
// order, on the same connection for as long as it likes:
//
//   → {"cmd":"stats"}
//   ← {"ok":true,"result":{…}}
//   → {"cmd":"fdb-add","mac":"02:00:0a:f4:00:09","dst":"198.18.0.3","vni":1}
//   ← {"ok":false,"error":"fdb-add: VNI 7 is not configured here (vni 1)"}
//
// Commands: stats, fdb-show, fdb-add {mac, dst, vni?}, fdb-del {mac, dst?,
// vni?}, peers, capture {side, count, durationS}, handover {version, path,
// pid, shape}, handover-state, handover-switch and handover-done (`weft run --takeover`: persist/hand-over.ts
// has the exchange). An error is one line meant for a person; the CLI prints
// it as it is.
//
// `capture` turns the rest of the connection into a stream. After its reply
// come chunks, each a line {"data":N} followed by exactly N bytes of classic
// pcap (whole records; the first chunk begins with the file header), and at
// the end one line {"end":{"frames":F,"dropped":D,"reason":"count"|
// "duration"|"stopped"}}; then weft closes the connection. Closing it from
// the client's side stops the capture.
//
// Both ends bound what they buffer: a request line is at most
// MAX_REQUEST_LINE bytes, a reply line at most MAX_REPLY_LINE.

import type { CaptureSide } from '../capture/capture.js';

export const MAX_REQUEST_LINE = 64 * 1024;
export const MAX_REPLY_LINE = 256 * 1024 * 1024;

export type Request =
  | { cmd: 'stats' }
  | { cmd: 'fdb-show' }
  | { cmd: 'fdb-add'; mac: string; dst: string; vni?: number }
  | { cmd: 'fdb-del'; mac: string; dst?: string; vni?: number }
  | { cmd: 'peers' }
  | { cmd: 'capture'; side: CaptureSide; count: number; durationS: number }
  | { cmd: 'handover'; version: number; path: string; pid: number; shape: unknown }
  | { cmd: 'handover-state' }
  | { cmd: 'handover-switch' }
  | { cmd: 'handover-done' };

export const COMMANDS: readonly Request['cmd'][] = ['stats', 'fdb-show', 'fdb-add', 'fdb-del', 'peers', 'capture', 'handover', 'handover-state', 'handover-switch', 'handover-done'];

export type Reply = { ok: true; result: unknown } | { ok: false; error: string };

export interface CaptureEnd { frames: number; dropped: number; reason: 'count' | 'duration' | 'stopped' }

/** One line of JSON with its newline. */
export function encodeLine(obj: unknown): string {
  return JSON.stringify(obj) + '\n';
}

/** A `{"data":N}` header followed by the bytes, as one buffer. */
export function encodeData(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from(encodeLine({ data: bytes.length })), bytes]);
}

export class ProtocolError extends Error {}

/**
 * Splits a byte stream into JSON lines and, after a `{"data":N}` line, the N
 * bytes that follow it. Feed it chunks as they arrive, cut anywhere.
 */
export class StreamDecoder {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private dataLeft = 0;
  private data: Buffer[] = [];

  constructor(private readonly maxLine: number) {}

  /** Calls onLine for each complete line (parsed) and onData for each complete data chunk. Throws ProtocolError on a bad line. */
  push(chunk: Buffer, onLine: (obj: Record<string, unknown>) => void, onData: (bytes: Buffer) => void = () => {
    throw new ProtocolError('unexpected data');
  }): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.dataLeft > 0) {
        const take = Math.min(this.dataLeft, chunk.length - at);
        this.data.push(chunk.subarray(at, at + take));
        this.dataLeft -= take;
        at += take;
        if (this.dataLeft === 0) {
          const d = Buffer.concat(this.data);
          this.data = [];
          onData(d);
        }
        continue;
      }
      const nl = chunk.indexOf(10, at);
      if (nl < 0) {
        this.pending.push(chunk.subarray(at));
        this.pendingLen += chunk.length - at;
        if (this.pendingLen > this.maxLine) throw new ProtocolError(`line longer than ${this.maxLine} bytes`);
        return;
      }
      if (this.pendingLen + nl - at > this.maxLine) throw new ProtocolError(`line longer than ${this.maxLine} bytes`);
      this.pending.push(chunk.subarray(at, nl));
      const text = Buffer.concat(this.pending).toString('utf8');
      this.pending = [];
      this.pendingLen = 0;
      at = nl + 1;
      if (text.trim() === '') continue;
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch {
        throw new ProtocolError(`not JSON: ${text.slice(0, 80)}`);
      }
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new ProtocolError('a line must hold a JSON object');
      const rec = obj as Record<string, unknown>;
      if (typeof rec.data === 'number' && Object.keys(rec).length === 1) {
        if (!Number.isInteger(rec.data) || rec.data < 0) throw new ProtocolError(`bad data length ${rec.data}`);
        if (rec.data === 0) onData(Buffer.alloc(0));
        else this.dataLeft = rec.data;
        continue;
      }
      onLine(rec);
    }
  }
}

/** Checks a request object's shape; returns it typed, or throws ProtocolError with what is wrong. */
export function parseRequest(o: Record<string, unknown>): Request {
  const cmd = o.cmd;
  if (typeof cmd !== 'string' || !COMMANDS.includes(cmd as Request['cmd'])) {
    throw new ProtocolError(`unknown command ${JSON.stringify(cmd)} (known: ${COMMANDS.join(', ')})`);
  }
  const str = (k: string, optional = false): string | undefined => {
    const v = o[k];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string') throw new ProtocolError(`${cmd}: "${k}" must be a string`);
    return v;
  };
  const int = (k: string, min: number, max: number, optional = false): number | undefined => {
    const v = o[k];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ProtocolError(`${cmd}: "${k}" must be a whole number ${min}–${max}`);
    return v;
  };
  switch (cmd) {
    case 'stats': case 'fdb-show': case 'peers': case 'handover-state': case 'handover-switch': case 'handover-done':
      return { cmd };
    case 'handover':
      if (typeof o.shape !== 'object' || o.shape === null) throw new ProtocolError('handover: "shape" must be an object');
      return { cmd, version: int('version', 0, 0xffff)!, path: str('path')!, pid: int('pid', 1, 0x7fffffff)!, shape: o.shape };
    case 'fdb-add':
      return { cmd, mac: str('mac')!, dst: str('dst')!, vni: int('vni', 0, 0xffffff, true) };
    case 'fdb-del':
      return { cmd, mac: str('mac')!, dst: str('dst', true), vni: int('vni', 0, 0xffffff, true) };
    default: {
      const side = o.side;
      if (side !== 'overlay' && side !== 'underlay') throw new ProtocolError('capture: "side" must be overlay or underlay');
      return { cmd: 'capture', side, count: int('count', 1, 10_000_000)!, durationS: int('durationS', 1, 86_400)! };
    }
  }
}
