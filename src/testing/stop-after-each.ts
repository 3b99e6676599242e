import { afterEach } from "bun:test";

/**
 * Call at a test file's top level: the returned array's entries (harnesses, processes) are stopped one by
 * one after each test, so a failed assertion never leaks a started gateway or emulator into the next test.
 */
export function stopAfterEach<T extends { stop(): Promise<unknown> }>(): T[] {
  const open: T[] = [];
  afterEach(async () => {
    for (const started of open.splice(0)) await started.stop();
  });
  return open;
}
