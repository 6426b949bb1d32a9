// End to end: the real app under Xvfb, driven by tauri-driver + WebKitWebDriver with
// webdriverio, against heartline-lab on loopback.
//
// The run is a list of independent scenarios. Each one starts the app on a database of its
// own, has its own deadline, and saves its screenshots (and, when it fails, a screenshot of
// where it stood) to target/e2e/. One failing scenario does not stop the others; the run
// fails at the end, naming every scenario that failed. They share only the virtual display
// and the lab, which keeps no state between connections.
//
//   make e2e                            (builds the app, the lab and the UI first)
//   node e2e/run.mjs close-codes export (only the scenarios named)
//   HEARTLINE_E2E_KEEP=1                keeps the temporary data directory for inspection.

import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  appEnv, endSession, grabDisplay, HARNESS_TOOLS, log, requireTools, runMain, screenshot, session as openSession, sleep, startLab,
  startXvfb, target, until, watchdog,
} from "./harness.mjs";

const app = path.join(target, "debug/heartline-app");
const labBin = path.join(target, "debug/heartline-lab");
const shots = path.join(target, "e2e");

// ── Helpers every scenario uses ─────────────────────────────────────────────────────────────

async function fill(browser, selector, value) {
  const el = await browser.$(selector);
  await el.waitForExist({ timeout: 10_000 });
  await el.clearValue();
  await el.setValue(value);
}

/** Opens the form, fills it and returns its (enabled) submit button. */
async function addEndpoint(browser, { name, url, ping = "1", pong = "0.5", tags = "" }) {
  const add = await browser.$("button=Add endpoint");
  await add.waitForClickable({ timeout: 15_000 });
  await add.click();
  await fill(browser, 'input[name="name"]', name);
  await fill(browser, 'input[name="url"]', url);
  await fill(browser, 'input[name="ping"]', ping);
  await fill(browser, 'input[name="pong"]', pong);
  if (tags) await fill(browser, 'input[name="tags"]', tags);
  const submit = await browser.$('button[type="submit"]');
  await submit.waitForEnabled({ timeout: 10_000 });
  return submit;
}

async function watch(browser, endpoint) {
  await (await addEndpoint(browser, endpoint)).click();
  await (await row(browser, endpoint.name)).waitForExist({ timeout: 10_000 });
}

const row = (browser, name) => browser.$(`[data-endpoint="${name}"]`);
const stateOf = async (browser, name) => (await (await row(browser, name)).$("[data-state]")).getAttribute("data-state");
const mainText = async (browser) => (await browser.$("main")).getText();

/** A loopback port nothing listens on: handshakes to it are refused at once. */
const REFUSED = "ws://127.0.0.1:9/refused";

// ── The scenarios ───────────────────────────────────────────────────────────────────────────
// Each gets `t`: `t.url` (the lab), `t.db(name)` (a fresh database path), `t.open(db, env)`
// (an app session, ended by the runner whatever happens) and `t.shot(browser, name)`.

