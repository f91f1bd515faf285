// Browser tests of stacks and long documents (issue 21), in the harness of harness.mjs (the
// real carboy binary on a free loopback port, Debian's headless Chromium driven by
// playwright-core). A three-page TIFF (Go's test images stacked with tiffcp: 150 x 103
// grey, 150 x 100 RGB, 153 x 55 black and white) shows its pages through the slider and
// the Previous/Next buttons: each move changes the image's address to that page's preview
// and the page that loads has that page's size. libtasn1-doc's 36-page manual shows its
// first 8 pages as thumbnails that load, and one opens larger in a dialog. axe-core finds
// no serious or critical violation on either page (the dialog open), which hold their
// layout at 800 px wide; no console error anywhere. Screenshots (tiff-pages.png,
// pdf-pages.png) go to CARBOY_SCREENSHOTS (default build-results/screenshots).
//
//   node --test tests/browser/pages.test.mjs   (CARBOY_BIN picks the binary, default build/carboy)
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { start, stop, step, shot, noProblems, signIn, accessible, CSRF, base, data, page } from './harness.mjs';

const ADMIN_PASSWORD = 'pages-admin-pass-1';
const GO = '/usr/share/gocode/src/golang.org/x/image/testdata/';
const FRAMES = ['video-001-gray.tiff', 'blue-purple-pink.lzwcompressed.tiff', 'bw-uncompressed.tiff'].map((f) => GO + f);
const SIZES = [[150, 103], [150, 100], [153, 55]]; // of each frame, as its preview draws it
const PDF = '/usr/share/doc/libtasn1-doc/libtasn1.pdf'; // 36 pages

const ids = {};

// The image that shows page n of the stack, once loaded: its address and natural size.
async function stackPage(n) {
  const img = page.getByRole('img', { name: `Page ${n} of stack.tif` });
  await img.waitFor();
  await page.waitForFunction((alt) => {
    const i = document.querySelector(`img[alt="${alt}"]`);
    return i && i.complete && i.naturalWidth > 0 && i.dataset.state === 'loaded';
  }, `Page ${n} of stack.tif`, { timeout: 60000 });
  return img.evaluate((i) => ({ src: i.getAttribute('src'), size: [i.naturalWidth, i.naturalHeight] }));
}

