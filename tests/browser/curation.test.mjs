// Browser tests of curation (issue 21), in the harness of harness.mjs (the real carboy
// binary on a free loopback port, Debian's headless Chromium driven by playwright-core): an
// administrator builds a small category tree on the admin page (add, add a child, rename,
// set an IRI, delete); the owner of a file edits its metadata through the form generated
// from the `sample` JSON Schema (the server's validation error appears beside the field,
// then a good save shows the units and ontology links), assigns it a category on its page
// and one to its folder on the folder's page; the search page's category filter finds the
// file through the category's parent. axe-core finds no serious or critical violation on
// the metadata form and the admin page, which hold their layout at 800 px wide; no console
// error anywhere (but the refused save's 400). Screenshots (metadata-form.png,
// categories.png) go to CARBOY_SCREENSHOTS (default build-results/screenshots).
//
//   node --test tests/browser/curation.test.mjs   (CARBOY_BIN picks the binary, default build/carboy)
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  start, stop, step, shot, noProblems, signIn, accessible, signInApi, call, problems, base, page,
} from './harness.mjs';

const ADMIN_PASSWORD = 'curation-admin-pass-1';
const PASSWORD = 'curation-user-pass-1';
const ASSAY_IRI = 'http://purl.obolibrary.org/obo/OBI_0000070';

let admin, owner; // session cookies, for set-up and checks through the API
const ids = {};

// The session cookie of a sign-in through the API, which must work.
async function session(username, password) {
  const { status, cookie } = await signInApi(username, password);
  assert.ok(cookie, `sign-in of ${username}: ${status}`);
  return cookie;
}

before(async () => {
  // each signIn() in a fresh context
  await start({ name: 'curation', adminPassword: ADMIN_PASSWORD, openPage: false, freshSignIn: true,
    contextOptions: { viewport: { width: 1366, height: 900 } } });
  admin = await session('admin', ADMIN_PASSWORD);
  await call(admin, 'POST', '/api/v1/users', { username: 'olivia', password: PASSWORD });
  owner = await session('olivia', PASSWORD);
  ids.folder = (await call(owner, 'POST', '/api/v1/folders', { name: 'Plate reader' })).id;
  const put = (name, body) => call(owner, 'PUT', `/api/v1/folders/${ids.folder}/files/${name}`, body, true);
  ids.file = (await put('assay.csv', 'well,od600\nA1,0.51\nA2,0.77\n')).id;
  ids.other = (await put('blank.csv', 'well,od600\nB1,0.05\n')).id;
});

after(stop);

const section = () => page.getByRole('region', { name: 'Categories' });
const row = (name) => section().locator('.cat-row', { has: page.locator('.cat-name', { hasText: new RegExp(`^${name}$`) }) });

