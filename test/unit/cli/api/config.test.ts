import { createApiClient } from '../../../../cli/api/client.ts';
import { DEFAULT_API_URL, resolveApiConfig } from '../../../../cli/api/config.ts';
import { UsageError } from '../../../../cli/errors.ts';

describe('resolveApiConfig', () => {
  it('uses flags over environment over the default', () => {
    expect(resolveApiConfig({}, {})).toEqual({ apiUrl: DEFAULT_API_URL, token: undefined, auth: 'bearer' });
    expect(
      resolveApiConfig(
        {},
        { KEEPTRUSTS_API_URL: 'https://api.example.com/', KEEPTRUSTS_API_TOKEN: 'env-token' },
      ),
    ).toEqual({ apiUrl: 'https://api.example.com', token: 'env-token', auth: 'bearer' });
    expect(
      resolveApiConfig(
        { apiUrl: 'http://127.0.0.1:9000/base/', token: 'flag-token' },
        { KEEPTRUSTS_API_URL: 'https://api.example.com', KEEPTRUSTS_API_TOKEN: 'env-token' },
      ),
    ).toEqual({ apiUrl: 'http://127.0.0.1:9000/base', token: 'flag-token', auth: 'bearer' });
  });

  it('rejects URLs that are not http(s) or that embed credentials as usage errors', () => {
    expect(() => resolveApiConfig({ apiUrl: 'localhost:8080' }, {})).toThrow(UsageError);
    expect(() => resolveApiConfig({}, { KEEPTRUSTS_API_URL: 'ftp://x' })).toThrow(
      /KEEPTRUSTS_API_URL must be/,
    );
    expect(() => resolveApiConfig({ apiUrl: 'https://u:p@x.example' }, {})).toThrow(UsageError);
  });

  it('takes sigv4 from KEEPTRUSTS_AUTH or --auth, with no token, and refuses other modes', () => {
    const config = resolveApiConfig({}, { KEEPTRUSTS_AUTH: 'sigv4', AWS_REGION: 'us-east-1' });
    expect(config.auth).toBe('sigv4');
    expect(createApiClient(config).baseUrl).toBe(DEFAULT_API_URL);
    expect(resolveApiConfig({ auth: 'SigV4' }, { KEEPTRUSTS_AUTH: 'bearer' }).auth).toBe('sigv4');
    expect(() => resolveApiConfig({ auth: 'basic' }, {})).toThrow(/^--auth must be one of bearer, sigv4/);
    expect(() => resolveApiConfig({}, { KEEPTRUSTS_AUTH: 'basic' })).toThrow(/^KEEPTRUSTS_AUTH must be one of/);
  });
});
