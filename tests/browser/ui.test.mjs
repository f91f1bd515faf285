// Browser tests, in the harness of harness.mjs (which every tests/browser/*.test.mjs
// shares): the real carboy binary on a free loopback port with a temporary data folder,
// driven in Debian's headless Chromium (/usr/bin/chromium) by playwright-core
// (web/package.json; no browser download). The scenario of issue 8: sign in, create a
// folder, drag-and-drop upload an SDF and a PNG with progress, see processing finish,
// open the SDF's records and depiction, search by text and by substructure, share with a
// second user who then sees it, download a conversion. No console errors are allowed on
// any page. Screenshots of the main pages go to CARBOY_SCREENSHOTS (default
// build-results/screenshots); docs/screenshots/ holds the ones the README and docs/UI.md show.
//
//   node --test tests/browser/*.test.mjs   (CARBOY_BIN picks the binary, default build/carboy)
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { start, stop, step, shot, noProblems, signIn, problems, base, context, page } from './harness.mjs';

const ADMIN_PASSWORD = 'browser-pass-1';
const BOB_PASSWORD = 'bob-password-1';
const SDF = '/usr/share/RDKit/Data/NCI/first_200.props.sdf';
const PNG = '/usr/share/gocode/src/golang.org/x/image/testdata/yellow_rose-small-v5.png';

let projectUrl, sdfUrl; // pages that later tests start from

// Drops files on the listing as a drag from the desktop would (a DataTransfer with File
// objects made in the page from the real files' bytes).
async function dropFiles(selector, files) {
  const payload = files.map((f) => ({ name: path.basename(f.name), type: f.type, b64: fs.readFileSync(f.path).toString('base64') }));
  const dt = await page.evaluateHandle((list) => {
    const t = new DataTransfer();
    for (const f of list) {
      const bin = atob(f.b64);
      const buf = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) buf[i] = bin.charCodeAt(i);
      t.items.add(new File([buf], f.name, { type: f.type }));
    }
    return t;
  }, payload);
  await page.dispatchEvent(selector, 'dragenter', { dataTransfer: dt });
  await page.dispatchEvent(selector, 'dragover', { dataTransfer: dt });
  await page.dispatchEvent(selector, 'drop', { dataTransfer: dt });
}

before(() => start({ adminPassword: ADMIN_PASSWORD, needs: [SDF, PNG] }));
after(stop);

step('the UI is served with its security headers and cached assets', async () => {
  const res = await fetch(base + '/folders/anything');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  const csp = res.headers.get('content-security-policy');
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe/);
  const etag = res.headers.get('etag');
  assert.equal((await fetch(base + '/', { headers: { 'If-None-Match': etag } })).status, 304);
  const js = (await res.text()).match(/\/assets\/[^"]+\.js/)[0];
  const asset = await fetch(base + js);
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get('content-type'), /^text\/javascript/);
  assert.match(asset.headers.get('cache-control'), /immutable/);
  assert.equal((await fetch(base + '/assets/no-such-file.js')).status, 404);
});

step('sign in', async () => {
  await page.goto(base + '/');
  await page.getByRole('heading', { name: 'Sign in to carboy' }).waitFor();
  await shot('login');
  await page.getByLabel('User name').fill('admin');
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong user name or password' }).waitFor();
  // the browser reports the refused sign-in as a console error; nothing else may appear
  assert.ok(problems.splice(0).every((m) => m.includes('status of 401')));
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await page.getByText('No folders yet').waitFor();
  noProblems();
});

