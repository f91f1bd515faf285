// Browser tests of the UI for every role (issue 21), in the harness of harness.mjs (the
// real carboy binary on a free loopback port, Debian's headless Chromium driven by
// playwright-core): an anonymous visitor on a share link of a folder and on a public
// folder (read-only pages with "Sign in", previews, records, downloads, and no console
// error); a viewer and an editor by grant, who see only the controls their rights ("can")
// allow; the owner, who deletes a file, finds it in the trash and restores it (and sees
// why a restore is refused), and restores an earlier version of a file; an administrator
// who disables a user (who then cannot sign in), resets a password, signs a user out
// everywhere and deletes an account. Every page visited passes axe-core (no serious or
// critical violation) and keeps its layout at 800 px wide. Screenshots go to
// CARBOY_SCREENSHOTS (default build-results/screenshots).
//
//   node --test tests/browser/roles.test.mjs   (CARBOY_BIN picks the binary, default build/carboy)
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  start, stop, step, shot, noProblems, signIn, newPage as freshPage, accessible, signInApi, call, problems, base, page,
} from './harness.mjs';

const ADMIN_PASSWORD = 'roles-admin-pass-1';
const PASSWORD = 'roles-user-pass-1';
const SMI = 'c1ccccc1O phenol\nCC(=O)Oc1ccccc1C(=O)O aspirin\n';
const CSV = 'well,od600\nA1,0.51\nA2,0.77\nA3,0.12\n';

let admin; // the administrator's session cookie, for set-up through the API
const ids = {}; // folders and files made in before()
let shareUrl, fileLinkUrl;

