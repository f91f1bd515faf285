// A file's page: what carboy learned from it. Properties (units, ontology links),
// versions, a preview per kind (depictions and a paged table of records for
// structures, reactions and crystals; thumbnails with zoom; text; tables with
// histograms; archive listings), downloads and conversions; models: "Train a model" on
// structures and tables, "Predict for this file", a model bundle's link to its page.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html, Link, Dialog, ErrorBox, Spinner, bytes, when, num, notify, FileIcon, StatusBadge, useAsync } from './ui.js';
import { API, get, post, listen } from './api.js';
import { ShareDialog } from './share.js';
import { TrainDialog, PredictFileDialog, ModelLink } from './train.js';

const STRUCTURE = ['smi', 'can', 'inchi', 'inchikey', 'mol', 'sdf', 'mol2', 'pdb', 'cml', 'xyz', 'csv'];
export const CONVERSIONS = {
  structure: STRUCTURE, reaction: ['rxn', 'rsmi', 'csv'], crystal: ['cif', ...STRUCTURE],
  table: ['csv', 'tsv', 'json'], image: ['png'], text: ['txt'],
};
const CELL = ['cell_length_a', 'cell_length_b', 'cell_length_c', 'cell_angle_alpha', 'cell_angle_beta',
  'cell_angle_gamma', 'cell_volume', 'space_group', 'space_group_number'];

function Value({ p }) {
  const v = typeof p.value === 'number' ? num(p.value) : String(p.value);
  return html`${v.length > 300 ? html`<details><summary>${v.slice(0, 120)}…</summary><pre class="wrap">${v}</pre></details>` : v}
    ${p.unit && html` <span class="unit">${p.unit}</span>`}`;
}

export function PropertyTable({ properties, caption = 'Properties' }) {
  if (!properties || !properties.length) return html`<p class="muted">No properties.</p>`;
  return html`<table class="props">
    <caption class="sr-only">${caption}</caption>
    <thead><tr><th scope="col">Property</th><th scope="col">Value</th><th scope="col">Source</th></tr></thead>
    <tbody>${properties.map((p) => html`<tr key=${p.name + p.source}>
      <th scope="row">${p.iri ? html`<a href=${p.iri} target="_blank" rel="noopener noreferrer" title=${p.iri}>${p.name}</a>` : p.name}</th>
      <td><${Value} p=${p}/></td><td class="muted">${p.source}</td></tr>`)}</tbody>
  </table>`;
}

const propOf = (rec, name) => { const p = (rec.properties || []).find((x) => x.name === name); return p ? p.value : ''; };

