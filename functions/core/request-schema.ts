import { z } from 'zod';
import { type FieldIssue, ValidationError } from './errors.ts';

/**
 * The one convention for checking what a caller sends: each request body and query string has a
 * zod schema in the domain file it belongs to, the API and the CLI check with the same schema, and
 * every problem becomes a FieldIssue `{field, rule}` here, in the order of the schema's fields:
 *
 * - a field is named by its path, `filters.team`, `scopes[1]`, `events[3].timestamp`;
 * - a field that is absent is "is required";
 * - each unknown member is one issue naming it, with a rule that lists the allowed ones;
 * - only a request's own members count: an inherited `from` is not read, a `__proto__` member is
 *   an unknown field like any other.
 */

/** Names of tokens and schedules: what EventBridge Scheduler accepts, and safe in a path. */
export const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** Whether each member that is not in the schema is refused, and with which rule. */
export interface ObjectRules {
  /** The rule of an unknown member, given the allowed members as `a, b, c`. */
  readonly unknown?: (allowed: string) => string;
  /** The rule when the value is not an object. @default 'must be a JSON object' */
  readonly notObject?: string;
}

/** The rule of an unknown body field unless a schema says otherwise. */
export function knownFieldsRule(allowed: string): string {
  return `is not a known field; allowed fields are ${allowed}`;
}

/** A JSON object of exactly these members; each other member is an issue of its own. */
export function requestObject<const Shape extends z.core.$ZodShape>(shape: Shape, rules: ObjectRules = {}) {
  const unknown = (rules.unknown ?? knownFieldsRule)(Object.keys(shape).join(', '));
  const notObject = rules.notObject ?? 'must be a JSON object';
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? unknown : notObject),
  });
}

/**
 * A query string of exactly these parameters (values are strings; an empty one counts as absent).
 * `listing` names what the query is of, as the refusal says: `the export listing`.
 */
export function queryObject<const Shape extends z.core.$ZodShape>(shape: Shape, listing: string) {
  return requestObject(shape, {
    unknown: (allowed) => `is not a parameter of ${listing} (${allowed === '' ? 'it takes none' : allowed})`,
    notObject: 'must be a query string',
  });
}

/** A whole number parameter from 1 to `max`, as query strings carry it. */
export function limitParameter(max: number) {
  const rule = `must be a whole number from 1 to ${max}`;
  return z
    .string({ error: rule })
    .refine((raw) => /^\d{1,12}$/.test(raw) && Number(raw) >= 1 && Number(raw) <= max, { error: rule });
}

/** The longest cursor a list hands out, with room to spare; anything longer was not one. */
export const MAX_CURSOR_CHARS = 1024;

/** An opaque cursor of a previous page; its content is checked by the list that decodes it. */
export const cursorParameter = z
  .string({ error: 'must be a cursor returned by a previous page of this list' })
  .max(MAX_CURSOR_CHARS, { error: 'must be a cursor returned by a previous page of this list' });

export interface IssueNames {
  /** Prefixed to every field: `events[3]` gives `events[3].timestamp`. @default '' */
  readonly at?: string;
  /** The field of an issue with the value as a whole, when `at` is empty. @default '(body)' */
  readonly whole?: string;
}

/** zod's issues for a value of `schema` as FieldIssues, in the order of the schema's fields. */
export function fieldIssuesOf(
  schema: z.ZodType,
  issues: readonly z.core.$ZodIssue[],
  names: IssueNames = {},
): FieldIssue[] {
  const ranked = issues.flatMap((issue) => {
    const rank = rankOf(schema, issue.path);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        rank: [...rank, Number.MAX_SAFE_INTEGER],
        issue: { field: fieldName([...issue.path, key], names), rule: issue.message },
      }));
    }
    // A member JSON left out reaches the schema as undefined: whatever its rule, it is missing.
    const missing = issue.path.length > 0 && issue.input === undefined && issue.code !== 'custom';
    return [
      { rank, issue: { field: fieldName(issue.path, names), rule: missing ? 'is required' : issue.message } },
    ];
  });
  // Array.prototype.sort is stable: issues of one field keep the order of its rules.
  return ranked.sort((a, b) => compareRanks(a.rank, b.rank)).map((entry) => entry.issue);
}

