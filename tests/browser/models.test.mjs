// Browser tests of the models' UI (issue 20), in the harness of harness.mjs: the real
// carboy binary on a free loopback port with a temporary data folder, driven in Debian's
// headless Chromium by playwright-core. Upload RDKit's bzr.sdf (163 benzodiazepine
// receptor ligands, SD field ACTIVITY), train a regression from the file's page through
// the "Train a model" dialog (a bad field first: the API's 400 shown beside it), read the
// report (metrics, predicted against observed), predict for typed and drawn SMILES; train
// a classifier (ACTIVITY >= 7) and see its confusion matrix and ROC curve; predict for the
// file as a job; go from the model's bundle file to its page. The plotting library
// (Chart.js) must load only on a model's page, in a chunk of its own that the server
// serves. No console errors are allowed on any page. Screenshots go to CARBOY_SCREENSHOTS
// (default build-results/screenshots).
//
//   node --test tests/browser/*.test.mjs   (CARBOY_BIN picks the binary, default build/carboy)
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { start, stop, step, shot, noProblems, signIn, problems, CSRF, base, page } from './harness.mjs';

const ADMIN_PASSWORD = 'browser-pass-1';
const SDF = '/usr/share/RDKit/Projects/DbCLI/testData/bzr.sdf'; // 163 molecules, SD field ACTIVITY

let folderId, sdfId, sdfUrl, regressionUrl, classifierUrl;
const plotChunks = []; // responses for the plotting library's chunk

// A canvas with something drawn on it (not all transparent or all one colour).
async function drawn(selector) {
  await page.locator(selector + '[data-drawn="true"]').waitFor({ timeout: 20000 });
  return page.evaluate((sel) => {
    const c = document.querySelector(sel);
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < px.length; i += 4 * 97) if (px[i + 3]) seen.add(`${px[i]},${px[i + 1]},${px[i + 2]}`);
    return c.width > 100 && c.height > 100 && seen.size > 3;
  }, selector);
}

// Fills and submits the training dialog of the file's page.
async function trainThroughDialog({ name, task, threshold, testFraction }) {
  await page.getByRole('button', { name: 'Train a model' }).click();
  const dlg = page.getByRole('dialog', { name: /Train a model on bzr\.sdf/ });
  await dlg.getByLabel('Target').waitFor();
  assert.equal(await dlg.getByLabel('Target').inputValue(), 'ACTIVITY');
  await dlg.getByLabel('Name').fill(name);
  if (task) await dlg.getByLabel('Task').selectOption(task);
  if (threshold != null) await dlg.getByLabel('Threshold (optional)').fill(String(threshold));
  await dlg.getByLabel('Method').selectOption('xgboost');
  if (testFraction != null) await dlg.getByLabel('Test fraction').fill(String(testFraction));
  return dlg;
}

before(() => start({
  name: 'models', adminPassword: ADMIN_PASSWORD, needs: [SDF],
  onPage: (p) => p.on('response', (res) => { if (/\/assets\/plot-[^/]+\.js$/.test(res.url())) plotChunks.push({ url: res.url(), status: res.status(), from: p.url() }); }),
}));
after(stop);

step('sign in, upload bzr.sdf and open its page', async () => {
  await signIn('admin', ADMIN_PASSWORD);
  // the folder and the upload through the API, as the cookie's user (ui.test.mjs covers the UI's)
  const f = await page.request.post(`${base}/api/v1/folders`, { data: { name: 'QSAR' }, headers: CSRF });
  assert.equal(f.status(), 201, await f.text());
  folderId = (await f.json()).id;
  const up = await page.request.put(`${base}/api/v1/folders/${folderId}/files/bzr.sdf`, { data: fs.readFileSync(SDF), headers: CSRF });
  assert.equal(up.status(), 201, await up.text());
  sdfId = (await up.json()).id;
  await page.goto(`${base}/folders/${folderId}`);
  const row = page.locator('table.files tr', { has: page.getByRole('link', { name: 'bzr.sdf', exact: true }) });
  await row.locator('.badge', { hasText: 'processed' }).waitFor({ timeout: 120000 });
  await row.getByRole('link', { name: 'bzr.sdf', exact: true }).click();
  await page.getByRole('heading', { name: 'bzr.sdf', level: 1 }).waitFor();
  sdfUrl = page.url();
  assert.match(await page.locator('.pager').textContent(), /of 163/);
  assert.equal(plotChunks.length, 0, 'the plotting library loaded outside a model page');
  noProblems();
});