step('an administrator builds the category tree on the admin page', async () => {
  await signIn('admin', ADMIN_PASSWORD);
  await page.getByRole('link', { name: 'Admin' }).click();
  await section().waitFor();
  const add = async (label, name) => {
    await page.getByLabel(label).fill(name);
    await page.getByLabel(label).press('Enter');
    await row(name).waitFor();
  };
  await add('New top-level category', 'Assays');
  await add('New top-level category', 'Obsolete');
  for (const child of ['Absorbance', 'Fluorescence']) {
    await section().getByRole('button', { name: 'Add child below Assays', exact: true }).click();
    await add('New category below Assays', child);
  }
  await section().getByRole('button', { name: 'Rename Assays / Fluorescence' }).click();
  await page.getByLabel('New name').fill('Fluorimetry');
  await section().getByRole('button', { name: 'Save' }).click();
  await row('Fluorimetry').waitFor();
  await section().getByRole('button', { name: 'Set the ontology IRI of Assays', exact: true }).click();
  await page.getByLabel('Ontology IRI (empty: none)').fill(ASSAY_IRI);
  await section().getByRole('button', { name: 'Save' }).click();
  await row('Assays').getByRole('link', { name: /Ontology term of Assays/ }).waitFor();
  assert.equal(await row('Assays').getByRole('link').getAttribute('href'), ASSAY_IRI);
  // a parent is refused while it has children (the server's 409 shown); a leaf goes
  await section().getByRole('button', { name: 'Delete Assays', exact: true }).click();
  await section().getByRole('group', { name: 'Delete Assays' }).getByRole('button', { name: 'Delete' }).click();
  await section().getByRole('alert').filter({ hasText: 'below it' }).waitFor();
  assert.ok(problems.splice(0).every((m) => m.includes('status of 409')));
  await section().getByRole('button', { name: 'Cancel' }).click();
  await section().getByRole('button', { name: 'Delete Obsolete' }).click();
  await section().getByRole('group', { name: 'Delete Obsolete' }).getByRole('button', { name: 'Delete' }).click();
  await row('Obsolete').waitFor({ state: 'detached' });
  const tree = (await call(admin, 'GET', '/api/v1/categories')).categories;
  assert.deepEqual(tree.map((c) => c.path), ['Assays', 'Assays / Absorbance', 'Assays / Fluorimetry']);
  ids.assays = tree[0].id;
  await page.waitForFunction(() => !document.querySelector('.notice'), null, { timeout: 15000 }); // not over the tree
  await shot('categories', section());
  await accessible('the admin page with its categories');
  noProblems();
});

step('the owner edits a file\'s metadata through the schema\'s form: an error, then a good save', async () => {
  await signIn('olivia', PASSWORD);
  await page.goto(`${base}/files/${ids.file}`);
  await page.getByRole('heading', { name: 'assay.csv', level: 1 }).waitFor();
  await page.getByRole('button', { name: 'Edit metadata' }).click();
  const form = page.getByRole('form', { name: 'Edit metadata' });
  await form.getByLabel('Schema', { exact: true }).selectOption('sample');
  // the fields the schema has: a pattern, a number with its unit, an enum, a nested object
  await form.getByLabel('Sample ID', { exact: true }).waitFor();
  assert.equal(await form.locator('#md-mass-unit').textContent(), 'mg');
  assert.match(await form.getByRole('link', { name: /Ontology term of Mass/ }).getAttribute('href'), /PATO_0000125$/);
  assert.deepEqual(await form.getByLabel('Solvent', { exact: true }).locator('option').allTextContents(),
    ['(none)', 'water', 'DMSO', 'methanol', 'ethanol', 'acetonitrile', 'chloroform']);
  const temperature = form.getByRole('group', { name: /Temperature/ });
  assert.deepEqual(await temperature.getByLabel('Unit', { exact: true }).locator('option').allTextContents(), ['Choose…', 'K', '°C']);
  await form.getByLabel('Sample ID', { exact: true }).fill('plate 7'); // not the schema's pattern
  await form.getByLabel('Operator', { exact: true }).fill('olivia');
  await form.getByLabel('Mass', { exact: true }).fill('12.5');
  await form.getByLabel('Solvent', { exact: true }).selectOption('DMSO');
  await temperature.getByLabel('Value', { exact: true }).fill('298.15');
  await temperature.getByLabel('Unit', { exact: true }).selectOption('K');
  await form.getByLabel('Verified', { exact: true }).check();
  await form.getByRole('button', { name: 'Add an entry' }).click();
  await form.getByLabel('Name of entry 1').fill('wavelength');
  await form.getByLabel('Type of entry 1').selectOption('number');
  await form.getByLabel('Value of entry 1').fill('600');
  await form.getByLabel('Unit of entry 1').fill('nm');
  await form.getByRole('button', { name: 'Save metadata' }).click();
  // the server's problem detail, beside the field it names
  const err = form.locator('#err-md-sample_id');
  await err.waitFor();
  assert.match(await err.textContent(), /pattern/);
  const sampleId = form.getByLabel('Sample ID', { exact: true });
  assert.equal(await sampleId.getAttribute('aria-invalid'), 'true');
  assert.match(await sampleId.getAttribute('aria-describedby'), /err-md-sample_id/);
  assert.ok(problems.splice(0).every((m) => m.includes('status of 400'))); // the refused save
  await shot('metadata-form', page.locator('section.md-card'));
  await accessible('the metadata form');
  await sampleId.fill('PR-7');
  await err.waitFor({ state: 'detached' });
  await form.getByRole('button', { name: 'Save metadata' }).click();
  await form.waitFor({ state: 'detached' });
  const f = await call(owner, 'GET', `/api/v1/files/${ids.file}`);
  assert.deepEqual(f.metadata, { $schema: 'sample', sample_id: 'PR-7', operator: 'olivia', mass: 12.5, solvent: 'DMSO',
    temperature: { value: 298.15, unit: 'K' }, verified: true, wavelength: { value: 600, unit: 'nm' } });
  // the properties table: the unit the schema gives, the name linked to its ontology term
  const props = page.getByRole('table', { name: 'Properties' });
  const mass = props.getByRole('row', { name: /mass/ });
  await mass.waitFor();
  assert.match(await mass.textContent(), /12\.5\s*mg/);
  assert.match(await mass.getByRole('link', { name: 'mass' }).getAttribute('href'), /PATO_0000125$/);
  // the form opens again on what was saved
  await page.getByRole('button', { name: 'Edit metadata' }).click();
  assert.equal(await form.getByLabel('Schema', { exact: true }).inputValue(), 'sample');
  assert.equal(await form.getByLabel('Sample ID', { exact: true }).inputValue(), 'PR-7');
  assert.equal(await form.getByLabel('Value of entry 1').inputValue(), '600');
  await form.getByRole('button', { name: 'Cancel' }).click();
  noProblems();
});