step('an administrator adds a second user', async () => {
  await page.getByRole('link', { name: 'Admin' }).click();
  await page.getByRole('heading', { name: 'Administration' }).waitFor();
  await page.getByLabel('User name').fill('bob');
  await page.locator('#nu-pass').fill(BOB_PASSWORD);
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.getByRole('cell', { name: 'bob', exact: true }).waitFor();
  await page.getByLabel('Group name').fill('chemists');
  await page.getByRole('button', { name: 'Add group' }).click();
  await page.getByRole('heading', { name: 'chemists' }).waitFor();
  await page.getByLabel('Add a member to chemists').selectOption({ label: 'bob' });
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await page.getByRole('button', { name: 'Remove bob from chemists' }).waitFor();
  await shot('admin');
  noProblems();
});

step('create a folder, and a folder inside it', async () => {
  await page.getByRole('link', { name: 'Files' }).click();
  await page.getByRole('button', { name: 'New folder' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Project X');
  await page.getByRole('dialog').getByRole('button', { name: 'New folder' }).click();
  await page.getByRole('link', { name: 'Project X' }).first().waitFor();
  await page.locator('table.files').getByRole('link', { name: 'Project X' }).click();
  await page.locator('.crumbs [aria-current="page"]', { hasText: 'Project X' }).waitFor();
  await page.getByText('This folder is empty').waitFor();
  projectUrl = page.url();
  assert.match(projectUrl, /\/folders\/[^/]+$/);
  await page.getByRole('button', { name: 'New folder' }).click();
  await page.getByLabel('Name', { exact: true }).fill('raw data');
  await page.getByRole('dialog').getByRole('button', { name: 'New folder' }).click();
  await page.locator('table.files').getByRole('link', { name: 'raw data' }).waitFor();
  noProblems();
});

step('drag and drop an SDF and a PNG: progress, then processing to the end', async () => {
  // slow the network so that the uploads are seen in progress
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 256 * 1024 });
  await dropFiles('[data-testid="dropzone"]', [
    { path: SDF, name: 'nci-first-200.sdf', type: 'chemical/x-mdl-sdfile' },
    { path: PNG, name: 'rose.png', type: 'image/png' },
  ]);
  const panel = page.getByRole('region', { name: 'Uploads' });
  await panel.waitFor();
  const bar = panel.getByRole('progressbar', { name: 'Upload of nci-first-200.sdf' });
  let seen = 0;
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) { // a value strictly between 0 and 100 while the bytes go
    const v = Number(await bar.getAttribute('aria-valuenow', { timeout: 2000 }).catch(() => NaN));
    if (v > 0 && v < 100) { seen = v; break; }
    await page.waitForTimeout(30);
  }
  assert.ok(seen > 0 && seen < 100, 'no partial progress was shown for the SDF');
  await shot('uploading');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  // both listed, processed (the listing follows the event stream; no reload)
  const row = (name) => page.locator('table.files tr', { has: page.getByRole('link', { name, exact: true }) });
  for (const name of ['nci-first-200.sdf', 'rose.png']) {
    await row(name).waitFor({ timeout: 30000 });
    await row(name).locator('.badge', { hasText: 'processed' }).waitFor({ timeout: 120000 });
  }
  await panel.locator('li[data-name="rose.png"] .badge', { hasText: 'processed' }).waitFor();
  await shot('folder');
  noProblems();
});

step('the PNG page shows its thumbnail, zoom and properties', async () => {
  await page.goto(projectUrl); // a deep link, loaded afresh
  await page.locator('table.files').getByRole('link', { name: 'rose.png' }).click();
  await page.getByRole('heading', { name: 'rose.png', level: 1 }).waitFor();
  const props = page.locator('table.props').first();
  await props.getByRole('rowheader', { name: 'width' }).waitFor();
  assert.match(await props.locator('tr', { has: page.getByRole('rowheader', { name: 'width' }) }).textContent(), /px/);
  await page.waitForFunction(() => { const i = document.querySelector('.thumb-btn img'); return i && i.complete && i.naturalWidth > 0; });
  await page.getByRole('button', { name: 'Zoom into the image' }).click();
  await page.waitForFunction(() => { const i = document.querySelector('img.zoomed'); return i && i.complete && i.naturalWidth > 0; });
  await page.getByRole('button', { name: 'Zoom in', exact: true }).click();
  await page.getByRole('dialog').getByText('150 %').waitFor();
  await shot('file-png');
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  await page.locator('.crumbs').getByRole('link', { name: 'Project X' }).click();
  noProblems();
});

