// Browser tests of the viewers (issue 21), in the harness of harness.mjs: the real carboy
// binary on a free loopback port with a temporary data folder, driven in Debian's headless
// Chromium (WebGL through its SwiftShader) by playwright-core. Real files from Debian's
// packages: rdkit-data's cdk2.sdf (47 ligands with 3-D coordinates) and NCI
// first_200.props.sdf (200 flat molecules), its 5dpv.pdb (a protein with a ligand),
// pyobjcryst's paracetamol.cif (a crystal) and xlsx2csv's sheets_order.xlsx (four sheets).
// - 3-D: a canvas drawn by 3Dmol.js from a chunk loaded only on pages with coordinates;
//   the atoms shown are the file's (counted here from its text), the style switch, the keys,
//   a record picked in the records table; the protein as cartoon; the crystal's unit cell
//   box and its filled cell (the atoms the API says the filled cell has); without WebGL a
//   message, no error.
// - Sheets: a tab per sheet (role tablist, arrow keys), each a table with histograms.
// - Lists: the records table's page size, sort (aria-sort) and filter against the API;
//   structure search's total and pages; property search hits with their matched values.
// Every page: no console error, axe-core finds no serious or critical violation, and the
// layout holds at 800 px wide. Screenshots go to CARBOY_SCREENSHOTS.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  start, stop, step, watch, shot, noProblems, accessible, axeClean, chromium, CHROMIUM, CSRF, base, context, page,
} from './harness.mjs';

const ADMIN_PASSWORD = 'browser-pass-1';
const INPUTS = {
  cdk2: '/usr/share/RDKit/Contrib/Fastcluster/testdata/cdk2.sdf',
  nci: '/usr/share/RDKit/Data/NCI/first_200.props.sdf',
  pdb: '/usr/share/RDKit/Contrib/CalcLigRMSD/data/5dpv.pdb',
  cif: '/usr/lib/python3/dist-packages/pyobjcryst/tests/testdata/paracetamol.cif',
  xlsx: '/usr/share/doc/xlsx2csv/examples/test/sheets_order.xlsx',
};
const LAUNCH = ['--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--enable-unsafe-swiftshader'];

const ids = {}; // file ids by INPUTS key
const chunks = []; // the 3-D viewer's chunk as fetched, with the page that fetched it

// The atoms of the n-th record of an SDF (V2000 counts line), read here from the file.
function sdfAtoms(file, n) {
  const rec = fs.readFileSync(file, 'utf8').split(/^\$\$\$\$\r?\n/m)[n];
  return parseInt(rec.split('\n')[3].slice(0, 3), 10);
}

// What the 3-D stage has drawn: several colours on its canvas (copied onto a 2-D one).
async function canvasColours() {
  return page.evaluate(() => {
    const c = document.querySelector('.v3d-stage canvas');
    if (!c || !c.width || !c.height) return 0;
    const d = document.createElement('canvas');
    d.width = c.width;
    d.height = c.height;
    const g = d.getContext('2d');
    g.drawImage(c, 0, 0);
    const px = g.getImageData(0, 0, d.width, d.height).data;
    const seen = new Set();
    for (let i = 0; i < px.length; i += 4 * 37) seen.add(`${px[i] >> 4},${px[i + 1] >> 4},${px[i + 2] >> 4}`);
    return seen.size;
  });
}

async function open(key, heading) {
  await page.goto(`${base}/files/${ids[key]}`);
  await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
}

async function drawnStage() {
  const stage = page.locator('.v3d-stage[data-drawn="true"]');
  await stage.waitFor({ timeout: 30000 });
  await page.locator('.v3d-stage canvas').waitFor();
  return stage;
}

