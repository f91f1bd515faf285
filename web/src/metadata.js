// Curation on a file's page: the "Edit metadata" form, generated from the JSON Schemas
// the server validates metadata against (GET /api/v1/schemas and /schemas/{name}), and the
// file's categories (categories.js). A schema's properties become fields: strings, numbers
// with their unit (x-unit) beside them, enums as selects, booleans, arrays of strings (one
// per line), nested objects as fieldsets; a property's ontology term (x-iri) is a link
// beside its label. Entries the schema does not name stay editable as "Other entries"
// (name, value, unit, IRI), as the free-form `metadata` schema allows. The server decides
// what is valid: its problem+json detail appears next to the field it names.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html, ErrorBox, Spinner, notify, may } from './ui.js';
import { get, patch } from './api.js';
import { CategoryPicker, iriLabel } from './categories.js';

const FREE = 'metadata'; // the schema every metadata follows; others are chosen by "$schema"

// A local reference ("#/$defs/NAME") resolved against the schema's root.
function resolve(root, s) {
  for (let n = 0; s && s.$ref && n < 8; n++) {
    const m = /^#\/\$defs\/(.+)$/.exec(s.$ref);
    s = m && root.$defs ? root.$defs[m[1]] : null;
  }
  return s || {};
}

function kindOf(s) {
  if (Array.isArray(s.enum)) return 'enum';
  if (s.const !== undefined) return 'const';
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== 'null') : s.type;
  if (t === 'object') return s.properties ? 'object' : 'skip';
  if (t === 'array') return 'array';
  if (t === 'number' || t === 'integer' || t === 'boolean') return t;
  return 'string';
}

const propsOf = (root, s) => Object.entries(s.properties || {})
  .filter(([name]) => name !== '$schema')
  .map(([name, p]) => [name, resolve(root, p)]);

// ---- metadata <-> the form's values (numbers kept as typed until they are sent) ----
function toForm(root, s, data) {
  const out = {};
  for (const [name, p] of propsOf(root, s)) {
    let v = data ? data[name] : undefined;
    const k = kindOf(p);
    if (k !== 'object' && v && typeof v === 'object' && !Array.isArray(v)) v = v.value; // {value, unit?}
    if (k === 'object') out[name] = toForm(root, p, v && typeof v === 'object' ? v : {});
    else if (k === 'boolean') out[name] = typeof v === 'boolean' ? v : undefined;
    else if (k === 'array') out[name] = Array.isArray(v) ? v.join('\n') : '';
    else out[name] = v == null ? '' : String(v);
  }
  return out;
}

function fromForm(root, s, vals) {
  const out = {};
  for (const [name, p] of propsOf(root, s)) {
    const v = vals[name];
    const k = kindOf(p);
    let x;
    if (k === 'object') {
      x = fromForm(root, p, v || {});
      if (!Object.keys(x).length) x = undefined;
    } else if (k === 'boolean') {
      x = v;
    } else if (k === 'array') {
      x = String(v || '').split('\n').map((l) => l.trim()).filter(Boolean);
      if (!x.length) x = undefined;
    } else if (k === 'const') {
      x = undefined;
    } else {
      const t = String(v ?? '').trim();
      if (t === '') x = undefined;
      else if (k === 'enum') x = p.enum.find((e) => String(e) === t) ?? t;
      else if (k === 'number' || k === 'integer') x = Number.isFinite(Number(t)) ? Number(t) : t; // the server says why not
      else x = String(v);
    }
    if (x !== undefined) out[name] = x;
  }
  return out;
}

// Entries the schema does not name: rows of name, value (typed), unit, IRI.
function otherRows(root, s, data) {
  const named = new Set(Object.keys(s.properties || {}));
  return Object.entries(data || {}).filter(([name]) => name !== '$schema' && !named.has(name)).map(([name, v]) => {
    const o = v && typeof v === 'object' && !Array.isArray(v) ? v : { value: v };
    const type = typeof o.value === 'number' ? 'number' : typeof o.value === 'boolean' ? 'boolean' : 'text';
    return { name, value: o.value == null ? '' : String(o.value), type, unit: o.unit || '', iri: o.iri || '' };
  });
}

