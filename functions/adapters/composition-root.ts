import type { EventStore, TokenStore } from '../core/ports.ts';
import { type AwsClients, createAwsClients } from './aws-clients.ts';
import { DynamoEventStore } from './dynamodb/event-store.ts';
import { DynamoTokenStore } from './dynamodb/token-store.ts';
import { type RuntimeConfig, runtimeConfigFromEnv } from './runtime-config.ts';

/**
 * The one place that builds adapters. Handlers ask for them here; the Lambda gets them from its
 * environment, the local stack from the embedded servers' endpoints.
 */
export interface Adapters {
  readonly config: RuntimeConfig;
  readonly clients: AwsClients;
  readonly eventStore: EventStore;
  readonly tokenStore: TokenStore;
}

export function createAdapters(config: RuntimeConfig): Adapters {
  const clients = createAwsClients(config);
  return {
    config,
    clients,
    eventStore: new DynamoEventStore(clients.documents, config.eventsTable),
    tokenStore: new DynamoTokenStore(clients.documents, config.controlTable),
  };
}

let current: Adapters | undefined;

/** Adapters for this process, built once (at a Lambda's cold start) unless set by the local stack. */
export function adapters(): Adapters {
  current ??= createAdapters(runtimeConfigFromEnv());
  return current;
}

/** The local stack installs adapters for its embedded servers before it serves a request. */
export function useAdapters(value: Adapters): void {
  current = value;
}
