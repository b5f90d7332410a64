/**
 * SHA-256 (FIPS 180-4) whose running state can be saved as a small JSON object and resumed in
 * another process. An export writes its artifact across several Lambda invocations; node:crypto's
 * Hash cannot be serialized and S3 offers no whole-object SHA-256 for multipart uploads, so the
 * running digest travels in the job item between invocations.
 *
 *   const hash = ResumableSha256.fromState(job.digestState); // or new ResumableSha256()
 *   hash.update(partBytes);
 *   job.digestState = hash.toState();                        // JSON-safe, < 200 bytes
 *   ...
 *   hash.digestHex();                                        // lowercase hex, 64 characters
 */

/** The saved state: JSON-safe, and checked strictly by ResumableSha256.fromState. */
export interface Sha256State {
  /** The eight chaining words H0..H7 after the last whole 64-byte block, as unsigned 32-bit integers. */
  readonly h: readonly number[];
  /** Standard base64 (with padding) of the 0..63 bytes received after the last whole block. */
  readonly buffered: string;
  /** Bytes hashed so far, in total (a safe integer); `length % 64` is the number of buffered bytes. */
  readonly length: number;
}

const BLOCK_BYTES = 64;

/** FIPS 180-4 §5.3.3: the initial hash value. */
const INITIAL_H: readonly number[] = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/** FIPS 180-4 §4.2.2: the round constants. */
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/**
 * The message schedule, shared by every instance: compression is synchronous and JavaScript runs
 * one call at a time per thread, so no two compressions can use it at once.
 */
const W = new Int32Array(64);

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Incremental SHA-256 with a serializable state.
 *
 * `digestHex()` does not finish the hash: it pads a copy of the state, so it may be called at any
 * point (say, to record the digest so far) and `update` may continue afterwards.
 */
export class ResumableSha256 {
  /** H0..H7 as signed 32-bit words (the arithmetic is done with `| 0`). */
  private readonly h = new Int32Array(INITIAL_H);
  /** Bytes after the last whole block; only the first `length % 64` are meaningful. */
  private readonly pending = new Uint8Array(BLOCK_BYTES);
  private total = 0;

  /** Bytes hashed so far. */
  get length(): number {
    return this.total;
  }

  /** Hashes `bytes` after everything before; returns this, so calls can be chained. */
  update(bytes: Uint8Array): this {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('ResumableSha256.update expects a Uint8Array');
    const size = bytes.length;
    if (size === 0) return this;
    if (size > Number.MAX_SAFE_INTEGER - this.total) {
      throw new RangeError('ResumableSha256 cannot hash more than Number.MAX_SAFE_INTEGER bytes');
    }
    let used = this.total % BLOCK_BYTES;
    this.total += size;
    let offset = 0;
    if (used > 0) {
      offset = Math.min(BLOCK_BYTES - used, size);
      this.pending.set(offset === size ? bytes : bytes.subarray(0, offset), used);
      used += offset;
      if (used < BLOCK_BYTES) return this;
      compress(this.h, this.pending, 0, BLOCK_BYTES);
    }
    // Whole blocks straight from the input, without copying them.
    const end = size - ((size - offset) % BLOCK_BYTES);
    if (end > offset) compress(this.h, bytes, offset, end);
    if (end < size) this.pending.set(bytes.subarray(end), 0);
    return this;
  }

  /** The SHA-256 of everything hashed so far, as 64 lowercase hex characters. Leaves the state as it was. */
  digestHex(): string {
    const h = new Int32Array(this.h);
    const buffered = this.total % BLOCK_BYTES;
    // Padding (FIPS 180-4 §5.1.1): 0x80, zeros, then the length in bits as a 64-bit big-endian number.
    const blocks = buffered < BLOCK_BYTES - 8 ? 1 : 2;
    const tail = new Uint8Array(blocks * BLOCK_BYTES);
    tail.set(this.pending.subarray(0, buffered), 0);
    tail[buffered] = 0x80;
    const end = tail.length;
    // total * 8 may exceed 2^53: split before multiplying. total / 2^29 < 2^24 and the low part < 2^32.
    const bitsHigh = Math.floor(this.total / 0x20000000);
    const bitsLow = (this.total % 0x20000000) * 8;
    writeUint32(tail, end - 8, bitsHigh);
    writeUint32(tail, end - 4, bitsLow);
    compress(h, tail, 0, end);
    let hex = '';
    for (let i = 0; i < 8; i++) hex += (h[i]! >>> 0).toString(16).padStart(8, '0');
    return hex;
  }

