// What the end-to-end run (run.mjs) and the desktop benchmark (bench.mjs) share: child
// processes that are cleaned up, deadlines on every wait, a virtual display, the lab, and
// WebDriver sessions with the real app through tauri-driver + WebKitWebDriver.

import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { remote } from "webdriverio";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const target = process.env.CARGO_TARGET_DIR ?? path.join(root, "target");

let tag = "e2e";
/** Every child process started here, stopped by cleanup(). */
export const children = [];

export function setTag(t) {
  tag = t;
}

export function log(...args) {
  console.log(`[${tag} ${new Date().toISOString().slice(11, 19)}]`, ...args);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function start(cmd, args, env = {}, name = cmd) {
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

/** Runs a command to completion (bounded by `timeout`); resolves with its output. */
export function run(cmd, args, env = {}, timeout = 120_000) {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (out += d));
    const t = setTimeout(() => c.kill("SIGKILL"), timeout);
    c.on("exit", (code, signal) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(" ")} exited ${code ?? signal}: ${out.slice(-2000)}`));
    });
  });
}

/**
 * Fails at once, naming each one, when a command the run needs is not on PATH (or not at its
 * absolute path): a missing tool must never look like a window that did not appear.
 * `tools` maps a command to the Debian package that provides it.
 */
export function requireTools(tools) {
  const dirs = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean);
  const found = (cmd) =>
    cmd.includes("/") ? existsSync(cmd) : dirs.some((d) => existsSync(path.join(d, cmd)));
  const missing = Object.entries(tools).filter(([cmd]) => !found(cmd));
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.map(([cmd, pkg]) => `${cmd} (${pkg})`).join(", ")}: run scripts/bootstrap.sh, which installs them`,
    );
  }
}

/** The commands both the end-to-end run and the desktop benchmark start. */
export const HARNESS_TOOLS = {
  Xvfb: "package xvfb",
  "/usr/bin/import": "package imagemagick",
  "tauri-driver": "cargo install tauri-driver",
  "/usr/bin/WebKitWebDriver": "package webkit2gtk-driver",
};

export async function until(what, f, timeout = 20_000, every = 200) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      // A command that does not exist will not appear by waiting.
      if (e?.code === "ENOENT") throw new Error(`while waiting for ${what}: ${e.message}`);
      last = e;
    }
    await sleep(every);
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last.message ?? last}` : ""}`);
}

export function cleanup() {
  for (const c of [...children].reverse()) {
    if (c.exitCode == null && c.signalCode == null) c.kill("SIGTERM");
  }
}

/** Ends the process if the whole run takes longer than `ms`. */
export function watchdog(ms) {
  const t = setTimeout(() => {
    log(`the whole run exceeded ${ms / 1000} s`);
    cleanup();
    process.exit(1);
  }, ms);
  return () => clearTimeout(t);
}

/** Runs `main`, then stops every child and exits 0, or prints the failure and children's output and exits 1. */
export function runMain(main, stopWatchdog) {
  main()
    .then(() => {
      log("passed");
      stopWatchdog();
      cleanup();
      process.exit(0);
    })
    .catch((e) => {
      console.error(`[${tag}] FAILED:`, e?.stack ?? e);
      for (const c of children) if (c.output) console.error(`--- ${c.spawnargs[0]} output (tail) ---\n${c.output.slice(-3000)}`);
      stopWatchdog();
      cleanup();
      process.exit(1);
    });
}

/** A virtual display on a free number: its name (":N"). */
export async function startXvfb() {
  let display;
  for (let n = 90 + Math.floor(Math.random() * 100); ; n++) {
    if (!existsSync(`/tmp/.X11-unix/X${n}`) && !existsSync(`/tmp/.X${n}-lock`)) {
      display = `:${n}`;
      break;
    }
  }
  start("Xvfb", [display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"], {}, "Xvfb");
  await until("Xvfb", () => existsSync(`/tmp/.X11-unix/X${display.slice(1)}`), 10_000);
  return display;
}

/** heartline-lab on loopback, port 0, without TLS: the process and its ws:// base URL. */
export async function startLab(bin) {
  const lab = start(bin, ["--no-tls"], {}, "lab");
  const url = await until("the lab's address", () => /ws=(ws:\/\/\S+)/.exec(lab.output)?.[1], 15_000);
  return { lab, url };
}

/** The environment the app runs in: a private data directory, no keychain, no a11y bus. */
export function appEnv(display, data, db) {
  return {
    DISPLAY: display,
    HEARTLINE_DB: db,
    XDG_DATA_HOME: path.join(data, "share"),
    XDG_CONFIG_HOME: path.join(data, "config"),
    XDG_CACHE_HOME: path.join(data, "cache"),
    // No keychain in a test session: secrets go to the 0600 file beside the database.
    DBUS_SESSION_BUS_ADDRESS: "disabled:",
    NO_AT_BRIDGE: "1",
  };
}

/** Starts tauri-driver and opens a WebDriver session, which launches `app` with `env`. */
export async function session(app, env) {
  const port = await freePort();
  const nativePort = await freePort();
  const driver = start(
    "tauri-driver",
    ["--port", String(port), "--native-port", String(nativePort), "--native-driver", "/usr/bin/WebKitWebDriver"],
    env,
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

export async function endSession({ browser, driver }) {
  await browser.deleteSession().catch(() => {});
  driver.kill("SIGTERM");
  await until("tauri-driver to stop", () => driver.exitCode != null || driver.signalCode != null, 10_000).catch(() => driver.kill("SIGKILL"));
}

/** The whole virtual display as a PNG (ImageMagick's import). */
export function grabDisplay(display, file) {
  return new Promise((resolve, reject) => {
    const c = spawn("/usr/bin/import", ["-window", "root", file], { env: { ...process.env, DISPLAY: display } });
    c.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`import exited ${code}`))));
  });
}

/** The WebDriver screenshot, or the whole virtual display when WebKit does not answer. */
export async function screenshot(browser, display, file) {
  // The driver's picture is written only if it comes in time: a late one must not replace the
  // display grab taken instead (it would show whatever the window shows by then).
  let late = false;
  const viaDriver = browser.takeScreenshot().then(
    (png) => {
      if (late) return false;
      writeFileSync(file, Buffer.from(png, "base64"));
      return true;
    },
    () => false,
  );
  const ok = await Promise.race([viaDriver, sleep(15_000).then(() => false)]);
  late = true;
  if (!ok) await grabDisplay(display, file);
  log("screenshot", path.relative(root, file));
  return file;
}