function fromRows(rows) {
  const out = {};
  for (const r of rows) {
    const name = r.name.trim();
    if (!name) continue;
    let value = r.value;
    if (r.type === 'number') value = Number.isFinite(Number(r.value.trim())) && r.value.trim() !== '' ? Number(r.value) : r.value;
    if (r.type === 'boolean') value = r.value === 'true';
    const unit = r.unit.trim();
    const iri = r.iri.trim();
    out[name] = unit || iri ? { value, ...(unit ? { unit } : {}), ...(iri ? { iri } : {}) } : value;
  }
  return out;
}

const idOf = (path) => 'md-' + path.map((p) => String(p).replace(/[^A-Za-z0-9_-]/g, '_')).join('-');

function IriLink({ iri, label }) {
  if (!iri) return null;
  return html`<a class="iri" href=${iri} target="_blank" rel="noopener noreferrer" title=${iri}
    aria-label=${`Ontology term of ${label}: ${iriLabel(iri)}`}>${iriLabel(iri)}</a>`;
}

// ---- one field of the schema, by its kind ----
function Field({ root, name, s, path, value, onChange, required, err }) {
  const id = idOf(path);
  const label = s.title || name;
  const k = kindOf(s);
  if (k === 'skip' || k === 'const') return null;
  const errId = err && err.id === id ? 'err-' + id : null;
  const hintId = s.description ? id + '-hint' : null;
  const unitId = s['x-unit'] ? id + '-unit' : null;
  const describedBy = [errId, hintId, unitId].filter(Boolean).join(' ') || undefined;
  const invalid = errId ? 'true' : undefined;
  const error = errId && html`<p class="field-error" id=${errId}>${err.detail}</p>`;
  const hint = hintId && html`<p class="hint" id=${hintId}>${s.description}</p>`;
  if (k === 'object') {
    const req = new Set(s.required || []);
    return html`<fieldset class="group md-group" id=${id} tabindex="-1" aria-describedby=${describedBy}>
      <legend>${label} <${IriLink} iri=${s['x-iri']} label=${label}/></legend>
      ${hint}${error}
      <div class="md-grid">${propsOf(root, s).map(([n, p]) => html`<${Field} key=${n} root=${root} name=${n} s=${p}
        path=${[...path, n]} value=${(value || {})[n]} required=${req.has(n)} err=${err}
        onChange=${(v) => onChange({ ...(value || {}), [n]: v })}/>`)}</div>
    </fieldset>`;
  }
  if (k === 'boolean') {
    return html`<div class="field">
      <label class="check-label"><input type="checkbox" id=${id} checked=${value === true} aria-invalid=${invalid}
        aria-describedby=${describedBy} onChange=${(e) => onChange(e.target.checked)}/> ${label}
        <${IriLink} iri=${s['x-iri']} label=${label}/></label>
      ${hint}${error}</div>`;
  }
  const common = { id, 'aria-invalid': invalid, 'aria-describedby': describedBy, 'aria-required': required ? 'true' : undefined };
  let control;
  if (k === 'enum') {
    control = html`<select ...${common} value=${value} onChange=${(e) => onChange(e.target.value)}>
      <option value="">${required ? 'Choose…' : '(none)'}</option>
      ${s.enum.map((o) => html`<option value=${String(o)}>${String(o)}</option>`)}</select>`;
  } else if (k === 'array') {
    control = html`<textarea ...${common} rows="3" value=${value} onInput=${(e) => onChange(e.target.value)}></textarea>`;
  } else if (k === 'number' || k === 'integer') {
    control = html`<input ...${common} type="number" inputmode="decimal" step=${k === 'integer' ? '1' : 'any'}
      min=${s.minimum} max=${s.maximum} value=${value} onInput=${(e) => onChange(e.target.value)}/>`;
  } else {
    control = html`<input ...${common} type="text" value=${value} maxlength=${s.maxLength}
      onInput=${(e) => onChange(e.target.value)}/>`;
  }
  return html`<div class="field">
    <div class="field-head"><label for=${id}>${label}</label>${required && html`<span class="req" aria-hidden="true">*</span>`}
      <${IriLink} iri=${s['x-iri']} label=${label}/></div>
    <div class="with-unit">${control}${s['x-unit'] && html`<span class="unit" id=${unitId}>${s['x-unit']}</span>`}</div>
    ${k === 'array' && html`<p class="hint">One per line.</p>`}
    ${hint}${error}
  </div>`;
}