  /** The state to persist; `ResumableSha256.fromState(JSON.parse(JSON.stringify(state)))` resumes it. */
  toState(): Sha256State {
    const buffered = this.total % BLOCK_BYTES;
    return {
      h: Array.from(this.h, (word) => word >>> 0),
      buffered: Buffer.from(this.pending.buffer, this.pending.byteOffset, buffered).toString('base64'),
      length: this.total,
    };
  }

  /**
   * Resumes a state saved by toState. Anything else is refused with a RangeError: a state of the
   * wrong shape, extra members, words that are not unsigned 32-bit integers, base64 that is not
   * canonical, or a buffer that disagrees with the length.
   */
  static fromState(state: unknown): ResumableSha256 {
    const invalid = (why: string) => new RangeError(`Invalid SHA-256 state: ${why}`);
    if (typeof state !== 'object' || state === null || Array.isArray(state)) {
      throw invalid('must be an object { h, buffered, length }');
    }
    const extra = Object.keys(state).filter((key) => key !== 'h' && key !== 'buffered' && key !== 'length');
    if (extra.length > 0) throw invalid(`unexpected member(s) ${extra.join(', ')}`);
    const { h, buffered, length } = state as Record<string, unknown>;
    if (!Array.isArray(h) || h.length !== 8) throw invalid('h must be an array of 8 numbers');
    for (const word of h) {
      if (typeof word !== 'number' || !Number.isInteger(word) || word < 0 || word > 0xffffffff) {
        throw invalid('every h word must be an integer from 0 to 4294967295');
      }
    }
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
      throw invalid('length must be a non-negative safe integer');
    }
    if (typeof buffered !== 'string' || !BASE64.test(buffered)) {
      throw invalid('buffered must be a base64 string');
    }
    const bytes = Buffer.from(buffered, 'base64');
    // The regex admits non-zero padding bits; only the spelling toState writes is accepted.
    if (bytes.toString('base64') !== buffered) throw invalid('buffered is not canonical base64');
    if (bytes.length !== length % BLOCK_BYTES) {
      throw invalid(`buffered must hold length % 64 = ${length % BLOCK_BYTES} bytes, not ${bytes.length}`);
    }
    if (length < BLOCK_BYTES && h.some((word, i) => word !== INITIAL_H[i])) {
      throw invalid('h must be the initial hash value before the first whole block');
    }
    const hash = new ResumableSha256();
    hash.h.set(h as number[]);
    hash.pending.set(bytes, 0);
    hash.total = length;
    return hash;
  }
}

function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}

/**
 * FIPS 180-4 §6.2.2 over the whole 64-byte blocks in bytes[start, end), updating `state` in place.
 * The working variables live in locals and the schedule in the shared W: nothing is allocated.
 */
function compress(state: Int32Array, bytes: Uint8Array, start: number, end: number): void {
  const w = W;
  const k = K;
  let h0 = state[0]!;
  let h1 = state[1]!;
  let h2 = state[2]!;
  let h3 = state[3]!;
  let h4 = state[4]!;
  let h5 = state[5]!;
  let h6 = state[6]!;
  let h7 = state[7]!;
  for (let p = start; p < end; p += BLOCK_BYTES) {
    for (let i = 0, j = p; i < 16; i++, j += 4) {
      w[i] = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    let f = h5;
    let g = h6;
    let h = h7;
    for (let i = 0; i < 64; i++) {
      const sum1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + sum1 + ch + k[i]! + w[i]!) | 0;
      const sum0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + sum0 + maj) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  state[0] = h0;
  state[1] = h1;
  state[2] = h2;
  state[3] = h3;
  state[4] = h4;
  state[5] = h5;
  state[6] = h6;
  state[7] = h7;
}
