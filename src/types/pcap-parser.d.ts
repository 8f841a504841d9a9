// pcap-parser ships no types; this is the part weft uses.
declare module 'pcap-parser' {
  import type { EventEmitter } from 'node:events';
  import type { Readable } from 'node:stream';
  type Parser = EventEmitter;
  const pcapParser: { parse(input: string | Readable): Parser };
  export default pcapParser;
}