step('train a regression through the dialog: a bad field first, then the report', async () => {
  const dlg = await trainThroughDialog({ name: 'bzr-activity', testFraction: 0.2 });
  // the target select lists the SD field, not what carboy computes itself
  const targets = await dlg.getByLabel('Target').locator('option').allTextContents();
  assert.deepEqual(targets, ['ACTIVITY']);
  // a bad field: the API's 400 detail appears beside it
  await dlg.getByLabel('Folds').fill('1');
  await dlg.getByRole('button', { name: 'Train', exact: true }).click();
  const folds = dlg.getByLabel('Folds');
  await dlg.locator('#err-tm-folds', { hasText: 'validation.folds must be a whole number from 2 to 10' }).waitFor();
  assert.equal(await folds.getAttribute('aria-invalid'), 'true');
  assert.equal(await folds.getAttribute('aria-describedby'), 'err-tm-folds');
  assert.ok(problems.splice(0).every((m) => m.includes('status of 400'))); // the refused request
  await shot('model-train');
  await folds.fill('5'); // corrected: the message goes
  await dlg.locator('#err-tm-folds').waitFor({ state: 'detached' });
  assert.equal(await folds.getAttribute('aria-invalid'), null);
  await dlg.getByRole('group', { name: 'Descriptors' }).getByLabel('logP').check();
  await dlg.getByRole('button', { name: 'Train', exact: true }).click();
  await page.waitForURL(/\/models\/[^/]+$/);
  regressionUrl = page.url();
  await page.getByRole('heading', { name: 'bzr-activity', level: 1 }).waitFor();
  // the report: metrics of the folds and of the test set side by side
  const metrics = page.getByRole('table', { name: /Metrics \(regression\)/ });
  await metrics.waitFor({ timeout: 120000 });
  assert.deepEqual(await metrics.locator('thead th').allTextContents(), ['Metric', 'Cross-validation (5 folds)', 'Test set']);
  const r2 = metrics.locator('tr[data-metric="r2"]');
  assert.equal(await r2.getByRole('rowheader').textContent(), 'R²');
  const [cv, test] = (await r2.locator('td').allTextContents()).map(Number);
  assert.ok(Number.isFinite(cv) && cv > -1 && cv <= 1, `cv r2 ${cv}`);
  assert.ok(Number.isFinite(test), `test r2 ${test}`);
  const model = await (await page.request.get(`${base}/api/v1/models/${regressionUrl.split('/').pop()}`)).json();
  assert.equal(Number(cv.toFixed(3)), Number(model.metrics.cv.r2.toFixed(3)));
  assert.equal(model.test_size + model.training_size, 163);
  // predicted against observed, drawn by the plotting library from its own chunk
  assert.ok(await drawn('figure[data-kind="scatter"] canvas'), 'the scatter plot is blank');
  assert.ok(plotChunks.length >= 1 && plotChunks.every((c) => c.status === 200 || c.status === 304), JSON.stringify(plotChunks));
  await page.getByRole('img', { name: /Predicted against observed ACTIVITY for 1\d\d records/ }).waitFor();
  const details = page.locator('table.details');
  assert.match(await details.textContent(), /Training records\s*1\d\d/);
  assert.match(await details.textContent(), /Descriptors\s*logP/);
  assert.match(await details.textContent(), /Unreadable structure: 0/);
  assert.match(await details.textContent(), /Applicability domain/);
  const href = await page.getByRole('link', { name: 'Download model' }).getAttribute('href');
  assert.equal(href, `/api/v1/files/${model.file_id}/content`);
  await page.locator('.notice').waitFor({ state: 'detached', timeout: 10000 });
  await shot('model-regression');
  noProblems();
});