// ---- records: a paged table with depictions ----
function Records({ file }) {
  const [pages, setPages] = useState([null]); // cursors; the last is the current page's
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(null);
  const limit = 10;
  const cursor = pages[pages.length - 1];
  useEffect(() => {
    setData(null);
    get(`/files/${file.id}/records?limit=${limit}` + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''))
      .then(setData, setError);
  }, [file.id, file.status, cursor]);
  const start = (pages.length - 1) * limit;
  const crystal = file.kind === 'crystal';
  const reaction = file.kind === 'reaction';
  return html`<section class="card" aria-labelledby="rec-h">
    <h2 id="rec-h">Records <span class="muted">(${file.record_count})</span></h2>
    <${ErrorBox} error=${error}/>
    ${!data && !error && html`<${Spinner}/>`}
    ${data && html`<table class="records">
      <caption class="sr-only">Records of ${file.name}</caption>
      <thead><tr><th scope="col">#</th><th scope="col">Depiction</th><th scope="col">Title</th>
        ${reaction ? html`<th scope="col">Reaction SMILES</th>` : html`<th scope="col">SMILES</th><th scope="col">Formula</th>`}
        ${crystal ? html`<th scope="col">Cell (Å, °)</th><th scope="col">Space group</th>`
                  : !reaction && html`<th scope="col">Mol. weight</th>`}
      </tr></thead>
      <tbody>${data.records.map((r) => html`<tr key=${r.id}>
        <td class="num">${r.index + 1}</td>
        <td class="depict"><button type="button" class="depict-btn" onClick=${() => setOpen(r)} aria-label=${'Details of record ' + (r.index + 1)}>
          ${r.error ? html`<span class="badge st-failed" title=${r.error}>unreadable</span>`
                    : html`<img src=${`${API}/records/${r.id}/depiction`} alt=${'Structure of ' + (r.title || 'record ' + (r.index + 1))}
                            loading="lazy" width="160" height="120"/>`}</button></td>
        <td>${r.title}</td>
        <td class="smiles"><code>${r.smiles}</code></td>
        ${!reaction && html`<td>${propOf(r, 'formula')}</td>`}
        ${crystal ? html`<td class="small">${['cell_length_a', 'cell_length_b', 'cell_length_c'].map((k) => num(propOf(r, k))).join(' / ')}<br/>
                          ${['cell_angle_alpha', 'cell_angle_beta', 'cell_angle_gamma'].map((k) => num(propOf(r, k))).join(' / ')}</td>
                        <td>${propOf(r, 'space_group')}</td>`
                  : !reaction && html`<td class="num">${num(propOf(r, 'molecular_weight'))}</td>`}
      </tr>`)}</tbody></table>
      <div class="pager">
        <button type="button" class="btn" disabled=${pages.length === 1} onClick=${() => setPages(pages.slice(0, -1))}>Previous</button>
        <span class="muted">${data.records.length ? `${start + 1}–${start + data.records.length}` : 'none'} of ${file.record_count}</span>
        <button type="button" class="btn" disabled=${!data.next_cursor} onClick=${() => setPages([...pages, data.next_cursor])}>Next</button>
      </div>`}
    ${open && html`<${Dialog} title=${open.title || 'Record ' + (open.index + 1)} onClose=${() => setOpen(null)} wide>
      ${!open.error && html`<img class="big-depict" src=${`${API}/records/${open.id}/depiction`} alt=${'Structure of ' + (open.title || 'the record')}/>`}
      ${open.error && html`<div class="error-box">${open.error}</div>`}
      ${crystal && html`<${PropertyTable} properties=${(open.properties || []).filter((p) => CELL.includes(p.name))} caption="Cell"/>`}
      <${PropertyTable} properties=${open.properties} caption="Record properties"/>
    <//>`}
  </section>`;
}

// ---- images: thumbnail, zoom ----
function ImagePreview({ file }) {
  const [zoom, setZoom] = useState(null);
  const full = /^image\/(png|jpeg|gif|webp)$/.test(file.media_type)
    ? `${API}/files/${file.id}/content` : `${API}/files/${file.id}/convert?to=png`;
  return html`<div class="image-preview">
    <button type="button" class="thumb-btn" onClick=${() => setZoom(1)} aria-label="Zoom into the image">
      <img src=${`${API}/files/${file.id}/preview`} alt=${'Thumbnail of ' + file.name}/></button>
    ${zoom && html`<${Dialog} title=${file.name} onClose=${() => setZoom(null)} wide>
      <div class="zoom-tools" role="toolbar" aria-label="Zoom">
        <button type="button" class="btn" onClick=${() => setZoom(Math.max(0.25, zoom / 1.5))} aria-label="Zoom out">−</button>
        <span class="muted">${Math.round(zoom * 100)} %</span>
        <button type="button" class="btn" onClick=${() => setZoom(Math.min(16, zoom * 1.5))} aria-label="Zoom in">+</button>
        <button type="button" class="btn ghost" onClick=${() => setZoom(1)}>Fit</button>
      </div>
      <div class="zoom-area"><img src=${full} alt=${file.name} class="zoomed" style=${{ width: zoom * 100 + '%' }}/></div>
    <//>`}
  </div>`;
}

// ---- text of PDFs, office files and text files ----
function TextPreview({ file }) {
  const { data, error, loading } = useAsync(async () => {
    const res = await fetch(`${API}/files/${file.id}/text`, { headers: { Range: 'bytes=0-65535' } });
    if (!res.ok) throw new Error(res.status === 404 ? 'No text was extracted.' : `HTTP ${res.status}`);
    return res.text();
  }, [file.id, file.status]);
  return html`<div>
    ${loading && html`<${Spinner}/>`}
    ${error && html`<p class="muted">${error.message}</p>`}
    ${data != null && html`<pre class="text-preview" tabindex="0" aria-label="Extracted text">${data.slice(0, 65536)}</pre>`}
  </div>`;
}

// ---- tables: preview rows and a histogram per numeric column ----
function Histogram({ values, label }) {
  if (values.length < 2) return null;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const bins = 16;
  const counts = new Array(bins).fill(0);
  for (const v of values) counts[hi === lo ? 0 : Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))]++;
  const max = Math.max(...counts);
  return html`<figure class="hist">
    <svg viewBox="0 0 160 60" width="160" height="60" role="img" aria-label=${`Histogram of ${label}: ${values.length} values from ${num(lo)} to ${num(hi)}`}>
      ${counts.map((c, i) => html`<rect x=${i * 10 + 0.5} y=${60 - (c / max) * 56} width="9" height=${(c / max) * 56} fill="#3b7dd8"><title>${c}</title></rect>`)}
    </svg>
    <figcaption><span>${num(lo)}</span><span>${num(hi)}</span></figcaption>
  </figure>`;
}

function TablePreview({ file }) {
  const art = (file.artifacts || []).find((a) => a.kind === 'table_preview');
  const { data, error } = useAsync(async () => {
    const preview = art ? await get(art.url) : null;
    // the whole table for the histograms when it is small; else the preview's rows
    let rows = null;
    if (file.size <= 4 * 1024 * 1024) {
      try { rows = await get(`/files/${file.id}/convert?to=json`); } catch { rows = null; }
    }
    return { preview, rows };
  }, [file.id, file.status, art && art.url]);
  if (error) return html`<${ErrorBox} error=${error}/>`;
  if (!data) return html`<${Spinner}/>`;
  const p = data.preview;
  if (!p) return html`<p class="muted">No preview.</p>`;
  const columns = p.columns || [];
  const types = p.types || [];
  const all = Array.isArray(data.rows) ? data.rows : null;
  const numeric = columns.map((c, i) => ['integer', 'number'].includes(types[i]));
  const valuesOf = (c, i) => all
    ? all.map((r) => r[c]).filter((v) => typeof v === 'number')
    : (p.rows || []).map((r) => Number(Array.isArray(r) ? r[i] : r[c])).filter((v) => Number.isFinite(v));
  const rows = p.rows || [];
  return html`<div class="table-wrap" tabindex="0" aria-label="Table preview">
    <table class="data">
      <caption class="sr-only">First rows of ${file.name}</caption>
      <thead>
        <tr>${columns.map((c, i) => html`<th scope="col">${c}<div class="muted small">${types[i]}</div></th>`)}</tr>
        <tr class="hists">${columns.map((c, i) => html`<td>${numeric[i] && html`<${Histogram} values=${valuesOf(c, i)} label=${c}/>`}</td>`)}</tr>
      </thead>
      <tbody>${rows.map((r, k) => html`<tr key=${k}>${columns.map((c, i) => html`<td>${String((Array.isArray(r) ? r[i] : r[c]) ?? '')}</td>`)}</tr>`)}</tbody>
    </table>
    <p class="muted small">${all ? `Histograms over all ${all.length} rows` : 'Histograms over the rows shown'}; first ${rows.length} rows shown.</p>
  </div>`;
}

// ---- archives: the listing ----
function ArchivePreview({ file }) {
  const art = (file.artifacts || []).find((a) => a.kind === 'listing');
  const { data, error } = useAsync(async () => {
    if (!art) return null;
    const res = await fetch(art.url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return (await res.text()).split('\n').filter(Boolean).map((l) => l.split('\t'));
  }, [file.id, art && art.url]);
  const [busy, setBusy] = useState(false);
  const unpack = async () => {
    setBusy(true);
    try { const j = await post('/jobs', { type: 'unpack', inputs: [file.id], params: {} }); notify(`Unpacking (job ${j.id})`); } catch (e) { notify(e.message, 'error'); }
    setBusy(false);
  };
  if (error) return html`<${ErrorBox} error=${error}/>`;
  if (!data) return art ? html`<${Spinner}/>` : html`<p class="muted">No listing.</p>`;
  return html`<div>
    <button type="button" class="btn" onClick=${unpack} disabled=${busy}>Unpack into a folder</button>
    <div class="table-wrap"><table class="data">
      <caption class="sr-only">Entries of ${file.name}</caption>
      <thead><tr><th scope="col">Path</th><th scope="col">Type</th><th scope="col">Size</th><th scope="col">Modified</th></tr></thead>
      <tbody>${data.slice(0, 500).map((e, i) => html`<tr key=${i}><td>${e[3]}</td><td>${e[0]}</td><td class="num">${e[1] === '' ? '' : bytes(Number(e[1]))}</td><td>${e[2]}</td></tr>`)}</tbody>
    </table></div>
    ${data.length > 500 && html`<p class="muted">${data.length - 500} more entries.</p>`}
  </div>`;
}

function Preview({ file }) {
  const hasPreview = (file.artifacts || []).some((a) => a.kind === 'preview');
  switch (file.kind) {
    case 'structure': case 'reaction': case 'crystal':
      return file.record_count > 0
        ? html`<img class="file-depict" src=${`${API}/files/${file.id}/preview`} alt=${'Depiction of the first record of ' + file.name}/>`
        : html`<p class="muted">No readable record.</p>`;
    case 'image': return html`<${ImagePreview} file=${file}/>`;
    case 'pdf': case 'office':
      return html`<div class="doc-preview">${hasPreview && html`<img src=${`${API}/files/${file.id}/preview`} alt=${'First page of ' + file.name}/>`}
        <${TextPreview} file=${file}/></div>`;
    case 'text': return html`<${TextPreview} file=${file}/>`;
    case 'table': return html`<${TablePreview} file=${file}/>`;
    case 'archive': return html`<${ArchivePreview} file=${file}/>`;
    default: return html`<p class="muted">No preview for this kind of file.</p>`;
  }
}

function Convert({ file }) {
  const targets = CONVERSIONS[file.kind] || [];
  const [to, setTo] = useState(targets[0]);
  if (!targets.length) return null;
  const base = file.name.replace(/\.[^.]*$/, '');
  return html`<div class="convert">
    <label for="convert-to">Convert to</label>
    <select id="convert-to" value=${to} onChange=${(e) => setTo(e.target.value)}>
      ${targets.map((t) => html`<option value=${t}>${t}</option>`)}</select>
    <a class="btn" href=${`${API}/files/${file.id}/convert?to=${to}`} download=${base + '.' + to}>Download as ${to}</a>
  </div>`;
}

export function FilePage({ fileId }) {
  const [file, setFile] = useState(null);
  const [folder, setFolder] = useState(null);
  const [error, setError] = useState(null);
  const [share, setShare] = useState(false);
  const [train, setTrain] = useState(false);
  const [predict, setPredict] = useState(false);
  const [tick, setTick] = useState(0);
  useEffect(() => { setShare(false); setTrain(false); setPredict(false); }, [fileId]);
  useEffect(() => {
    let live = true;
    get('/files/' + fileId).then((f) => {
      if (!live) return;
      setFile(f);
      document.title = f.name + ' · carboy';
      get('/folders/' + f.folder_id).then((d) => live && setFolder(d), () => {});
    }, (e) => live && setError(e));
    return () => { live = false; };
  }, [fileId, tick]);
  useEffect(() => listen((type, ev) => {
    if ((type === 'file' && ev.id === fileId) || (type === 'job' && (ev.inputs || []).includes(fileId) && ev.state === 'succeeded')) setTick((t) => t + 1);
  }), [fileId]);
  if (error) return html`<div class="page"><${ErrorBox} error=${error}/></div>`;
  if (!file) return html`<div class="page"><${Spinner}/></div>`;
  const records = ['structure', 'reaction', 'crystal'].includes(file.kind) && file.record_count > 0;
  const trainable = file.status === 'processed' && (file.kind === 'table' || (file.kind === 'structure' && file.record_count > 0));
  return html`<div class="page file-page">
    <nav class="crumbs" aria-label="Breadcrumbs"><ol>
      <li><${Link} href="/">Home<//></li>
      ${folder && folder.path.map((p) => html`<li key=${p.id}><${Link} href=${'/folders/' + p.id}>${p.name}<//></li>`)}
      <li><span aria-current="page">${file.name}</span></li>
    </ol></nav>
    <header class="file-head">
      <${FileIcon} kind=${file.kind}/>
      <h1>${file.name}</h1>
      <${StatusBadge} status=${file.status} error=${file.error}/>
    </header>
    <p class="muted">${file.kind} · ${file.media_type} · ${bytes(file.size)} · version ${file.version} · ${when(file.updated_at)}</p>
    ${file.error && html`<div class="error-box" role="alert">${file.error}</div>`}
    <div class="toolbar" role="toolbar" aria-label="File actions">
      <a class="btn primary" href=${`${API}/files/${file.id}/content`} download=${file.name}>Download</a>
      <${Convert} file=${file}/>
      <button type="button" class="btn" onClick=${() => setShare(true)}>Share</button>
      ${trainable && html`<button type="button" class="btn" onClick=${() => setTrain(true)}>Train a model</button>
        <button type="button" class="btn" onClick=${() => setPredict(true)}>Predict for this file</button>`}
      ${file.kind === 'model' && html`<${ModelLink} file=${file}/>`}
    </div>
    <div class="file-grid">
      <section class="card preview-card" aria-labelledby="prev-h">
        <h2 id="prev-h">Preview</h2>
        ${file.status === 'processing' || file.status === 'uploaded' ? html`<${Spinner} label="Processing…"/>` : html`<${Preview} file=${file}/>`}
      </section>
      <section class="card" aria-labelledby="props-h">
        <h2 id="props-h">Properties</h2>
        <${PropertyTable} properties=${file.properties}/>
      </section>
    </div>
    ${records && html`<${Records} file=${file}/>`}
    <section class="card" aria-labelledby="ver-h">
      <h2 id="ver-h">Versions</h2>
      <table class="versions"><caption class="sr-only">Versions of ${file.name}</caption>
        <thead><tr><th scope="col">Version</th><th scope="col">Size</th><th scope="col">Uploaded</th><th scope="col">SHA-256</th><th scope="col"><span class="sr-only">Download</span></th></tr></thead>
        <tbody>${(file.versions || []).map((v) => html`<tr key=${v.version}><td>${v.version}</td><td class="num">${bytes(v.size)}</td>
          <td>${when(v.created_at)}</td><td><code class="hash" title=${v.sha256}>${v.sha256.slice(0, 16)}…</code></td>
          <td><a href=${`${API}/files/${file.id}/content?version=${v.version}`} download=${file.name}>Download v${v.version}</a></td></tr>`)}</tbody>
      </table>
    </section>
    ${share && html`<${ShareDialog} type="file" id=${file.id} name=${file.name} onClose=${() => setShare(false)}/>`}
    ${train && html`<${TrainDialog} file=${file} onClose=${() => setTrain(false)}/>`}
    ${predict && html`<${PredictFileDialog} file=${file} onClose=${() => setPredict(false)}/>`}
  </div>`;
}