function OtherRows({ rows, setRows, err }) {
  const set = (i, f, v) => setRows(rows.map((r, j) => (j === i ? { ...r, [f]: v } : r)));
  return html`<fieldset class="group md-other"><legend>Other entries</legend>
    ${rows.length === 0 && html`<p class="muted small">None.</p>`}
    ${rows.map((r, i) => {
      const id = idOf(['x', i]);
      const bad = err && err.id === id + '-value';
      return html`<div class="md-row" key=${i} role="group" aria-label=${`Entry ${i + 1}`}>
        <label class="sr-only" for=${id + '-name'}>Name of entry ${i + 1}</label>
        <input id=${id + '-name'} placeholder="name" value=${r.name} onInput=${(e) => set(i, 'name', e.target.value)}/>
        <label class="sr-only" for=${id + '-type'}>Type of entry ${i + 1}</label>
        <select id=${id + '-type'} value=${r.type} onChange=${(e) => set(i, 'type', e.target.value)}>
          <option value="text">text</option><option value="number">number</option><option value="boolean">yes/no</option></select>
        <label class="sr-only" for=${id + '-value'}>Value of entry ${i + 1}</label>
        ${r.type === 'boolean'
          ? html`<select id=${id + '-value'} value=${r.value === 'true' ? 'true' : 'false'} onChange=${(e) => set(i, 'value', e.target.value)}>
              <option value="true">yes</option><option value="false">no</option></select>`
          : html`<input id=${id + '-value'} placeholder="value" value=${r.value} aria-invalid=${bad ? 'true' : undefined}
              aria-describedby=${bad ? 'err-' + id + '-value' : undefined} onInput=${(e) => set(i, 'value', e.target.value)}/>`}
        <label class="sr-only" for=${id + '-unit'}>Unit of entry ${i + 1}</label>
        <input id=${id + '-unit'} class="md-unit" placeholder="unit" value=${r.unit} onInput=${(e) => set(i, 'unit', e.target.value)}/>
        <label class="sr-only" for=${id + '-iri'}>Ontology IRI of entry ${i + 1}</label>
        <input id=${id + '-iri'} class="md-iri" placeholder="ontology IRI" value=${r.iri} onInput=${(e) => set(i, 'iri', e.target.value)}/>
        <button type="button" class="icon-btn" aria-label=${`Remove entry ${r.name || i + 1}`} onClick=${() => setRows(rows.filter((_, j) => j !== i))}>✕</button>
        ${bad && html`<p class="field-error" id=${'err-' + id + '-value'}>${err.detail}</p>`}
      </div>`;
    })}
    <button type="button" class="btn ghost small" onClick=${() => setRows([...rows, { name: '', value: '', type: 'text', unit: '', iri: '' }])}>Add an entry</button>
  </fieldset>`;
}

