#!/usr/bin/env node
// A CrossGLG subscriber in Node.js: connects a ZeroMQ SUB socket to a running `crossglg-edge run`,
// validates every message against the JSON Schema files the Python package ships (edge/schemas),
// prints one line per label and event, and reports schema violations and sequence gaps.
// Wire format (docs/protocol.md): two frames [topic, JSON payload], topic crossglg.v1.<kind>.<source>.

import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import Ajv2020 from "ajv/dist/2020.js";
import { Subscriber } from "zeromq";

const HERE = dirname(fileURLToPath(import.meta.url));
const KINDS = ["label", "event", "hb", "pose"];
const TOPIC_PREFIX = "crossglg.v1.";
const USAGE = `usage: node index.mjs [ENDPOINT] [options]

  ENDPOINT              publisher to connect to (default tcp://127.0.0.1:5556)
  --topic PREFIX        ZeroMQ prefix filter (default ${TOPIC_PREFIX}: every message)
  --schemas DIR         directory of label.json, event.json, hb.json, pose.json
                        (default $CROSSGLG_SCHEMAS, else ../../edge/schemas next to this file)
  --count N             exit after N messages (default: run until Ctrl-C)
  --labels N            exit after N label messages
  --timeout S           exit 1 after S seconds without a message
  --quiet               no line per message, only violations and the summary

exit status: 0 done, 1 timeout or socket error, 2 bad arguments or schema files,
             3 schema violations seen (whatever ended the run)`;

/** Parse the command line; throws a one-line Error on bad input. */
function options(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      topic: { type: "string", default: TOPIC_PREFIX },
      schemas: { type: "string" },
      count: { type: "string" },
      labels: { type: "string" },
      timeout: { type: "string" },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (positionals.length > 1) throw new Error(`expected at most one ENDPOINT, got ${positionals.join(" ")}`);
  const number = (name, integer) => {
    if (values[name] === undefined) return null;
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
      throw new Error(`--${name}: expected a positive ${integer ? "integer" : "number"}, got ${values[name]}`);
    }
    return v;
  };
  return {
    help: values.help,
    endpoint: positionals[0] ?? "tcp://127.0.0.1:5556",
    topic: values.topic,
    schemas: resolve(values.schemas ?? process.env.CROSSGLG_SCHEMAS ?? join(HERE, "..", "..", "edge", "schemas")),
    count: number("count", true),
    labels: number("labels", true),
    timeoutMs: values.timeout === undefined ? null : number("timeout", false) * 1000,
    quiet: values.quiet,
  };
}

/** One compiled Ajv validator per message kind, from `<dir>/<kind>.json`. */
export function loadValidators(dir) {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  const validators = {};
  for (const kind of KINDS) {
    const path = join(dir, `${kind}.json`);
    let schema;
    try {
      schema = JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new Error(`schema file ${path}: ${err.message}`);
    }
    validators[kind] = ajv.compile(schema);
  }
  return validators;
}

/** Check one message; returns {kind, payload, errors} (errors: readable strings, empty when valid). */
export function check(validators, topic, raw) {
  const rest = topic.startsWith(TOPIC_PREFIX) ? topic.slice(TOPIC_PREFIX.length) : null;
  const kind = rest === null ? null : rest.split(".")[0];
  if (!KINDS.includes(kind)) return { kind, payload: null, errors: [`topic ${topic}: not crossglg.v1.<kind>.<source>`] };
  let payload;
  try {
    payload = JSON.parse(raw);
  } catch (err) {
    return { kind, payload: null, errors: [`payload is not JSON: ${err.message}`] };
  }
  const validate = validators[kind];
  if (validate(payload)) return { kind, payload, errors: [] };
  const errors = validate.errors.map((e) => `${e.instancePath || "/"} ${e.message}`);
  return { kind, payload, errors };
}

const fmt = (x, digits = 3) => (typeof x === "number" ? x.toFixed(digits) : "-");

/** The readable line for a label or event, null for the kinds that are only counted. */
function line(kind, p) {
  const where = `${p.source} t=${fmt(p.t_frame, 2)} track ${p.track_id ?? "-"}`;
  if (kind === "label") {
    const what = p.state === "action" ? `action "${p.label}" score ${fmt(p.score)} margin ${fmt(p.margin)}`
      : `${p.state}${p.reason ? ` (${p.reason})` : ""}`;
    return `label ${where} ${what}`;
  }
  if (kind === "event" && p.event === "enroll") {
    return `enroll ${p.source} "${p.label}" ${p.phase}${p.message ? `: ${p.message}` : ""}`;
  }
  if (kind === "event") {
    const from = p.previous.state === "action" ? `"${p.previous.label}"` : p.previous.state;
    const to = p.state === "action" ? `"${p.label}"` : p.state;
    return `event ${where} ${p.event}: ${from} -> ${to}`;
  }
  return null;
}

async function main() {
  let opts;
  try {
    opts = options(process.argv.slice(2));
  } catch (err) {
    console.error(`crossglg-node: error: ${err.message}\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  let validators;
  try {
    validators = loadValidators(opts.schemas);
  } catch (err) {
    console.error(`crossglg-node: error: ${err.message} (pass --schemas DIR)`);
    return 2;
  }
  const sock = new Subscriber({ linger: 0, receiveTimeout: opts.timeoutMs ?? -1 });
  sock.connect(opts.endpoint);
  sock.subscribe(opts.topic);
  console.error(`crossglg-node: subscribed to ${opts.topic} on ${opts.endpoint}, schemas from ${opts.schemas}`);

  const counts = { messages: 0, label: 0, event: 0, hb: 0, pose: 0, invalid: 0, missed: 0 };
  const lastSeq = new Map(); // topic + session -> last seq: a gap is lost messages
  let status = 0;
  let stopping = false;
  process.once("SIGINT", () => { stopping = true; sock.close(); });
  process.once("SIGTERM", () => { stopping = true; sock.close(); });

  while (!stopping) {
    let frames;
    try {
      frames = await sock.receive();
    } catch (err) {
      if (err.code === "EAGAIN") {
        console.error(`crossglg-node: no message for ${opts.timeoutMs / 1000} s`);
        status = 1;
      } else if (!stopping) {
        console.error(`crossglg-node: error: ${err.message}`);
        status = 1;
      }
      break;
    }
    if (frames.length !== 2) {
      counts.invalid += 1;
      console.error(`crossglg-node: schema violation: expected 2 frames [topic, payload], got ${frames.length}`);
      continue;
    }
    const topic = frames[0].toString("utf8");
    const { kind, payload, errors } = check(validators, topic, frames[1].toString("utf8"));
    counts.messages += 1;
    if (errors.length) {
      counts.invalid += 1;
      console.error(`crossglg-node: schema violation: ${topic} seq ${payload?.seq ?? "?"}: ${errors.join("; ")}`);
    } else {
      counts[kind] += 1;
      const key = `${topic} ${payload.session}`;
      const prev = lastSeq.get(key);
      if (prev !== undefined && payload.seq > prev + 1) counts.missed += payload.seq - prev - 1;
      lastSeq.set(key, payload.seq);
      const text = opts.quiet ? null : line(kind, payload);
      if (text) console.log(text);
    }
    if ((opts.count && counts.messages >= opts.count) || (opts.labels && counts.label >= opts.labels)) break;
  }
  if (!sock.closed) sock.close();
  if (counts.invalid > 0) status = 3; // the more serious finding wins over a timeout
  console.error(`crossglg-node summary: ${JSON.stringify(counts)}`);
  return status;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