step('predict for typed and drawn SMILES', async () => {
  await page.getByLabel('SMILES, one per line').fill('CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21\nnot a molecule');
  // a benzene ring drawn in the editor joins the list
  await page.getByRole('button', { name: 'Draw a structure' }).click();
  const editor = page.getByTestId('editor');
  await editor.locator('canvas').first().waitFor();
  await editor.scrollIntoViewIfNeeded();
  const box = await editor.boundingBox();
  await page.mouse.click(box.x + 34, box.y + 202); // the toolbar's benzene tool
  await page.mouse.click(box.x + 380, box.y + 190); // dropped on the drawing area
  await page.locator('output', { hasText: /Drawn: (c1ccccc1|C1=CC=CC=C1)/i }).waitFor();
  await page.getByRole('button', { name: 'Add the drawn structure' }).click();
  assert.match(await page.getByLabel('SMILES, one per line').inputValue(), /\n(c1ccccc1|C1=CC=CC=C1)$/i);
  await page.getByRole('button', { name: 'Predict', exact: true }).click();
  const table = page.getByRole('table', { name: /Predictions of bzr-activity/ });
  await table.waitFor();
  const rows = table.locator('tbody tr');
  assert.equal(await rows.count(), 3);
  const diazepam = rows.nth(0);
  const value = Number(await diazepam.locator('td.value').textContent());
  assert.ok(Number.isFinite(value) && value > 4 && value < 11, `predicted ${value}`);
  await diazepam.locator('.badge', { hasText: 'in domain' }).waitFor();
  assert.ok(Number(await diazepam.locator('td').last().textContent()) > 0.5);
  assert.match(await rows.nth(1).textContent(), /error.*could not be read/);
  await rows.nth(2).locator('.badge', { hasText: 'outside the domain' }).waitFor(); // benzene: far from every ligand
  await page.getByRole('button', { name: 'Hide the editor' }).click();
  await shot('model-predict');
  noProblems();
});