async function waitProcessed(id) {
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline) {
    const f = await (await page.request.get(`${base}/api/v1/files/${id}`)).json();
    if (f.status === 'processed') return f;
    assert.notEqual(f.status, 'failed', f.error);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${id} was not processed`);
}

before(async () => {
  await start({ name: 'pages', adminPassword: ADMIN_PASSWORD, needs: [PDF, ...FRAMES],
    contextOptions: { viewport: { width: 1366, height: 800 } } });
  execFileSync('tiffcp', [...FRAMES, path.join(data, 'stack.tif')]);
});
after(stop);

step('sign in and upload a TIFF stack and a long PDF', async () => {
  await signIn('admin', ADMIN_PASSWORD);
  // through the API as the cookie's user (ui.test.mjs covers uploads through the UI)
  const f = await page.request.post(`${base}/api/v1/folders`, { data: { name: 'Pages' }, headers: CSRF });
  assert.equal(f.status(), 201, await f.text());
  const folder = (await f.json()).id;
  for (const [key, name, file] of [['tiff', 'stack.tif', path.join(data, 'stack.tif')], ['pdf', 'libtasn1.pdf', PDF]]) {
    const up = await page.request.put(`${base}/api/v1/folders/${folder}/files/${name}`, { data: fs.readFileSync(file), headers: CSRF });
    assert.equal(up.status(), 201, await up.text());
    ids[key] = (await up.json()).id;
  }
  const tiff = await waitProcessed(ids.tiff);
  assert.equal(tiff.properties.find((p) => p.name === 'pages').value, 3);
  await waitProcessed(ids.pdf);
  noProblems();
});

step('the slider and Previous/Next move through the TIFF\'s pages', async () => {
  await page.goto(`${base}/files/${ids.tiff}`);
  await page.getByRole('heading', { name: 'stack.tif', level: 1 }).waitFor();
  const slider = page.getByRole('slider', { name: 'Page' });
  const prev = page.getByRole('button', { name: 'Previous' });
  const next = page.getByRole('button', { name: 'Next' });
  assert.equal(await slider.getAttribute('max'), '3');
  const one = await stackPage(1);
  assert.match(one.src, new RegExp(`/api/v1/files/${ids.tiff}/preview$`));
  assert.deepEqual(one.size, SIZES[0]);
  assert.ok(await prev.isDisabled());
  // Next: page 2's preview, drawn by the server on this first request
  await next.click();
  const two = await stackPage(2);
  assert.match(two.src, /\/preview\?page=2$/);
  assert.deepEqual(two.size, SIZES[1]);
  assert.equal(await slider.inputValue(), '2');
  assert.match(await page.locator('.page-controls output').textContent(), /^2 \/ 3$/);
  // the slider, by keyboard: to the last page
  await slider.focus();
  await page.keyboard.press('End');
  const three = await stackPage(3);
  assert.match(three.src, /\/preview\?page=3$/);
  assert.deepEqual(three.size, SIZES[2]);
  assert.equal(await slider.getAttribute('aria-valuetext'), 'Page 3 of 3');
  assert.ok(await next.isDisabled());
  // and back with Previous
  await prev.click();
  assert.deepEqual((await stackPage(2)).size, SIZES[1]);
  await shot('tiff-pages');
  await accessible('a TIFF stack\'s page');
  noProblems();
});

step('a PDF\'s first pages as thumbnails, one shown larger', async () => {
  await page.goto(`${base}/files/${ids.pdf}`);
  await page.getByRole('heading', { name: 'libtasn1.pdf', level: 1 }).waitFor();
  const thumbs = page.locator('ul.page-thumbs img');
  await thumbs.first().waitFor();
  assert.deepEqual(await thumbs.evaluateAll((is) => is.map((i) => i.alt)),
    ['Page 1', 'Page 2', 'Page 3', 'Page 4', 'Page 5', 'Page 6', 'Page 7', 'Page 8']);
  assert.deepEqual(await thumbs.evaluateAll((is) => is.map((i) => i.loading)), Array(8).fill('lazy'));
  assert.match(await page.locator('.pdf-pages').textContent(), /The first 8 of 36 pages/);
  await page.locator('ul.page-thumbs').scrollIntoViewIfNeeded();
  await page.waitForFunction(() => [...document.querySelectorAll('ul.page-thumbs img')]
    .every((i) => i.complete && i.naturalWidth > 0), null, { timeout: 120000 });
  // each a page of its own: eight different pictures
  const srcs = await thumbs.evaluateAll((is) => is.map((i) => i.getAttribute('src')));
  assert.match(srcs[0], /\/preview$/);
  srcs.slice(1).forEach((s, i) => assert.match(s, new RegExp(`/preview\\?page=${i + 2}$`)));
  const bodies = await Promise.all(srcs.map(async (s) => (await page.request.get(base + s)).body()));
  assert.equal(new Set(bodies.map((b) => b.toString('base64'))).size, 8);
  await page.getByRole('button', { name: 'Show page 3 larger' }).click();
  const dlg = page.getByRole('dialog', { name: 'Page 3 of libtasn1.pdf' });
  await dlg.waitFor();
  await page.waitForFunction(() => { const i = document.querySelector('dialog img.page-large'); return i && i.complete && i.naturalWidth > 0; });
  assert.match(await dlg.locator('img.page-large').getAttribute('src'), /\/preview\?page=3$/);
  const shown = await dlg.locator('img.page-large').evaluate((i) => i.getBoundingClientRect().width);
  const small = await thumbs.nth(2).evaluate((i) => i.getBoundingClientRect().width);
  assert.ok(shown > 2 * small, `the page is shown larger (${shown} px against ${small})`);
  await shot('pdf-pages');
  await accessible('a PDF\'s page with a page open');
  await dlg.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('dialog', { name: 'Page 4 of libtasn1.pdf' }).waitFor();
  await page.waitForFunction(() => { const i = document.querySelector('dialog img.page-large'); return i && i.complete && i.naturalWidth > 0 && /page=4$/.test(i.src); });
  await page.getByRole('button', { name: 'Close' }).click();
  await dlg.waitFor({ state: 'detached' });
  noProblems();
});