step('sort, select several, rename, move and delete', async () => {
  await page.goto(projectUrl);
  await page.locator('table.files').getByRole('link', { name: 'rose.png' }).waitFor();
  const names = async () => page.locator('table.files tbody td.name a').allTextContents();
  assert.deepEqual(await names(), ['raw data', 'nci-first-200.sdf', 'rose.png']); // folders first, by name
  await page.getByRole('button', { name: /^Size/ }).click();
  await page.getByRole('button', { name: /^Size/ }).click(); // descending
  assert.deepEqual(await names(), ['raw data', 'nci-first-200.sdf', 'rose.png']);
  await page.getByRole('button', { name: /^Name/ }).click();
  await page.getByRole('button', { name: /^Name/ }).click(); // name, descending
  assert.deepEqual(await names(), ['raw data', 'rose.png', 'nci-first-200.sdf']);
  // a copy of the PNG to play with, renamed, moved into "raw data", then deleted
  await page.getByRole('checkbox', { name: 'Select rose.png' }).check();
  await page.getByRole('button', { name: 'Rename' }).click();
  await page.getByLabel('Name', { exact: true }).fill('rose-renamed.png');
  await page.getByRole('dialog').getByRole('button', { name: 'Rename' }).click();
  await page.locator('table.files').getByRole('link', { name: 'rose-renamed.png' }).waitFor();
  await page.getByRole('checkbox', { name: 'Select rose-renamed.png' }).check();
  await page.getByRole('button', { name: 'Move' }).click();
  const dlg = page.getByRole('dialog');
  await dlg.getByRole('button', { name: 'Expand Project X' }).click();
  await dlg.getByRole('button', { name: 'raw data', exact: true }).click();
  await dlg.getByRole('button', { name: 'Move here' }).click();
  await page.locator('table.files').getByRole('link', { name: 'rose-renamed.png' }).waitFor({ state: 'detached' });
  await page.locator('table.files').getByRole('link', { name: 'raw data' }).click();
  await page.locator('table.files').getByRole('link', { name: 'rose-renamed.png' }).waitFor();
  // select all (one file), delete with the keyboard
  await page.getByRole('checkbox', { name: 'Select all' }).check();
  await page.keyboard.press('Delete');
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await page.getByText('This folder is empty').waitFor();
  await page.locator('.crumbs').getByRole('link', { name: 'Project X' }).click();
  await page.locator('table.files').getByRole('link', { name: 'nci-first-200.sdf' }).waitFor();
  noProblems();
});

step('upload a whole folder: its structure is kept', async () => {
  await page.goto(projectUrl);
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'carboy-upload-'));
  const root = path.join(src, 'batch 7');
  fs.mkdirSync(path.join(root, 'plates', 'day 2'), { recursive: true });
  fs.writeFileSync(path.join(root, 'notes.txt'), 'plate reader export, batch 7\n');
  fs.writeFileSync(path.join(root, 'plates', 'hits.smi'), 'c1ccccc1O phenol\nCC(=O)Oc1ccccc1C(=O)O aspirin\n');
  fs.writeFileSync(path.join(root, 'plates', 'day 2', 'reads.csv'), 'well,od600\nA1,0.51\nA2,0.77\nA3,0.12\n');
  await page.getByTestId('dir-input').setInputFiles(root);
  const panel = page.getByRole('region', { name: 'Uploads' });
  for (const name of ['notes.txt', 'hits.smi', 'reads.csv'])
    await panel.locator(`li[data-name="${name}"] .badge`, { hasText: 'processed' }).waitFor({ timeout: 60000 });
  fs.rmSync(src, { recursive: true, force: true });
  const open = async (name) => page.locator('table.files').getByRole('link', { name, exact: true }).click();
  await open('batch 7');
  await page.locator('table.files').getByRole('link', { name: 'notes.txt' }).waitFor();
  await open('plates');
  await page.locator('table.files').getByRole('link', { name: 'hits.smi' }).waitFor();
  await open('day 2');
  await open('reads.csv');
  await page.getByRole('heading', { name: 'reads.csv', level: 1 }).waitFor();
  // the table preview, with a histogram of the numeric column
  await page.locator('table.data th', { hasText: 'od600' }).waitFor();
  await page.getByRole('img', { name: /Histogram of od600: 3 values from 0.12 to 0.77/ }).waitFor();
  await shot('file-csv');
  noProblems();
});