async function processed(fileId) {
  const deadline = Date.now() + 120000;
  for (;;) {
    const f = await call(admin, 'GET', '/api/v1/files/' + fileId);
    if (f.status === 'processed') return f;
    assert.ok(f.status !== 'failed' && Date.now() < deadline, `file ${f.name} is ${f.status}: ${f.error || ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  // a fresh context (and page) for each visitor: freshPage(), and each signIn()
  await start({ name: 'roles', adminPassword: ADMIN_PASSWORD, openPage: false, freshSignIn: true });
  // users, and the administrator's folders: "Team" (shared by grants and a link) and
  // "Open data" (public), with a few small files each
  admin = (await signInApi('admin', ADMIN_PASSWORD)).cookie;
  for (const u of ['vera', 'ed', 'dan']) await call(admin, 'POST', '/api/v1/users', { username: u, password: PASSWORD });
  ids.team = (await call(admin, 'POST', '/api/v1/folders', { name: 'Team' })).id;
  ids.open = (await call(admin, 'POST', '/api/v1/folders', { name: 'Open data' })).id;
  const put = (folder, name, body) => call(admin, 'PUT', `/api/v1/folders/${folder}/files/${name}`, body, true);
  ids.smi = (await put(ids.team, 'phenols.smi', SMI)).id;
  ids.csv = (await put(ids.team, 'plate.csv', CSV)).id;
  ids.notes = (await put(ids.team, 'notes.txt', 'first draft\n')).id;
  await put(ids.team, 'notes.txt', 'second draft\n'); // version 2
  ids.scratch = (await put(ids.team, 'scratch.txt', 'to be deleted\n')).id;
  ids.clash = (await put(ids.team, 'clash.txt', 'the first clash.txt\n')).id;
  ids.openCsv = (await put(ids.open, 'survey.csv', CSV)).id;
  await call(admin, 'PUT', `/api/v1/folders/${ids.open}/visibility`, { visibility: 'public' });
  await call(admin, 'POST', `/api/v1/folders/${ids.team}/grants`, { username: 'vera', role: 'viewer' });
  await call(admin, 'POST', `/api/v1/folders/${ids.team}/grants`, { username: 'ed', role: 'editor' });
  shareUrl = base + (await call(admin, 'POST', `/api/v1/folders/${ids.team}/links`, {})).url;
  fileLinkUrl = base + (await call(admin, 'POST', `/api/v1/files/${ids.csv}/links`, {})).url;
  for (const id of [ids.smi, ids.csv, ids.notes, ids.openCsv]) await processed(id);
});

after(stop);

const listing = () => page.locator('table.files');
const toolbar = () => page.getByRole('toolbar', { name: /actions/ });
async function absent(...names) {
  for (const name of names) assert.equal(await toolbar().getByRole('button', { name, exact: true }).count(), 0, `"${name}" is shown`);
}

step('anonymous, on a share link of a folder: a read-only listing, file pages, downloads', async () => {
  await freshPage();
  await page.goto(shareUrl); // what a browser asks for: the page, not the JSON
  await listing().getByRole('link', { name: 'phenols.smi' }).waitFor();
  assert.equal(await page.locator('.crumbs [aria-current="page"]').textContent(), 'Team');
  await page.getByRole('link', { name: 'Sign in' }).waitFor();
  await absent('New folder', 'Upload files', 'Rename', 'Move', 'Share', 'Delete');
  assert.equal(await page.getByRole('checkbox').count(), 0, 'nothing to select for a visitor');
  assert.equal(await page.getByRole('link', { name: 'Trash' }).count(), 0);
  const zip = await page.getByRole('link', { name: 'Download zip' }).getAttribute('href');
  assert.match(zip, /^\/s\/[^/]+\/folders\/[^/]+\/archive$/);
  const z = await page.request.get(base + zip);
  assert.equal(z.status(), 200);
  assert.equal((await z.body()).subarray(0, 2).toString(), 'PK');
  await shot('anon-share');
  await accessible('a share link\'s folder');
  // a file: its records with their depictions, through the link
  await listing().getByRole('link', { name: 'phenols.smi' }).click();
  await page.getByRole('heading', { name: 'phenols.smi', level: 1 }).waitFor();
  assert.match(page.url(), /\/s\/[^/]+\/files\/[^/]+$/);
  await page.locator('table.records tbody tr').first().waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll('table.records img')].length > 0
    && [...document.querySelectorAll('table.records img')].every((i) => i.complete && i.naturalWidth > 0), null, { timeout: 60000 });
  await absent('Share', 'Delete', 'Train a model', 'Restore');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download', exact: true }).click()]);
  assert.equal(download.suggestedFilename(), 'phenols.smi');
  assert.equal(fs.readFileSync(await download.path(), 'utf8'), SMI);
  await accessible('a share link\'s file');
  // the breadcrumbs lead back; the browser's back button shows the page again (not JSON)
  await page.locator('.crumbs').getByRole('link', { name: 'Team' }).click();
  await listing().getByRole('link', { name: 'plate.csv' }).click();
  await page.getByRole('img', { name: /Histogram of od600/ }).waitFor();
  await page.goBack();
  await listing().getByRole('link', { name: 'plate.csv' }).waitFor();
  await page.reload();
  await listing().getByRole('link', { name: 'plate.csv' }).waitFor();
  // a file's own link opens its page (the file only: no folder in the breadcrumbs)
  await page.goto(fileLinkUrl);
  await page.getByRole('heading', { name: 'plate.csv', level: 1 }).waitFor();
  await page.getByRole('img', { name: /Histogram of od600/ }).waitFor();
  assert.equal(await page.locator('.crumbs a').count(), 0);
  assert.match(await page.getByRole('link', { name: 'Download', exact: true }).getAttribute('href'), /^\/s\/[^/]+\/files\/[^/]+\/content$/);
  noProblems();
});

step('anonymous, on a public folder: read-only pages, and "Sign in" comes back to the page', async () => {
  await freshPage();
  await page.goto(`${base}/folders/${ids.open}`);
  await listing().getByRole('link', { name: 'survey.csv' }).waitFor();
  await page.getByText('A public folder').waitFor();
  await absent('New folder', 'Upload files', 'Share', 'Delete');
  assert.equal(await page.getByRole('navigation', { name: 'Folder tree' }).count(), 0);
  await shot('anon-public');
  await accessible('a public folder');
  await listing().getByRole('link', { name: 'survey.csv' }).click();
  await page.getByRole('img', { name: /Histogram of od600: 3 values/ }).waitFor();
  await absent('Share', 'Delete', 'Train a model');
  await accessible('a public file');
  noProblems();
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Sign in to carboy' }).waitFor();
  await accessible('the sign-in page');
  await page.getByLabel('User name').fill('vera');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  assert.equal(new URL(page.url()).pathname, `/files/${ids.openCsv}`);
  await page.getByRole('heading', { name: 'survey.csv', level: 1 }).waitFor();
  noProblems();
});

step('a viewer sees no control to change what was shared with them', async () => {
  await signIn('vera', PASSWORD);
  await page.goto(`${base}/folders/${ids.team}`);
  await listing().getByRole('link', { name: 'notes.txt' }).waitFor();
  await page.getByText('You can read this folder but not change it').waitFor();
  await absent('New folder', 'Upload files', 'Upload folder', 'Rename', 'Move', 'Share', 'Delete');
  await shot('viewer');
  await accessible('a folder, as a viewer');
  await listing().getByRole('link', { name: 'notes.txt' }).click();
  await page.getByRole('heading', { name: 'notes.txt', level: 1 }).waitFor();
  await page.getByRole('link', { name: 'Download v1' }).waitFor();
  await absent('Share', 'Delete');
  assert.equal(await page.getByRole('button', { name: /^Restore version/ }).count(), 0);
  await accessible('a file, as a viewer');
  noProblems();
});

step('an editor sees the controls their rights allow', async () => {
  const ed = (await signInApi('ed', PASSWORD)).cookie;
  const can = (await call(ed, 'GET', `/api/v1/folders/${ids.team}`)).can;
  assert.ok(can.includes('write'), `an editor's rights: ${can}`);
  await signIn('ed', PASSWORD);
  await page.goto(`${base}/folders/${ids.team}`);
  await listing().getByRole('link', { name: 'notes.txt' }).waitFor();
  await toolbar().getByRole('button', { name: 'Upload files' }).waitFor();
  await toolbar().getByRole('button', { name: 'New folder' }).waitFor();
  for (const [name, right] of [['Share', 'share'], ['Delete', 'delete']])
    assert.equal(await toolbar().getByRole('button', { name, exact: true }).count(), can.includes(right) ? 1 : 0, `"${name}" with ${can}`);
  await accessible('a folder, as an editor');
  noProblems();
});

step('the owner deletes a file to the trash and restores it; a refused restore says why', async () => {
  await signIn('admin', ADMIN_PASSWORD);
  await page.goto(`${base}/folders/${ids.team}`);
  for (const name of ['scratch.txt', 'clash.txt']) await page.getByRole('checkbox', { name: 'Select ' + name }).check();
  await toolbar().getByRole('button', { name: 'Delete' }).click();
  const dlg = page.getByRole('dialog');
  await dlg.getByText('to the trash').waitFor();
  await accessible('the delete dialog');
  await dlg.getByRole('button', { name: 'Delete' }).click();
  await page.getByText('Moved 2 items to the trash').waitFor();
  await listing().getByRole('link', { name: 'scratch.txt' }).waitFor({ state: 'detached' });
  // a new clash.txt takes the name: the old one cannot come back beside it
  await call(admin, 'PUT', `/api/v1/folders/${ids.team}/files/clash.txt`, 'the second clash.txt\n', true);
  await page.getByRole('link', { name: 'Trash' }).click();
  await page.getByRole('heading', { name: 'Trash' }).waitFor();
  const row = (name) => page.locator('table.trash tr', { hasText: name });
  await row('scratch.txt').waitFor();
  await shot('trash');
  await accessible('the trash');
  await row('clash.txt').getByRole('button', { name: 'Restore clash.txt' }).click();
  await page.getByRole('alert').filter({ hasText: /clash\.txt was not restored: .+/ }).waitFor();
  assert.ok(problems.splice(0).every((m) => m.includes('status of 409')), 'only the refused restore is logged');
  await row('scratch.txt').getByRole('button', { name: 'Restore scratch.txt' }).click();
  await row('scratch.txt').waitFor({ state: 'detached' });
  await page.getByRole('link', { name: 'Files' }).click();
  await listing().getByRole('link', { name: 'Team' }).click();
  await listing().getByRole('link', { name: 'scratch.txt' }).waitFor();
  noProblems();
});

step('the owner restores an earlier version: it becomes the newest', async () => {
  await page.goto(`${base}/files/${ids.notes}`);
  await page.getByRole('heading', { name: 'notes.txt', level: 1 }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Restore version 2' }).count(), 0, 'the newest has no Restore');
  await page.getByRole('button', { name: 'Restore version 1' }).click();
  const dlg = page.getByRole('dialog', { name: 'Restore version 1' });
  await dlg.getByText('It becomes version 3').waitFor();
  await accessible('the restore dialog');
  await dlg.getByRole('button', { name: 'Restore' }).click();
  await page.locator('tr[data-version="3"]', { hasText: 'newest' }).waitFor();
  await page.getByText(/version 3/).first().waitFor();
  const res = await fetch(`${base}/api/v1/files/${ids.notes}/content`, { headers: { Cookie: admin } });
  assert.equal(await res.text(), 'first draft\n');
  await accessible('a file, as its owner');
  noProblems();
});

step('an administrator disables a user, resets a password, signs a user out everywhere, deletes one', async () => {
  const ed = (await signInApi('ed', PASSWORD)).cookie;
  await page.getByRole('link', { name: 'Admin' }).click();
  await page.getByRole('heading', { name: 'Administration' }).waitFor();
  const user = (name) => page.locator(`tr[data-user="${name}"]`);
  // disable dan: he can no longer sign in
  await user('dan').getByRole('button', { name: 'Disable dan' }).click();
  let dlg = page.getByRole('dialog', { name: 'Disable dan' });
  await dlg.getByText('can no longer sign in').waitFor();
  await dlg.getByRole('button', { name: 'Disable' }).click();
  await user('dan').locator('.badge', { hasText: 'disabled' }).waitFor();
  assert.notEqual((await signInApi('dan', PASSWORD)).status, 200, 'a disabled user signed in');
  // a new password for vera (8 characters at least), which then works
  await user('vera').getByRole('button', { name: 'Reset password of vera' }).click();
  dlg = page.getByRole('dialog', { name: 'Reset the password of vera' });
  await dlg.getByLabel('New password').fill('vera-new-pass-2');
  await dlg.getByRole('button', { name: 'Set password' }).click();
  await dlg.waitFor({ state: 'detached' });
  assert.equal((await signInApi('vera', 'vera-new-pass-2')).status, 200);
  // ed's session ends
  assert.ok((await call(ed, 'GET', '/api/v1/auth/session')).user, 'ed is signed in');
  await user('ed').getByRole('button', { name: 'Sign out everywhere (ed)' }).click();
  dlg = page.getByRole('dialog', { name: 'Sign ed out everywhere' });
  await accessible('a user control dialog');
  await dlg.getByRole('button', { name: 'Sign out everywhere' }).click();
  await page.getByText(/ed: \d+ sessions? ended/).waitFor();
  assert.equal((await call(ed, 'GET', '/api/v1/auth/session')).user, null, 'ed is still signed in');
  await shot('admin-users');
  await accessible('the admin page');
  // delete dan (he owns nothing)
  await user('dan').getByRole('button', { name: 'Delete dan' }).click();
  dlg = page.getByRole('dialog', { name: 'Delete dan' });
  await dlg.getByRole('button', { name: 'Delete user' }).click();
  await user('dan').waitFor({ state: 'detached' });
  noProblems();
});

step('the other pages pass axe and hold at 800 px: search, jobs', async () => {
  await page.getByRole('link', { name: 'Search' }).click();
  await page.getByLabel('Search words').waitFor();
  await accessible('the search page');
  await page.getByRole('link', { name: 'Jobs' }).click();
  await page.locator('table.jobs').waitFor();
  await accessible('the jobs page');
  noProblems();
});