/** The empty state, the form's validation, "Test connection", and an endpoint coming Up. */
async function firstRun(t) {
  const b = await t.open(t.db("first-run"));
  await (await b.$("button=Try the demo")).waitForDisplayed({ timeout: 30_000 });
  await t.shot(b, "01-empty-state");

  await (await b.$("button=Add endpoint")).click();
  await fill(b, 'input[name="url"]', "http://not-a-websocket");
  await until("a URL problem shown as you type", async () => (await (await b.$("#p-url")).getText()).length > 0, 10_000);
  await t.shot(b, "02-form-validation");
  // A whole header line typed into the name field is split into name and (secret) value.
  await (await b.$("button=Add header")).click();
  await fill(b, '[aria-label="Header 1 name"]', "Authorization: Bearer e2e-token");
  const header = await until("the header line split", async () => {
    const name = await (await b.$('[aria-label="Header 1 name"]')).getValue();
    const value = await (await b.$('[aria-label="Header 1 value"]')).getValue();
    return name === "Authorization" && value === "Bearer e2e-token" ? { name, value } : null;
  }, 5_000);
  if (!(await (await b.$('.header-row input[type="checkbox"]')).isSelected())) throw new Error("the Authorization header is not marked secret");
  log("header line split:", header.name, "/ (secret value)");
  await (await b.$("button=Cancel")).click();

  const submit = await addEndpoint(b, { name: "echo", url: `${t.url}/echo`, tags: "e2e" });
  // A scripted wait in the form: a JSON rule without "=" is marked on its step, in words.
  await (await b.$("summary*=Advanced")).click();
  await (await b.$("button=Add wait")).click();
  await fill(b, '[aria-label="Step 1 rule"]', "connection_ack");
  const stepProblem = await until("the step's problem", async () => {
    const p = await b.$("#p-step-0");
    return (await p.isExisting()) ? p.getText() : null;
  }, 5_000);
  if (!stepProblem.includes("PATH=VALUE")) throw new Error(`step problem: ${stepProblem}`);
  log("wait step without '=':", stepProblem);
  await t.shot(b, "02b-form-steps");
  await (await b.$('[aria-label="Remove step 1"]')).click();
  await (await b.$("summary*=Advanced")).click();
  await submit.waitForEnabled({ timeout: 10_000 });
  await (await b.$("button=Test connection")).click();
  const probe = await b.$('[aria-label="Test result"]');
  await probe.waitForDisplayed({ timeout: 15_000 });
  const probeText = await probe.getText();
  if (!probeText.includes("Connected") || !probeText.includes("ping RTT")) throw new Error(`test connection: ${probeText}`);
  log("test connection:", probeText.replace(/\s+/g, " "));
  await t.shot(b, "03-form-test-connection");
  // A result answers for the inputs it ran with: changing one clears it.
  await (await b.$('input[name="tags"]')).addValue(",first");
  await until("the test result cleared by an edit", async () => !(await (await b.$('[aria-label="Test result"]')).isExisting()), 5_000);
  await submit.click();

  await until("echo Up", async () => (await stateOf(b, "echo")) === "Up", 20_000);
  // A new endpoint opens in the detail, which carries the round trip; the list beside it keeps
  // state, name and cause. Closed, the full-width list shows the RTT column again.
  const liveRtt = await until("an RTT for echo in the detail", async () => {
    const text = await (await b.$(".live-rtt")).getText();
    return /\d/.test(text) ? text : null;
  }, 20_000);
  await (await b.$('button[aria-label="Close detail"]')).click();
  const rtt = await until("an RTT for echo in the list", async () => {
    const text = await (await (await row(b, "echo")).$(".rtt")).getText();
    return /\d/.test(text) ? text : null;
  }, 20_000);
  log("echo is Up with RTT", liveRtt, "in the detail and", rtt, "in the list");

  await (await b.$("button=Settings")).click();
  await until("the database path in Settings", async () => (await mainText(b)).includes(t.lastDb), 10_000);
  await t.shot(b, "09-settings");
}

/** A server that closes with 4001: the code in the list and on the detail's close timeline. */
async function closeCodes(t) {
  const b = await t.open(t.db("close-codes"));
  await watch(b, { name: "kicked", url: `${t.url}/close?code=4001&reason=kicked&after=1500ms` });
  await until("kicked's last close 4001 in the list", async () => (await (await row(b, "kicked")).getText()).includes("4001"), 30_000);
  await t.shot(b, "04-overview");
  await (await row(b, "kicked")).click();
  await until("4001 on kicked's close timeline", async () => (await b.$$('tr[data-close-code="4001"]')).length > 0, 30_000);
  await (await b.$('[aria-label="Close-code timeline"] rect')).waitForExist({ timeout: 5_000 });
  await t.shot(b, "05-detail-4001");
}

/**
 * An endpoint that flaps goes Down, then recovers. The lab's flap cycle (8 s up, 5 s down)
 * runs from the lab's start: every session ends at the end of an up window, the retries after
 * it (a healthy session resets the backoff to its initial delay) fail in the down window, and
 * two failures in a row make it Down; the first retry after the window brings it back (Up, or
 * Unstable once its drops reach the instability rule).
 */
