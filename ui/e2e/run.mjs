// End to end: the real app under Xvfb, driven by tauri-driver + WebKitWebDriver with
// webdriverio, against heartline-lab on loopback. Screenshots of each main view go to
// target/e2e/. Every wait has a deadline; the whole run has one too.
//
//   make e2e        (builds the app, the lab and the UI first)
//   HEARTLINE_E2E_KEEP=1 keeps the temporary data directory for inspection.

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, copyFileSync, existsSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  appEnv, endSession, grabDisplay, HARNESS_TOOLS, log, requireTools, runMain, screenshot, session as openSession, startLab, startXvfb, target,
  until, watchdog,
} from "./harness.mjs";

const app = path.join(target, "debug/heartline-app");
const labBin = path.join(target, "debug/heartline-lab");
const shots = path.join(target, "e2e");
const RUN_DEADLINE_MS = 6 * 60_000;
const stopWatchdog = watchdog(RUN_DEADLINE_MS);

async function main() {
  requireTools({ ...HARNESS_TOOLS, xdotool: "package xdotool" });
  for (const bin of [app, labBin]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run make e2e (it builds the app and the lab)`);
  }
  mkdirSync(shots, { recursive: true });
  const data = mkdtempSync(path.join(tmpdir(), "heartline-e2e-"));
  const db = path.join(data, "heartline.db");

  // A virtual display.
  const display = await startXvfb();

  // The lab on loopback, port 0.
  const { url } = await startLab(labBin);
  log("lab at", url);

  const env = appEnv(display, data, db);

  const session = (dbPath) => openSession(app, { ...env, HEARTLINE_DB: dbPath });
  const end = endSession;
  const shot = (browser, name) => screenshot(browser, display, path.join(shots, `${name}.png`));

  async function fill(browser, selector, value) {
    const el = await browser.$(selector);
    await el.waitForExist({ timeout: 10_000 });
    await el.clearValue();
    await el.setValue(value);
  }

  async function addEndpoint(browser, { name, url: u, ping = "1", pong = "0.5", tags = "" }) {
    const add = await browser.$("button=Add endpoint");
    await add.waitForClickable({ timeout: 15_000 });
    await add.click();
    await fill(browser, 'input[name="name"]', name);
    await fill(browser, 'input[name="url"]', u);
    await fill(browser, 'input[name="ping"]', ping);
    await fill(browser, 'input[name="pong"]', pong);
    if (tags) await fill(browser, 'input[name="tags"]', tags);
    const submit = await browser.$('button[type="submit"]');
    await submit.waitForEnabled({ timeout: 10_000 });
    return submit;
  }

  const row = (browser, name) => browser.$(`[data-endpoint="${name}"]`);
  const stateOf = async (browser, name) => (await (await row(browser, name)).$("[data-state]")).getAttribute("data-state");

  // ── 1. First run: empty state, the form with validation and "Test connection" ─────────
  let s = await session(db);
  let b = s.browser;
  await (await b.$("button=Try the demo")).waitForDisplayed({ timeout: 30_000 });
  await shot(b, "01-empty-state");

  await (await b.$("button=Add endpoint")).click();
  await fill(b, 'input[name="url"]', "http://not-a-websocket");
  await until("a URL problem shown as you type", async () => (await (await b.$("#p-url")).getText()).length > 0, 10_000);
  await shot(b, "02-form-validation");
  await (await b.$("button=Cancel")).click();

  let submit = await addEndpoint(b, { name: "echo", url: `${url}/echo`, tags: "e2e" });
  await (await b.$("button=Test connection")).click();
  const probe = await b.$('[aria-label="Test result"]');
  await probe.waitForDisplayed({ timeout: 15_000 });
  const probeText = await probe.getText();
  if (!probeText.includes("Connected") || !probeText.includes("ping RTT")) throw new Error(`test connection: ${probeText}`);
  log("test connection:", probeText.replace(/\s+/g, " "));
  await shot(b, "03-form-test-connection");
  await submit.click();

  // ── 2. It comes Up with an RTT ───────────────────────────────────────────────────────────
  await until("echo Up", async () => (await stateOf(b, "echo")) === "Up", 20_000);
  const rtt = await until("an RTT for echo", async () => {
    const t = await (await (await row(b, "echo")).$(".rtt")).getText();
    return /\d/.test(t) ? t : null;
  }, 20_000);
  log("echo is Up with RTT", rtt);

  // ── 3. One that closes with 4001; the code appears on its close timeline ────────────────
  submit = await addEndpoint(b, { name: "kicked", url: `${url}/close?code=4001&reason=kicked&after=1500ms`, tags: "e2e" });
  await submit.click();
  // ── 4. One that flaps: Down, then recovery ──────────────────────────────────────────────
  // Sessions of 35 s outlast the backoff's reset (30 s), so every drop is followed by a quick
  // retry (ceiling 0.5 s) that lands in the 5 s down window: two failures in a row, Down in
  // every 40 s cycle, then Up within seconds of the window's end. With 10 s up / 3 s down the
  // sessions were too short to reset the backoff, later retries (up to 60 s) jumped over the
  // down windows, and Down after the first cycle was left to chance (one CI run waited 60 s
  // in vain, another saw it after 60 s).
  submit = await addEndpoint(b, { name: "flappy", url: `${url}/flap?up=35s&down=5s`, tags: "e2e" });
  await submit.click();

  await (await row(b, "kicked")).waitForExist({ timeout: 10_000 });
  await until("kicked's last close 4001 in the list", async () => (await (await row(b, "kicked")).getText()).includes("4001"), 30_000);
  await shot(b, "04-overview");
  await (await row(b, "kicked")).click();
  await until("4001 on kicked's close timeline", async () => (await b.$$('tr[data-close-code="4001"]')).length > 0, 30_000);
  await (await b.$('[aria-label="Close-code timeline"] rect')).waitForExist({ timeout: 5_000 });
  await shot(b, "05-detail-4001");

  const seen = new Set();
  try {
    await until("flappy Down", async () => {
      const st = await stateOf(b, "flappy");
      seen.add(st);
      return st === "Down";
    }, 75_000, 300);
  } catch (e) {
    // Say what the row showed, so a failure here tells the engine's side from the page's.
    const text = await (await row(b, "flappy")).getText().catch(() => "(no row)");
    await shot(b, "06-down-timeout").catch(() => {});
    throw new Error(`${e.message}; states seen: ${[...seen].join(" ")}; flappy's row: ${text.replace(/\s+/g, " ")}`);
  }
  log("flappy went Down; states seen:", [...seen].join(" "));
  await shot(b, "06-down");
  await until("flappy recovered (Up)", async () => (await stateOf(b, "flappy")) === "Up", 90_000, 300);
  log("flappy recovered");

  await (await b.$("button=Timeline")).click();
  await (await b.$('[aria-label="flappy: states and closes"]')).waitForExist({ timeout: 15_000 });
  await shot(b, "07-timeline");
  await (await b.$("button=Incidents")).click();
  await until("flappy's incident listed", async () => (await (await b.$("main")).getText()).includes("flappy"), 20_000);
  await shot(b, "08-incidents");
  // Exports, the way a person does it: the export dialog from the list, "Save as…", then the
  // system's save dialog (GTK's file chooser, a window of the app's own). It opens in the last
  // export's folder, which the UI keeps in localStorage: set to this run's directory first.
  // xdotool focuses the chooser and presses Return, which accepts the suggested file name.
  await b.execute((dir) => localStorage.setItem("heartline.exportFolder", dir), data);
  await (await b.$("button=Export…")).click();
  const exportDialog = await b.$("dialog[open]");
  await exportDialog.waitForDisplayed({ timeout: 10_000 });
  await shot(b, "08b-export-dialog");
  await (await exportDialog.$("button=Save as…")).click();
  const xdo = (...args) => execFileSync("xdotool", args, { env: { ...process.env, DISPLAY: display }, encoding: "utf8" }).trim();
  const chooser = await until("the system save dialog", () => {
    try {
      return xdo("search", "--name", "^Save the export$").split("\n")[0];
    } catch (e) {
      if (e.code === "ENOENT") throw e; // no xdotool: fail now, naming it
      return null; // xdotool exits 1 while no window matches
    }
  }, 15_000, 200);
  await grabDisplay(display, path.join(shots, "08c-save-dialog.png"));
  xdo("windowfocus", "--sync", chooser);
  xdo("key", "--clearmodifiers", "Return");
  const exportName = await until("the export written", () => readdirSync(data).find((f) => /^heartline-.*\.md$/.test(f)), 30_000, 200);
  const markdown = readFileSync(path.join(data, exportName), "utf8");
  if (!markdown.includes("flappy")) throw new Error(`the export ${exportName} lacks flappy`);
  await until("the export reported done", async () => (await (await exportDialog.$(".done")).isExisting()), 10_000);
  log("exported through the save dialog:", exportName, "—", await (await exportDialog.$(".done")).getText());
  // "Show in folder" hands the file just written to the desktop. Whether a file manager answers
  // depends on the desktop (Xvfb here has none); what must not happen is the app refusing its
  // own export, or losing it.
  await (await exportDialog.$("button=Open")).waitForDisplayed({ timeout: 5_000 });
  await shot(b, "08d-export-done");
  await (await exportDialog.$("button=Show in folder")).click();
  await new Promise((r) => setTimeout(r, 1_500));
  const problem = await exportDialog.$(".problem");
  if (await problem.isExisting()) {
    const text = await problem.getText();
    log("show in folder:", text);
    if (!text.startsWith("the desktop could not show")) throw new Error(`"Show in folder" failed: ${text}`);
  } else log("show in folder: handed to the desktop");
  await (await exportDialog.$("button=Close")).click();
  await until("the export dialog closed", async () => !(await (await b.$("dialog[open]")).isExisting()), 10_000);
  await (await b.$("button=Settings")).click();
  await until("the database path in Settings", async () => (await (await b.$("main")).getText()).includes(db), 10_000);
  await shot(b, "09-settings");
  await end(s);

  // ── 5. Restart: the endpoints and their history are still there ─────────────────────────
  s = await session(db);
  b = s.browser;
  await (await row(b, "kicked")).waitForExist({ timeout: 30_000 });
  await (await row(b, "kicked")).click();
  await (await b.$("button=1 h")).click();
  await until("4001 still on kicked's timeline after a restart", async () => (await b.$$('tr[data-close-code="4001"]')).length > 0, 20_000);
  await shot(b, "10-after-restart");
  await end(s);

  // ── 6. The demo, on a fresh database: the README's screenshot ───────────────────────────
  const demoDb = path.join(data, "demo.db");
  s = await session(demoDb);
  b = s.browser;
  await (await b.$("button=Try the demo")).waitForClickable({ timeout: 30_000 });
  await (await b.$("button=Try the demo")).click();
  await (await row(b, "demo-steady")).waitForExist({ timeout: 20_000 });
  await until("the demo showing failures", async () => {
    const text = await (await b.$("main")).getText();
    return text.includes("4001") && text.includes("Down") ? true : null;
  }, 60_000, 1_000);
  // The half-open server stops answering pings: we close, and the list says so and why.
  await until("demo-half-open's last close: by us, pong timeout", async () => {
    const meaning = await (await row(b, "demo-half-open")).$(".meaning");
    return (await meaning.isExisting()) && (await meaning.getAttribute("title")) === "by us: pong timeout";
  }, 60_000, 500);
  await new Promise((r) => setTimeout(r, 4_000));
  const demoShot = await shot(b, "11-demo-overview");
  await (await row(b, "demo-kicked-4001")).click();
  await new Promise((r) => setTimeout(r, 6_000));
  await shot(b, "12-demo-detail");
  // The smallest supported window, in the light theme and (restarted) in the dark one.
  await b.setWindowSize(1024, 700);
  await shot(b, "13-demo-1024-light");
  await end(s);
  s = await openSession(app, { ...env, HEARTLINE_DB: demoDb, GTK_THEME: "Adwaita:dark" });
  b = s.browser;
  await b.setWindowSize(1024, 700);
  await (await row(b, "demo-kicked-4001")).waitForExist({ timeout: 30_000 });
  await (await row(b, "demo-kicked-4001")).click();
  await (await b.$('[aria-label="Close-code timeline"]')).waitForExist({ timeout: 10_000 });
  await shot(b, "14-demo-1024-dark");
  await end(s);
  copyFileSync(demoShot, path.join(shots, "overview.png"));

  if (!process.env.HEARTLINE_E2E_KEEP) rmSync(data, { recursive: true, force: true });
  else log("kept", data);
}

runMain(main, stopWatchdog);
