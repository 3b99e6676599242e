# syntax=docker/dockerfile:1
# ringgate gateway image; also runs the vLLM emulator (workers/emulator) for the CPU-only stack.
ARG BUN_IMAGE=oven/bun:1.4.5-slim

# Production dependencies only, resolved exactly as bun.lock says.
FROM ${BUN_IMAGE} AS deps
WORKDIR /app
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile --production

# Bun runs TypeScript directly, so the final stage is the slim runtime plus sources: no build step,
# no compiler, no devDependencies.
FROM ${BUN_IMAGE} AS runtime
WORKDIR /app
# Bun's fetch reads BUN_CONFIG_MAX_HTTP_REQUESTS only at process start (default 256 in flight); set here,
# the gateway runs as one process, PID 1, with no signal-forwarding parent (`bun run start` sets it too).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    BUN_CONFIG_MAX_HTTP_REQUESTS=65535
COPY --from=deps /app/node_modules ./node_modules
COPY package.json bun.lock bunfig.toml tsconfig.json ./
COPY src ./src
COPY routes ./routes
COPY app ./app
COPY workers ./workers
# The official image ships the unprivileged user "bun" (uid 1000).
USER bun
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bun", "-e", "fetch(`http://127.0.0.1:${process.env.PORT ?? 8000}/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: bun is PID 1 and receives SIGTERM itself. The gateway installs its own SIGTERM handler
# (drain, then exit) and, with the variable above, spawns no children, so an init would add nothing.
ENTRYPOINT []
CMD ["bun", "app/main.ts"]