async function downRecovery(t) {
  const b = await t.open(t.db("down-recovery"));
  await watch(b, { name: "echo", url: `${t.url}/echo` });
  await watch(b, { name: "flappy", url: `${t.url}/flap?up=8s&down=5s` });
  await until("echo and flappy Up", async () => (await stateOf(b, "echo")) === "Up" && (await stateOf(b, "flappy")) === "Up", 30_000, 250);
  // The pointer rests on the list: when flappy goes Down it must not jump above echo (the
  // list sorts by state) but keep its place, marked as changed.
  await (await row(b, "echo")).moveTo();
  await until("the order held while the pointer is over the list", async () => (await (await b.$(".held")).getAttribute("data-held")) === "true", 5_000);
  const seen = new Set();
  try {
    await until("flappy Down", async () => {
      const st = await stateOf(b, "flappy");
      seen.add(st);
      return st === "Down";
    }, 60_000, 250);
  } catch (e) {
    // Say what the row showed, so a failure here tells the engine's side from the page's.
    const text = await (await row(b, "flappy")).getText().catch(() => "(no row)");
    throw new Error(`${e.message}; states seen: ${[...seen].join(" ")}; flappy's row: ${text.replace(/\s+/g, " ")}`);
  }
  log("flappy went Down; states seen:", [...seen].join(" "));
  const order = async () => {
    const names = [];
    for (const e of await b.$$("[data-endpoint]")) names.push(await e.getAttribute("data-endpoint"));
    return names;
  };
  const held = await order();
  if (held.join() !== "echo,flappy") throw new Error(`a row moved under the pointer: ${held.join(", ")}`);
  if (!(await (await row(b, "flappy")).getAttribute("class")).includes("changed")) throw new Error("flappy is not marked as changed");
  await t.shot(b, "06-down");
  // The pointer leaves: sorted again, the Down endpoint first.
  await (await b.$(".brand")).moveTo();
  await until("sorted again once the pointer left", async () => (await order()).join() === "flappy,echo", 10_000);
  // Recovered: a session answers again. After two drops in a row the instability rule may
  // already count it as Unstable (connected, but dropping), which is recovery from Down too.
  let back;
  try {
    back = await until("flappy recovered (Up or Unstable)", async () => {
      const st = await stateOf(b, "flappy");
      return st === "Up" || st === "Unstable" ? st : null;
    }, 60_000, 250);
  } catch (e) {
    // Tell the engine's side from the page's: what the row shows, and what the backend's own
    // live statuses say (over IPC, as the page gets them).
    const text = await (await row(b, "flappy")).getText().catch(() => "(no row)");
    const engine = await b.executeAsync((done) => {
      const invoke = window.__TAURI_INTERNALS__?.invoke;
      if (!invoke) return done("no IPC");
      invoke("live_statuses").then((s) => done(JSON.stringify(s))).catch((err) => done(`live_statuses failed: ${err}`));
    }).catch((err) => `(cannot ask: ${err.message})`);
    throw new Error(`${e.message}; flappy's row: ${text.replace(/\s+/g, " ")}; the engine's statuses: ${engine}`);
  }
  log("flappy recovered:", back);
}

