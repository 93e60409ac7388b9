// Runs AwsCustomResource's own handler (the asset aws-cdk-lib synthesizes) on events read from stdin, one JSON
// line each, and writes one JSON line per event: {"ms": time of the handler call, its answer PUT included}.
// Usage: node benchmarks/handler_process.js ASSET_DIR   (NODE_PATH must hold @aws-sdk/client-lambda)
"use strict";
const started = process.hrtime.bigint();
const path = require("path");
const readline = require("readline");

// The handler logs with console.*; stdout carries only this driver's results.
for (const level of ["log", "info", "warn", "error", "debug"]) {
  console[level] = (...args) => process.stderr.write(args.map(String).join(" ") + "\n");
}

const { handler } = require(path.resolve(process.argv[2], "index.js"));
const context = { getRemainingTimeInMillis: () => 120000, logStreamName: "local" };
const lines = readline.createInterface({ input: process.stdin });
let first = true;

lines.on("line", async (line) => {
  lines.pause();
  const event = JSON.parse(line);
  const before = process.hrtime.bigint();
  let error = null;
  try {
    await handler(event, context);
  } catch (caught) {
    error = String(caught);
  }
  const after = process.hrtime.bigint();
  const sinceStart = first ? Number(after - started) / 1e6 : null;
  first = false;
  process.stdout.write(JSON.stringify({ ms: Number(after - before) / 1e6, sinceStart, error }) + "\n");
  lines.resume();
});
