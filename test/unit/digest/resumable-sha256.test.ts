import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { ResumableSha256, type Sha256State } from '../../../functions/core/digest/resumable-sha256.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const ascii = (text: string) => new TextEncoder().encode(text);
/** Through JSON, as the state travels in a DynamoDB item. */
const roundTrip = (hash: ResumableSha256) =>
  ResumableSha256.fromState(JSON.parse(JSON.stringify(hash.toState())));

describe('ResumableSha256: FIPS 180-4 / NIST example vectors', () => {
  const vectors: [string, Uint8Array, string][] = [
    ['empty', ascii(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['"abc"', ascii('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    [
      '448 bits',
      ascii('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'),
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    ],
    [
      '896 bits',
      ascii(
        'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
      ),
      'cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1',
    ],
    [
      '1,000,000 × "a"',
      new Uint8Array(1_000_000).fill(0x61),
      'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
    ],
  ];

  it.each(vectors)('%s in one update', (_name, bytes, expected) => {
    expect(new ResumableSha256().update(bytes).digestHex()).toBe(expected);
  });

  it.each(vectors)('%s one byte at a time, resumed from JSON every 7 bytes', (_name, bytes, expected) => {
    let hash = new ResumableSha256();
    const step = bytes.length > 10_000 ? 4099 : 1;
    for (let i = 0; i < bytes.length; i += step) {
      hash.update(bytes.subarray(i, i + step));
      if (i % 7 === 0) hash = roundTrip(hash);
    }
    expect(hash.digestHex()).toBe(expected);
  });

  it('handles every length around the padding boundaries (55, 56, 63, 64 bytes, ...)', () => {
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff);
    for (let n = 0; n <= bytes.length; n++) {
      const part = bytes.subarray(0, n);
      expect(new ResumableSha256().update(part).digestHex()).toBe(sha256(part));
    }
  });
});

describe('ResumableSha256: incremental and resumable', () => {
  const chunked = fc.uint8Array({ maxLength: 600 }).chain((bytes) =>
    fc.tuple(
      fc.constant(bytes),
      fc
        .uniqueArray(fc.integer({ min: 0, max: bytes.length }), { maxLength: 12 })
        .map((cuts) => cuts.sort((a, b) => a - b)),
    ),
  );

  it('split at random points and resumed through JSON between chunks, equals node:crypto', () => {
    fc.assert(
      fc.property(chunked, ([bytes, cuts]) => {
        let hash = new ResumableSha256();
        let from = 0;
        for (const cut of [...cuts, bytes.length]) {
          hash.update(bytes.subarray(from, cut));
          hash = roundTrip(hash);
          from = cut;
        }
        expect(hash.length).toBe(bytes.length);
        expect(hash.digestHex()).toBe(sha256(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('digestHex leaves the state alone: digest midway, then keep updating', () => {
    fc.assert(
      fc.property(chunked, ([bytes, cuts]) => {
        const hash = new ResumableSha256();
        let from = 0;
        for (const cut of [...cuts, bytes.length]) {
          hash.update(bytes.subarray(from, cut));
          expect(hash.digestHex()).toBe(sha256(bytes.subarray(0, cut)));
          expect(hash.digestHex()).toBe(sha256(bytes.subarray(0, cut)));
          from = cut;
        }
        expect(hash.digestHex()).toBe(sha256(bytes));
      }),
      { numRuns: 200 },
    );
  });

  it('accepts a Buffer, and a view into a larger buffer', () => {
    const backing = Buffer.from('xxxxhello, worldxxxx');
    const view = backing.subarray(4, 16);
    expect(new ResumableSha256().update(view).digestHex()).toBe(sha256(ascii('hello, world')));
    expect(new ResumableSha256().update(Buffer.from('abc')).digestHex()).toBe(sha256(ascii('abc')));
  });

  it('a large input in uneven chunks with a resume between each equals node:crypto', () => {
    const bytes = Uint8Array.from({ length: 3 * 1024 * 1024 + 17 }, (_, i) => (i * 2654435761) >>> 24);
    let hash = new ResumableSha256();
    for (let i = 0, size = 1; i < bytes.length; i += size, size = size * 3 + 1) {
      hash = roundTrip(hash.update(bytes.subarray(i, i + size)));
    }
    expect(hash.digestHex()).toBe(sha256(bytes));
  });

  it('encodes a bit length of 2^32 and above (inputs from 512 MiB) like node:crypto', () => {
    // The length in bits no longer fits 32 bits here; a few seconds of hashing, no large allocation.
    const chunk = Uint8Array.from({ length: 1024 * 1024 }, (_, i) => (i * 31) & 0xff);
    const tail = chunk.subarray(0, 77);
    let hash = new ResumableSha256();
    const reference = createHash('sha256');
    for (let i = 0; i < 512; i++) {
      hash.update(chunk);
      reference.update(chunk);
    }
    hash = roundTrip(hash.update(tail));
    reference.update(tail);
    expect(hash.length).toBe(512 * 1024 * 1024 + 77);
    expect(hash.digestHex()).toBe(reference.digest('hex'));
  });

  it('toState is small, JSON-safe and canonical', () => {
    const hash = new ResumableSha256().update(new Uint8Array(100).fill(1));
    const state = hash.toState();
    expect(Object.keys(state).sort()).toEqual(['buffered', 'h', 'length']);
    expect(state.length).toBe(100);
    expect(Buffer.from(state.buffered, 'base64')).toEqual(Buffer.alloc(36, 1));
    expect(state.h.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)).toBe(true);
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
    expect(new ResumableSha256().toState()).toEqual({
      h: [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19],
      buffered: '',
      length: 0,
    });
  });

  it('rejects anything but a Uint8Array', () => {
    expect(() => new ResumableSha256().update('abc' as never)).toThrow(TypeError);
  });
});

describe('ResumableSha256.fromState rejects malformed states', () => {
  const valid: Sha256State = new ResumableSha256().update(new Uint8Array(70).fill(7)).toState();
  const h = [...valid.h];

  it('accepts the valid one', () => {
    expect(ResumableSha256.fromState(valid).toState()).toEqual(valid);
  });

  // 69 bytes: one block, 5 buffered (base64 with one padding character).
  const five: Sha256State = new ResumableSha256().update(new Uint8Array(69).fill(7)).toState();

  it.each<[string, unknown, RegExp]>([
    ['undefined', undefined, /must be an object/],
    ['null', null, /must be an object/],
    ['a string', JSON.stringify(valid), /must be an object/],
    ['an array', [valid.h, valid.buffered, valid.length], /must be an object/],
    ['a missing h', { buffered: valid.buffered, length: valid.length }, /h must be an array/],
    ['a missing buffered', { h, length: valid.length }, /buffered must be a base64 string/],
    ['a missing length', { h, buffered: valid.buffered }, /length must be/],
    ['an extra member', { ...valid, version: 1 }, /unexpected member\(s\) version/],
    ['7 words', { ...valid, h: h.slice(0, 7) }, /h must be an array of 8/],
    ['9 words', { ...valid, h: [...h, 0] }, /h must be an array of 8/],
    ['h not an array', { ...valid, h: Object.fromEntries(h.map((w, i) => [i, w])) }, /h must be an array/],
    ['a negative word', { ...valid, h: [-1, ...h.slice(1)] }, /every h word/],
    ['a word above 2^32-1', { ...valid, h: [2 ** 32, ...h.slice(1)] }, /every h word/],
    ['a fractional word', { ...valid, h: [0.5, ...h.slice(1)] }, /every h word/],
    ['a word as a string', { ...valid, h: [String(h[0]), ...h.slice(1)] }, /every h word/],
    ['NaN in h', { ...valid, h: [Number.NaN, ...h.slice(1)] }, /every h word/],
    ['a negative length', { ...valid, length: -70 }, /length must be/],
    ['a fractional length', { ...valid, length: 70.5 }, /length must be/],
    ['an unsafe length', { ...valid, length: 2 ** 53 + 6 }, /length must be/],
    ['a length as a string', { ...valid, length: '70' }, /length must be/],
    ['buffered not a string', { ...valid, buffered: [7, 7, 7, 7, 7, 7] }, /buffered must be a base64/],
    ['buffered not base64', { ...valid, buffered: 'BwcHB!cH' }, /buffered must be a base64/],
    ['buffered as base64url', { ...valid, buffered: '-_-_' }, /buffered must be a base64/],
    ['buffered without padding', { ...five, buffered: 'BwcHBwc' }, /buffered must be a base64/],
    ['buffered with non-zero padding bits', { ...five, buffered: 'BwcHBwd=' }, /not canonical/],
    [
      'buffered shorter than length % 64',
      { ...valid, buffered: five.buffered },
      /length % 64 = 6 bytes, not 5/,
    ],
    [
      'buffered longer than length % 64',
      { ...five, buffered: valid.buffered },
      /length % 64 = 5 bytes, not 6/,
    ],
    [
      '64 buffered bytes',
      { ...valid, length: 64, buffered: Buffer.alloc(64).toString('base64') },
      /= 0 bytes/,
    ],
    [
      'a non-initial h before the first block',
      { h, buffered: Buffer.alloc(5).toString('base64'), length: 5 },
      /initial hash value/,
    ],
  ])('%s', (_name, state, message) => {
    expect(() => ResumableSha256.fromState(state)).toThrow(RangeError);
    expect(() => ResumableSha256.fromState(state)).toThrow(message);
  });

  it('accepts the 5-byte base64 form it writes', () => {
    expect(five.buffered).toBe('BwcHBwc=');
    expect(ResumableSha256.fromState(five).toState()).toEqual(five);
  });
});
