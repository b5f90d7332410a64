'use strict';
/**
 * TransactWriteItems for dynalite, which has none. It runs in dynalite's own thread (see
 * embedded-dynamodb.ts), as plain CommonJS for the same reason that thread's code is: no loader.
 *
 * Why it exists: write-once ingest claims each new event id with a conditional put, and on AWS it
 * sends those claims 100 to a TransactWriteItems request. Without this, the local stack would need
 * a second code path (one PutItem per id), which the tests would exercise instead of the one AWS
 * runs, at a cost per event that made local ingest four times slower than a plain BatchWriteItem.
 *
 * What it does, as DynamoDB documents it: up to 100 Put, Delete and ConditionCheck actions, on
 * distinct items, applied all or none. Each action is validated with dynalite's own PutItem or
 * DeleteItem validation (the same expression parser and rules as those operations), every
 * condition is checked against the stored item, and when any fails nothing is written and the
 * answer is a TransactionCanceledException whose CancellationReasons hold one entry per action
 * (`ConditionalCheckFailed`, with the stored item when the action asked for ALL_OLD, or `None`).
 * The items are locked with dynalite's own per-table locks, so PutItem, BatchWriteItem, UpdateItem
 * and DeleteItem on those items wait for the transaction and it for them; the writes, index
 * entries included, go to LevelDB as one batch, so a crash leaves all of them or none. A
 * ClientRequestToken makes a repeat within ten minutes a no-op (the SDK sends one with every
 * call and repeats it when it retries), and the same token with other actions is refused.
 * Update actions are refused with a ValidationException that says so: nothing here needs them.
 */
const { createHash, randomBytes } = require('node:crypto');
const path = require('node:path');

const TARGET = 'DynamoDB_20120810.TransactWriteItems';
const MAX_ACTIONS = 100;
// DynamoDB's limit on the aggregate size of the items in one transaction.
const MAX_TRANSACTION_BYTES = 4 * 1024 * 1024;
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;
const TOKEN_WINDOW_MS = 10 * 60 * 1000;
const MAX_CACHED_CONDITIONS = 256;

/**
 * Answers TransactWriteItems on `server` (dynalite's HTTP server) against `store` (the store
 * dynalite created for it); every other request goes to dynalite's own handler untouched.
 */
function installTransactWriteItems(server, store, dynaliteDir) {
  const lib = {
    db: require(path.join(dynaliteDir, 'db')),
    validations: require(path.join(dynaliteDir, 'validations')),
    put: require(path.join(dynaliteDir, 'validations', 'putItem')),
    del: require(path.join(dynaliteDir, 'validations', 'deleteItem')),
    crc32: require(require.resolve('buffer-crc32', { paths: [dynaliteDir] })),
    conditions: new Map(),
  };
  const tokens = new Map();
  const dynalite = server.listeners('request');
  server.removeAllListeners('request');
  server.on('request', (req, res) => {
    if (req.method === 'POST' && req.headers['x-amz-target'] === TARGET) {
      handle(req, res, store, lib, tokens);
      return;
    }
    for (const listener of dynalite) listener.call(server, req, res);
  });
}

function handle(req, res, store, lib, tokens) {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    const send = (status, body) => {
      const text = JSON.stringify(body);
      res.statusCode = status;
      res.setHeader(
        'x-amzn-RequestId',
        randomBytes(39).toString('base64').toUpperCase().replace(/\+|\//g, '0'),
      );
      res.setHeader('x-amz-crc32', lib.crc32.unsigned(text));
      res.setHeader('Content-Type', 'application/x-amz-json-1.0');
      res.setHeader('Content-Length', Buffer.byteLength(text, 'utf8'));
      res.end(text);
    };
    if (size > MAX_REQUEST_BYTES) {
      res.statusCode = 413;
      res.end();
      return;
    }
    if (!req.headers.authorization) {
      send(400, {
        __type: 'com.amazon.coral.service#MissingAuthenticationTokenException',
        message: 'Request is missing Authentication Token',
      });
      return;
    }
    const body = Buffer.concat(chunks).toString('utf8');
    let data;
    try {
      data = JSON.parse(body);
    } catch {
      send(400, { __type: 'com.amazon.coral.service#SerializationException' });
      return;
    }
    transactWrite(store, lib, tokens, data, body, (error, output) => {
      if (error?.statusCode) send(error.statusCode, error.body);
      else if (error)
        send(500, { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: String(error) });
      else send(200, output);
    });
  });
}