step('the SDF page shows its properties, records and depictions', async () => {
  await page.goto(projectUrl);
  await page.locator('table.files').getByRole('link', { name: 'nci-first-200.sdf' }).click();
  await page.getByRole('heading', { name: 'nci-first-200.sdf', level: 1 }).waitFor();
  sdfUrl = page.url();
  await page.getByRole('heading', { name: /Records/ }).waitFor();
  const records = page.locator('table.records tbody tr');
  await records.first().waitFor();
  assert.equal(await records.count(), 10);
  assert.match(await page.locator('.pager').textContent(), /1–10 of 200/);
  // depictions drawn by the server (the first draw of each is a job)
  const imgs = page.locator('table.records img');
  await page.waitForFunction(() => [...document.querySelectorAll('table.records img')].slice(0, 3)
    .every((i) => i.complete && i.naturalWidth > 0), null, { timeout: 120000 });
  assert.equal(await imgs.count(), 10);
  await page.waitForFunction(() => { const i = document.querySelector('.file-depict'); return i && i.complete && i.naturalWidth > 0; });
  await shot('file-sdf');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('.pager', { hasText: '11–20 of 200' }).waitFor();
  await page.getByRole('button', { name: 'Details of record 11' }).click();
  await page.getByRole('dialog').locator('table.props').first().waitFor();
  // the record's properties, with units and ontology links
  const dialog = page.getByRole('dialog');
  const mw = dialog.locator('tr', { has: page.getByRole('rowheader', { name: 'molecular_weight' }) });
  assert.match(await mw.locator('.unit').textContent(), /g\/mol/);
  const iri = await dialog.getByRole('link', { name: 'inchikey', exact: true }).getAttribute('href');
  assert.match(iri, /^http:\/\/semanticscience\.org\/resource\/CHEMINF_/);
  await page.waitForFunction(() => { const i = document.querySelector('img.big-depict'); return i && i.complete && i.naturalWidth > 0; });
  await shot('record');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  noProblems();
});