/** An endpoint whose handshakes are refused: its lane on the timeline, and an incident. */
async function timelineIncidents(t) {
  const b = await t.open(t.db("timeline-incidents"));
  await watch(b, { name: "echo", url: `${t.url}/echo` });
  await watch(b, { name: "refused", url: REFUSED });
  await until("refused Down", async () => (await stateOf(b, "refused")) === "Down", 30_000, 250);
  await (await b.$("button=Timeline")).click();
  await (await b.$('[aria-label="refused: states and closes"]')).waitForExist({ timeout: 15_000 });
  await (await b.$('[aria-label="echo: states and closes"]')).waitForExist({ timeout: 15_000 });
  await (await b.$("button=5 min")).click();
  await sleep(1_000);
  await t.shot(b, "07-timeline");
  // Drag across a lane (from 75 % to 99 % of it, where the two minutes of this scenario are;
  // offsets are from its centre): the timeline zooms to that range.
  const lane = await b.$('[aria-label="refused: states and closes"]');
  const { width } = await lane.getSize();
  await b
    .action("pointer")
    .move({ origin: lane, x: Math.round(width * 0.25), y: 0 })
    .down()
    .move({ origin: lane, x: Math.round(width * 0.49), y: 0, duration: 200 })
    .up()
    .perform(true);
  await (await b.$("button.zoomed")).waitForExist({ timeout: 10_000 });
  // Hover a lane: the shared cursor and the tooltip with the state there.
  await lane.moveTo({ xOffset: Math.round(width * 0.4), yOffset: 0 });
  await (await b.$('[role="tooltip"]')).waitForExist({ timeout: 5_000 });
  await t.shot(b, "07b-timeline-zoomed");
  await (await b.$("button=Incidents")).click();
  await until("refused's incident listed", async () => (await mainText(b)).includes("refused"), 20_000);
  const text = await mainText(b);
  if (text.includes("No incident in this window")) throw new Error(`the incidents view says there are none: ${text.slice(0, 400)}`);
  await t.shot(b, "08-incidents");
  // An incident opens its endpoint's detail at the incident's time (a custom window).
  await (await b.$("tr.incident button.link")).click();
  await (await b.$('[aria-label="Detail of refused"]')).waitForExist({ timeout: 10_000 });
  await (await b.$('[aria-label="Custom window"]')).waitForExist({ timeout: 5_000 });
  // The window's times on the 24-hour clock, whatever the system locale (WebKitGTK's C locale
  // gave date pickers a 12-hour clock).
  const from = await (await b.$('[aria-label="Custom window"] input.when')).getValue();
  if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/.test(from)) throw new Error(`custom window start: ${from}`);
  await t.shot(b, "08e-incident-detail");
}

/**
 * Exports, the way a person does it: the export dialog from the list, "Save as…", then the
 * system's save dialog (GTK's file chooser, a window of the app's own). It opens in the last
 * export's folder, which the UI keeps in localStorage: set to this scenario's directory first.
 * xdotool focuses the chooser and presses Return, which accepts the suggested file name.
 */
async function exportHistory(t) {
  const b = await t.open(t.db("export"));
  await watch(b, { name: "kicked", url: `${t.url}/close?code=4001&reason=kicked&after=500ms` });
  await until("a 4001 recorded", async () => (await (await row(b, "kicked")).getText()).includes("4001"), 30_000);
  const folder = t.dir("exports");
  await b.execute((dir) => localStorage.setItem("heartline.exportFolder", dir), folder);
  await (await b.$("button=Export…")).click();
  const dialog = await b.$("dialog[open]");
  await dialog.waitForDisplayed({ timeout: 10_000 });
  await t.shot(b, "08b-export-dialog");
  await (await dialog.$("button=Save as…")).click();
  const xdo = (...args) => execFileSync("xdotool", args, { env: { ...process.env, DISPLAY: t.display }, encoding: "utf8" }).trim();
  const chooser = await until("the system save dialog", () => {
    try {
      return xdo("search", "--name", "^Save the export$").split("\n")[0];
    } catch (e) {
      if (e.code === "ENOENT") throw e; // no xdotool: fail now, naming it
      return null; // xdotool exits 1 while no window matches
    }
  }, 15_000, 200);
  await grabDisplay(t.display, path.join(shots, "08c-save-dialog.png"));
  xdo("windowfocus", "--sync", chooser);
  xdo("key", "--clearmodifiers", "Return");
  const name = await until("the export written", () => readdirSync(folder).find((f) => /^heartline-.*\.md$/.test(f)), 30_000, 200);
  const markdown = readFileSync(path.join(folder, name), "utf8");
  if (!markdown.includes("kicked") || !markdown.includes("4001")) throw new Error(`the export ${name} lacks kicked's 4001`);
  await until("the export reported done", async () => (await (await dialog.$(".done")).isExisting()), 10_000);
  log("exported through the save dialog:", name, "—", await (await dialog.$(".done")).getText());
  // "Show in folder" hands the file just written to the desktop. Whether a file manager answers
  // depends on the desktop (Xvfb here has none); what must not happen is the app refusing its
  // own export, or losing it.
  await (await dialog.$("button=Open")).waitForDisplayed({ timeout: 5_000 });
  await t.shot(b, "08d-export-done");
  await (await dialog.$("button=Show in folder")).click();
  await sleep(1_500);
  const problem = await dialog.$(".problem");
  if (await problem.isExisting()) {
    const text = await problem.getText();
    log("show in folder:", text);
    if (!text.startsWith("the desktop could not show")) throw new Error(`"Show in folder" failed: ${text}`);
  } else log("show in folder: handed to the desktop");
  await (await dialog.$("button=Close")).click();
  await until("the export dialog closed", async () => !(await (await b.$("dialog[open]")).isExisting()), 10_000);
}

