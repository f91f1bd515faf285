// The UI's first paint and main bundle: one carboy (CARBOY_BIN, default build/carboy) or
// two side by side (BENCH_BASE_BIN, e.g. a build of an earlier commit, as the baseline).
//
// For each binary: a fresh server on loopback, then in headless Chromium (CARBOY_CHROMIUM,
// default /usr/bin/chromium) the sign-in page as a visitor and the home page (the root
// folder listing) signed in, each loaded BENCH_PAINT_RUNS times (default 5) after a first
// load that warms the cache; the median first-contentful-paint
// (performance.getEntriesByName('first-contentful-paint')) is reported, with the size of the
// main script (the index-*.js the page loads). The machine's load average is printed
// beside: first paint on a busy 2-core machine moves by tens of milliseconds.
//
//   node bench/ui-paint.mjs
//   BENCH_BASE_BIN=/tmp/old/carboy node bench/ui-paint.mjs
//
// Final lines (informational, no target; ratio = baseline / carboy, > 1 is faster):
//   RESULT ui-paint-login baseline=<ms> carboy=<ms> ratio=<r> target=none
//   RESULT ui-paint-home baseline=<ms> carboy=<ms> ratio=<r> target=none
//   RESULT ui-main-script baseline=<bytes> carboy=<bytes> ratio=<r> target=none
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(ROOT, 'web', 'package.json'));
const { chromium } = require('playwright-core');
const RUNS = Number(process.env.BENCH_PAINT_RUNS || 5);
const PASSWORD = 'bench-paint-pass-1';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

async function measure(bin, browser) {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'carboy-paint-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const srv = spawn(bin, ['serve', '--data', data, '--listen', `127.0.0.1:${port}`],
    { env: { ...process.env, CARBOY_ADMIN_PASSWORD: PASSWORD }, stdio: 'ignore' });
  try {
    let up = false;
    for (let i = 0; i < 300 && !up; i++) {
      try { up = (await fetch(base + '/healthz')).ok; } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    if (!up) throw new Error(`${bin} did not become healthy`);
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    let script = 0;
    page.on('response', async (r) => {
      if (/\/assets\/index-[^/]*\.js$/.test(r.url())) script = (await r.body()).length;
    });
    const fcp = async (url) => {
      await page.goto(url, { waitUntil: 'networkidle' }); // warms the cache
      const v = [];
      for (let i = 0; i < RUNS; i++) {
        await page.goto(url, { waitUntil: 'networkidle' });
        v.push(await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN));
      }
      v.sort((a, b) => a - b);
      return v[Math.floor(v.length / 2)];
    };
    const login = await fcp(base + '/login');
    const r = await ctx.request.post(base + '/api/v1/auth/login', { data: { username: 'admin', password: PASSWORD } });
    if (r.status() !== 200) throw new Error(`sign-in: ${r.status()}`);
    const home = await fcp(base + '/');
    await ctx.close();
    return { login, home, script };
  } finally {
    srv.kill();
    fs.rmSync(data, { recursive: true, force: true });
  }
}

const bin = process.env.CARBOY_BIN || path.join(ROOT, 'build', 'carboy');
const baseBin = process.env.BENCH_BASE_BIN;
const browser = await chromium.launch({ executablePath: process.env.CARBOY_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const load = () => os.loadavg()[0].toFixed(2);
  const b = baseBin ? await measure(baseBin, browser) : null;
  const c = await measure(bin, browser);
  console.log(`load average ${load()}; median of ${RUNS} loads`);
  const row = (name, key, unit) => {
    const fmt = (x) => (unit === 'ms' ? x.toFixed(0) : String(x));
    console.log(`  ${name}: ${b ? `baseline ${fmt(b[key])} ${unit}, ` : ''}carboy ${fmt(c[key])} ${unit}`);
    return `RESULT ${name} baseline=${b ? fmt(b[key]) : 'none'} carboy=${fmt(c[key])} ratio=${b ? (b[key] / c[key]).toFixed(3) : 'none'} target=none`;
  };
  const out = [row('ui-paint-login', 'login', 'ms'), row('ui-paint-home', 'home', 'ms'), row('ui-main-script', 'script', 'bytes')];
  for (const l of out) console.log(l);
} finally {
  await browser.close();
}
