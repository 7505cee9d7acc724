// A real Node BullMQ worker on one queue: `node worker.js REDIS_URL QUEUE [NAME]`.
// Prints "ready" once its connections are up; exits on SIGTERM.
"use strict";
const { Worker } = require("bullmq");

const [url, queue, name] = process.argv.slice(2);
const parsed = new URL(url);
const connection = {
  host: parsed.hostname,
  port: Number(parsed.port || 6379),
  db: Number((parsed.pathname || "/0").slice(1) || 0),
  maxRetriesPerRequest: null,
};
const opts = { connection, concurrency: 2 };
if (name) opts.name = name;
const worker = new Worker(queue, async () => ({ done: true }), opts);
worker.waitUntilReady().then(() => console.log("ready"));
const stop = () => worker.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
