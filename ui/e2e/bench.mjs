// The desktop app's benchmark (issue 4): the release app under Xvfb, driven by tauri-driver +
// WebKitWebDriver, with 1 000 endpoints against heartline-lab on loopback. It prints figures
// and never asserts on time.
//
//   make bench-ui     (builds the release app, lab and CLI and the UI first)
//
// 1. Launch → first complete overview, on a fresh database with N endpoints (default 1 000).
//    Launch = the app process's start time (/proc/PID/stat, 10 ms ticks); overview = the UI's
//    `heartline:overview` performance mark, set after the first list of every endpoint with its
//    live state has been rendered and a frame painted (performance.now(), sub-ms). Both are put
//    on the wall clock (Date.now() − /proc/uptime for the boot time; performance.timeOrigin).
//    Then launch → the history columns filled in (`heartline:overview:history`: the overview's
//    second answer, `overview_history`, folded in and painted). Also: launch → every endpoint
//    Up (polled every 250 ms, from when the history columns are in). Before that, the same
//    launch HEARTLINE_BENCH_PLAIN times (default 3) as a person makes it, with no WebDriver
//    session (whose automation set-up delays the page): the app started directly, its figures
//    taken from its log, where it lists its and the page's marks (src-tauri/src/startup.rs).
// 2. Live: CPU (utime + stime over the window ÷ wall time) and RSS (VmRSS, sampled each second)
//    of the app process and each of its descendants (WebKitWebProcess, WebKitNetworkProcess),
//    over HEARTLINE_BENCH_LIVE seconds (default 30) once everything is Up, with nothing
//    driving the UI meanwhile; once per heartbeat setting in HEARTLINE_BENCH_PINGS
//    (default "15s,1s": the default heartbeat, then one a second).
// 3. Detail: on a copy of a database with a simulated year, its endpoints re-pointed at the
//    lab: launch → first overview again, then for several endpoints "30 d" clicked →
//    `heartline:detail:30d` (the 30-day window loaded, chart drawn, painted), both marks in the
//    page. The database: HEARTLINE_BENCH_YEAR_DB, else target/heartline-bench-ui/year-1000.db
//    (the store bench's year, which ends when it was generated:
//      cargo bench -p heartline-store --bench store -- --only=3 --keep
//    then move the kept heartline.db and its -wal there), else the export bench's cache
//    target/heartline-report-bench/history-1000x365d.db (whose year ends on 2026-11-01, so its
//    30-day window empties as time passes). Skipped, with a message, without any of them.
//
// Environment: HEARTLINE_BENCH_ENDPOINTS (1000), HEARTLINE_BENCH_PINGS ("15s,1s"),
// HEARTLINE_BENCH_LIVE (30), HEARTLINE_BENCH_PLAIN (3), HEARTLINE_BENCH_YEAR_DB, HEARTLINE_BENCH_VIEW (sample the live
// window with that view showing instead of the overview), HEARTLINE_BENCH_APP_ENV (below),
// HEARTLINE_BENCH_KEEP=1 keeps the
// temporary directory. Screenshots go to target/bench-ui/.

import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import path from "node:path";
import {
  appEnv, endSession, grabDisplay, HARNESS_TOOLS, log, requireTools, root, run, runMain, session, setTag, sleep, start, startLab, startXvfb, target,
  until, watchdog,
} from "./harness.mjs";

setTag("bench-ui");
// HEARTLINE_BENCH_PROFILE=debug runs the debug build (to try the script, not for figures).
const profile = process.env.HEARTLINE_BENCH_PROFILE ?? "release";
const app = path.join(target, profile, "heartline-app");
const labBin = path.join(target, profile, "heartline-lab");
const cli = path.join(target, profile, "heartline");
const shots = path.join(target, "bench-ui");
const N = Number(process.env.HEARTLINE_BENCH_ENDPOINTS ?? 1000);
const PINGS = (process.env.HEARTLINE_BENCH_PINGS ?? "15s,1s").split(",").map((s) => s.trim()).filter(Boolean);
const LIVE_S = Number(process.env.HEARTLINE_BENCH_LIVE ?? 30);
const YEAR_DB =
  process.env.HEARTLINE_BENCH_YEAR_DB ??
  [path.join(target, "heartline-bench-ui/year-1000.db"), path.join(target, "heartline-report-bench/history-1000x365d.db")].find(existsSync) ??
  path.join(target, "heartline-bench-ui/year-1000.db");