step('the owner assigns categories on the file\'s and the folder\'s pages', async () => {
  const picker = page.getByRole('form', { name: 'Add a category to this file' });
  await picker.getByLabel('Category to add').selectOption({ label: 'Assays / Absorbance' });
  await picker.getByRole('button', { name: 'Add' }).click();
  await page.getByRole('button', { name: 'Remove category Assays / Absorbance' }).waitFor();
  assert.deepEqual((await call(owner, 'GET', `/api/v1/files/${ids.file}`)).categories.map((c) => c.path), ['Assays / Absorbance']);
  // the folder's: shown on its page, above the listing
  await page.goto(`${base}/folders/${ids.folder}`);
  const fp = page.getByRole('form', { name: 'Add a category to this folder' });
  await fp.getByLabel('Category to add').selectOption({ label: 'Assays / Fluorimetry' });
  await fp.getByRole('button', { name: 'Add' }).click();
  await page.getByRole('button', { name: 'Remove category Assays / Fluorimetry' }).waitFor();
  assert.deepEqual((await call(owner, 'GET', `/api/v1/folders/${ids.folder}`)).categories.map((c) => c.path), ['Assays / Fluorimetry']);
  await page.getByRole('button', { name: 'Remove category Assays / Fluorimetry' }).click();
  await fp.getByLabel('Category to add').locator('option', { hasText: 'Assays / Fluorimetry' }).waitFor({ state: 'attached' });
  assert.deepEqual((await call(owner, 'GET', `/api/v1/folders/${ids.folder}`)).categories, []);
  noProblems();
});

step('search filters by a category and those below it', async () => {
  await page.getByRole('link', { name: 'Search', exact: true }).click();
  await page.getByLabel('Category', { exact: true }).selectOption({ label: 'Assays' });
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  const hits = page.locator('ol.hits');
  await hits.getByRole('link', { name: 'assay.csv' }).waitFor();
  assert.deepEqual(await hits.locator('.hit-name').allTextContents(), ['assay.csv']); // not blank.csv
  assert.match(page.url(), new RegExp(`category=${ids.assays}`));
  // with words too
  await page.getByLabel('Search words').fill('blank');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByText('0 hits').waitFor();
  noProblems();
});
