// The harness the browser tests (tests/browser/*.test.mjs) share: the real carboy binary on
// a free loopback port with a temporary data folder (its log checked for sanitizer reports
// and a clean exit on SIGTERM at the end), Debian's headless Chromium (/usr/bin/chromium, no
// browser download) driven by playwright-core from web/package.json, the console errors
// and page errors of every page collected, sign-in through the form, axe-core's check (no
// serious or critical violation), the 800 px layout check, and screenshots to
// CARBOY_SCREENSHOTS (default build-results/screenshots).
//
// A test file calls start({...}) in its before() and stop in its after(); the server's
// address, the browser, the page and what the pages logged are the live bindings base,
// browser, context, page and problems. They are this module's own, so one test file a
// process (node --test runs each file in a process of its own).
//
//   CARBOY_BIN picks the binary (default build/carboy), CARBOY_CHROMIUM the browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(ROOT, 'web', 'package.json'));
export const { chromium } = require('playwright-core');

const BIN = process.env.CARBOY_BIN || path.join(ROOT, 'build', 'carboy');
export const CHROMIUM = process.env.CARBOY_CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.CARBOY_SCREENSHOTS || path.join(ROOT, 'build-results', 'screenshots');
export const CSRF = { 'X-Carboy-CSRF': '1' };
const LAUNCH = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SANITIZER_MARKS = ['ERROR: AddressSanitizer', 'runtime error:', 'ERROR: LeakSanitizer'];

export let server, data, base, browser, context, page;
export const problems = []; // console errors and page errors, with the page they came from
let serverLog;
let options = {};
let failures = 0;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

async function waitHealthy(url, proc) {
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`carboy exited with ${proc.exitCode}:\n${fs.readFileSync(serverLog, 'utf8')}`);
    try { if ((await fetch(url + '/healthz')).ok) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('carboy did not become healthy');
}

// Starts the server and the browser. Options:
//   name           'models': data in carboy-browser-models-*, failure screenshots models-failed-N.png
//                  (none: carboy-browser-*, failed-N.png)
//   adminPassword  CARBOY_ADMIN_PASSWORD of the first start
//   needs          input files that must exist (the binary and the browser always must)
//   env            more of the server's environment
//   args           Chromium's command line (default LAUNCH)
//   contextOptions of every browser context newPage() opens (default 1366 x 800, downloads accepted)
//   openPage       open the first page now (default true)
//   freshSignIn    signIn() starts from a fresh context, with no cookies (default false)
//   onPage(p)      more listeners on every page watch() sees
export async function start(opts) {
  options = {
    name: '', needs: [], env: {}, args: LAUNCH, openPage: true, freshSignIn: false,
    contextOptions: { viewport: { width: 1366, height: 800 }, acceptDownloads: true },
    ...opts,
  };
  for (const f of [BIN, CHROMIUM, ...options.needs]) assert.ok(fs.existsSync(f), `${f} is missing`);
  data = fs.mkdtempSync(path.join(os.tmpdir(), options.name ? `carboy-browser-${options.name}-` : 'carboy-browser-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  serverLog = path.join(data, 'server.log');
  const out = fs.openSync(serverLog, 'w');
  server = spawn(BIN, ['serve', '--data', path.join(data, 'data'), '--listen', `127.0.0.1:${port}`], {
    env: { ...process.env, CARBOY_ADMIN_PASSWORD: options.adminPassword, CARBOY_LOG_LEVEL: 'info',
           ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', ...options.env },
    stdio: ['ignore', out, out],
  });
  await waitHealthy(base, server);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: options.args });
  if (options.openPage) await newPage();
}

// Closes the browser and stops the server: it must exit with 0 on SIGTERM and its log must
// hold no sanitizer report. Then the temporary folder goes.
export async function stop() {
  if (browser) await browser.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', (code, sig) => r(code ?? sig)));
    server.kill('SIGTERM');
    const code = await exited;
    const log = fs.readFileSync(serverLog, 'utf8');
    assert.equal(code, 0, `carboy exited with ${code} on SIGTERM:\n${log.slice(-3000)}`);
    const marks = SANITIZER_MARKS.filter((m) => log.includes(m));
    assert.deepEqual(marks, [], 'sanitizer report in the server log:\n' + log.slice(-6000));
  }
  if (data) fs.rmSync(data, { recursive: true, force: true });
}