step('train a classifier (ACTIVITY >= 7): confusion matrix and ROC curve', async () => {
  await page.goto(sdfUrl);
  await page.getByRole('heading', { name: 'bzr.sdf', level: 1 }).waitFor();
  const dlg = await trainThroughDialog({ name: 'bzr-active', threshold: 7 });
  await dlg.getByRole('button', { name: 'Train', exact: true }).click();
  await page.waitForURL((u) => /\/models\/[^/]+$/.test(u.pathname) && u.href !== regressionUrl);
  classifierUrl = page.url();
  await page.getByRole('heading', { name: 'bzr-active', level: 1 }).waitFor();
  const metrics = page.getByRole('table', { name: /Metrics \(classification\)/ });
  await metrics.waitFor({ timeout: 120000 });
  const auc = Number(await metrics.locator('tr[data-metric="auc"] td').first().textContent());
  assert.ok(auc > 0.5 && auc <= 1, `AUC ${auc}`);
  const cm = page.getByRole('table', { name: 'Confusion matrix (cross-validation, 163 records)' });
  assert.deepEqual(await cm.locator('thead th').allTextContents(), ['Predicted ACTIVITY ≥ 7', 'Predicted ACTIVITY < 7']);
  assert.deepEqual(await cm.getByRole('rowheader').allTextContents(), ['Observed ACTIVITY ≥ 7', 'Observed ACTIVITY < 7']);
  const counts = (await cm.locator('tbody td').allTextContents()).map(Number);
  assert.equal(counts.length, 4);
  assert.equal(counts.reduce((a, b) => a + b, 0), 163);
  assert.ok(await drawn('figure[data-kind="roc"] canvas'), 'the ROC curve is blank');
  assert.ok(await drawn('figure[data-kind="pr"] canvas'), 'the precision-recall curve is blank');
  await page.getByRole('img', { name: /^ROC curve of the cross-validation's predictions: AUC 0\.\d{3}/ }).waitFor();
  // a prediction from the classifier: a class and its probability
  await page.getByLabel('SMILES, one per line').fill('CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21');
  await page.getByRole('button', { name: 'Predict', exact: true }).click();
  const row = page.getByRole('table', { name: /Predictions of bzr-active/ }).locator('tbody tr').first();
  await row.waitFor();
  assert.match(await row.locator('td.value').textContent(), /^[01] \(ACTIVITY [<≥] 7\)$/);
  const p = Number(await row.locator('td').nth(3).textContent());
  assert.ok(p >= 0 && p <= 1, `probability ${p}`);
  await page.locator('.notice').waitFor({ state: 'detached', timeout: 10000 });
  await page.evaluate(() => window.scrollTo(0, document.getElementById('report-h').getBoundingClientRect().top + window.scrollY - 70));
  await shot('model-classification');
  noProblems();
});

step('a deep link to a model page, and its bundle file links back', async () => {
  await page.goto(regressionUrl); // the server answers the route with the UI
  await page.getByRole('heading', { name: 'bzr-activity', level: 1 }).waitFor();
  assert.ok(await drawn('figure[data-kind="scatter"] canvas'));
  // the page holds down to about 800 px wide, as the others do
  await page.setViewportSize({ width: 800, height: 700 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the model page scrolls sideways by ${overflow} px at 800 px`);
  await page.setViewportSize({ width: 1366, height: 800 });
  await page.getByRole('link', { name: "The model's file" }).click();
  await page.getByRole('heading', { name: 'bzr-activity.carboy-model.json', level: 1 }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Train a model' }).count(), 0);
  await page.getByRole('link', { name: "Open the model's report" }).click();
  await page.waitForURL(regressionUrl);
  await page.getByRole('table', { name: /Metrics \(regression\)/ }).waitFor();
  noProblems();
});

step('predict for this file: a job, then its output file', async () => {
  await page.goto(sdfUrl);
  await page.getByRole('button', { name: 'Predict for this file' }).click();
  const dlg = page.getByRole('dialog', { name: 'Predict for bzr.sdf' });
  const choice = dlg.getByLabel('Model');
  await choice.waitFor();
  const options = await choice.locator('option').allTextContents();
  assert.deepEqual(options.sort(), ['bzr-active — classification of ACTIVITY', 'bzr-activity — regression of ACTIVITY']);
  await choice.selectOption({ label: 'bzr-activity — regression of ACTIVITY' });
  await dlg.getByRole('button', { name: 'Predict', exact: true }).click();
  await dlg.locator('.badge', { hasText: 'succeeded' }).waitFor({ timeout: 120000 });
  const out = dlg.getByRole('link', { name: 'bzr.predicted.sdf' });
  await out.waitFor();
  await shot('model-predict-file');
  await out.click();
  await page.getByRole('heading', { name: 'bzr.predicted.sdf', level: 1 }).waitFor();
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  // its records carry the predictions as SD fields
  const id = page.url().split('/').pop();
  let recs;
  for (let i = 0; i < 100; i++) {
    const f = await (await page.request.get(`${base}/api/v1/files/${id}`)).json();
    if (f.status === 'processed') { recs = await (await page.request.get(`${base}/api/v1/files/${id}/records?limit=1`)).json(); break; }
    await page.waitForTimeout(200);
  }
  const names = recs.records[0].properties.map((p) => p.name);
  assert.ok(names.includes('ACTIVITY_predicted') && names.includes('in_domain'), names.join(', '));
  noProblems();
});
