/**
 * Runs `callback` once after `delayMs` and returns a cancel function. Components take one instead of
 * calling setTimeout so tests can drive them with a manual clock (src/testing/manual-schedule.ts).
 */
export type Schedule = (callback: () => void, delayMs: number) => () => void;

export const timerSchedule: Schedule = (callback, delayMs) => {
  const timer = setTimeout(callback, delayMs);
  // A pending timer (a re-resolution, a cooldown) must not keep a process or a test runner alive.
  timer.unref();
  return () => clearTimeout(timer);
};