// Collects a page's console errors and page errors into problems.
export function watch(p) {
  p.on('console', (msg) => { if (msg.type() === 'error') problems.push(`${p.url()}: console: ${msg.text()}`); });
  p.on('pageerror', (err) => problems.push(`${p.url()}: page error: ${err.message}`));
  if (options.onPage) options.onPage(p);
}

// A fresh browser context (no cookies) with one watched page, which becomes page; the
// previous context is closed.
export async function newPage() {
  if (context) await context.close();
  context = await browser.newContext(options.contextOptions);
  context.setDefaultTimeout(20000);
  page = await context.newPage();
  watch(page);
  return page;
}

// Signs in through the form of the home page (first in a fresh context, with freshSignIn).
export async function signIn(user, password) {
  if (options.freshSignIn) await newPage();
  await page.goto(base + '/');
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

// The page (or a page or locator given) as NAME.png in SHOTS.
// A screenshot of the page (or one element of it) for docs/screenshots; every page state
// worth a screenshot is also checked as accessible() checks the pages.
export async function shot(name, target = page) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const p = typeof target.waitForLoadState === 'function' ? target : target.page();
  await p.waitForLoadState('networkidle').catch(() => {});
  await target.screenshot({ path: path.join(SHOTS, name + '.png') });
  await accessible(`the page of screenshot ${name}`, p);
}

export function noProblems() {
  assert.deepEqual(problems.splice(0), [], 'the browser logged errors');
}

// axe-core over the page as it stands (dialogs included): no serious or critical violation.
export async function axeClean(what, p = page) {
  await p.waitForLoadState('networkidle').catch(() => {});
  // evaluated as a devtools script: the page's CSP, which refuses inline scripts, stays on
  if (!(await p.evaluate(() => !!window.axe))) await p.evaluate(require('axe-core').source);
  const result = await p.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(bad, [], `axe on ${what}`);
}

// The page holds at 800 px wide: nothing scrolls sideways.
export async function holdsAt800(what, p = page) {
  const size = p.viewportSize();
  await p.setViewportSize({ width: 800, height: 700 });
  const width = await p.evaluate(() => document.documentElement.scrollWidth);
  await p.setViewportSize(size);
  assert.ok(width <= 800, `${what} is ${width} px wide at 800 px`);
}

// Both: axe-core finds nothing serious, and the layout holds at 800 px.
export async function accessible(what, p = page) {
  await axeClean(what, p);
  await holdsAt800(what, p);
}

// A test step that leaves a screenshot of the page behind when it fails.
export function step(name, fn) {
  test(name, async () => {
    try {
      await fn();
    } catch (err) {
      await shot(`${options.name ? options.name + '-' : ''}failed-${++failures}`).catch(() => {});
      throw err;
    }
  });
}

// ---- the API, as a user (set-up and checks) ----
// Signs in: the status, and the session's cookie when it worked.
export async function signInApi(username, password) {
  const res = await fetch(base + '/api/v1/auth/login', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }),
  });
  return { status: res.status, cookie: res.ok ? res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ') : null };
}

// A request that must succeed: its JSON answer (null for none). raw: body sent as it is.
export async function call(cookie, method, url, body, raw) {
  const headers = { Cookie: cookie, 'X-Carboy-CSRF': '1', Accept: 'application/json' };
  if (body !== undefined && !raw) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + url, { method, headers, body: raw ? body : body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${url}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
