// Uploads: files and whole folders (their structure recreated as folders) go through tus
// (tus-js-client: resumable, retried), a few at a time, each with its progress; once a
// file is in, its processing status follows the server's events (SSE).
import { useEffect, useState } from 'preact/hooks';
import { Upload } from 'tus-js-client';
import { html, bytes, Progress, StatusBadge, Link } from './ui.js';
import { ROOT, get, post, listen } from './api.js';

const PARALLEL = 3;
let items = [];
let nextId = 0;
const subscribers = new Set();
const folderCache = new Map(); // "parentId/name" -> folder id

function changed() { for (const fn of subscribers) fn(items); }
function update(item, fields) {
  Object.assign(item, fields);
  items = [...items];
  changed();
}

export function onUploadsChange(fn) {
  subscribers.add(fn);
  return () => subscribers.delete(fn);
}

// Processing status of uploaded files, live from the event stream.
listen((type, data) => {
  if (type !== 'file') return;
  for (const it of items) if (it.fileId === data.id) update(it, { status: data.status, error: data.error });
});

async function ensureFolder(parentId, name) {
  const key = parentId + '/' + name;
  if (folderCache.has(key)) return folderCache.get(key);
  const p = (async () => {
    try {
      return (await post(ROOT + '/folders', { name, parent_id: parentId })).id;
    } catch (err) {
      if (err.status !== 409) throw err;
      let cursor = null;
      do {
        const f = await get(`${ROOT}/folders/${parentId}?limit=1000` + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
        const hit = f.folders.find((x) => x.name === name);
        if (hit) return hit.id;
        cursor = f.next_cursor;
      } while (cursor);
      throw err;
    }
  })();
  folderCache.set(key, p);
  p.catch(() => folderCache.delete(key));
  return p;
}

async function folderFor(rootId, path) {
  const dirs = path.split('/').slice(0, -1).filter(Boolean);
  let id = rootId;
  for (const d of dirs) id = await ensureFolder(id, d);
  return id;
}

function runOne(item) {
  update(item, { state: 'uploading' });
  return folderFor(item.rootId, item.path).then((folderId) => new Promise((resolve) => {
    item.folderId = folderId;
    const up = new Upload(item.file, {
      endpoint: ROOT + '/uploads', // /api/v1 always: the queue goes on while a link's page is shown
      metadata: { filename: item.file.name, folder_id: folderId, filetype: item.file.type || 'application/octet-stream' },
      headers: { 'X-Carboy-CSRF': '1' },
      retryDelays: [0, 1000, 3000, 5000],
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => update(item, { loaded: sent, size: total }),
      onAfterResponse: (req, res) => {
        const id = res.getHeader('Carboy-File-Id');
        if (id) item.fileId = id;
      },
      onError: (err) => {
        const res = err.originalResponse;
        let detail = err.message;
        try { detail = JSON.parse(res.getBody()).detail || detail; } catch { /* keep the message */ }
        update(item, { state: 'error', error: detail });
        resolve();
      },
      onSuccess: async () => {
        update(item, { state: 'done', loaded: item.size, status: item.status || 'uploaded' });
        if (item.fileId) {
          try {
            const f = await get(ROOT + '/files/' + item.fileId);
            // an event may already have said more
            if (item.status === 'uploaded' || !item.status) update(item, { status: f.status, error: f.error });
          } catch { /* the listing shows it anyway */ }
        }
        resolve();
      },
    });
    item.upload = up;
    up.start();
  })).catch((err) => update(item, { state: 'error', error: err.message }));
}

let running = 0;
function pump() {
  while (running < PARALLEL) {
    const next = items.find((i) => i.state === 'queued');
    if (!next) return;
    running++;
    runOne(next).finally(() => { running--; pump(); });
  }
}

// entries: [{file, path}] where path is relative to the target folder ("a/b/c.sdf").
export function enqueue(rootId, entries) {
  for (const { file, path } of entries) {
    items.push({ id: ++nextId, file, name: file.name, path: path || file.name, size: file.size, loaded: 0,
                 state: 'queued', rootId, fileId: null, status: null, error: null });
  }
  items = [...items];
  changed();
  pump();
}

export function cancel(item) {
  if (item.upload) item.upload.abort(true).catch(() => {});
  update(item, { state: 'canceled' });
}

function clearFinished() {
  items = items.filter((i) => i.state === 'queued' || i.state === 'uploading');
  changed();
}

// ---- reading what was dropped or picked ----
function readAll(reader) {
  return new Promise((resolve, reject) => {
    const out = [];
    const step = () => reader.readEntries((batch) => {
      if (!batch.length) return resolve(out);
      out.push(...batch);
      step();
    }, reject);
    step();
  });
}

async function walk(entry, prefix, out) {
  if (entry.isFile) {
    const file = await new Promise((res, rej) => entry.file(res, rej));
    out.push({ file, path: prefix + file.name });
  } else if (entry.isDirectory) {
    for (const child of await readAll(entry.createReader())) await walk(child, prefix + entry.name + '/', out);
  }
}

// Files and folders of a drop, their relative paths kept. Must be called during the event.
export function droppedEntries(dt) {
  const entries = [];
  const files = [];
  for (const item of dt.items || []) {
    if (item.kind !== 'file') continue;
    const entry = item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
    if (entry) entries.push(entry);
    else { const f = item.getAsFile(); if (f) files.push({ file: f, path: f.name }); }
  }
  if (!entries.length && !files.length) for (const f of dt.files || []) files.push({ file: f, path: f.name });
  return (async () => {
    const out = [...files];
    for (const e of entries) await walk(e, '', out);
    return out;
  })();
}

// Files of an <input type=file> (webkitdirectory ones carry their relative path).
export function pickedEntries(fileList) {
  return [...fileList].map((f) => ({ file: f, path: f.webkitRelativePath || f.name }));
}

// ---- the panel ----
export function Uploads() {
  const [list, setList] = useState(items);
  const [open, setOpen] = useState(true);
  useEffect(() => onUploadsChange(setList), []);
  if (!list.length) return null;
  const active = list.filter((i) => i.state === 'queued' || i.state === 'uploading').length;
  const processing = list.filter((i) => i.state === 'done' && (i.status === 'uploaded' || i.status === 'processing')).length;
  return html`<section class="uploads card" aria-label="Uploads">
    <header>
      <h2>${active ? `Uploading ${active} of ${list.length}` : processing ? `Processing ${processing}` : `Uploads (${list.length})`}</h2>
      <button type="button" class="btn ghost small" onClick=${() => setOpen(!open)} aria-expanded=${open}>${open ? 'Hide' : 'Show'}</button>
      <button type="button" class="btn ghost small" onClick=${clearFinished} disabled=${active === list.length}>Clear finished</button>
    </header>
    ${open && html`<ul>
      ${list.map((i) => html`<li key=${i.id} class=${'up up-' + i.state} data-name=${i.name}>
        <div class="up-name" title=${i.path}>
          ${i.fileId ? html`<${Link} href=${'/files/' + i.fileId}>${i.path}<//>` : i.path}
        </div>
        <div class="up-meta">
          ${i.state === 'uploading' || i.state === 'queued'
            ? html`<${Progress} value=${i.size ? i.loaded / i.size : 0} label=${'Upload of ' + i.name}/>
                   <span class="muted">${bytes(i.loaded)} / ${bytes(i.size)}</span>
                   <button type="button" class="icon-btn" aria-label=${'Cancel upload of ' + i.name} onClick=${() => cancel(i)}>✕</button>`
            : i.state === 'done' ? html`<span class="muted">${bytes(i.size)}</span> <${StatusBadge} status=${i.status} error=${i.error}/>`
            : html`<span class=${'badge st-' + (i.state === 'error' ? 'failed' : 'canceled')} title=${i.error || ''}>${i.state === 'error' ? 'upload failed' : 'canceled'}</span>
                   ${i.error && html`<span class="muted small">${i.error}</span>`}`}
        </div>
      </li>`)}
    </ul>`}
  </section>`;
}
