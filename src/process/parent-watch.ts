/**
 * Under `bun run start` the gateway is a child of Bun's script runner, which forwards SIGTERM/SIGINT
 * but cannot forward SIGKILL: `kill -9` of the PID an operator got from `bun run start &` would leave
 * the gateway orphaned, still holding the port. So a gateway started by a package script watches its
 * parent and, once re-parented, stops the way SIGTERM would (drain, exit). A bare `bun app/main.ts`
 * (e.g. under nohup, or PID 1 in the image) has no such parent and is left alone.
 */
export function stopWhenOrphaned(stop: () => void, env: Record<string, string | undefined> = process.env, intervalMs = 1_000): () => void {
  // Bun and npm set this for the processes a package script starts.
  if (!env.npm_lifecycle_event) return () => {};
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