before(async () => {
  await start({
    name: 'viewers', adminPassword: ADMIN_PASSWORD, needs: Object.values(INPUTS), args: LAUNCH,
    contextOptions: { viewport: { width: 1280, height: 900 } },
    onPage: (p) => p.on('response', (res) => { if (/\/assets\/viewer3d-[^/]+\.js$/.test(res.url())) chunks.push({ status: res.status(), from: p.url() }); }),
  });
  // signed in as the admin (the cookie of this context); the files uploaded through the API
  const login = await page.request.post(`${base}/api/v1/auth/login`, { data: { username: 'admin', password: ADMIN_PASSWORD } });
  assert.equal(login.status(), 200, await login.text());
  const f = await page.request.post(`${base}/api/v1/folders`, { data: { name: 'viewers' }, headers: CSRF });
  assert.equal(f.status(), 201, await f.text());
  const folder = (await f.json()).id;
  for (const [key, file] of Object.entries(INPUTS)) {
    const up = await page.request.put(`${base}/api/v1/folders/${folder}/files/${path.basename(file)}`,
      { data: fs.readFileSync(file), headers: CSRF });
    assert.equal(up.status(), 201, await up.text());
    ids[key] = (await up.json()).id;
  }
  const deadline = Date.now() + 180000;
  for (const [key, id] of Object.entries(ids)) {
    for (;;) {
      const meta = await (await page.request.get(`${base}/api/v1/files/${id}`)).json();
      if (meta.status === 'processed') break;
      assert.notEqual(meta.status, 'failed', `${key}: ${meta.error}`);
      assert.ok(Date.now() < deadline, `${key} still ${meta.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

after(stop);

step('a flat SDF has no 3-D view, and the viewer is not loaded for it', async () => {
  await open('nci', 'first_200.props.sdf');
  await page.locator('table.records tbody tr').first().waitFor();
  assert.equal(await page.locator('#v3d-h').count(), 0);
  assert.deepEqual(chunks, [], 'the 3-D viewer was loaded on a page without coordinates');
  noProblems();
});

step('a 3-D SDF: drawn, styles, keys, and a record picked from the table', async () => {
  await open('cdk2', 'cdk2.sdf');
  const stage = await drawnStage();
  assert.ok(chunks.length === 1 && chunks[0].status === 200, JSON.stringify(chunks));
  assert.equal(Number(await stage.getAttribute('data-atoms')), sdfAtoms(INPUTS.cdk2, 0));
  assert.ok((await canvasColours()) > 3, 'the 3-D canvas is blank');
  assert.match(await stage.getAttribute('aria-label'), /^3-D view of cdk2\.sdf: drag or use the arrow keys to rotate/);
  assert.match(await page.locator('#v3d-h').textContent(), /record 1 of 47/);
  // styles: stick (the default), ball and stick, sphere; no cartoon for a small molecule
  const styleBox = page.getByLabel('Style');
  assert.deepEqual(await styleBox.locator('option').allTextContents(), ['Stick', 'Ball and stick', 'Sphere']);
  assert.equal(await stage.getAttribute('data-style'), 'stick');
  await styleBox.selectOption('sphere');
  assert.equal(await stage.getAttribute('data-style'), 'sphere');
  // the keyboard turns the molecule: the picture changes
  const before = await page.evaluate(() => document.querySelector('.v3d-stage canvas').toDataURL());
  await stage.focus();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction((b) => document.querySelector('.v3d-stage canvas').toDataURL() !== b, before);
  await page.getByRole('button', { name: 'Reset view' }).click();
  // record 5 from the records table's dialog
  await page.getByRole('button', { name: 'Details of record 5', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Show in 3-D' }).click();
  await page.locator('#v3d-h', { hasText: 'record 5 of 47' }).waitFor();
  const again = await drawnStage();
  assert.equal(Number(await again.getAttribute('data-atoms')), sdfAtoms(INPUTS.cdk2, 4));
  await page.locator('.v3d-card').evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await shot('viewer-3d');
  await accessible('a 3-D SDF');
  noProblems();
});

step('a protein (PDB) as cartoon with its ligand', async () => {
  await open('pdb', '5dpv.pdb');
  const stage = await drawnStage();
  assert.equal(await stage.getAttribute('data-style'), 'cartoon');
  assert.deepEqual(await page.getByLabel('Style').locator('option').allTextContents(), ['Stick', 'Ball and stick', 'Sphere', 'Cartoon']);
  // every atom of the file, an atom with alternate locations at its first (as 3Dmol.js reads them)
  const atoms = fs.readFileSync(INPUTS.pdb, 'utf8').split('\n').filter((l) => /^(ATOM|HETATM)/.test(l) && ' A'.includes(l[16])).length;
  assert.equal(Number(await stage.getAttribute('data-atoms')), atoms);
  assert.ok((await canvasColours()) > 3, 'the cartoon is blank');
  noProblems();
});

step('a crystal: its unit cell, then the filled cell the API makes', async () => {
  await open('cif', 'paracetamol.cif');
  const stage = await drawnStage();
  assert.equal(await stage.getAttribute('data-style'), 'ballstick');
  const asym = Number(await stage.getAttribute('data-atoms'));
  const recs = await (await page.request.get(`${base}/api/v1/files/${ids.cif}/records`)).json();
  const prop = (n) => recs.records[0].properties.find((p) => p.name === n).value;
  const toggle = page.getByLabel('Filled unit cell');
  assert.equal(await toggle.isChecked(), false);
  await toggle.check();
  await page.locator('.v3d-stage[data-filled="true"]').waitFor();
  await page.locator('.v3d-tools', { hasText: 'in the filled cell' }).waitFor();
  const filled = Number(await stage.getAttribute('data-atoms'));
  assert.equal(filled, prop('filled_cell_atoms'));
  assert.ok(filled > asym, `${filled} atoms filled, ${asym} in the asymmetric unit`);
  assert.ok((await canvasColours()) > 3);
  await page.locator('.v3d-card').evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await shot('viewer-crystal');
  await accessible('a crystal');
  await toggle.uncheck();
  await page.locator('.v3d-stage[data-filled="false"]').waitFor();
  await page.locator('.v3d-tools', { hasText: `${asym} atoms` }).waitFor();
  noProblems();
});

step('a workbook: a tab per sheet, each a table with histograms', async () => {
  await open('xlsx', 'sheets_order.xlsx');
  const tabs = page.getByRole('tablist', { name: 'Sheets of sheets_order.xlsx' });
  await tabs.waitFor();
  assert.deepEqual(await tabs.getByRole('tab').allTextContents(), ['b', 'e', 'd', 'a']);
  assert.equal(await tabs.getByRole('tab', { name: 'b' }).getAttribute('aria-selected'), 'true');
  const panel = page.getByRole('tabpanel');
  assert.deepEqual(await panel.locator('thead th').allTextContents(), ['xinteger', 'yinteger']);
  // the histograms are over every row of the sheet (xlsx2csv's reading of it), not the 20 shown
  const rows = execFileSync('xlsx2csv', ['-n', 'b', INPUTS.xlsx], { encoding: 'utf8' }).trim().split('\n').slice(1)
    .map((l) => l.split(',').map(Number));
  assert.ok(rows.length > 20);
  for (const [i, c] of [[0, 'x'], [1, 'y']]) {
    const v = rows.map((r) => r[i]);
    await panel.getByRole('img', { name: `Histogram of ${c}: ${v.length} values from ${Math.min(...v)} to ${Math.max(...v)}` }).waitFor();
  }
  // the arrow keys go to the next sheet: another table
  await tabs.getByRole('tab', { name: 'b' }).focus();
  await page.keyboard.press('ArrowRight');
  const e = tabs.getByRole('tab', { name: 'e' });
  assert.equal(await e.getAttribute('aria-selected'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'e');
  await panel.locator('tbody', { hasText: 'EEEE' }).waitFor();
  assert.equal(await panel.getByRole('img').count(), 0, 'a sheet of text has no histograms');
  await page.keyboard.press('End');
  assert.equal(await tabs.getByRole('tab', { name: 'a' }).getAttribute('aria-selected'), 'true');
  await tabs.getByRole('tab', { name: 'b' }).click();
  await panel.getByRole('img', { name: /^Histogram of x/ }).waitFor();
  await page.locator('#prev-h').evaluate((el) => el.closest('section').scrollIntoView({ block: 'start' }));
  await shot('sheets');
  await accessible('a workbook');
  noProblems();
});

// The records table's column of molecular weights, as numbers.
async function weights() {
  const texts = await page.locator('table.records tbody tr td:last-child').allTextContents();
  return texts.map(Number);
}

step('the records table: page size, sort both ways across pages, filter', async () => {
  await open('nci', 'first_200.props.sdf');
  const status = page.locator('#rec-status');
  await status.filter({ hasText: '1–10 of 200' }).waitFor();
  await page.getByLabel('Rows per page').selectOption('25');
  await status.filter({ hasText: '1–25 of 200' }).waitFor();
  assert.equal(await page.locator('table.records tbody tr').count(), 25);
  assert.equal(await page.locator('th', { has: page.locator('[data-sort="index"]') }).getAttribute('aria-sort'), 'ascending');
  // sort by molecular weight: ascending, then descending, on the server (across pages)
  const mwHeader = page.locator('th', { has: page.locator('[data-sort="molecular_weight"]') });
  await mwHeader.getByRole('button').click();
  await page.waitForFunction(() => document.querySelector('th[aria-sort="ascending"] [data-sort="molecular_weight"]'));
  await page.locator('table.records tbody tr').first().waitFor();
  let w = await weights();
  const api = await (await page.request.get(`${base}/api/v1/files/${ids.nci}/records?limit=200`)).json();
  const all = api.records.map((r) => r.properties.find((p) => p.name === 'molecular_weight').value).sort((a, b) => a - b);
  await page.waitForFunction((first) => Number(document.querySelector('table.records tbody tr td:last-child').textContent) === first,
    Number(Number(all[0]).toPrecision(5)));
  w = await weights();
  assert.deepEqual(w, [...w].sort((a, b) => a - b));
  await mwHeader.getByRole('button').click();
  assert.equal(await mwHeader.getAttribute('aria-sort'), 'descending');
  await page.waitForFunction((first) => Number(document.querySelector('table.records tbody tr td:last-child').textContent) === first,
    Number(Number(all[all.length - 1]).toPrecision(5)));
  const page1 = await weights();
  assert.deepEqual(page1, [...page1].sort((a, b) => b - a));
  await page.getByRole('button', { name: 'Next' }).click();
  await status.filter({ hasText: '26–50 of 200' }).waitFor();
  const page2 = await weights();
  assert.deepEqual(page2, [...page2].sort((a, b) => b - a));
  assert.ok(page2[0] <= page1[page1.length - 1], 'page 2 goes on from page 1');
  await page.locator('#rec-h').evaluate((el) => el.closest('section').scrollIntoView({ block: 'start' }));
  await shot('records-table');
  await page.getByRole('button', { name: 'Previous' }).click();
  await status.filter({ hasText: '1–25 of 200' }).waitFor();
  // the filter: what the API finds for the same text
  const want = (await (await page.request.get(`${base}/api/v1/files/${ids.nci}/records?q=Cl&limit=1`)).json()).total;
  assert.ok(want > 0 && want < 200);
  await page.getByLabel('Filter').fill('Cl');
  await status.filter({ hasText: `of ${want} matching “Cl”` }).waitFor();
  await accessible('the records table');
  noProblems();
});

step('structure search: the total, and pages through it', async () => {
  await page.goto(`${base}/search?smiles=c1ccccc1`);
  await page.getByRole('tab', { name: 'Structure' }).waitFor();
  const want = await (await page.request.get(`${base}/api/v1/search/structure?smiles=c1ccccc1&mode=substructure&limit=1`)).json();
  assert.ok(want.total > 50, `only ${want.total} hits`);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  const total = page.locator('.struct-total');
  await total.filter({ hasText: `${want.total} hits` }).waitFor();
  await total.filter({ hasText: 'showing 1–50' }).waitFor();
  const first = await page.locator('.struct-hits li').first().textContent();
  await page.getByRole('button', { name: 'Next' }).click();
  await total.filter({ hasText: 'showing 51–' }).waitFor();
  assert.notEqual(await page.locator('.struct-hits li').first().textContent(), first);
  await page.getByRole('button', { name: 'Previous' }).click();
  await total.filter({ hasText: 'showing 1–50' }).waitFor();
  assert.equal(await page.locator('.struct-hits li').first().textContent(), first);
  await accessible('structure search');
  noProblems();
});

step('property search: hits show the values their filters matched', async () => {
  await page.goto(`${base}/search?where=${encodeURIComponent('AMW:gt:600')}&kind=structure`);
  const hits = page.locator('ol.hits > li');
  await hits.first().waitFor();
  const api = await (await page.request.get(`${base}/api/v1/search?where=${encodeURIComponent('AMW:gt:600')}&kind=structure&records=all&limit=1`)).json();
  assert.ok(api.hits.length > 0);
  const n = await hits.count();
  for (let i = 0; i < n; i++) {
    const m = hits.nth(i).getByRole('list', { name: 'Matched properties' });
    assert.equal(await m.locator('.m-name').first().textContent(), 'AMW');
    assert.ok(Number(await m.locator('.m-value').first().textContent()) > 600);
  }
  await axeClean('property search');
  noProblems();
});

step('without WebGL: a message instead of the viewer, and no error', async () => {
  // no GPU and no software rasterizer: no WebGL context of any kind (an OffscreenCanvas's included)
  const b = await chromium.launch({ executablePath: CHROMIUM, args: [...LAUNCH.filter((a) => a !== '--enable-unsafe-swiftshader'), '--disable-gpu', '--disable-software-rasterizer'] });
  try {
    const ctx = await b.newContext({ viewport: { width: 1280, height: 900 }, storageState: await context.storageState() });
    const p = await ctx.newPage();
    watch(p);
    const seen = chunks.length;
    await p.goto(`${base}/files/${ids.cdk2}`);
    await p.getByRole('heading', { name: 'cdk2.sdf', level: 1 }).waitFor();
    await p.getByText('This browser cannot draw in 3-D').waitFor();
    assert.equal(await p.locator('.v3d-stage').count(), 0);
    assert.equal(chunks.length, seen, 'the viewer was loaded without WebGL');
    noProblems();
  } finally {
    await b.close();
  }
});
