// The records of a multi-record file (structures, reactions, crystals) as a table: a page
// size, a sort on any column (the server sorts: GET /files/{id}/records?sort&order), a
// filter box (q), and pages through next_cursor. A record's details open in a dialog,
// which can send it to the 3-D view when the page has one.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html, Dialog, ErrorBox, Spinner, num } from './ui.js';
import { API, get } from './api.js';
import { PropertyTable } from './file.js';

const CELL = ['cell_length_a', 'cell_length_b', 'cell_length_c', 'cell_angle_alpha', 'cell_angle_beta',
  'cell_angle_gamma', 'cell_volume', 'space_group', 'space_group_number'];
const SIZES = [10, 25, 50, 100];

const propOf = (rec, name) => { const p = (rec.properties || []).find((x) => x.name === name); return p ? p.value : ''; };

// A column header that sorts: the button says what a click does, aria-sort what is.
function SortHeader({ label, k, sort, onSort, title }) {
  const active = sort.key === k;
  const next = active && !sort.desc ? 'descending' : 'ascending';
  return html`<th scope="col" aria-sort=${active ? (sort.desc ? 'descending' : 'ascending') : 'none'} title=${title}>
    <button type="button" class="sort-btn" data-sort=${k} onClick=${() => onSort(k)}
        aria-label=${`${label}: sort ${next}`}>${label}<span class="sort-mark" aria-hidden="true">${active ? (sort.desc ? '▼' : '▲') : '↕'}</span></button>
  </th>`;
}

export function Records({ file, onShow3d }) {
  const [size, setSize] = useState(10);
  const [sort, setSort] = useState({ key: 'index', desc: false });
  const [filter, setFilter] = useState('');
  const [q, setQ] = useState(''); // the filter applied (a pause after typing)
  const [pages, setPages] = useState([null]); // cursors; the last is the current page's
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(null);
  const cursor = pages[pages.length - 1];
  const timer = useRef(0);
  // the request the page shown answers: a page of another one is stale until its answer comes
  const key = JSON.stringify([file.id, file.status, cursor, size, sort.key, sort.desc, q]);

  useEffect(() => () => clearTimeout(timer.current), []);
  useEffect(() => {
    let live = true;
    setError(null);
    const p = new URLSearchParams({ limit: String(size) });
    // the file's own order needs no parameters (and pages by index, the fastest)
    if (sort.key !== 'index' || sort.desc || q) {
      p.set('sort', sort.key);
      p.set('order', sort.desc ? 'desc' : 'asc');
      if (q) p.set('q', q);
    }
    if (cursor) p.set('cursor', cursor);
    get(`/files/${file.id}/records?${p}`).then((d) => live && setData({ ...d, key }), (e) => live && setError(e));
    return () => { live = false; };
  }, [key]);
  const fresh = data && data.key === key;

  const restart = () => setPages([null]);
  const onSort = (k) => { setSort((s) => ({ key: k, desc: s.key === k ? !s.desc : false })); restart(); };
  const onFilter = (v) => {
    setFilter(v);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => { setQ(v.trim()); restart(); }, 300);
  };
  const start = (pages.length - 1) * size;
  const total = data && data.total != null ? data.total : file.record_count;
  const crystal = file.kind === 'crystal';
  const reaction = file.kind === 'reaction';
  const th = (label, k, title) => html`<${SortHeader} label=${label} k=${k} sort=${sort} onSort=${onSort} title=${title}/>`;
  return html`<section class="card" aria-labelledby="rec-h">
    <h2 id="rec-h">Records <span class="muted">(${file.record_count})</span></h2>
    <div class="rec-tools">
      <label for="rec-filter">Filter</label>
      <input id="rec-filter" type="search" value=${filter} placeholder="title, SMILES, InChIKey or a property's text"
        onInput=${(e) => onFilter(e.target.value)}
        onKeyDown=${(e) => { if (e.key === 'Enter') { clearTimeout(timer.current); setQ(filter.trim()); restart(); } }}/>
      <label for="rec-size">Rows per page</label>
      <select id="rec-size" value=${size} onChange=${(e) => { setSize(Number(e.target.value)); restart(); }}>
        ${SIZES.map((n) => html`<option value=${n}>${n}</option>`)}</select>
    </div>
    <${ErrorBox} error=${error}/>
    ${!data && !error && html`<${Spinner}/>`}
    ${data && html`<div class="table-scroll"><table class="records" aria-describedby="rec-status" aria-busy=${fresh ? 'false' : 'true'}>
      <caption class="sr-only">Records of ${file.name}</caption>
      <thead><tr>${th('#', 'index')}<th scope="col">Depiction</th>${th('Title', 'title')}
        ${reaction ? th('Reaction SMILES', 'smiles') : html`${th('SMILES', 'smiles')}${th('Formula', 'formula')}`}
        ${crystal ? html`${th('Cell (Å, °)', 'cell_volume', 'Sorted by the cell volume')}${th('Space group', 'space_group')}`
                  : !reaction && th('Mol. weight', 'molecular_weight')}
      </tr></thead>
      <tbody>${data.records.map((r) => html`<tr key=${r.id} data-index=${r.index}>
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
      </tr>`)}</tbody></table></div>
      <div class="pager">
        <button type="button" class="btn" disabled=${!fresh || pages.length === 1} onClick=${() => setPages(pages.slice(0, -1))}>Previous</button>
        <span class="muted" id="rec-status" aria-live="polite">${!fresh ? 'Loading…' : `${data.records.length ? `${start + 1}–${start + data.records.length}` : 'none'} of ${total}${q ? ` matching “${q}”` : ''}`}</span>
        <button type="button" class="btn" disabled=${!fresh || !data.next_cursor} onClick=${() => setPages([...pages, data.next_cursor])}>Next</button>
      </div>`}
    ${open && html`<${Dialog} title=${open.title || 'Record ' + (open.index + 1)} onClose=${() => setOpen(null)} wide>
      ${!open.error && html`<img class="big-depict" src=${`${API}/records/${open.id}/depiction`} alt=${'Structure of ' + (open.title || 'the record')}/>`}
      ${open.error && html`<div class="error-box">${open.error}</div>`}
      ${onShow3d && !open.error && html`<p><button type="button" class="btn" onClick=${() => { onShow3d(open); setOpen(null); }}>Show in 3-D</button></p>`}
      ${crystal && html`<${PropertyTable} properties=${(open.properties || []).filter((p) => CELL.includes(p.name))} caption="Cell"/>`}
      <${PropertyTable} properties=${open.properties} caption="Record properties"/>
    <//>`}
  </section>`;
}
