// A file's page: what carboy learned from it. Properties (units, ontology links),
// versions, a preview per kind (depictions and a paged table of records for
// structures, reactions and crystals; thumbnails with zoom; text; tables with
// histograms; archive listings), downloads and conversions; models: "Train a model" on
// structures and tables, "Predict for this file", a model bundle's link to its page.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html, Link, Dialog, ErrorBox, Spinner, bytes, when, num, notify, may, navigate, FileIcon, StatusBadge, useAsync } from './ui.js';
import { API, get, post, listen, inLink, pageUrl, artifactUrl } from './api.js';
import { ShareDialog } from './share.js';
import { TrainDialog, PredictFileDialog, ModelLink } from './train.js';
import { Versions } from './versions.js';
import { DeleteButton } from './trash.js';
import { Records } from './records.js';
import { TablePreview } from './table.js';
import { Structure3D, format3d } from './structure3d.js';
import { Curation } from './metadata.js';
import { TiffPages, PdfPages, pageCount } from './pages.js';

const STRUCTURE = ['smi', 'can', 'inchi', 'inchikey', 'mol', 'sdf', 'mol2', 'pdb', 'cml', 'xyz', 'csv'];
export const CONVERSIONS = {
  structure: STRUCTURE, reaction: ['rxn', 'rsmi', 'csv'], crystal: ['cif', ...STRUCTURE],
  table: ['csv', 'tsv', 'json'], image: ['png'], text: ['txt'],
};

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
      <div class="zoom-area" tabindex="0" role="region" aria-label="The image at ${zoom * 100}%"><img src=${full} alt=${file.name} class="zoomed" style=${{ width: zoom * 100 + '%' }}/></div>
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

// ---- tables (and a workbook's sheets): table.js ----

// ---- archives: the listing ----
function ArchivePreview({ file }) {
  const art = (file.artifacts || []).find((a) => a.kind === 'listing');
  const { data, error } = useAsync(async () => {
    if (!art) return null;
    const res = await fetch(artifactUrl(art.url));
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
    ${may(file, 'write') && !inLink() && html`<button type="button" class="btn" onClick=${unpack} disabled=${busy}>Unpack into a folder</button>`}
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
    case 'image': return pageCount(file) > 1 ? html`<${TiffPages} file=${file}/>` : html`<${ImagePreview} file=${file}/>`;
    case 'pdf': case 'office':
      return html`<div class="doc-preview">${hasPreview && html`<img src=${`${API}/files/${file.id}/preview`} alt=${'First page of ' + file.name}/>`}
        <${TextPreview} file=${file}/></div>
        ${file.kind === 'pdf' && html`<${PdfPages} file=${file}/>`}`;
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

export function FilePage({ fileId, me, link }) {
  const [file, setFile] = useState(null);
  const [folder, setFolder] = useState(null);
  const [error, setError] = useState(null);
  const [share, setShare] = useState(false);
  const [train, setTrain] = useState(false);
  const [predict, setPredict] = useState(false);
  const [tick, setTick] = useState(0);
  const [shown3d, setShown3d] = useState({ index: 0, block: null }); // the record in the 3-D view
  useEffect(() => { setShare(false); setTrain(false); setPredict(false); setShown3d({ index: 0, block: null }); }, [fileId]);
  useEffect(() => {
    let live = true;
    get('/files/' + fileId).then((f) => {
      if (!live) return;
      setFile(f);
      document.title = f.name + ' · carboy';
      // the folder, for the breadcrumbs, unless it is out of the visitor's sight: a file's
      // own link shares only the file, and a public file may sit in a private folder
      const hidden = inLink() ? link && link.type === 'file' : !me && f.visibility === 'public';
      if (!hidden) get('/folders/' + f.folder_id).then((d) => live && setFolder(d), () => {});
    }, (e) => live && setError(e));
    return () => { live = false; };
  }, [fileId, tick]);
  useEffect(() => listen((type, ev) => {
    if ((type === 'file' && ev.id === fileId) || (type === 'job' && (ev.inputs || []).includes(fileId) && ev.state === 'succeeded')) setTick((t) => t + 1);
  }), [fileId]);
  if (error) {
    return html`<div class="page"><${ErrorBox} error=${error.status === 404 && !me && !inLink()
      ? new Error('This file is not public, or does not exist. Sign in if it was shared with you.') : error}/></div>`;
  }
  if (!file) return html`<div class="page"><${Spinner}/></div>`;
  const records = ['structure', 'reaction', 'crystal'].includes(file.kind) && file.record_count > 0;
  // the controls follow the caller's rights on the file ("can"); none for a visitor
  const signed = !!me && !inLink();
  const trainable = signed && may(file, 'write') && file.status === 'processed' && (file.kind === 'table' || (file.kind === 'structure' && file.record_count > 0));
  return html`<div class="page file-page">
    <nav class="crumbs" aria-label="Breadcrumbs"><ol>
      ${signed && html`<li><${Link} href="/">Home<//></li>`}
      ${folder && folder.path.map((p) => html`<li key=${p.id}><${Link} href=${pageUrl('/folders/' + p.id)}>${p.name}<//></li>`)}
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
      ${signed && may(file, 'share') && html`<button type="button" class="btn" onClick=${() => setShare(true)}>Share</button>`}
      ${trainable && html`<button type="button" class="btn" onClick=${() => setTrain(true)}>Train a model</button>
        <button type="button" class="btn" onClick=${() => setPredict(true)}>Predict for this file</button>`}
      ${file.kind === 'model' && html`<${ModelLink} file=${file}/>`}
      ${signed && may(file, 'delete') && html`<${DeleteButton} file=${file}
        onDeleted=${() => navigate(folder ? '/folders/' + file.folder_id : '/', true)}/>`}
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
    <${Curation} file=${file} onSaved=${setFile}/>
    ${file.status === 'processed' && html`<${Structure3D} file=${file} record=${shown3d.index} block=${shown3d.block}/>`}
    ${records && html`<${Records} file=${file} onShow3d=${format3d(file) ? (r) => {
      const b = (r.properties || []).find((p) => p.name === 'data_block');
      setShown3d({ index: r.index, block: b ? String(b.value) : null });
      const card = document.querySelector('.v3d-card');
      if (card) card.scrollIntoView({ block: 'start' });
    } : null}/>`}
    <${Versions} file=${file} me=${me} onChanged=${() => setTick((t) => t + 1)}/>
    ${share && html`<${ShareDialog} type="file" id=${file.id} name=${file.name} onClose=${() => setShare(false)}/>`}
    ${train && html`<${TrainDialog} file=${file} onClose=${() => setTrain(false)}/>`}
    ${predict && html`<${PredictFileDialog} file=${file} onClose=${() => setPredict(false)}/>`}
  </div>`;
}
