// Search: words with kind and property filters, and structure search by SMILES or a
// drawn structure (substructure, similarity, exact). The molecule editor is loaded only
// when asked for.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html, Link, ErrorBox, Spinner, navigate, num } from './ui.js';
import { API, get } from './api.js';
import { CategorySelect } from './categories.js';

const KINDS = ['structure', 'reaction', 'crystal', 'image', 'pdf', 'office', 'table', 'archive', 'text', 'other'];
const DRAWN = ['structure', 'reaction', 'crystal'];
const OPS = [['eq', '='], ['lt', '<'], ['le', '≤'], ['gt', '>'], ['ge', '≥']];
const STRUCT_PAGE = 50; // structure hits per page

function Snippet({ text }) {
  if (!text) return null;
  // the server marks matches with « »
  const parts = [];
  let rest = text;
  let k = 0;
  while (rest.length) {
    const a = rest.indexOf('«');
    const b = a >= 0 ? rest.indexOf('»', a) : -1;
    if (a < 0 || b < 0) { parts.push(rest); break; }
    parts.push(rest.slice(0, a), html`<mark key=${k++}>${rest.slice(a + 1, b)}</mark>`);
    rest = rest.slice(b + 1);
  }
  return html`<p class="snippet">${parts}</p>`;
}

function TextSearch({ query }) {
  const [q, setQ] = useState(query.get('q') || '');
  const [kind, setKind] = useState(query.get('kind') || '');
  const [category, setCategory] = useState(query.get('category') || '');
  const [filters, setFilters] = useState(query.getAll('where').map((w) => {
    const m = w.match(/^(.*):(eq|lt|le|gt|ge):(.*)$/);
    return m ? { name: m[1], op: m[2], value: m[3] } : { name: w, op: 'eq', value: '' };
  }));
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const params = () => {
    const p = new URLSearchParams();
    if (q.trim()) p.set('q', q.trim());
    if (kind) p.set('kind', kind);
    if (category) p.set('category', category);
    for (const f of filters) if (f.name.trim()) p.append('where', `${f.name.trim()}:${f.op}:${f.value}`);
    return p;
  };
  const run = async (p, cursor) => {
    setBusy(true);
    setError(null);
    try {
      const page = await get('/search?' + p.toString() + '&limit=50' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      setResult((r) => cursor && r ? { ...page, hits: [...r.hits, ...page.hits] } : page);
    } catch (e) { setError(e); setResult(null); }
    setBusy(false);
  };
  const runnable = (p) => p.has('q') || p.has('where') || p.has('category');
  useEffect(() => { const p = params(); if (runnable(p)) run(p); }, []);
  const submit = (e) => {
    e.preventDefault();
    const p = params();
    navigate('/search?' + p.toString(), true);
    if (runnable(p)) run(p);
  };
  const setF = (i, field, v) => setFilters(filters.map((f, j) => j === i ? { ...f, [field]: v } : f));

  return html`<section aria-labelledby="ts-h">
    <h2 id="ts-h" class="sr-only">Text search</h2>
    <form class="search-form" onSubmit=${submit} role="search">
      <div class="search-row">
        <label class="sr-only" for="q">Search words</label>
        <input id="q" type="search" placeholder="Words in names, text and properties (word* for a prefix)" value=${q}
          onInput=${(e) => setQ(e.target.value)}/>
        <label class="sr-only" for="kind">Kind</label>
        <select id="kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>
          <option value="">All kinds</option>${KINDS.map((k) => html`<option value=${k}>${k}</option>`)}</select>
        <label class="sr-only" for="category">Category</label>
        <${CategorySelect} id="category" value=${category} onChange=${setCategory}/>
        <button class="btn primary" type="submit" disabled=${busy}>Search</button>
      </div>
      <fieldset class="filters"><legend>Property filters</legend>
        ${filters.map((f, i) => html`<div class="filter" key=${i}>
          <label class="sr-only" for=${'fn' + i}>Property name</label>
          <input id=${'fn' + i} placeholder="property, e.g. molecular_weight" value=${f.name} onInput=${(e) => setF(i, 'name', e.target.value)}/>
          <label class="sr-only" for=${'fo' + i}>Comparison</label>
          <select id=${'fo' + i} value=${f.op} onChange=${(e) => setF(i, 'op', e.target.value)}>
            ${OPS.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select>
          <label class="sr-only" for=${'fv' + i}>Value</label>
          <input id=${'fv' + i} placeholder="value" value=${f.value} onInput=${(e) => setF(i, 'value', e.target.value)}/>
          <button type="button" class="icon-btn" aria-label="Remove filter" onClick=${() => setFilters(filters.filter((_, j) => j !== i))}>✕</button>
        </div>`)}
        <button type="button" class="btn ghost small" onClick=${() => setFilters([...filters, { name: '', op: 'gt', value: '' }])}>Add filter</button>
      </fieldset>
    </form>
    <${ErrorBox} error=${error}/>
    ${busy && !result && html`<${Spinner} label="Searching…"/>`}
    ${result && html`<div aria-live="polite">
      <p class="muted">${result.hits.length}${result.next_cursor ? '+' : ''} hit${result.hits.length === 1 ? '' : 's'}</p>
      <ol class="hits">${result.hits.map((h) => html`<li key=${h.file_id + (h.record_id || '')}
          class=${h.record_id && DRAWN.includes(h.kind) ? 'with-depict' : ''}>
        ${h.record_id && DRAWN.includes(h.kind) && html`<img src=${`${API}/records/${h.record_id}/depiction`}
            alt=${'Structure of ' + (h.title || 'the record')} loading="lazy" width="96" height="72"/>`}
        <div>
          <${Link} href=${'/files/' + h.file_id} class="hit-name">${h.name}<//>
          ${h.record_id && html` <span class="muted">${h.title ? 'record ' + h.title : 'a record'}</span>`}
          <span class="badge">${h.kind}</span>
          <${Snippet} text=${h.snippet}/>
          ${h.matched && h.matched.length > 0 && html`<ul class="matched" aria-label="Matched properties">
            ${h.matched.map((m, k) => html`<li key=${k}><span class="m-name">${m.name}</span> = <span class="m-value">${typeof m.value === 'number' ? num(m.value) : String(m.value)}</span>${m.unit ? html` <span class="unit">${m.unit}</span>` : ''}</li>`)}
          </ul>`}
        </div>
      </li>`)}</ol>
      ${result.next_cursor && html`<button type="button" class="btn" onClick=${() => run(params(), result.next_cursor)}>More</button>`}
    </div>`}
  </section>`;
}

function StructureSearch({ query }) {
  const [smiles, setSmiles] = useState(query.get('smiles') || '');
  const [mode, setMode] = useState(query.get('mode') || 'substructure');
  const [threshold, setThreshold] = useState(0.7);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [drawing, setDrawing] = useState(false);
  const [pages, setPages] = useState([null]); // cursors of the pages seen; the last is the current one's
  const [asked, setAsked] = useState(null); // the query the pages are of
  const host = useRef(null);
  const editor = useRef(null);

  useEffect(() => {
    if (!drawing || editor.current) return;
    let dead = false;
    import('./editor.js').then(({ createEditor }) => {
      if (dead) return;
      editor.current = createEditor(host.current, smiles, (s) => setSmiles(s));
    }, (e) => setError(e));
    return () => { dead = true; };
  }, [drawing]);
  useEffect(() => () => { if (editor.current) editor.current.destroy(); }, []);

  const fetchPage = async (p, stack) => {
    setBusy(true);
    setError(null);
    try {
      const c = stack[stack.length - 1];
      setResult(await get('/search/structure?' + p.toString() + (c ? '&cursor=' + encodeURIComponent(c) : '')));
      setPages(stack);
    } catch (err) { setError(err); setResult(null); }
    setBusy(false);
  };
  const submit = (e) => {
    e.preventDefault();
    if (!smiles.trim()) return;
    const p = new URLSearchParams({ smiles: smiles.trim(), mode, limit: String(STRUCT_PAGE) });
    if (mode === 'similarity') p.set('threshold', String(threshold));
    setAsked(p);
    fetchPage(p, [null]);
  };
  const first = (pages.length - 1) * STRUCT_PAGE;
  return html`<section aria-labelledby="ss-h">
    <h2 id="ss-h" class="sr-only">Structure search</h2>
    <form class="search-form" onSubmit=${submit}>
      <div class="search-row">
        <label class="sr-only" for="smiles">SMILES</label>
        <input id="smiles" placeholder="SMILES, e.g. c1ccccc1C(=O)O" value=${smiles} onInput=${(e) => {
          setSmiles(e.target.value);
          if (editor.current) editor.current.set(e.target.value);
        }} spellcheck="false"/>
        <label class="sr-only" for="mode">Mode</label>
        <select id="mode" value=${mode} onChange=${(e) => setMode(e.target.value)}>
          <option value="substructure">Substructure</option><option value="similarity">Similarity</option><option value="exact">Exact</option></select>
        ${mode === 'similarity' && html`<label for="thr" class="thr">Tanimoto ≥ <input id="thr" type="number" min="0" max="1" step="0.05"
          value=${threshold} onInput=${(e) => setThreshold(e.target.value)}/></label>`}
        <button class="btn primary" type="submit" disabled=${busy}>${busy ? 'Searching…' : 'Search'}</button>
      </div>
      <button type="button" class="btn ghost small" aria-expanded=${drawing} onClick=${() => setDrawing(!drawing)}>
        ${drawing ? 'Hide the editor' : 'Draw a structure'}</button>
      ${drawing && html`<div class="editor-host" ref=${host} role="application" aria-label="Molecule editor" data-testid="editor"></div>`}
    </form>
    <${ErrorBox} error=${error}/>
    ${result && html`<div aria-live="polite">
      <p class="muted struct-total">${result.total_exact === false ? 'About ' : ''}${result.total ?? result.hits.length} hit${(result.total ?? result.hits.length) === 1 ? '' : 's'}${result.query_smiles ? html` for <code>${result.query_smiles}</code>` : ''}${result.hits.length ? ` · showing ${first + 1}–${first + result.hits.length}` : ''}</p>
      <ul class="struct-hits">${result.hits.map((h) => html`<li key=${h.record_id} class="card">
        <img src=${`${API}/records/${h.record_id}/depiction`} alt=${'Structure of ' + (h.title || h.smiles)} loading="lazy" width="180" height="135"/>
        <div><${Link} href=${'/files/' + h.file_id}>${h.title || 'untitled'}<//>
          ${h.similarity != null && html` <span class="badge">${num(h.similarity)}</span>`}</div>
        <code class="smiles">${h.smiles}</code>
      </li>`)}</ul>
      ${(pages.length > 1 || result.next_cursor) && html`<div class="pager">
        <button type="button" class="btn" disabled=${busy || pages.length === 1} onClick=${() => fetchPage(asked, pages.slice(0, -1))}>Previous</button>
        <span class="muted">Page ${pages.length}</span>
        <button type="button" class="btn" disabled=${busy || !result.next_cursor} onClick=${() => fetchPage(asked, [...pages, result.next_cursor])}>Next</button>
      </div>`}
    </div>`}
  </section>`;
}

export function SearchPage() {
  const query = new URLSearchParams(location.search);
  const [tab, setTab] = useState(query.get('smiles') ? 'structure' : 'text');
  useEffect(() => { document.title = 'Search · carboy'; }, []);
  const tabBtn = (id, label) => html`<button type="button" role="tab" id=${'tab-' + id} aria-selected=${tab === id}
      aria-controls=${'panel-' + id} tabindex=${tab === id ? 0 : -1} class=${'tab' + (tab === id ? ' active' : '')}
      onClick=${() => setTab(id)}
      onKeyDown=${(e) => { if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') { const n = tab === 'text' ? 'structure' : 'text'; setTab(n); document.getElementById('tab-' + n).focus(); } }}>${label}</button>`;
  return html`<div class="page">
    <h1>Search</h1>
    <div role="tablist" aria-label="Kind of search" class="tabs">${tabBtn('text', 'Text and properties')}${tabBtn('structure', 'Structure')}</div>
    <div role="tabpanel" id=${'panel-' + tab} aria-labelledby=${'tab-' + tab}>
      ${tab === 'text' ? html`<${TextSearch} query=${query}/>` : html`<${StructureSearch} query=${query}/>`}
    </div>
  </div>`;
}