/** A database file that is not one (damaged, or another program's): the window opens and says
 *  why in place of the overview, never as an empty fleet, and the file is left as it was. */
async function unreadableDatabase(t) {
  const db = t.db("unreadable");
  const bytes = Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 251));
  writeFileSync(db, bytes);
  const b = await t.open(db);
  const panel = await b.$(".unavailable");
  await panel.waitForDisplayed({ timeout: 30_000 });
  const text = await panel.getText();
  if (!text.includes("not a Heartline database")) throw new Error(`the reason is not shown: ${JSON.stringify(text)}`);
  if (await (await b.$("button=Try the demo")).isExisting()) throw new Error("the empty fleet's welcome is shown for a database that did not open");
  // From the display: WebKit's screenshot waits for the page's next paint, and this page,
  // with nothing live in it, has none to come.
  const file = path.join(shots, "19-unreadable-database.png");
  await grabDisplay(t.display, file);
  log("screenshot", path.relative(path.dirname(shots), file));
  if (!readFileSync(db).equals(bytes)) throw new Error("the unreadable database file was changed");
  log("shown:", text.replace(/\s+/g, " "));
  // Quitting an app whose database never opened is an ordinary quit.
  const pid = appPid(db);
  process.kill(pid, "SIGTERM");
  await until("the app to exit after SIGTERM", () => !existsSync(`/proc/${pid}`), 20_000, 50);
  if (!t.output().includes("cannot open the database")) throw new Error("the app's output is not where the scenario reads it");
  if (t.output().includes("panicked")) throw new Error(`the app panicked on its way out:\n${t.output().slice(-2000)}`);
}

/** After a restart, the endpoints and their history are still there. */
async function restartPersistence(t) {
  const db = t.db("restart");
  let b = await t.open(db);
  await watch(b, { name: "kicked", url: `${t.url}/close?code=4001&reason=kicked&after=500ms` });
  await until("a 4001 in the list", async () => (await (await row(b, "kicked")).getText()).includes("4001"), 30_000);
  // The detail reads the stored history: once it shows the 4001, it is on disk.
  await (await row(b, "kicked")).click();
  await until("a 4001 in kicked's stored history", async () => (await b.$$('tr[data-close-code="4001"]')).length > 0, 30_000);
  await t.close();
  b = await t.open(db);
  await (await row(b, "kicked")).waitForExist({ timeout: 30_000 });
  await (await row(b, "kicked")).click();
  await (await b.$("button=1 h")).click();
  await until("4001 still on kicked's timeline after a restart", async () => (await b.$$('tr[data-close-code="4001"]')).length > 0, 20_000);
  await t.shot(b, "10-after-restart");
}

/**
 * Quit by a signal (a session logout, `kill`) a moment after a close shows live: the close is on
 * disk when the app opens again, not lost with the writer's pending batch (flushed every second).
 * The scenario's own lab is stopped before the reopen, so no new session can bring a new 4001.
 */