function transactWrite(store, lib, tokens, data, body, done) {
  let actions;
  try {
    actions = parseActions(store, lib, data);
  } catch (error) {
    done(error);
    return;
  }
  const token = typeof data.ClientRequestToken === 'string' ? data.ClientRequestToken : undefined;
  // The whole request names the token, so the same token with other actions hashes otherwise.
  const fingerprint = token && createHash('sha256').update(body).digest('hex');
  if (token) {
    const now = Date.now();
    for (const [key, seen] of tokens) if (seen.expires <= now) tokens.delete(key);
    const seen = tokens.get(token);
    if (seen && seen.fingerprint !== fingerprint) {
      done(
        error(
          'IdempotentParameterMismatchException',
          'The request uses the same client token as a previous, but non-identical request.',
        ),
      );
      return;
    }
    if (seen?.running) {
      done(
        error(
          'TransactionInProgressException',
          'The transaction with the given request token is already in progress.',
        ),
      );
      return;
    }
    if (seen) {
      done(null, {});
      return;
    }
    tokens.set(token, { fingerprint, running: true, expires: now + TOKEN_WINDOW_MS });
  }
  const finish = (failure, output) => {
    if (token) {
      // Only a transaction that was applied makes its token a no-op; a cancelled one may be retried.
      if (failure) tokens.delete(token);
      else tokens.set(token, { fingerprint, running: false, expires: Date.now() + TOKEN_WINDOW_MS });
    }
    done(failure, output);
  };
  withTables(store, actions, (failure) => {
    if (failure) return finish(failure);
    for (const action of actions) {
      const invalid = action.item
        ? lib.db.validateItem(action.item, action.table)
        : lib.db.validateKey(action.data.Key, action.table);
      if (invalid) return finish(invalid);
      action.key = lib.db.createKey(action.item || action.data.Key, action.table);
    }
    const seen = new Set();
    for (const action of actions) {
      const id = `${action.data.TableName}\n${action.key}`;
      if (seen.has(id)) {
        return finish(
          lib.db.validationError('Transaction request cannot include multiple operations on one item'),
        );
      }
      seen.add(id);
    }
    const size = actions.reduce((sum, action) => sum + (action.item ? lib.db.itemSize(action.item) : 0), 0);
    if (size > MAX_TRANSACTION_BYTES) {
      return finish(
        lib.db.validationError('Transaction request size exceeds the maximum allowed size of 4 MB'),
      );
    }
    lockAll(store, actions, (release) => {
      const finishUnlocked = (failure, output) => {
        release();
        finish(failure, output);
      };
      readAll(store, actions, (readFailure) => {
        if (readFailure) return finishUnlocked(readFailure);
        const failed = actions.map((action) => lib.db.checkConditional(action.data, action.existing) != null);
        if (failed.some(Boolean)) return finishUnlocked(cancelled(actions, failed));
        store.db.batch(writesOf(lib, actions), (writeFailure) => {
          if (writeFailure) return finishUnlocked(writeFailure);
          finishUnlocked(null, consumedCapacity(lib, data, actions));
        });
      });
    });
  });
}