export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issues: FieldIssue[] };

/** Checks an untrusted value against `schema`: its value, or every issue at once. */
export function checkRequest<S extends z.ZodType>(
  schema: S,
  input: unknown,
  names: IssueNames = {},
): Checked<z.output<S>> {
  const parsed = schema.safeParse(ownMembers(input, 2), { reportInput: true });
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, issues: fieldIssuesOf(schema, parsed.error.issues, names) };
}

/** Checks query string parameters; an empty value (`?limit=`) counts as absent. */
export function checkQuery<S extends z.ZodType>(
  schema: S,
  parameters: Readonly<Record<string, string | undefined>>,
): Checked<z.output<S>> {
  const given = Object.fromEntries(
    Object.keys(parameters).map((name) => [name, parameters[name] === '' ? undefined : parameters[name]]),
  );
  return checkRequest(schema, given, { whole: '(query)' });
}

/** Like checkRequest, but throws a ValidationError with `message` naming every offending field. */
export function parseRequest<S extends z.ZodType>(
  schema: S,
  input: unknown,
  message: string | ((issues: readonly FieldIssue[]) => string),
  names: IssueNames = {},
): z.output<S> {
  const checked = checkRequest(schema, input, names);
  if (!checked.ok) {
    throw new ValidationError(
      typeof message === 'string' ? message : message(checked.issues),
      checked.issues,
    );
  }
  return checked.value;
}

/** Like checkQuery, but throws a ValidationError with `message` naming every offending parameter. */
export function parseQuery<S extends z.ZodType>(
  schema: S,
  parameters: Readonly<Record<string, string | undefined>>,
  message: string,
): z.output<S> {
  const checked = checkQuery(schema, parameters);
  if (!checked.ok) throw new ValidationError(message, checked.issues);
  return checked.value;
}

/**
 * A copy of the value's own enumerable members, `depth` levels of objects and arrays deep (request
 * schemas are no deeper), in objects without a prototype: nothing inherited can be read, and a
 * `__proto__` member stays a member. Deeper values are passed as they are, so a hostile nesting
 * costs no recursion here.
 */
function ownMembers(value: unknown, depth: number): unknown {
  if (depth === 0 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item: unknown) => ownMembers(item, depth - 1));
  const copy: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(value)) {
    Object.defineProperty(copy, key, {
      value: ownMembers((value as Record<string, unknown>)[key], depth - 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

function fieldName(path: readonly PropertyKey[], names: IssueNames): string {
  let field = names.at ?? '';
  for (const key of path) {
    if (typeof key === 'number') field += `[${key}]`;
    else field += field === '' ? String(key) : `.${String(key)}`;
  }
  return field === '' ? (names.whole ?? '(body)') : field;
}

/** Where a path is in the schema: each member's position in its object, each item's index. */
function rankOf(schema: z.ZodType, path: readonly PropertyKey[]): number[] {
  const rank: number[] = [];
  let current: z.core.$ZodType | undefined = schema;
  for (const key of path) {
    const def: z.core.$ZodTypeDef | undefined = unwrapped(current)?._zod.def;
    if (def?.type === 'object') {
      const shape: z.core.$ZodShape = (def as z.core.$ZodObjectDef).shape;
      const keys: string[] = Object.keys(shape);
      const index: number = keys.indexOf(String(key));
      rank.push(index === -1 ? keys.length : index);
      current = index === -1 ? undefined : shape[String(key)];
    } else if (def?.type === 'array' && typeof key === 'number') {
      rank.push(key);
      current = (def as z.core.$ZodArrayDef).element;
    } else {
      rank.push(0);
      current = undefined;
    }
  }
  return rank;
}

function unwrapped(schema: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  let current = schema;
  while (current !== undefined) {
    const def = current._zod.def as { type: string; innerType?: z.core.$ZodType };
    if (
      !['optional', 'nullable', 'default', 'prefault', 'readonly'].includes(def.type) ||
      def.innerType === undefined
    ) {
      return current;
    }
    current = def.innerType;
  }
  return current;
}

function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}