// HEARTLINE_BENCH_APP_ENV="NAME=value,…": extra environment for the app (to compare WebKit's
// knobs such as WEBKIT_DISABLE_COMPOSITING_MODE=1 without a rebuild).
const EXTRA_ENV = Object.fromEntries(
  (process.env.HEARTLINE_BENCH_APP_ENV ?? "").split(",").filter((kv) => kv.includes("=")).map((kv) => kv.split("=", 2)),
);
const PLAIN = Number(process.env.HEARTLINE_BENCH_PLAIN ?? 3);
const stopWatchdog = watchdog(20 * 60_000);
const CLK_TCK = 100; // USER_HZ on Linux

// ── /proc ────────────────────────────────────────────────────────────────────────────────
function stat(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const close = s.lastIndexOf(")");
  const comm = s.slice(s.indexOf("(") + 1, close);
  const f = s.slice(close + 2).split(" "); // f[0] is field 3 (state)
  return { pid, comm, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), start: Number(f[19]) };
}
function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}
function allProcs() {
  const out = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      out.push(stat(Number(d)));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
function descendants(pid, procs = allProcs()) {
  const out = [];
  const walk = (p) => {
    for (const c of procs) if (c.ppid === p) { out.push(c); walk(c.pid); }
  };
  walk(pid);
  return out;
}
/** The app process started (indirectly) by this tauri-driver. */
function appProcess(driverPid) {
  const name = path.basename(app).slice(0, 15);
  return descendants(driverPid).find((p) => p.comm === name) ?? null;
}
/** Boot time on the wall clock, in ms (the clock the process start times count from). */
function bootWallMs() {
  const up = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
  return Date.now() - up * 1000;
}
const startWallMs = (p) => bootWallMs() + (p.start / CLK_TCK) * 1000;
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const uptimeLine = () => execFileSync("uptime", { encoding: "utf8" }).trim();

// ── database preparation ─────────────────────────────────────────────────────────────────
function toml(names, url, ping) {
  const pong = ping === "1s" ? "500ms" : "5s";
  let s = `[defaults]\nping_interval = "${ping}"\npong_timeout = "${pong}"\n\n`;
  names.forEach((name, i) => {
    s += `[[endpoint]]\nname = "${name}"\nurl = "${url}/echo"\ntags = ["bench", "group-${i % 10}"]\n\n`;
  });
  return s;
}
async function importEndpoints(db, env, names, url, ping, dir) {
  const file = path.join(dir, `endpoints-${ping}.toml`);
  writeFileSync(file, toml(names, url, ping));
  const t = Date.now();
  const out = await run(cli, ["endpoints", "import", "--db", db, file], env, 300_000);
  log(out.trim(), `(${Date.now() - t} ms)`);
}

// ── the page ─────────────────────────────────────────────────────────────────────────────
const markOf = (b, name) =>
  b.execute((n) => {
    const m = performance.getEntriesByName(n, "mark")[0];
    return m ? { start: m.startTime, origin: performance.timeOrigin } : null;
  }, name);
const upCount = (b) =>
  b.execute(() => {
    for (const c of document.querySelectorAll(".chips .chip")) {
      if (c.querySelector(".state")?.textContent === "Up") return Number(c.querySelector(".num")?.textContent ?? 0);
    }
    return -1;
  });
const rowCount = (b) => b.execute(() => document.querySelector(".rail-foot")?.textContent?.trim() ?? "");

/** Launches the app on `db`; returns the session, the app process and launch → overview figures. */
async function launch(env, db, label) {
  const s = await session(app, { ...env, ...EXTRA_ENV, HEARTLINE_DB: db });
  const proc = await until("the app process", () => appProcess(s.driver.pid), 10_000, 100);
  const started = startWallMs(proc);
  const mark = await until("the first overview mark", () => markOf(s.browser, "heartline:overview"), 120_000, 100);
  const overviewAt = mark.origin + mark.start;
  const history = await until("the history columns", () => markOf(s.browser, "heartline:overview:history"), 120_000, 100).catch(() => null);
  const listed = await rowCount(s.browser);
  // Where the time went in the page: the script has run (and the app mounted, asking for the
  // overview) by DOMContentLoaded.
  const nav = await s.browser.execute(() => {
    const n = performance.getEntriesByType("navigation")[0];
    return n ? { response: n.responseEnd, dcl: n.domContentLoadedEventEnd } : null;
  });
  // The start-up step by step, every mark on the wall clock relative to the process start:
  // the app's own (`startup_marks`: main(), Tauri built with GTK up, setup (the window and its
  // webview exist by then), store + engine open, page load started/finished, the first
  // list_endpoints) and the page's (navigation start = timeOrigin, the bundle run, DOMContentLoaded,
  // the first overview answer received, the overview painted).
  const steps = await s.browser.executeAsync((done) => {
    const out = [];
    const origin = performance.timeOrigin;
    const at = (name, ms) => out.push({ name, at: origin + ms });
    at("page: navigation start (timeOrigin)", 0);
    const n = performance.getEntriesByType("navigation")[0];
    if (n) {
      at("page: response end", n.responseEnd);
      at("page: DOMContentLoaded end", n.domContentLoadedEventEnd);
    }
    for (const m of ["heartline:script", "heartline:overview:data", "heartline:overview:model", "heartline:overview:dom", "heartline:overview:frame", "heartline:overview", "heartline:overview:history"]) {
      const e = performance.getEntriesByName(m, "mark")[0];
      if (e) at(`page: ${m}`, e.startTime);
    }
    const invoke = window.__TAURI_INTERNALS__?.invoke;
    if (!invoke) return done(out);
    invoke("startup_marks")
      .then((marks) => done([...marks.map((m) => ({ name: `app: ${m.name}`, at: m.at_ms })), ...out]))
      .catch(() => done(out));
  });
  // WebKit's processes (started by the app): their start times, 10 ms ticks like the app's.
  for (const p of descendants(proc.pid)) steps.push({ name: `process: ${p.comm} started`, at: startWallMs(p) });
  steps.sort((a, b) => a.at - b.at);
  const r = {
    label,
    pid: proc.pid,
    steps: steps.map((x) => ({ name: x.name, ms: x.at - started })),
    toPage: mark.origin - started,
    toOverview: overviewAt - started,
    toHistory: history ? history.origin + history.start - started : null,
    dcl: nav?.dcl ?? null,
    inPage: mark.start,
    listed,
  };
  log(
    `${label}: app pid ${proc.pid}; launch → page ${r.toPage.toFixed(0)} ms (+ DOMContentLoaded ${r.dcl?.toFixed(0) ?? "?"} ms, ` +
      `+ overview ${r.inPage.toFixed(0)} ms) → overview ${r.toOverview.toFixed(0)} ms (${listed}); history columns ${r.toHistory?.toFixed(0) ?? "?"} ms`,
  );
  for (const x of r.steps) log(`  ${x.ms.toFixed(0).padStart(6)} ms  ${x.name}`);
  return { s, proc, started, r };
}

/** Launches the app on `db` on its own, with no WebDriver in the way (as a person does): the
 *  figures come from the app's log, where it lists its and the page's start-up marks once the
 *  first overview and then the history columns are on screen (src-tauri/src/startup.rs). */
async function launchPlain(env, db, label) {
  const child = start(app, [], { ...env, ...EXTRA_ENV, HEARTLINE_DB: db, RUST_LOG: "warn,heartline_app=info,heartline_app::startup=debug" }, "app");
  const started = startWallMs(stat(child.pid));
  // The newest marks line; tracing may colour its output, so escapes are dropped first.
  const marks = () => {
    const lines = child.output.replace(/\x1b\[[0-9;]*m/g, "").split("\n").filter((l) => l.includes("startup marks: "));
    if (!lines.length) return null;
    const out = new Map();
    for (const kv of lines[lines.length - 1].split("startup marks: ")[1].trim().split(" ")) {
      const i = kv.lastIndexOf("=");
      out.set(kv.slice(0, i), Number(kv.slice(i + 1)));
    }
    return out;
  };
  let m = await until("the first overview in the app's log", () => (marks()?.has("page:heartline:overview") ? marks() : null), 120_000, 100);
  m = await until("the history columns in the app's log", () => (marks()?.has("page:heartline:overview:history") ? marks() : null), 120_000, 100).catch(() => m);
  child.kill("SIGTERM");
  await until("the app to exit", () => child.exitCode !== null || child.signalCode !== null, 30_000).catch(() => {
    log("the app did not exit on SIGTERM: killed");
    child.kill("SIGKILL");
  });
  const at = (n) => m.get(n);
  const nav = at("page:navigation-start");
  const r = {
    label: `${label} (no WebDriver)`,
    pid: child.pid,
    steps: [...m].map(([name, ms]) => ({ name: name.startsWith("page:") ? `page: ${name.slice(5)}` : `app: ${name}`, ms: ms - started })).sort((a, b) => a.ms - b.ms),
    toPage: nav - started,
    toOverview: at("page:heartline:overview") - started,
    toHistory: at("page:heartline:overview:history") == null ? null : at("page:heartline:overview:history") - started,
    dcl: at("page:dom-content-loaded") == null ? null : at("page:dom-content-loaded") - nav,
    inPage: at("page:heartline:overview") - nav,
    listed: "",
  };
  log(`${r.label}: launch → page ${r.toPage.toFixed(0)} ms → overview ${r.toOverview.toFixed(0)} ms; history columns ${r.toHistory?.toFixed(0) ?? "?"} ms`);
  for (const x of r.steps) log(`  ${x.ms.toFixed(0).padStart(6)} ms  ${x.name}`);
  return r;
}

function sampleLive(appPid, seconds) {
  return new Promise((resolve) => {
    const first = new Map();
    const rss = new Map();
    const names = new Map();
    const take = () => {
      const procs = allProcs();
      const mine = [procs.find((p) => p.pid === appPid), ...descendants(appPid, procs)].filter(Boolean);
      for (const p of mine) {
        names.set(p.pid, p.comm);
        if (!first.has(p.pid)) first.set(p.pid, p.ticks);
        try {
          (rss.get(p.pid) ?? rss.set(p.pid, []).get(p.pid)).push(rssMiB(p.pid));
        } catch {
          // gone
        }
      }
      return mine;
    };
    const t0 = performance.now();
    take();
    let n = 0;
    const timer = setInterval(() => {
      const mine = take();
      if (++n < seconds) return;
      clearInterval(timer);
      const wall = (performance.now() - t0) / 1000;
      const rows = mine.map((p) => {
        const r = rss.get(p.pid) ?? [0];
        return {
          pid: p.pid,
          comm: names.get(p.pid),
          cpu: ((p.ticks - first.get(p.pid)) / CLK_TCK / wall) * 100,
          rssEnd: r[r.length - 1],
          rssMax: Math.max(...r),
        };
      });
      resolve({ wall, rows });
    }, 1000);
  });
}

const f1 = (x) => x.toFixed(1);
function table(headers, rows) {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => `| ${r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join(" | ")} |`;
  return [line(headers), `|${w.map((x, i) => (i === 0 ? "-".repeat(x + 2) : `${"-".repeat(x + 1)}:`)).join("|")}|`, ...rows.map(line)].join("\n");
}

async function main() {
  requireTools({ ...HARNESS_TOOLS, uptime: "package procps", git: "package git" });
  for (const bin of [app, labBin, cli]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run make bench-ui (it builds the release app, lab and CLI)`);
  }
  mkdirSync(shots, { recursive: true });
  const data = mkdtempSync(path.join(tmpdir(), "heartline-bench-ui-"));
  const uptimeStart = uptimeLine();
  const commit = (() => {
    try {
      const head = execFileSync("git", ["-C", root, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
      const dirty = execFileSync("git", ["-C", root, "status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" }).trim();
      return dirty ? `${head} (+ uncommitted changes)` : head;
    } catch {
      return "unknown";
    }
  })();
  const machine = `${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
  log("machine:", machine, "| commit:", commit);
  log("uptime at start:", uptimeStart);

  const display = await startXvfb();
  const { lab, url } = await startLab(labBin);
  log("lab at", url);
  const names = Array.from({ length: N }, (_, i) => `endpoint-${String(i + 1).padStart(4, "0")}`);
  const launches = [];
  const lives = [];

  // ── 1 + 2: a fresh database, N endpoints, each heartbeat setting ─────────────────────────
  const db = path.join(data, "heartline.db");
  const env = appEnv(display, data, db);
  for (const ping of PINGS) {
    await importEndpoints(db, env, names, url, ping, data);
    // First as a person launches it (HEARTLINE_BENCH_PLAIN times, default 3), then under
    // WebDriver, which reads the page and drives it.
    if (ping === PINGS[0]) {
      for (let k = 0; k < PLAIN; k++) launches.push(await launchPlain(env, db, `fresh database, ${N} endpoints, ping ${ping}, run ${k + 1}`));
    }
    const { s, proc, started, r } = await launch(env, db, `fresh database, ${N} endpoints, ping ${ping}`);
    launches.push(r);
    const allUp = await until(
      `all ${N} Up`,
      async () => ((await upCount(s.browser)) === N ? Date.now() : null),
      180_000,
      250,
    ).catch((e) => {
      log(e.message);
      return null;
    });
    r.toAllUp = allUp == null ? null : allUp - started;
    log(`launch → all ${N} Up: ${r.toAllUp == null ? "not within 180 s" : `${r.toAllUp.toFixed(0)} ms`}`);
    if (ping === PINGS[0]) {
      await sleep(2_000);
      const file = path.join(shots, "overview-1000.png");
      await grabDisplay(display, file);
      log("screenshot", path.relative(root, file));
    }
    // HEARTLINE_BENCH_VIEW=Settings (say) samples with another view showing: the deltas still
    // arrive and update the model, the list is not drawn (to tell the two costs apart).
    if (process.env.HEARTLINE_BENCH_VIEW) await (await s.browser.$(`button=${process.env.HEARTLINE_BENCH_VIEW}`)).click();
    // Settle, then sample with nothing driving the page. The page asks for the history
    // columns again once a minute (App.svelte): a window of 60 s or more holds one of those,
    // on purpose (it is part of being live).
    await sleep(5_000);
    const labBefore = stat(lab.pid).ticks;
    log(`sampling ${LIVE_S} s live (ping ${ping}), load ${loadavg()}`);
    const live = await sampleLive(proc.pid, LIVE_S);
    live.ping = ping;
    live.lab = ((stat(lab.pid).ticks - labBefore) / CLK_TCK / live.wall) * 100;
    live.load = loadavg();
    live.up = await upCount(s.browser);
    lives.push(live);
    for (const p of live.rows) log(`  ${p.comm} (${p.pid}): CPU ${f1(p.cpu)} % of one core, RSS ${f1(p.rssEnd)} MiB (max ${f1(p.rssMax)})`);
    // After the window: what the overview's two commands cost alone, while live (5 runs each).
    const ipcMs = await s.browser.executeAsync((done) => {
      const invoke = window.__TAURI_INTERNALS__?.invoke;
      if (!invoke) return done(null);
      (async () => {
        const time = async (cmd) => {
          const ms = [];
          for (let k = 0; k < 5; k++) {
            const t = performance.now();
            await invoke(cmd);
            ms.push(performance.now() - t);
          }
          return ms.sort((x, y) => x - y);
        };
        done({ list: await time("list_endpoints"), history: await time("overview_history") });
      })().catch(() => done(null));
    });
    if (ipcMs) {
      r.ipcOverview = ipcMs.list;
      r.ipcHistory = ipcMs.history;
      log(`IPC only: list_endpoints ${ipcMs.list.map((x) => x.toFixed(0)).join(" ")} ms; overview_history ${ipcMs.history.map((x) => x.toFixed(0)).join(" ")} ms`);
    }
    await endSession(s);
    await until("the app to exit", () => !existsSync(`/proc/${proc.pid}`), 15_000).catch(() => log("the app is still running"));
  }

  // ── 3: a simulated year ───────────────────────────────────────────────────────────────────
  const details = [];
  let year = null;
  if (!existsSync(YEAR_DB)) {
    log(`no database with a simulated year at ${YEAR_DB}: detail timing skipped (set HEARTLINE_BENCH_YEAR_DB, or run the export bench once)`);
  } else {
    const ydb = path.join(data, "year.db");
    const t = Date.now();
    execFileSync("cp", ["--reflink=auto", YEAR_DB, ydb]);
    for (const ext of ["-wal", "-shm"]) if (existsSync(YEAR_DB + ext) && statSync(YEAR_DB + ext).size > 0) copyFileSync(YEAR_DB + ext, ydb + ext);
    const size = statSync(ydb).size / 2 ** 20;
    log(`copied ${YEAR_DB} (${size.toFixed(0)} MiB) in ${Date.now() - t} ms`);
    const yenv = appEnv(display, data, ydb);
    const listed = (await run(cli, ["endpoints", "list", "--json", "--db", ydb], yenv, 300_000))
      .split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l).name);
    await importEndpoints(ydb, yenv, listed, url, PINGS[0], data);
    const { s, proc, r } = await launch(yenv, ydb, `simulated year (${size.toFixed(0)} MiB), ${listed.length} endpoints, ping ${PINGS[0]}`);
    launches.push(r);
    year = { path: YEAR_DB, size, endpoints: listed.length };
    const b = s.browser;
    // Round 1 right after the first overview, as someone who opens the app and clicks at once
    // (the store's background integrity check of the file still runs then); round 2 after
    // 30 s more, with the check done.
    for (const [round, first, wait] of [[1, 0, 2_000], [2, 6, 30_000]]) {
      await sleep(wait);
      for (let i = first; i < first + 6; i++) {
        // The i-th row on screen (the list is virtualised): open it, then its 30-day window.
        // Read and click in one step, retried: while sessions still change state the sorted
        // list can move a row out of view between reading its name and clicking it.
        const name = await until(`row ${i + 1} opened`, () =>
          b.execute((k) => {
            const el = document.querySelectorAll("[data-endpoint]")[k];
            if (!el) return null;
            el.click();
            return el.getAttribute("data-endpoint");
          }, i), 20_000, 250).catch(() => null);
        if (!name) break;
        await (await b.$(`section[aria-label="Detail of ${name}"]`)).waitForExist({ timeout: 20_000 });
        await sleep(1_000);
        const ok = await b.execute(() => {
          performance.clearMarks("heartline:detail:30d");
          performance.clearMarks("bench:click-30d");
          const button = [...document.querySelectorAll(".windows button")].find((x) => x.textContent.trim() === "30 d");
          if (!button) return false;
          performance.mark("bench:click-30d");
          button.click();
          return true;
        });
        if (!ok) throw new Error("no 30 d button in the detail");
        const done = await until("the 30-day detail drawn", () => markOf(b, "heartline:detail:30d"), 60_000, 50);
        const click = await markOf(b, "bench:click-30d");
        const ms = done.start - click.start;
        const points = await b.execute(() => document.querySelector(".detail .scroll h3 .small")?.textContent ?? "");
        details.push({ round, name, ms, points });
        log(`round ${round}: detail 30 d of ${name}: ${ms.toFixed(0)} ms (${points})`);
        if (i === 0) {
          await sleep(1_000);
          const file = path.join(shots, "detail-30d.png");
          await grabDisplay(display, file);
          log("screenshot", path.relative(root, file));
        }
        await (await b.$('button[aria-label="Close detail"]')).click();
        await sleep(500);
      }
    }
    // The same commands straight over IPC (no rendering), 5 times each: what the backend and
    // the IPC cost on this database while 1 000 sessions are live.
    const ipc = await b.executeAsync((done) => {
      const invoke = window.__TAURI_INTERNALS__?.invoke;
      if (!invoke) return done(null);
      (async () => {
        const out = {};
        const rows = await invoke("list_endpoints");
        const id = rows[rows.length - 1].id;
        const now = Date.now();
        const time = async (f) => {
          const ms = [];
          for (let k = 0; k < 5; k++) {
            const t = performance.now();
            await f();
            ms.push(performance.now() - t);
          }
          return ms.sort((x, y) => x - y);
        };
        out.detail = await time(() => invoke("endpoint_detail", { id, window: { from: now - 30 * 86_400_000, to: now + 1 } }));
        out.overview = await time(() => invoke("list_endpoints"));
        done(out);
      })().catch((e) => done({ error: String(e?.message ?? e) }));
    });
    if (ipc && !ipc.error) {
      year.ipcDetail = ipc.detail;
      year.ipcOverview = ipc.overview;
      r.ipcOverview = ipc.overview;
      log(`IPC only: endpoint_detail 30 d ${ipc.detail.map((x) => x.toFixed(0)).join(" ")} ms; list_endpoints ${ipc.overview.map((x) => x.toFixed(0)).join(" ")} ms`);
    } else log("IPC timing not available:", ipc?.error ?? "no __TAURI_INTERNALS__");
    await endSession(s);
    await until("the app to exit", () => !existsSync(`/proc/${proc.pid}`), 30_000).catch(() => log("the app is still running"));
  }

  const uptimeEnd = uptimeLine();

  // ── report ────────────────────────────────────────────────────────────────────────────────
  console.log("\nheartline desktop app benchmark");
  console.log(`machine: ${machine}; commit ${commit}${Object.keys(EXTRA_ENV).length ? `; app env ${JSON.stringify(EXTRA_ENV)}` : ""}`);
  console.log(`uptime at start: ${uptimeStart}`);
  console.log(`uptime at end:   ${uptimeEnd}\n`);
  console.log(table(
    ["launch", "process → page (ms)", "page → script run (ms)", "page → overview (ms)", "**launch → first overview (ms)**", "launch → history columns (ms)", "launch → all Up (ms)", "list_endpoints alone, live (median ms)", "overview_history alone, live (median ms)", "goal < 1000 ms"],
    launches.map((r) => [
      r.label,
      r.toPage.toFixed(0),
      r.dcl == null ? "?" : r.dcl.toFixed(0),
      r.inPage.toFixed(0),
      r.toOverview.toFixed(0),
      r.toHistory == null ? "—" : r.toHistory.toFixed(0),
      r.toAllUp == null ? "—" : r.toAllUp.toFixed(0),
      r.ipcOverview ? r.ipcOverview[2].toFixed(0) : "—",
      r.ipcHistory ? r.ipcHistory[2].toFixed(0) : "—",
      r.toOverview < 1000 ? "met" : "NOT met",
    ]),
  ));
  console.log();
  // The start-up step by step (ms after the process start, 10 ms resolution), one column per launch.
  const stepNames = [];
  for (const r of launches) for (const x of r.steps ?? []) if (!stepNames.includes(x.name)) stepNames.push(x.name);
  if (stepNames.length) {
    const at = (r, n) => r.steps?.find((x) => x.name === n)?.ms;
    stepNames.sort((a, b) => (at(launches[0], a) ?? 1e9) - (at(launches[0], b) ?? 1e9));
    console.log(table(
      ["start-up step (ms after process start)", ...launches.map((_, i) => `launch ${i + 1}`)],
      stepNames.map((n) => [n, ...launches.map((r) => (at(r, n) == null ? "—" : at(r, n).toFixed(0)))]),
    ));
    console.log();
  }
  const liveRows = [];
  for (const l of lives) {
    const total = l.rows.reduce((a, p) => a + p.cpu, 0);
    for (const p of l.rows) liveRows.push([`ping ${l.ping}: ${p.comm}`, f1(p.cpu), f1(p.rssEnd), f1(p.rssMax), ""]);
    liveRows.push([`ping ${l.ping}: **app + WebKit children**`, f1(total), f1(l.rows.reduce((a, p) => a + p.rssEnd, 0)), "", total < 10 ? "met" : "NOT met"]);
    liveRows.push([`ping ${l.ping}: lab (for scale; ${l.up} Up at the end; load ${l.load})`, f1(l.lab), "", "", ""]);
  }
  console.log(table([`live, ${LIVE_S} s window`, "CPU % of one core", "RSS MiB (end)", "RSS MiB (max)", "goal < 10 %"], liveRows));
  if (details.length) {
    console.log();
    console.log(table(
      [`30-day detail, ${year.endpoints} endpoints, ${year.size.toFixed(0)} MiB year`, "click → drawn (ms)", "series", "goal < 300 ms"],
      [
        ...details.map((d) => [`round ${d.round}: ${d.name}`, d.ms.toFixed(0), d.points, d.ms < 300 ? "met" : "NOT met"]),
        ...[1, 2].map((r) => {
          const v = details.filter((d) => d.round === r).map((d) => d.ms).sort((a, b) => a - b);
          return [`round ${r} median`, v.length ? v[Math.floor(v.length / 2)].toFixed(0) : "—", "", ""];
        }),
        ...(year.ipcDetail
          ? [
              ["IPC only: endpoint_detail 30 d (5 runs, min / median / max)", `${year.ipcDetail[0].toFixed(0)} / ${year.ipcDetail[2].toFixed(0)} / ${year.ipcDetail[4].toFixed(0)}`, "", ""],
              ["IPC only: list_endpoints (5 runs, min / median / max)", `${year.ipcOverview[0].toFixed(0)} / ${year.ipcOverview[2].toFixed(0)} / ${year.ipcOverview[4].toFixed(0)}`, "", ""],
            ]
          : []),
      ],
    ));
  }
  if (!process.env.HEARTLINE_BENCH_KEEP) rmSync(data, { recursive: true, force: true });
  else log("kept", data);
}

runMain(main, stopWatchdog);
