import { Logger } from '@aws-lambda-powertools/logger';

/** One structured logger for the API; it never receives the Authorization header or a token. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'keeptrusts-export' });
