// Tables on a file's page: the first rows with a histogram per numeric column (over every
// row when the file is small enough to fetch as JSON), and for a workbook (XLSX, ODS) a
// tab per sheet, each such a table. The table_preview artifact holds the first rows of
// each sheet ("sheets"); GET /files/{id}/convert?to=json&sheet=NAME gives a sheet's rows.
import { useRef, useState } from 'preact/hooks';
import { html, ErrorBox, Spinner, num, useAsync } from './ui.js';
import { API, get, artifactUrl } from './api.js';

const WHOLE_MAX = 4 * 1024 * 1024; // files up to this size get histograms over every row

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

// One table: p is a preview ({columns, types, rows}); the rows of the whole table (or of
// the sheet) are fetched when the file is small.
function DataTable({ file, p, sheet }) {
  const { data, error } = useAsync(async () => {
    if (file.size > WHOLE_MAX) return null;
    const q = sheet != null ? '&sheet=' + encodeURIComponent(sheet) : '';
    try { return await get(`/files/${file.id}/convert?to=json${q}`); } catch { return null; }
  }, [file.id, file.status, sheet]);
  if (error) return html`<${ErrorBox} error=${error}/>`;
  if (data === null && file.size <= WHOLE_MAX && !p.rows) return html`<${Spinner}/>`;
  const all = Array.isArray(data) ? data : null;
  // a sheet past the preview's budget has no columns of its own there: take them from its rows
  let columns = p.columns || [];
  let types = p.types || [];
  let rows = p.rows || [];
  if (!columns.length && all && all.length) {
    columns = Object.keys(all[0]);
    types = columns.map((c) => (all.some((r) => typeof r[c] === 'number') ? 'number' : 'text'));
    rows = all.slice(0, 20);
  }
  if (!columns.length) {
    return html`<p class="muted">${p.omitted ? 'This sheet is too large to preview here; ' : 'No rows; '}
      <a href=${`${API}/files/${file.id}/convert?to=csv${sheet != null ? '&sheet=' + encodeURIComponent(sheet) : ''}`}>download it as CSV</a>.</p>`;
  }
  const numeric = columns.map((c, i) => ['integer', 'number'].includes(types[i]));
  const valuesOf = (c, i) => all
    ? all.map((r) => r[c]).filter((v) => typeof v === 'number')
    : rows.map((r) => Number(Array.isArray(r) ? r[i] : r[c])).filter((v) => Number.isFinite(v));
  const what = sheet != null ? `sheet ${sheet} of ${file.name}` : file.name;
  return html`<div class="table-wrap" tabindex="0" aria-label=${'Table preview of ' + what}>
    <table class="data">
      <caption class="sr-only">First rows of ${what}</caption>
      <thead>
        <tr>${columns.map((c, i) => html`<th scope="col">${c}<div class="muted small">${types[i]}</div></th>`)}</tr>
        <tr class="hists">${columns.map((c, i) => html`<td>${numeric[i] && html`<${Histogram} values=${valuesOf(c, i)} label=${c}/>`}</td>`)}</tr>
      </thead>
      <tbody>${rows.map((r, k) => html`<tr key=${k}>${columns.map((c, i) => html`<td>${String((Array.isArray(r) ? r[i] : r[c]) ?? '')}</td>`)}</tr>`)}</tbody>
    </table>
    <p class="muted small">${all ? `Histograms over all ${all.length} rows` : 'Histograms over the rows shown'}; first ${rows.length} rows shown.</p>
  </div>`;
}

// A tab per sheet (role tablist; arrows, Home and End move between them).
function Sheets({ file, sheets }) {
  const [at, setAt] = useState(0);
  const tabs = useRef([]);
  const go = (i) => { setAt(i); const t = tabs.current[i]; if (t) t.focus(); };
  const key = (e) => {
    const n = sheets.length;
    const i = { ArrowRight: (at + 1) % n, ArrowLeft: (at - 1 + n) % n, Home: 0, End: n - 1 }[e.key];
    if (i !== undefined) { e.preventDefault(); go(i); }
  };
  const s = sheets[at] || sheets[0];
  return html`<div class="sheets">
    <div role="tablist" aria-label=${'Sheets of ' + file.name} class="tabs sheet-tabs" onKeyDown=${key}>
      ${sheets.map((sh, i) => html`<button type="button" role="tab" key=${i} id=${'sheet-tab-' + i} ref=${(el) => { tabs.current[i] = el; }}
          aria-selected=${i === at} aria-controls="sheet-panel" tabindex=${i === at ? 0 : -1}
          class=${'tab' + (i === at ? ' active' : '')} onClick=${() => setAt(i)}>${sh.name}</button>`)}
    </div>
    <div role="tabpanel" id="sheet-panel" aria-labelledby=${'sheet-tab-' + at}>
      <${DataTable} key=${at} file=${file} p=${s} sheet=${s.name}/>
    </div>
  </div>`;
}

export function TablePreview({ file }) {
  const art = (file.artifacts || []).find((a) => a.kind === 'table_preview');
  const { data, error } = useAsync(async () => (art ? get(artifactUrl(art.url)) : null), [file.id, file.status, art && art.url]);
  if (error) return html`<${ErrorBox} error=${error}/>`;
  if (data === null) return art ? html`<${Spinner}/>` : html`<p class="muted">No preview.</p>`;
  if (Array.isArray(data.sheets) && data.sheets.length) return html`<${Sheets} file=${file} sheets=${data.sheets}/>`;
  return html`<${DataTable} file=${file} p=${data} sheet=${null}/>`;
}
