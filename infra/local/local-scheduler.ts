import { Cron } from 'croner';
import type { ScheduleStore, ScheduleTrigger } from '../../functions/core/ports.ts';
import { cronerOptions, cronerPattern } from '../../functions/core/schedules/cron.ts';

/** Invokes the scheduled Lambda's handler for one fire, as EventBridge Scheduler would. */
export type FireSchedule = (event: { readonly schedule: string; readonly scheduledTime: string }) => Promise<unknown>;

/**
 * The local stack's EventBridge Scheduler: one croner job per enabled schedule, each calling the
 * scheduled handler with the schedule's name and the minute it was due. Like Scheduler, it fires
 * only while it runs: `rearm` after a restart arms the stored schedules from now on, and runs
 * missed while the stack was stopped are not replayed (`kt export schedule run --at` backfills).
 */
export class LocalScheduleTrigger implements ScheduleTrigger {
  private readonly jobs = new Map<string, Cron>();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly fire: FireSchedule,
    private readonly onError: (schedule: string, error: unknown) => void = () => undefined,
  ) {}

  async putTrigger(schedule: {
    readonly name: string;
    readonly expression: string;
    readonly timezone: string;
    readonly enabled: boolean;
  }): Promise<void> {
    this.jobs.get(schedule.name)?.stop();
    this.jobs.delete(schedule.name);
    if (!schedule.enabled) return;
    const job = new Cron(cronerPattern(schedule.expression), cronerOptions(schedule.timezone), () =>
      this.run(schedule.name),
    );
    this.jobs.set(schedule.name, job);
  }

  async deleteTrigger(name: string): Promise<void> {
    this.jobs.get(name)?.stop();
    this.jobs.delete(name);
  }

  /** Arms every enabled stored schedule; returns how many. */
  async rearm(store: ScheduleStore): Promise<number> {
    const schedules = await store.listSchedules();
    for (const schedule of schedules) {
      await this.putTrigger({
        name: schedule.name,
        expression: schedule.expression,
        timezone: schedule.timezone,
        enabled: schedule.state === 'enabled',
      });
    }
    return schedules.filter((schedule) => schedule.state === 'enabled').length;
  }

  /** The schedules armed now, by name (tests, the start banner). */
  armed(): readonly string[] {
    return [...this.jobs.keys()].sort();
  }

  /** Stops firing and waits for fires under way. */
  async stop(): Promise<void> {
    for (const job of this.jobs.values()) job.stop();
    this.jobs.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  private run(name: string): void {
    // Scheduler's <aws.scheduler.scheduled-time> is the minute the run was due, whatever the
    // delay in calling us; croner fires within that minute.
    const scheduledTime = `${new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString().slice(0, 19)}Z`;
    const fired = this.fire({ schedule: name, scheduledTime }).catch((error: unknown) => this.onError(name, error));
    this.inFlight.add(fired);
    void fired.finally(() => this.inFlight.delete(fired));
  }
}
