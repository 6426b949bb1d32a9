// End to end: the real app under Xvfb, driven by tauri-driver + WebKitWebDriver with
// webdriverio, against heartline-lab on loopback. Screenshots of each main view go to
// target/e2e/. Every wait has a deadline; the whole run has one too.
//
//   make e2e        (builds the app, the lab and the UI first)
//   HEARTLINE_E2E_KEEP=1 keeps the temporary data directory for inspection.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, copyFileSync, existsSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { remote } from "webdriverio";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const target = process.env.CARGO_TARGET_DIR ?? path.join(root, "target");
const app = path.join(target, "debug/heartline-app");
const labBin = path.join(target, "debug/heartline-lab");
const shots = path.join(target, "e2e");
const RUN_DEADLINE_MS = 6 * 60_000;
const children = [];

function log(...args) {
  console.log(`[e2e ${new Date().toISOString().slice(11, 19)}]`, ...args);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function start(cmd, args, env = {}, name = cmd) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  child.output = "";
  const keep = (d) => {
    child.output += d.toString();
    if (child.output.length > 200_000) child.output = child.output.slice(-100_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.on("exit", (code, signal) => log(`${name} exited (${code ?? signal})`));
  return child;
}

async function until(what, f, timeout = 20_000, every = 200) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last.message ?? last}` : ""}`);
}

function cleanup() {
  for (const c of children.reverse()) {
    if (c.exitCode == null && c.signalCode == null) c.kill("SIGTERM");
  }
}

const watchdog = setTimeout(() => {
  log(`the whole run exceeded ${RUN_DEADLINE_MS / 1000} s`);
  cleanup();
  process.exit(1);
}, RUN_DEADLINE_MS);

async function main() {
  for (const bin of [app, labBin, "/usr/bin/WebKitWebDriver"]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run make e2e (it builds the app and the lab)`);
  }
  mkdirSync(shots, { recursive: true });
  const data = mkdtempSync(path.join(tmpdir(), "heartline-e2e-"));
  const db = path.join(data, "heartline.db");

  // A virtual display.
  let display;
  for (let n = 90 + Math.floor(Math.random() * 100); ; n++) {
    if (!existsSync(`/tmp/.X11-unix/X${n}`) && !existsSync(`/tmp/.X${n}-lock`)) {
      display = `:${n}`;
      break;
    }
  }
  const xvfb = start("Xvfb", [display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"], {}, "Xvfb");
  await until("Xvfb", () => existsSync(`/tmp/.X11-unix/X${display.slice(1)}`), 10_000);

  // The lab on loopback, port 0.
  const lab = start(labBin, ["--no-tls"], {}, "lab");
  const url = await until("the lab's address", () => /ws=(ws:\/\/\S+)/.exec(lab.output)?.[1], 15_000);
  log("lab at", url);

  const env = {
    DISPLAY: display,
    HEARTLINE_DB: db,
    XDG_DATA_HOME: path.join(data, "share"),
    XDG_CONFIG_HOME: path.join(data, "config"),
    XDG_CACHE_HOME: path.join(data, "cache"),
    // No keychain in a test session: secrets go to the 0600 file beside the database.
    DBUS_SESSION_BUS_ADDRESS: "disabled:",
    NO_AT_BRIDGE: "1",
  };

  async function session(dbPath) {
    const port = await freePort();
    const nativePort = await freePort();
    const driver = start(
      "tauri-driver",
      ["--port", String(port), "--native-port", String(nativePort), "--native-driver", "/usr/bin/WebKitWebDriver"],
      { ...env, HEARTLINE_DB: dbPath },
      "tauri-driver",
    );
    await until(
      "tauri-driver listening",
      () => new Promise((resolve) => {
        const c = connect(port, "127.0.0.1", () => { c.destroy(); resolve(true); });
        c.on("error", () => resolve(false));
      }),
      20_000,
    );
    const browser = await until(
      "a WebDriver session",
      () =>
        remote({
          hostname: "127.0.0.1",
          port,
          logLevel: "error",
          connectionRetryTimeout: 30_000,
          connectionRetryCount: 0,
          capabilities: {
            browserName: "wry",
            "wdio:enforceWebDriverClassic": true,
            "tauri:options": { application: app },
          },
        }),
      60_000,
      1_000,
    );
    return { browser, driver };
  }

  async function end({ browser, driver }) {
    await browser.deleteSession().catch(() => {});
    driver.kill("SIGTERM");
    await until("tauri-driver to stop", () => driver.exitCode != null || driver.signalCode != null, 10_000).catch(() => driver.kill("SIGKILL"));
  }

  const shot = async (browser, name) => {
    const file = path.join(shots, `${name}.png`);
    // The WebDriver screenshot, or the whole virtual display when WebKit does not answer.
    const viaDriver = browser.saveScreenshot(file).then(() => true, () => false);
    const ok = await Promise.race([viaDriver, new Promise((r) => setTimeout(() => r(false), 15_000))]);
    if (!ok) {
      await new Promise((resolve, reject) => {
        const c = spawn("/usr/bin/import", ["-window", "root", file], { env: { ...process.env, DISPLAY: display } });
        c.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`import exited ${code}`))));
      });
    }
    log("screenshot", path.relative(root, file));
    return file;
  };

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
  // Long up, short down: two quick failures (backoff ceilings 0.5 s, 1 s) fit in the down window,
  // so Down is certain; with the default full-jitter backoff each later retry lands in an up
  // window 10 times out of 13, so recovery does not hang on chance as 5 s up / 8 s down did.
  submit = await addEndpoint(b, { name: "flappy", url: `${url}/flap?up=10s&down=3s`, tags: "e2e" });
  await submit.click();

  await (await row(b, "kicked")).waitForExist({ timeout: 10_000 });
  await until("kicked's last close 4001 in the list", async () => (await (await row(b, "kicked")).getText()).includes("4001"), 30_000);
  await shot(b, "04-overview");
  await (await row(b, "kicked")).click();
  await until("4001 on kicked's close timeline", async () => (await b.$$('tr[data-close-code="4001"]')).length > 0, 30_000);
  await (await b.$('[aria-label="Close-code timeline"] rect')).waitForExist({ timeout: 5_000 });
  await shot(b, "05-detail-4001");

  const seen = new Set();
  await until("flappy Down", async () => {
    const st = await stateOf(b, "flappy");
    seen.add(st);
    return st === "Down";
  }, 60_000, 300);
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
  await new Promise((r) => setTimeout(r, 4_000));
  const demoShot = await shot(b, "11-demo-overview");
  await (await row(b, "demo-kicked-4001")).click();
  await new Promise((r) => setTimeout(r, 6_000));
  await shot(b, "12-demo-detail");
  await end(s);
  copyFileSync(demoShot, path.join(shots, "overview.png"));

  if (!process.env.HEARTLINE_E2E_KEEP) rmSync(data, { recursive: true, force: true });
  else log("kept", data);
  void xvfb;
}

main()
  .then(() => {
    log("passed");
    clearTimeout(watchdog);
    cleanup();
    process.exit(0);
  })
  .catch((e) => {
    console.error("[e2e] FAILED:", e?.stack ?? e);
    for (const c of children) if (c.output) console.error(`--- ${c.spawnargs[0]} output (tail) ---\n${c.output.slice(-3000)}`);
    clearTimeout(watchdog);
    cleanup();
    process.exit(1);
  });
