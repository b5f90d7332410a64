import { formatCount } from '../../cli/output.ts';
import type { ArtifactRetention } from '../../functions/core/export/artifact-retention.ts';
import type { AdminToken } from './admin-token.ts';
import type { LocalAwsCredentials } from './local-aws-credentials.ts';
import { localConfigFromEnv } from './local-config.ts';
import { LocalStackError } from './local-stack-error.ts';
import { type LocalStack, startLocalStack } from './local-stack.ts';

/** `npm start`: the whole system on this machine, with no AWS account. */
async function main(): Promise<void> {
  const config = localConfigFromEnv();
  const tty = process.stdout.isTTY === true;
  let lastShown = 0;
  const stack: LocalStack = await startLocalStack(config, {
    onSeedProgress: (done, total) => {
      if (tty) {
        process.stdout.write(`\rSeeding demo events… ${formatCount(done)} / ${formatCount(total)}`);
        if (done === total) process.stdout.write('\n');
      } else if (done === total || done - lastShown >= 5_000 || lastShown === 0) {
        lastShown = done;
        console.log(`Seeding demo events… ${formatCount(done)} / ${formatCount(total)}`);
      }
    },
    ...(config.logRequests ? { onRequest: (line: string) => console.log(line) } : {}),
    onExportFailed: (exportId) => console.log(`Export ${exportId} failed; kt export status --id ${exportId} says why.`),
  });

  const token =
    stack.admin.source === 'environment'
      ? 'registered from KEEPTRUSTS_API_TOKEN'
      : `saved in ${stack.admin.file}${stack.admin.source === 'created' ? ' (created now: shown below this once)' : ''}`;
  console.log(`
Keeptrusts Export is running locally.

  API        ${stack.apiUrl}
  DynamoDB   ${stack.dynamodbEndpoint}
  S3         ${stack.s3Endpoint} (delivery buckets: ${(config.deliveryBuckets ?? []).join(', ')}; add more with KT_DELIVERY_BUCKETS)
  Data       ${stack.dataDir}${stack.seeded > 0 ? ` (seeded ${formatCount(stack.seeded)} demo events over the last 30 days)` : ''}
  Admin token ${token}
  SigV4      key ${stack.aws.accessKeyId}, region ${stack.aws.region}, saved in ${stack.aws.file}${stack.aws.source === 'created' ? ' (created now: shown below this once)' : ''}${stack.resumed > 0 ? `\n  Exports    resumed ${formatCount(stack.resumed)} unfinished export(s) from the last run` : ''}${stack.rearmed > 0 ? `\n  Schedules  ${formatCount(stack.rearmed)} armed again (runs missed while stopped are not replayed; kt export schedule run --at backfills)` : ''}${config.fault ? `\n  Faults     part uploads fail after ${config.fault.afterParts} part(s)${config.fault.times === undefined ? '' : `, ${config.fault.times} time(s)`} (KT_FAULT_AFTER_PARTS)` : ''}${retentionLine(config.artifactRetention)}

Point the kt CLI at it (tutorial Step 1), in another shell:

export KEEPTRUSTS_API_URL="${stack.apiUrl}"
${tokenLine(stack.admin)}

Or sign with AWS SigV4 instead of the token (kt --auth sigv4, as IAM automation does on AWS):

${awsLines(stack.aws)}

Then try: npx kt events import --file events/sample-decision-events.jsonl
     and: npx kt export create --from 2026-04-16T00:00:00Z --to 2026-04-23T23:59:59Z --format json
Press Ctrl-C to stop.
`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.exit(130);
    }
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    stack.stop().then(
      () => {
        console.log('Stopped. Data is kept in', stack.dataDir);
        process.exit(0);
      },
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/**
 * The line that gives the CLI the admin token. The secret is printed only on the start that
 * created it: a log kept of later starts (a terminal's scrollback, a CI log) never holds it.
 */
function tokenLine(admin: AdminToken): string {
  if (admin.source === 'created') return `export KEEPTRUSTS_API_TOKEN="${admin.token}"`;
  if (admin.source === 'environment') {
    return '# KEEPTRUSTS_API_TOKEN: already set in the shell that ran npm start; use the same value';
  }
  return `export KEEPTRUSTS_API_TOKEN="$(cat ${shellQuoted(admin.file ?? 'admin-token')})"`;
}

/**
 * The lines that give the CLI (or any AWS SDK) the local SigV4 pair. As with the admin token, the
 * secret is printed only on the start that created it; later starts read it from its file.
 */
function awsLines(aws: LocalAwsCredentials & { readonly region: string }): string {
  const secret =
    aws.source === 'created'
      ? aws.secretAccessKey
      : `$(sed -n 's/^aws_secret_access_key = //p' ${shellQuoted(aws.file)})`;
  return [
    // A profile or session token in that shell would win over (or spoil) the pair.
    'unset AWS_PROFILE AWS_SESSION_TOKEN',
    `export AWS_ACCESS_KEY_ID="${aws.accessKeyId}"`,
    `export AWS_SECRET_ACCESS_KEY="${secret}"`,
    `export AWS_REGION="${aws.region}"`,
  ].join('\n');
}

function shellQuoted(text: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

function retentionLine(retention: ArtifactRetention | undefined): string {
  if (retention === undefined) return '';
  const days = `${formatCount(retention.days)} day${retention.days === 1 ? '' : 's'}`;
  return `\n  Retention  ${retention.mode.toLowerCase()}, ${days}: a completed export cannot be deleted sooner (KT_ARTIFACT_RETENTION_MODE)`;
}

// Anything that escapes the handlers below still ends as one line, never a stack trace.
process.on('uncaughtException', (error) => {
  console.error(`error: the local stack stopped: ${error.message}`);
  if (process.env.KT_DEBUG) console.error(error);
  process.exit(1);
});

main().catch((error: unknown) => {
  if (error instanceof LocalStackError) {
    console.error(`error: ${error.message}`);
  } else {
    console.error(`error: the local stack failed to start: ${(error as Error)?.message ?? String(error)}`);
    if (process.env.KT_DEBUG) console.error(error);
  }
  process.exit(1);
});