step('download a conversion', async () => {
  if (page.url() !== sdfUrl) await page.goto(sdfUrl);
  await page.getByLabel('Convert to').selectOption('smi');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download as smi' }).click()]);
  assert.equal(download.suggestedFilename(), 'nci-first-200.smi');
  const text = fs.readFileSync(await download.path(), 'utf8');
  const want = execFileSync('obabel', ['-isdf', SDF, '-osmi'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.equal(text.trim().split('\n').length, 200);
  assert.deepEqual(text.trim().split('\n').map((l) => l.split('\t')[0]), want.trim().split('\n').map((l) => l.split('\t')[0]));
  noProblems();
});

step('search by text, with a kind filter', async () => {
  await page.goto(projectUrl);
  await page.getByRole('link', { name: 'Search' }).click();
  await page.getByLabel('Search words').fill('fingerprint');
  await page.getByLabel('Kind', { exact: true }).selectOption('structure');
  await page.getByRole('button', { name: 'Search' }).click();
  const hits = page.locator('ol.hits li');
  await hits.first().waitFor();
  assert.ok(await hits.count() > 0);
  for (const t of await hits.locator('.hit-name').allTextContents()) assert.equal(t, 'nci-first-200.sdf');
  assert.ok(await page.locator('ol.hits mark').count() > 0, 'snippets mark the matches');
  await shot('search-text');
  // a property filter alone
  await page.getByLabel('Search words').fill('');
  await page.getByRole('button', { name: 'Add filter' }).click();
  await page.getByLabel('Property name').fill('molecular_weight');
  await page.getByLabel('Comparison').selectOption('gt');
  await page.getByLabel('Value').fill('500');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('p.muted', { hasText: /hits?/ }).waitFor();
  await hits.first().waitFor();
  noProblems();
});

step('search by substructure, SMILES typed or drawn', async () => {
  await page.getByRole('tab', { name: 'Structure' }).click();
  await page.getByLabel('SMILES').fill('C1=CC(=O)C=CC1=O'); // quinone
  await page.getByLabel('Mode').selectOption('substructure');
  await page.getByRole('button', { name: 'Search' }).click();
  const cards = page.locator('ul.struct-hits li');
  await cards.first().waitFor({ timeout: 120000 });
  const n = await cards.count();
  const want = execFileSync('obabel', ['-isdf', SDF, '-osmi', '-s', 'C1=CC(=O)C=CC1=O'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .trim().split('\n').filter(Boolean).length;
  assert.equal(n, want);
  await page.waitForFunction(() => { const i = document.querySelector('ul.struct-hits img'); return i && i.complete && i.naturalWidth > 0; }, null, { timeout: 60000 });
  await page.waitForTimeout(300);
  await shot('search-structure');
  // the molecule editor loads on demand; a benzene ring drawn in it becomes the query
  await page.getByRole('button', { name: 'Draw a structure' }).click();
  const editor = page.getByTestId('editor');
  await editor.locator('canvas').first().waitFor();
  await page.getByLabel('SMILES').fill('');
  const box = await editor.boundingBox();
  await page.mouse.click(box.x + 34, box.y + 202); // the toolbar's benzene tool
  await page.mouse.click(box.x + 380, box.y + 190); // dropped on the drawing area
  await page.waitForFunction(() => /^(c1ccccc1|C1=CC=CC=C1)$/i.test(document.getElementById('smiles').value));
  await page.getByRole('button', { name: 'Search' }).click();
  // 140 of the SDF's molecules and both of hits.smi have a benzene ring: the total, and a
  // full first page of 50
  const summary = page.locator('p.muted', { hasText: /^142 hits for .* · showing 1–50$/ });
  await summary.waitFor({ timeout: 120000 });
  assert.match(await summary.locator('code').textContent(), /^(c1ccccc1|C1=CC=CC=C1)$/i);
  await shot('search-drawn');
  noProblems();
});

step('share the folder with the second user, and a link', async () => {
  await page.goto(base + '/');
  await page.getByRole('checkbox', { name: 'Select Project X' }).check();
  await page.getByRole('button', { name: 'Share' }).click();
  const dlg = page.getByRole('dialog');
  await dlg.getByLabel('User name').fill('bob');
  await dlg.getByLabel('Role').selectOption('viewer');
  await dlg.getByRole('button', { name: 'Share', exact: true }).click();
  await dlg.locator('.plain-list li', { hasText: 'bob' }).waitFor();
  await dlg.getByLabel('Grant to').selectOption('group');
  await dlg.getByLabel('Group name').fill('no-such-group');
  await dlg.getByRole('button', { name: 'Share', exact: true }).click();
  await dlg.getByRole('alert').filter({ hasText: "no group named 'no-such-group'" }).waitFor();
  assert.ok(problems.splice(0).every((m) => m.includes('status of 400'))); // the refused grant
  await dlg.getByRole('button', { name: 'Create link' }).click();
  const url = await dlg.getByLabel('New link (shown once)').inputValue();
  assert.match(url, new RegExp('^' + base + '/s/'));
  await dlg.getByRole('button', { name: 'Copy' }).click();
  await dlg.getByRole('button', { name: 'Copied' }).waitFor();
  await shot('share');
  const shared = await (await fetch(url)).json(); // the link works without signing in
  assert.equal(shared.name, 'Project X');
  await dlg.getByRole('button', { name: 'Done' }).click();
  noProblems();
});

step('the second user sees what was shared', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to carboy' }).waitFor();
  await signIn('bob', BOB_PASSWORD);
  const link = page.locator('table.files').getByRole('link', { name: 'Project X' });
  await link.waitFor();
  assert.match(await page.locator('table.files tr', { has: page.getByRole('link', { name: 'Project X' }) }).textContent(), /shared by admin/);
  await link.click();
  await page.locator('table.files').getByRole('link', { name: 'nci-first-200.sdf' }).click();
  await page.getByRole('heading', { name: 'nci-first-200.sdf', level: 1 }).waitFor();
  await page.locator('table.records tbody tr').first().waitFor();
  assert.equal(await page.getByRole('link', { name: 'Admin' }).count(), 0);
  noProblems();
});

step('jobs page: progress, cancel and retry', async () => {
  await page.goto(base + '/');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn('admin', ADMIN_PASSWORD);
  // a file that fails its ingest, and a long job to cancel (through the API, as the cookie's user)
  const csrf = { 'X-Carboy-CSRF': '1' };
  const folderId = projectUrl.split('/').pop();
  const bad = await page.request.put(`${base}/api/v1/folders/${folderId}/files/broken.sdf`, { data: 'not a molecule\n', headers: csrf });
  assert.equal(bad.status(), 201);
  const slow = await page.request.post(`${base}/api/v1/jobs`, { data: { type: 'noop', inputs: [], params: { ms: 120000 } }, headers: csrf });
  assert.equal(slow.status(), 202, await slow.text());
  await page.getByRole('link', { name: 'Jobs' }).click();
  const row = (state, type) => page.locator(`table.jobs tr[data-state="${state}"]`, { hasText: type });
  await row('running', 'noop').waitFor({ timeout: 60000 });
  await row('failed', 'ingest').waitFor({ timeout: 60000 }); // live, from the event stream
  assert.ok(await row('succeeded', 'ingest').count() >= 5);
  assert.equal(await page.locator('table.jobs tbody tr', { hasText: 'depict' }).count(), 0);
  await shot('jobs');
  await row('running', 'noop').getByRole('button', { name: 'Cancel' }).click();
  await row('canceled', 'noop').waitFor();
  assert.ok(await row('failed', 'ingest').getByRole('button', { name: 'Retry' }).count() === 1);
  // retry the canceled one: it runs again (seen live), and is canceled again
  await row('canceled', 'noop').getByRole('button', { name: 'Retry' }).click();
  await row('running', 'noop').waitFor({ timeout: 60000 });
  await row('running', 'noop').getByRole('button', { name: 'Cancel' }).click();
  await row('canceled', 'noop').waitFor();
  // an administrator asks the server for the depictions' jobs, hidden from every list else
  await page.getByLabel('Show drawing helpers').check();
  await page.locator('table.jobs tbody tr', { hasText: 'depict' }).first().waitFor({ timeout: 10000 });
  noProblems();
});

step('a laptop screen and a narrow window', async () => {
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.getByRole('link', { name: 'Files' }).click();
  await page.locator('table.files').getByRole('link', { name: 'Project X' }).click();
  await page.locator('table.files').getByRole('link', { name: 'nci-first-200.sdf' }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px at 1280 px`);
  await page.setViewportSize({ width: 800, height: 700 });
  const narrow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(narrow <= 0, `the page scrolls sideways by ${narrow} px at 800 px`);
  noProblems();
});