// Which control a problem's field ("metadata.temperature.unit") names: the nearest one the
// form has, walking up; null when none (the message then goes above the form).
function controlOf(field, rows) {
  const parts = String(field || '').replace(/\//g, '.').split('.');
  if (parts[0] !== 'metadata' || parts.length < 2) return null;
  const row = rows.findIndex((r) => r.name.trim() === parts.slice(1).join('.'));
  if (row >= 0) return idOf(['x', row]) + '-value';
  for (let n = parts.length; n > 1; n--) {
    const id = idOf(parts.slice(1, n));
    if (document.getElementById(id)) return id;
  }
  return null;
}

function MetadataForm({ file, schemas, onSaved, onCancel }) {
  const saved = file.metadata || {};
  const [name, setName] = useState(schemas.some((x) => x.name === saved.$schema) ? saved.$schema : FREE);
  const [schema, setSchema] = useState(null);
  const [vals, setVals] = useState(null);
  const [rows, setRows] = useState([]);
  const [err, setErr] = useState(null); // {id?, detail}
  const [busy, setBusy] = useState(false);
  const [loadError, setLoadError] = useState(null);
  const data = useRef(saved); // what the fields hold, carried over when the schema changes
  useEffect(() => {
    let live = true;
    setSchema(null);
    get('/schemas/' + encodeURIComponent(name)).then((s) => {
      if (!live) return;
      setSchema(s);
      setVals(toForm(s, s, data.current));
      setRows(otherRows(s, s, data.current));
    }, (e) => live && setLoadError(e));
    return () => { live = false; };
  }, [name]);
  useEffect(() => {
    if (err && err.id) { const el = document.getElementById(err.id); if (el) el.focus(); }
  }, [err]);
  // what the form holds (while a schema loads: what it held before)
  const current = () => (schema && vals
    ? { ...(name !== FREE ? { $schema: name } : {}), ...fromForm(schema, schema, vals), ...fromRows(rows) }
    : data.current);
  const choose = (n) => { data.current = current(); setErr(null); setName(n); };
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      const f = await patch('/files/' + file.id, { metadata: current() });
      notify('Metadata saved');
      onSaved(f);
    } catch (ex) {
      const p = ex.problem || {};
      setErr({ id: controlOf(p.field, rows), detail: p.detail || ex.message });
    }
    setBusy(false);
  };
  const req = new Set((schema && schema.required) || []);
  const described = schemas.find((x) => x.name === name);
  return html`<form class="md-form" onSubmit=${submit} noValidate aria-label="Edit metadata"
      onInput=${() => { if (err && err.id) setErr(null); /* being corrected */ }}>
    <div class="field md-schema">
      <label for="md-schema">Schema</label>
      <select id="md-schema" value=${name} onChange=${(e) => choose(e.target.value)} aria-describedby="md-schema-hint">
        ${schemas.map((x) => html`<option value=${x.name}>${x.title} (${x.name})</option>`)}</select>
      <p class="hint" id="md-schema-hint">${described && described.description}</p>
    </div>
    ${err && !err.id && html`<div class="error-box" role="alert">${err.detail}</div>`}
    ${err && err.id && html`<p class="sr-only" role="alert">${err.detail}</p>`}
    <${ErrorBox} error=${loadError}/>
    ${!schema && !loadError && html`<${Spinner} label="Reading the schema…"/>`}
    ${schema && vals && html`
      ${propsOf(schema, schema).length > 0 && html`<div class="md-grid">
        ${propsOf(schema, schema).map(([n, p]) => html`<${Field} key=${name + n} root=${schema} name=${n} s=${p} path=${[n]}
          value=${vals[n]} required=${req.has(n)} err=${err} onChange=${(v) => setVals({ ...vals, [n]: v })}/>`)}
      </div>`}
      ${schema.additionalProperties !== false && html`<${OtherRows} rows=${rows} setRows=${setRows} err=${err}/>`}`}
    <div class="actions">
      <button type="button" class="btn" onClick=${onCancel}>Cancel</button>
      <button type="submit" class="btn primary" disabled=${busy || !schema}>${busy ? 'Saving…' : 'Save metadata'}</button>
    </div>
  </form>`;
}

function MetadataCard({ file, onSaved }) {
  const [editing, setEditing] = useState(false);
  const [schemas, setSchemas] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { setEditing(false); }, [file.id]);
  useEffect(() => {
    if (editing && !schemas) get('/schemas').then((r) => setSchemas(r.schemas), setError);
  }, [editing]);
  const meta = file.metadata || {};
  const entries = Object.keys(meta).filter((k) => k !== '$schema').length;
  return html`<section class="card md-card" aria-labelledby="md-h">
    <div class="card-head">
      <h2 id="md-h">Metadata</h2>
      ${!editing && html`<button type="button" class="btn" onClick=${() => setEditing(true)}>Edit metadata</button>`}
    </div>
    ${!editing && html`<p class="muted">${entries ? `${entries} entr${entries === 1 ? 'y' : 'ies'}` : 'None yet'}${meta.$schema ? `, following the schema “${meta.$schema}”` : ''}; they are listed with the properties (source “user”).</p>`}
    <${ErrorBox} error=${error}/>
    ${editing && !schemas && !error && html`<${Spinner}/>`}
    ${editing && schemas && html`<${MetadataForm} file=${file} schemas=${schemas}
      onCancel=${() => setEditing(false)} onSaved=${(f) => { setEditing(false); onSaved(f); }}/>`}
  </section>`;
}

// The file page's curation cards: its metadata (for whoever may change the file) and its
// categories (shown to all when it has some; changed by whoever may).
export function Curation({ file, onSaved }) {
  const canWrite = may(file, 'write');
  if (!canWrite && !(file.categories || []).length) return null;
  return html`<div class="curation-grid">
    ${canWrite && html`<${MetadataCard} file=${file} onSaved=${onSaved}/>`}
    <section class="card" aria-labelledby="cat-file-h"><${CategoryPicker} type="file" obj=${file} onSaved=${onSaved}/></section>
  </div>`;
}
