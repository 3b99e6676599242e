// Preloaded (`bun --preload`) into every gateway the bench starts, so the bench can show which modules
// a target really loaded (e.g. no @opentelemetry module while OTEL_EXPORTER_OTLP_ENDPOINT is unset)
// without a code path in the gateway that only the bench uses. On SIGUSR2 it writes the paths of every
// module loaded so far, as a JSON array, to RINGGATE_BENCH_MODULES_FILE; it does nothing per request.

import { writeFileSync } from "node:fs";

const path = process.env.RINGGATE_BENCH_MODULES_FILE;
if (path) process.on("SIGUSR2", () => writeFileSync(path, JSON.stringify(Object.keys(require.cache))));
