import { z } from 'zod';
import { ValidationError } from '../../functions/core/errors.ts';
import {
  checkQuery,
  checkRequest,
  parseQuery,
  queryObject,
  requestObject,
} from '../../functions/core/request-schema.ts';

/** The one convention every request body and query string is checked with. */

const schema = requestObject({
  name: z.string({ error: 'must be a string' }),
  tags: z.array(z.string({ error: 'must be a string' }), { error: 'must be a list' }).optional(),
  inner: requestObject(
    { a: z.string().optional() },
    { unknown: (allowed) => `is not an inner field (${allowed})` },
  ).optional(),
});

const issuesOf = (value: unknown) => {
  const checked = checkRequest(schema, value);
  return checked.ok ? [] : checked.issues;
};

describe('checkRequest', () => {
  it('names fields by path, array items by index, and an absent field as required', () => {
    expect(issuesOf({ tags: ['a', 7], inner: { a: 1 } })).toEqual([
      { field: 'name', rule: 'is required' },
      { field: 'tags[1]', rule: 'must be a string' },
      { field: 'inner.a', rule: expect.any(String) },
    ]);
    expect(issuesOf([])).toEqual([{ field: '(body)', rule: 'must be a JSON object' }]);
  });

  it('refuses each unknown member on its own, naming the allowed ones, after the known fields', () => {
    expect(issuesOf({ colour: 'red', name: 1, inner: { b: 1, c: 2 }, size: 3 })).toEqual([
      { field: 'name', rule: 'must be a string' },
      { field: 'inner.b', rule: 'is not an inner field (a)' },
      { field: 'inner.c', rule: 'is not an inner field (a)' },
      { field: 'colour', rule: 'is not a known field; allowed fields are name, tags, inner' },
      { field: 'size', rule: 'is not a known field; allowed fields are name, tags, inner' },
    ]);
  });

  it('reads only own members: nothing inherited, and a __proto__ member is an unknown field', () => {
    expect(issuesOf(Object.create({ name: 'inherited' }))).toEqual([{ field: 'name', rule: 'is required' }]);
    expect(issuesOf(JSON.parse('{"name": "x", "__proto__": {"name": 1}}'))).toEqual([
      { field: '__proto__', rule: 'is not a known field; allowed fields are name, tags, inner' },
    ]);
  });

  it('returns the parsed value when there is no issue', () => {
    expect(checkRequest(schema, { name: 'x', tags: ['a'] })).toEqual({
      ok: true,
      value: { name: 'x', tags: ['a'] },
    });
  });
});

describe('checkQuery', () => {
  const query = queryObject({ limit: z.string().optional() }, 'the thing listing');

  it('refuses each unknown parameter, naming the listing and its parameters', () => {
    expect(checkQuery(query, { limit: '3', foo: '1' })).toEqual({
      ok: false,
      issues: [{ field: 'foo', rule: 'is not a parameter of the thing listing (limit)' }],
    });
    expect(() => parseQuery(queryObject({}, 'the other listing'), { x: '' }, 'Bad query.')).toThrow(
      new ValidationError('Bad query.', [
        { field: 'x', rule: 'is not a parameter of the other listing (it takes none)' },
      ]),
    );
  });

  it('takes an empty value as absent', () => {
    expect(checkQuery(query, { limit: '' })).toEqual({ ok: true, value: {} });
  });
});
