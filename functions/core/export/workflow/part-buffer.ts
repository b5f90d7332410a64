/**
 * The encoded bytes of one artifact part, written in place as UTF-8. Encoded events go straight
 * into one reused buffer instead of piling up as strings to be joined: the strings die young
 * (no garbage-collector promotion, so memory stays flat) and the part's size is exact in bytes.
 */
export class PartBuffer {
  private buffer: Buffer;
  private used = 0;

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafe(capacity);
  }

  get byteLength(): number {
    return this.used;
  }

  append(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit; only near the end is the exact size worth counting.
    if (this.buffer.length - this.used < text.length * 3) this.reserve(this.used + Buffer.byteLength(text));
    this.used += this.buffer.write(text, this.used, 'utf8');
  }

  /** The bytes written so far; a view, valid until the next clear() or append(). */
  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.used);
  }

  clear(): void {
    this.used = 0;
  }

  private reserve(size: number): void {
    if (size <= this.buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(size, Math.ceil(this.buffer.length * 1.5)));
    this.buffer.copy(bigger, 0, 0, this.used);
    this.buffer = bigger;
  }
}