/** The actions of a request, each validated as dynalite validates that single-item operation. */
function parseActions(store, lib, data) {
  const items = data?.TransactItems;
  if (!Array.isArray(items)) {
    throw lib.db.validationError(
      "1 validation error detected: Value null at 'transactItems' failed to satisfy constraint: Member must not be null",
    );
  }
  if (items.length < 1 || items.length > MAX_ACTIONS) {
    throw lib.db.validationError(
      `1 validation error detected: Value '[${items.length} items]' at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to ${MAX_ACTIONS} and greater than or equal to 1`,
    );
  }
  return items.map((item, index) => {
    const kinds = Object.keys(item || {}).filter((kind) => item[kind] != null);
    if (kinds.length !== 1) {
      throw lib.db.validationError(
        `TransactItems can only contain one of Check, Put, Update or Delete (item ${index + 1} has ${kinds.length})`,
      );
    }
    const kind = kinds[0];
    const action = item[kind];
    const returnOld = action.ReturnValuesOnConditionCheckFailure;
    if (returnOld != null && returnOld !== 'ALL_OLD' && returnOld !== 'NONE') {
      throw lib.db.validationError(
        `1 validation error detected: Value '${returnOld}' at 'transactItems.${index + 1}.member.${lowerFirst(kind)}.returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]`,
      );
    }
    const single = {
      TableName: action.TableName,
      ConditionExpression: action.ConditionExpression,
      ExpressionAttributeNames: action.ExpressionAttributeNames,
      ExpressionAttributeValues: action.ExpressionAttributeValues,
    };
    if (kind === 'Put') single.Item = action.Item;
    else if (kind === 'Delete' || kind === 'ConditionCheck') single.Key = action.Key;
    else {
      throw lib.db.validationError(
        `The local DynamoDB runs Put, Delete and ConditionCheck actions in a transaction, not ${kind}`,
      );
    }
    if (kind === 'ConditionCheck' && typeof action.ConditionExpression !== 'string') {
      throw lib.db.validationError('A ConditionCheck action needs a ConditionExpression');
    }
    const checked = validated(store, lib, kind === 'Put' ? lib.put : lib.del, single);
    return {
      kind,
      data: checked,
      item: kind === 'Put' ? checked.Item : undefined,
      returnOld: returnOld === 'ALL_OLD',
    };
  });
}

/**
 * One action checked by dynalite's own validation for that single-item operation. Parsing a
 * condition costs dynalite about 0.1 ms, as much as the rest of an action's work, and a transaction
 * repeats one condition on each of its actions; so a condition (with its names and values) is
 * parsed once and its parse reused, while the item is validated every time.
 */
function validated(store, lib, rules, single) {
  const checked = lib.validations.checkTypes(single, rules.types);
  if (typeof checked.ConditionExpression !== 'string') {
    lib.validations.checkValidations(checked, rules.types, rules.custom, store);
    return checked;
  }
  const key = JSON.stringify([
    checked.ConditionExpression,
    checked.ExpressionAttributeNames || null,
    checked.ExpressionAttributeValues || null,
  ]);
  const parsed = lib.conditions.get(key);
  if (parsed === undefined) {
    lib.validations.checkValidations(checked, rules.types, rules.custom, store);
    if (lib.conditions.size >= MAX_CACHED_CONDITIONS) lib.conditions.clear();
    lib.conditions.set(key, checked._condition);
    return checked;
  }
  const withoutCondition = { ...checked };
  delete withoutCondition.ConditionExpression;
  delete withoutCondition.ExpressionAttributeNames;
  delete withoutCondition.ExpressionAttributeValues;
  lib.validations.checkValidations(withoutCondition, rules.types, rules.custom, store);
  return { ...checked, _condition: parsed };
}

function withTables(store, actions, done) {
  const names = [...new Set(actions.map((action) => action.data.TableName))];
  const tables = new Map();
  let pending = names.length;
  let failed = false;
  for (const name of names) {
    store.getTable(name, (failure, table) => {
      if (failed) return;
      if (failure) {
        failed = true;
        return done(failure);
      }
      tables.set(name, table);
      if (--pending === 0) {
        for (const action of actions) action.table = tables.get(action.data.TableName);
        done(null);
      }
    });
  }
}

/**
 * Locks every item with its table's lock (dynalite's own, which its single-item operations take).
 * Each `lock` call queues on all its keys at once, and all are made in this one synchronous loop,
 * so transactions and single writes queue in one order and cannot wait on each other in a cycle.
 */
