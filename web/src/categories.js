// Categories: a tree of terms administrators maintain (GET/POST/PATCH/DELETE
// /api/v1/categories), assigned to files and folders by whoever may change them
// (PUT /api/v1/{files|folders}/{id}/categories). Here: the picker of a file's or a folder's
// page, the select of the search page, and the admin page's section.
import { useEffect, useState } from 'preact/hooks';
import { html, ErrorBox, Spinner, notify, may } from './ui.js';
import { get, post, patch, put, del } from './api.js';

// The tree, fetched by each component that shows it (on mount, and when version changes).
function useCategories(version = 0, wanted = true) {
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!wanted) return undefined;
    let live = true;
    get('/categories').then((r) => live && setList(r.categories), (e) => live && setError(e));
    return () => { live = false; };
  }, [version, wanted]);
  return { list, error };
}

// The IRI's last segment ("CHEBI_33659"), for a short link text.
export function iriLabel(iri) {
  const m = String(iri).match(/[^/#]+[/#]?$/);
  return m ? m[0].replace(/[/#]$/, '') : iri;
}

// ---- a file's or a folder's categories: chips, and an "add" select when they may write ----
export function CategoryPicker({ type, obj, onSaved, compact }) {
  const { list, error: loadError } = useCategories(0, may(obj, 'write'));
  const [pick, setPick] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const assigned = obj.categories || [];
  // rights from the API ("can"), or, from a server that does not tell, the control shown
  const canWrite = may(obj, 'write');
  const idp = `cat-${type}`;
  const save = async (ids) => {
    setBusy(true);
    setError(null);
    try {
      const next = await put(`/${type === 'file' ? 'files' : 'folders'}/${obj.id}/categories`, { category_ids: ids });
      setPick('');
      onSaved(next);
    } catch (e) { setError(e); }
    setBusy(false);
  };
  const add = (e) => {
    e.preventDefault();
    if (pick) save([...assigned.map((c) => c.id), pick]);
  };
  if (!canWrite && !assigned.length) return null;
  const free = (list || []).filter((c) => !assigned.some((a) => a.id === c.id));
  return html`<div class=${'categories' + (compact ? ' compact' : '')}>
    <h2 id=${idp + '-h'} class=${compact ? 'inline-h' : ''}>Categories</h2>
    <ul class="chips" aria-labelledby=${idp + '-h'}>
      ${assigned.map((c) => html`<li key=${c.id}><span title=${c.iri || c.path}>${c.path}</span>
        ${c.iri && html` <a class="iri" href=${c.iri} target="_blank" rel="noopener noreferrer" title=${c.iri}
            aria-label=${`Ontology term of ${c.path}: ${iriLabel(c.iri)}`}>${iriLabel(c.iri)}</a>`}
        ${canWrite && html`<button type="button" class="icon-btn" disabled=${busy} aria-label=${`Remove category ${c.path}`}
          onClick=${() => save(assigned.filter((x) => x.id !== c.id).map((x) => x.id))}>✕</button>`}</li>`)}
      ${!assigned.length && html`<li class="muted">none</li>`}
    </ul>
    ${canWrite && html`<form class="inline-form" onSubmit=${add} aria-label=${`Add a category to this ${type}`}>
      <label class="sr-only" for=${idp + '-add'}>Category to add</label>
      <select id=${idp + '-add'} value=${pick} onChange=${(e) => setPick(e.target.value)} disabled=${!list}>
        <option value="">${list && !list.length ? 'No categories defined' : 'Add a category…'}</option>
        ${free.map((c) => html`<option key=${c.id} value=${c.id}>${c.path}</option>`)}
      </select>
      <button type="submit" class="btn small" disabled=${!pick || busy}>Add</button>
    </form>`}
    <${ErrorBox} error=${error || loadError}/>
  </div>`;
}

// ---- the search page's filter: a select of the tree ----
export function CategorySelect({ id, value, onChange }) {
  const { list } = useCategories();
  return html`<select id=${id} value=${value} onChange=${(e) => onChange(e.target.value)}>
    <option value="">All categories</option>
    ${(list || []).map((c) => html`<option key=${c.id} value=${c.id}>${c.path}</option>`)}
    ${value && !list && html`<option value=${value}>…</option>`}
  </select>`;
}

// ---- the admin page: the tree; add a root or a child, rename, set the IRI, delete ----
function EditForm({ label, initial, kind, onSubmit, onCancel }) {
  const [v, setV] = useState(initial || '');
  const id = 'cat-edit';
  return html`<form class="inline-form cat-edit" onSubmit=${(e) => { e.preventDefault(); onSubmit(v.trim()); }}>
    <label for=${id}>${label}</label>
    <input id=${id} value=${v} onInput=${(e) => setV(e.target.value)} autofocus
      type=${kind === 'iri' ? 'url' : 'text'} placeholder=${kind === 'iri' ? 'http://purl.obolibrary.org/obo/…' : ''}/>
    <button type="submit" class="btn small primary">Save</button>
    <button type="button" class="btn small" onClick=${onCancel}>Cancel</button>
  </form>`;
}

function Node({ c, kids, editing, setEditing, act }) {
  const mine = editing && editing.id === c.id ? editing.mode : null;
  return html`<li>
    <div class="cat-row">
      <span class="cat-name">${c.name}</span>
      ${c.iri && html`<a class="iri" href=${c.iri} target="_blank" rel="noopener noreferrer" title=${c.iri}
        aria-label=${`Ontology term of ${c.path}: ${iriLabel(c.iri)}`}>${iriLabel(c.iri)}</a>`}
      <span class="cat-actions">
        <button type="button" class="btn ghost small" aria-label=${`Add child below ${c.path}`} onClick=${() => setEditing({ id: c.id, mode: 'child' })}>Add child</button>
        <button type="button" class="btn ghost small" aria-label=${`Rename ${c.path}`} onClick=${() => setEditing({ id: c.id, mode: 'rename' })}>Rename</button>
        <button type="button" class="btn ghost small" aria-label=${`Set the ontology IRI of ${c.path}`} onClick=${() => setEditing({ id: c.id, mode: 'iri' })}>IRI</button>
        <button type="button" class="btn ghost small danger-text" aria-label=${`Delete ${c.path}`} onClick=${() => setEditing({ id: c.id, mode: 'delete' })}>Delete</button>
      </span>
    </div>
    ${mine === 'child' && html`<${EditForm} label=${`New category below ${c.name}`} onCancel=${() => setEditing(null)}
      onSubmit=${(name) => act(() => post('/categories', { name, parent_id: c.id }), `Category ${name} added`)}/>`}
    ${mine === 'rename' && html`<${EditForm} label="New name" initial=${c.name} onCancel=${() => setEditing(null)}
      onSubmit=${(name) => act(() => patch('/categories/' + c.id, { name }), 'Category renamed')}/>`}
    ${mine === 'iri' && html`<${EditForm} label="Ontology IRI (empty: none)" kind="iri" initial=${c.iri || ''} onCancel=${() => setEditing(null)}
      onSubmit=${(iri) => act(() => patch('/categories/' + c.id, { iri: iri || null }), 'IRI saved')}/>`}
    ${mine === 'delete' && html`<div class="inline-form cat-edit" role="group" aria-label=${`Delete ${c.path}`}>
      <span>Delete <strong>${c.path}</strong> and remove it from every file and folder?</span>
      <button type="button" class="btn small danger" onClick=${() => act(() => del('/categories/' + c.id), 'Category deleted')}>Delete</button>
      <button type="button" class="btn small" onClick=${() => setEditing(null)}>Cancel</button></div>`}
    ${kids(c.id).length > 0 && html`<ul>${kids(c.id).map((k) => html`<${Node} key=${k.id} c=${k} kids=${kids}
      editing=${editing} setEditing=${setEditing} act=${act}/>`)}</ul>`}
  </li>`;
}

export function CategoriesAdmin() {
  const [version, setVersion] = useState(0);
  const { list, error: loadError } = useCategories(version);
  const [editing, setEditing] = useState(null); // {id, mode: child|rename|iri|delete}
  const [name, setName] = useState('');
  const [error, setError] = useState(null);
  const act = async (fn, done) => {
    setError(null);
    try { await fn(); } catch (e) { setError(e); return false; }
    notify(done);
    setEditing(null);
    setVersion((v) => v + 1);
    return true;
  };
  const kids = (pid) => (list || []).filter((c) => (c.parent_id || null) === pid);
  const addRoot = async (e) => {
    e.preventDefault();
    const n = name.trim();
    if (await act(() => post('/categories', { name: n }), `Category ${n} added`)) setName('');
  };
  return html`<section class="card cat-admin" aria-labelledby="cat-h">
    <h2 id="cat-h">Categories</h2>
    <p class="muted">A tree of terms for files and folders; whoever may change a file or folder assigns them, and search filters by them.</p>
    <form class="inline-form" onSubmit=${addRoot} aria-label="Add a top-level category">
      <label for="nc-name">New top-level category</label>
      <input id="nc-name" required value=${name} onInput=${(e) => setName(e.target.value)}/>
      <button class="btn primary" type="submit">Add category</button>
    </form>
    <${ErrorBox} error=${error || loadError}/>
    ${!list && !loadError && html`<${Spinner}/>`}
    ${list && !list.length && html`<p class="muted">No categories yet.</p>`}
    ${list && list.length > 0 && html`<ul class="cat-tree" aria-label="Category tree">
      ${kids(null).map((c) => html`<${Node} key=${c.id} c=${c} kids=${kids} editing=${editing} setEditing=${setEditing} act=${act}/>`)}
    </ul>`}
  </section>`;
}
