/**
 * The canonical JSON that audit entry hashes are computed over. It is deliberately small so an
 * auditor can re-implement it offline in a few lines (see README.md in this folder):
 *
 * - values are strings, safe integers (|n| <= 2^53 - 1) and objects of those; nothing else
 *   (no arrays, booleans, null, fractions or exponents), so every language spells them alike;
 * - an object is `{`, its members sorted by key, `"key":value` joined by `,`, then `}`;
 *   keys are compared by UTF-16 code units (for the ASCII keys audit entries use, byte order);
 * - a string (key or value) is written as JSON.stringify writes it: `"` and `\` escaped as `\"` and
 *   `\\`; U+0008, U+0009, U+000A, U+000C, U+000D as `\b \t \n \f \r`; other U+0000..U+001F as
 *   `\u00xx` (lowercase hex); every other character as itself. Lone surrogates are refused;
 * - an integer is written in decimal, `-` for negatives, no leading zeros (`-0` is written `0`);
 * - no whitespace anywhere; the hash input is the UTF-8 encoding of the result.
 *
 * For these values the output is identical to RFC 8785 (JCS) and to Python's
 * `json.dumps(value, sort_keys=True, separators=(',', ':'), ensure_ascii=False)`.
 */

export type CanonicalValue = string | number | { readonly [key: string]: CanonicalValue };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The canonical spelling of `value`; throws a TypeError naming the path of anything it cannot spell. */
export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

/** Whether a string is well-formed UTF-16 (no lone surrogates), i.e. has one UTF-8 encoding. */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** The string with each lone surrogate replaced by U+FFFD, as a UTF-8 encoder would write it. */
export function toWellFormed(text: string): string {
  return text.replace(new RegExp(LONE_SURROGATE.source, 'g'), '\uFFFD');
}

function write(value: unknown, path: string): string {
  if (typeof value === 'string') return writeString(value, path);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new TypeError(`${path}: only safe integers are allowed as numbers, not ${value}`);
    }
    // String(-0) is "0", like JSON.stringify.
    return String(value);
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      throw new TypeError(`${path}: only plain objects are allowed`);
    }
    const keys = Object.keys(value).sort();
    const members = keys.map((key) => {
      const member = (value as Record<string, unknown>)[key];
      return `${writeString(key, `${path} key`)}:${write(member, `${path}.${key}`)}`;
    });
    return `{${members.join(',')}}`;
  }
  const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  throw new TypeError(`${path}: ${kind} is not allowed (only strings, safe integers and objects)`);
}

function writeString(text: string, path: string): string {
  if (!isWellFormed(text)) throw new TypeError(`${path}: the string contains a lone surrogate`);
  return JSON.stringify(text);
}