function lockAll(store, actions, locked) {
  const byTable = new Map();
  for (const action of actions) {
    const keys = byTable.get(action.data.TableName) || [];
    keys.push(action.key);
    byTable.set(action.data.TableName, keys);
  }
  const releases = [];
  let pending = byTable.size;
  for (const [tableName, keys] of byTable) {
    store.getItemDb(tableName).lock(keys, (releaser) => {
      releases.push(releaser(() => {}));
      if (--pending === 0) {
        locked(() => {
          for (const release of releases) release();
        });
      }
    });
  }
}

/**
 * The stored items, read with one LevelDB getMany (one trip to LevelDB's thread pool for all of
 * them, where dynalite's own reads make one trip each), tracked as dynalite tracks its reads so
 * that closing the store waits for it.
 */
function readAll(store, actions, done) {
  const keys = actions.map((action) => itemKey(action.table, action.key));
  const reading = store.db.getMany(keys);
  const tracked = store.lifecycleManager ? store.lifecycleManager.trackOperation(reading) : reading;
  tracked.then(
    (items) => {
      actions.forEach((action, index) => {
        action.existing = items[index] == null ? undefined : items[index];
      });
      setImmediate(done, null);
    },
    (failure) => setImmediate(done, failure),
  );
}

function cancelled(actions, failed) {
  const codes = failed.map((fail) => (fail ? 'ConditionalCheckFailed' : 'None'));
  const failure = new Error('Transaction cancelled');
  failure.statusCode = 400;
  failure.body = {
    __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
    Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    CancellationReasons: actions.map((action, index) => {
      if (!failed[index]) return { Code: 'None' };
      const reason = { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' };
      if (action.returnOld && action.existing) reason.Item = action.existing;
      return reason;
    }),
  };
  return failure;
}

/**
 * An item's key in the LevelDB store itself. dynalite 4 keeps each table's items (and each index's
 * entries) in a sub-database whose keys are prefixed `<name>~` (db/index.js getSubDb); the
 * transaction reads and writes the store itself, so that its reads and writes are one call each.
 */
function itemKey(table, key) {
  return `item-${table.TableName}~${key}`;
}

/** The LevelDB writes of the actions, items and their index entries, so that they go as one batch. */
function writesOf(lib, actions) {
  const writes = [];
  for (const action of actions) {
    if (action.kind === 'ConditionCheck') continue;
    const table = action.table;
    const next = action.kind === 'Put' ? action.item : undefined;
    for (const indexType of ['Local', 'Global']) {
      const indexes = table[`${indexType}SecondaryIndexes`] || [];
      const { puts, deletes } = lib.db.getIndexActions(indexes, action.existing, next, table);
      const prefix = (index) => `index-${indexType.toLowerCase()}~${table.TableName}~${index}~`;
      for (const entry of deletes) writes.push({ type: 'del', key: prefix(entry.index) + entry.key });
      for (const entry of puts)
        writes.push({ type: 'put', key: prefix(entry.index) + entry.key, value: entry.item });
    }
    const key = itemKey(table, action.key);
    writes.push(next ? { type: 'put', key, value: next } : { type: 'del', key });
  }
  return writes;
}

function consumedCapacity(lib, data, actions) {
  if (data.ReturnConsumedCapacity !== 'TOTAL' && data.ReturnConsumedCapacity !== 'INDEXES') return {};
  const units = new Map();
  for (const action of actions) {
    const size = Math.max(lib.db.itemSize(action.existing || {}), lib.db.itemSize(action.item || {}));
    // A transactional write costs two write units per KB, as DynamoDB bills it.
    const cost = 2 * Math.max(1, Math.ceil(size / 1024));
    units.set(action.data.TableName, (units.get(action.data.TableName) || 0) + cost);
  }
  return { ConsumedCapacity: [...units].map(([TableName, CapacityUnits]) => ({ TableName, CapacityUnits })) };
}

function error(type, message) {
  const failure = new Error(message);
  failure.statusCode = 400;
  failure.body = { __type: `com.amazonaws.dynamodb.v20120810#${type}`, message };
  return failure;
}

function lowerFirst(text) {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

module.exports = { installTransactWriteItems };