async function signalQuit(t) {
  const own = await t.lab();
  const db = t.db("signal");
  const b = await t.open(db);
  await watch(b, { name: "kicked", url: `${own.url}/close?code=4001&reason=kicked&after=1500ms` });
  await until("the first 4001 live", async () => (await (await row(b, "kicked")).getText()).includes("4001"), 30_000, 50);
  const pid = appPid(db);
  process.kill(pid, "SIGTERM");
  const seen = Date.now();
  await until("the app to exit after SIGTERM", () => !existsSync(`/proc/${pid}`), 20_000, 50);
  log(`app ${pid} exited ${Date.now() - seen} ms after SIGTERM`);
  own.lab.kill("SIGTERM");
  await until("the scenario's lab to stop", () => own.lab.exitCode != null || own.lab.signalCode != null, 10_000);
  await t.close();
  const again = await t.open(db);
  await (await row(again, "kicked")).click();
  await (await again.$("button=1 h")).click();
  await until("the 4001 seen before SIGTERM in kicked's stored history", async () => (await again.$$('tr[data-close-code="4001"]')).length > 0, 20_000);
}

/** The app process started with `db` (found by its environment: tauri-driver starts it). */
function appPid(db) {
  const want = `HEARTLINE_DB=${db}`;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/comm`, "utf8").startsWith("heartline-app")) continue;
      if (readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(want)) return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  throw new Error(`no heartline-app process with ${want}`);
}

/** The demo on a fresh database (the README's screenshot), at 1024×700 in both themes. */
async function demo(t) {
  const db = t.db("demo");
  let b = await t.open(db);
  await (await b.$("button=Try the demo")).waitForClickable({ timeout: 30_000 });
  await (await b.$("button=Try the demo")).click();
  await (await row(b, "demo-steady")).waitForExist({ timeout: 20_000 });
  await until("the demo showing failures", async () => {
    const text = await mainText(b);
    return text.includes("4001") && text.includes("Down") ? true : null;
  }, 60_000, 1_000);
  // The half-open server stops answering pings: we close, and the list says so and why.
  await until("demo-half-open's last close: by us, pong timeout", async () => {
    const meaning = await (await row(b, "demo-half-open")).$(".meaning");
    return (await meaning.isExisting()) && (await meaning.getAttribute("title")) === "by us: pong timeout";
  }, 60_000, 500);
  // A proxy that cuts idle sessions every 6 s: every reconnect succeeds, and the overview must
  // still not call it healthy, and say why (issue: tell the truth at a glance).
  const idleTruth = await until("demo-proxy-idle Unstable with its cause", async () => {
    const r = await row(b, "demo-proxy-idle");
    const state = await (await r.$("[data-state]")).getAttribute("data-state");
    const cause = await r.$(".cause");
    // textContent: WebDriver's visible text of a cell cut with an ellipsis can come back empty.
    const text = (await cause.isExisting()) ? String(await cause.getProperty("textContent")) : "";
    if (process.env.HEARTLINE_E2E_DEBUG) log("proxy-idle now:", state, JSON.stringify(text));
    return state !== "Up" && /idle/i.test(text) ? `${state}: ${text}` : null;
  }, 90_000, 1_000);
  log("demo-proxy-idle:", idleTruth);
  // The history strip over the last hour: proxy-idle's drops are ticks on its strip (the
  // store's count for the window), and steady has none.
  await (await b.$('select[aria-label="History window"]')).selectByAttribute("value", "1h");
  const strip = (name) => row(b, name).then((r) => r.$("svg.strip"));
  const drops = await until("demo-proxy-idle's drops on its history strip", async () => {
    const n = Number(await (await strip("demo-proxy-idle")).getAttribute("data-drops"));
    return n > 0 ? n : null;
  }, 60_000, 1_000);
  const steadyDrops = Number(await (await strip("demo-steady")).getAttribute("data-drops"));
  if (steadyDrops !== 0) throw new Error(`demo-steady's strip shows ${steadyDrops} drops`);
  const label = await (await strip("demo-proxy-idle")).getAttribute("aria-label");
  if (!/^Last 1 h: .*unexpected session end/.test(label)) throw new Error(`proxy-idle's strip reads "${label}"`);
  log("demo-proxy-idle strip:", label, `(${drops} drops)`);
  await sleep(2_000);
  const overview = await t.shot(b, "11-demo-overview");
  await b.setWindowSize(1024, 700);
  await sleep(1_000);
  await t.shot(b, "11b-demo-overview-1024");
  await b.setWindowSize(1280, 800);
  await sleep(500);
  await (await row(b, "demo-kicked-4001")).click();
  await sleep(6_000);
  // One cursor for the detail: pointing at the state band moves the RTT chart's cursor (its
  // legend reads a time) and the band says the state at that time.
  const band = await b.$('[aria-label="State band"]');
  const { width: bandWidth } = await band.getSize();
  // Near the right end, where the live window has samples; moved again on each try, since a
  // live sample arriving between the move and the read may redraw the chart.
  let tries = 0;
  const [legendTime, read] = await until("the chart's cursor following the state band", async () => {
    const at = Math.round(bandWidth * (0.96 - (tries++ % 3) * 0.02) - bandWidth / 2);
    await b.action("pointer").move({ origin: band, x: at, y: 0 }).perform();
    const v = await b.$(".u-legend .u-series:first-child .u-value");
    const time = (await v.isExisting()) ? String(await v.getProperty("textContent")).trim() : "";
    const hoverRead = await b.$(".hover-read");
    const text = (await hoverRead.isExisting()) ? String(await hoverRead.getProperty("textContent")) : "";
    return /\d{2}:\d{2}:\d{2}/.test(time) && text.includes(time) ? [time, text] : null;
  }, 15_000, 300);
  log("shared cursor:", legendTime, "/", read.trim());
  await t.shot(b, "12b-demo-detail-cursor");
  await b.action("pointer").move({ origin: await b.$("h1"), x: 0, y: 0 }).perform();
  await t.shot(b, "12-demo-detail");
  await b.setWindowSize(1024, 700);
  await t.shot(b, "13-demo-1024-light");
  await t.close();
  b = await t.open(db, { GTK_THEME: "Adwaita:dark" });
  await b.setWindowSize(1024, 700);
  await (await row(b, "demo-kicked-4001")).waitForExist({ timeout: 30_000 });
  await (await row(b, "demo-kicked-4001")).click();
  await (await b.$('[aria-label="Close-code timeline"]')).waitForExist({ timeout: 10_000 });
  await t.shot(b, "14-demo-1024-dark");
  await (await b.$("button=Timeline")).click();
  await (await b.$("button=5 min")).click();
  const lane = await b.$('[aria-label="demo-kicked-4001: states and closes"]');
  await lane.waitForExist({ timeout: 15_000 });
  await sleep(1_000);
  // The demo's minute and a half is the right end of the lane: drag over it to zoom in.
  const { width } = await lane.getSize();
  await b
    .action("pointer")
    .move({ origin: lane, x: Math.round(width * 0.22), y: 0 })
    .down()
    .move({ origin: lane, x: Math.round(width * 0.495), y: 0, duration: 200 })
    .up()
    .perform(true);
  await (await b.$("button.zoomed")).waitForExist({ timeout: 10_000 });
  await sleep(1_000);
  await t.shot(b, "15-demo-timeline-1024-dark");
  await b.setWindowSize(1280, 800);
  await (await b.$("button=Overview")).click();
  await (await row(b, "demo-kicked-4001")).waitForExist({ timeout: 10_000 });
  await sleep(1_000);
  await t.shot(b, "16-demo-1280-dark");
  // The overview alone, dark, at both sizes: the history strip beside every column.
  await (await b.$('button[aria-label="Close detail"]')).click();
  await (await b.$("svg.strip")).waitForExist({ timeout: 10_000 });
  await sleep(500);
  await t.shot(b, "17-demo-overview-1280-dark");
  await b.setWindowSize(1024, 700);
  await sleep(1_000);
  await t.shot(b, "18-demo-overview-1024-dark");
  copyFileSync(overview, path.join(shots, "overview.png"));
}

/** Name, function and deadline (ms) of every scenario, in the order they run. */
const SCENARIOS = [
  ["first-run", firstRun, 120_000],
  ["close-codes", closeCodes, 90_000],
  ["down-recovery", downRecovery, 150_000],
  ["timeline-incidents", timelineIncidents, 90_000],
  ["export", exportHistory, 120_000],
  ["restart", restartPersistence, 120_000],
  ["unreadable-database", unreadableDatabase, 60_000],
  ["signal-quit", signalQuit, 120_000],
  ["demo", demo, 300_000],
];

// ── The runner ──────────────────────────────────────────────────────────────────────────────

async function main() {
  requireTools({ ...HARNESS_TOOLS, xdotool: "package xdotool" });
  for (const bin of [app, labBin]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run make e2e (it builds the app and the lab)`);
  }
  const only = process.argv.slice(2);
  const unknown = only.filter((n) => !SCENARIOS.some(([name]) => name === n));
  if (unknown.length) throw new Error(`no scenario ${unknown.join(", ")}; known: ${SCENARIOS.map(([n]) => n).join(", ")}`);
  const chosen = SCENARIOS.filter(([name]) => only.length === 0 || only.includes(name));

  mkdirSync(shots, { recursive: true });
  const data = mkdtempSync(path.join(tmpdir(), "heartline-e2e-"));
  const display = await startXvfb();
  const { url } = await startLab(labBin);
  log("lab at", url);

  const results = [];
  for (const [name, scenario, deadline] of chosen) {
    const started = Date.now();
    const dir = path.join(data, name);
    mkdirSync(dir, { recursive: true });
    let current = null; // the open app session, if any
    const t = {
      url,
      /** A lab of the scenario's own, stopped by the runner's cleanup if the scenario does not. */
      lab: () => startLab(labBin),
      display,
      lastDb: null,
      db(file) {
        this.lastDb = path.join(dir, `${file}.db`);
        return this.lastDb;
      },
      dir(sub) {
        const d = path.join(dir, sub);
        mkdirSync(d, { recursive: true });
        return d;
      },
      async open(db, extra = {}) {
        if (current) await this.close();
        current = await openSession(app, { ...appEnv(display, dir, db), ...extra });
        return current.browser;
      },
      /** What the current session's tauri-driver printed (the app's own output included). */
      output: () => current?.driver.output ?? "",
      async close() {
        const s = current;
        current = null;
        if (s) await endSession(s);
      },
      shot: (browser, file) => screenshot(browser, display, path.join(shots, `${file}.png`)),
    };
    log(`── ${name} ──`);
    let timer;
    try {
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the scenario exceeded its ${deadline / 1000} s deadline`)), deadline);
      });
      await Promise.race([scenario(t), timeout]);
      results.push({ name, ok: true, ms: Date.now() - started });
      log(`${name} passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } catch (e) {
      results.push({ name, ok: false, ms: Date.now() - started, error: e });
      console.error(`[e2e] ${name} FAILED:`, e?.stack ?? e);
      // Where it stood when it failed, from the display (WebKit may be what hangs).
      await grabDisplay(display, path.join(shots, `failed-${name}.png`)).catch(() => {});
    } finally {
      clearTimeout(timer);
      // Ending the session also ends a scenario still running after its deadline: its next
      // WebDriver call fails, so it cannot act on the next scenario's window.
      await t.close().catch(() => {});
    }
  }

  for (const r of results) log(`${r.ok ? "pass" : "FAIL"}  ${r.name}  ${(r.ms / 1000).toFixed(1)} s`);
  if (!process.env.HEARTLINE_E2E_KEEP) rmSync(data, { recursive: true, force: true });
  else log("kept", data);
  const failed = results.filter((r) => !r.ok);
  if (failed.length) throw new Error(`${failed.length} of ${results.length} scenarios failed: ${failed.map((r) => r.name).join(", ")}`);
}

// The whole run's deadline: the scenarios' deadlines and a minute for the display and the lab.
const stopWatchdog = watchdog(SCENARIOS.reduce((sum, [, , ms]) => sum + ms, 60_000));
runMain(main, stopWatchdog);
