// Models from a file's page: "Train a model" (a dialog over POST /models: the target among
// the file's numeric-looking SD fields or columns, the task, the method, the features and
// the validation), "Predict for this file" (a predict job with one of the models the
// caller may see, followed to its output file), and, on a model's bundle file, the link to
// the model's page.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html, Link, Dialog, ErrorBox, Spinner, Progress, navigate, notify } from './ui.js';
import { get, post, listen } from './api.js';

export const METHODS = [
  ['xgboost', 'XGBoost (gradient-boosted trees)'], ['random_forest', 'Random forest'],
  ['svm', 'Support vector machine'], ['logistic_regression', 'Logistic regression (classification)'],
  ['knn', 'k nearest neighbours (Tanimoto)'], ['naive_bayes', 'Naive Bayes (classification)'],
];
export const METHOD_NAMES = Object.fromEntries(METHODS.map(([k, v]) => [k, v.replace(/ \(.*\)$/, '')]));
const FINGERPRINTS = ['ecfp0', 'ecfp2', 'ecfp4', 'ecfp6', 'ecfp8', 'ecfp10', 'fp2', 'fp3', 'fp4', 'maccs'];
const DESCRIPTORS = [
  ['logP', 'logP'], ['TPSA', 'TPSA'], ['MW', 'Molecular weight'], ['MR', 'Molar refractivity'],
  ['HBD', 'H-bond donors'], ['HBA1', 'H-bond acceptors (1)'], ['HBA2', 'H-bond acceptors (2)'],
  ['rotors', 'Rotatable bonds'], ['nF', 'Fluorine atoms'], ['atoms', 'Atoms'], ['bonds', 'Bonds'],
  ['abonds', 'Aromatic bonds'], ['sbonds', 'Single bonds'], ['dbonds', 'Double bonds'], ['tbonds', 'Triple bonds'],
];
// What carboy computes for every molecule (not an SD field the file brings).
const COMPUTED = new Set(['canonical_smiles', 'inchi', 'inchikey', 'formula', 'molecular_weight', 'exact_mass',
  'heavy_atoms', 'logp', 'tpsa', 'hbond_donors', 'hbond_acceptors', 'rotatable_bonds', 'identifiers_skipped',
  'chains', 'chain_count', 'residue_count']);
const SMILES_NAMES = ['smiles', 'canonical_smiles', 'isomeric_smiles', 'smi', 'structure'];

const isNum = (v) => typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)));

// The SD fields of a page of records that a model could predict: numbers, or two labels.
export function targetsOfRecords(records) {
  const seen = new Map();
  for (const r of records) {
    for (const p of r.properties || []) {
      if (COMPUTED.has(p.name) || /^chain_.+_(residues|sequence)$/.test(p.name)) continue;
      let t = seen.get(p.name);
      if (!t) seen.set(p.name, (t = { name: p.name, n: 0, numbers: 0, values: new Set() }));
      t.n++;
      if (isNum(p.value)) t.numbers++;
      if (t.values.size < 3) t.values.add(String(p.value));
    }
  }
  return [...seen.values()].filter((t) => t.numbers >= 0.8 * t.n || t.values.size === 2)
    .map((t) => ({ name: t.name, numeric: t.numbers >= 0.8 * t.n, labels: t.values.size === 2 }));
}

// A table's columns (from the file's properties, or its first sheet's), and which could be
// a target or the SMILES.
export function columnsOfProperties(props) {
  const get1 = (n) => { const p = (props || []).find((x) => x.name === n); return p ? p.value : undefined; };
  const cols = String(get1('columns') ?? '').split('\t').filter(Boolean);
  const smilesLike = (c) => SMILES_NAMES.includes(c.toLowerCase()) || /smiles/i.test(c);
  return {
    targets: cols.filter((c) => !smilesLike(c)).map((c) => {
      const type = get1(`column.${c}.type`);
      const numeric = type === 'integer' || type === 'number';
      return { name: c, numeric, labels: Number(get1(`column.${c}.distinct`)) === 2 };
    }).filter((t) => t.numeric || t.labels),
    text: cols.filter((c) => !['integer', 'number'].includes(get1(`column.${c}.type`))),
  };
}

async function loadTargets(file) {
  if (file.kind === 'table') {
    let cols = columnsOfProperties(file.properties);
    if (!cols.targets.length && !cols.text.length) { // a workbook: its first sheet's columns
      const r = await get(`/files/${file.id}/records?limit=1`);
      if (r.records.length) cols = columnsOfProperties(r.records[0].properties);
    }
    return cols;
  }
  const r = await get(`/files/${file.id}/records?limit=100`);
  return { targets: targetsOfRecords(r.records), text: [] };
}

// Where a 400's `field` is shown: the dialog's control for it (the detail says which part
// of features or validation is at fault).
const FIELD_IDS = {
  name: 'tm-name', target: 'tm-target', task: 'tm-task', threshold: 'tm-threshold', method: 'tm-method',
  'features.fingerprint': 'tm-fp', 'features.bits': 'tm-bits', 'features.descriptors': 'tm-desc',
  'validation.folds': 'tm-folds', 'validation.test_fraction': 'tm-test', 'validation.seed': 'tm-seed',
  smiles_column: 'tm-smiles',
};
export function fieldOf(problem) {
  let f = (problem && problem.field) || '';
  const m = String((problem && problem.detail) || '').match(/\b(features|validation)\.(fingerprint|bits|descriptors|folds|test_fraction|seed)\b/);
  if (m && (f === m[1] || !f)) f = m[0];
  if (f === 'features') f = 'features.fingerprint';
  if (f === 'validation') f = 'validation.folds';
  return FIELD_IDS[f] ? f : null;
}

function FieldError({ field, err }) {
  if (!err || err.field !== field) return null;
  return html`<p class="field-error" id=${'err-' + FIELD_IDS[field]}>${err.detail}</p>`;
}

export function TrainDialog({ file, onClose }) {
  const base = file.name.replace(/\.[^.]*$/, '');
  const { targets, error: loadError } = useTargets(file);
  const [name, setName] = useState('');
  const [named, setNamed] = useState(false); // typed by hand: the target no longer renames it
  const [target, setTarget] = useState('');
  const [task, setTask] = useState('');
  const [threshold, setThreshold] = useState('');
  const [method, setMethod] = useState('xgboost');
  const [fp, setFp] = useState('ecfp4');
  const [bits, setBits] = useState('2048');
  const [desc, setDesc] = useState([]);
  const [folds, setFolds] = useState('5');
  const [testFraction, setTestFraction] = useState('0');
  const [seed, setSeed] = useState('1');
  const [smilesColumn, setSmilesColumn] = useState('');
  const [err, setErr] = useState(null); // {field?, detail}
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!targets || target) return;
    const first = targets.targets.find((t) => t.numeric) || targets.targets[0];
    if (first) pickTarget(first.name);
  }, [targets]);
  useEffect(() => {
    if (err && err.field) { const el = document.getElementById(FIELD_IDS[err.field]); if (el) el.focus(); }
  }, [err]);

  const pickTarget = (t) => {
    setTarget(t);
    if (!named) setName(t ? `${base}-${t}` : base);
  };
  const ecfp = fp.startsWith('ecfp');
  const numberOr = (s) => (s.trim() === '' ? undefined : Number.isFinite(Number(s)) ? Number(s) : s);
  const submit = async (e) => {
    e.preventDefault();
    setErr(null);
    setBusy(true);
    const body = {
      name: name.trim(), folder_id: file.folder_id, training_file_id: file.id, target, method,
      features: { fingerprint: fp || null, ...(ecfp ? { bits: Number(bits) } : {}), descriptors: desc },
      validation: { folds: numberOr(folds), test_fraction: numberOr(testFraction), seed: numberOr(seed) },
    };
    if (task) body.task = task;
    if (threshold.trim() !== '') body.threshold = numberOr(threshold);
    if (smilesColumn) body.smiles_column = smilesColumn;
    for (const k of Object.keys(body.validation)) if (body.validation[k] === undefined) delete body.validation[k];
    try {
      const m = await post('/models', body);
      notify(`Training ${m.name}`);
      onClose();
      navigate('/models/' + m.id);
    } catch (ex) {
      const p = ex.problem || {};
      setErr({ field: fieldOf(p), detail: p.detail || ex.message });
      setBusy(false);
    }
  };
  const bad = (f) => (err && err.field === f ? { 'aria-invalid': 'true', 'aria-describedby': 'err-' + FIELD_IDS[f] } : {});
  const toggleDesc = (d, on) => setDesc(on ? [...desc, d] : desc.filter((x) => x !== d));

  return html`<${Dialog} title=${'Train a model on ' + file.name} onClose=${onClose} wide>
    ${loadError && html`<${ErrorBox} error=${loadError}/>`}
    ${!targets && !loadError && html`<${Spinner} label="Reading the file's fields…"/>`}
    ${targets && html`<form class="train-form" onSubmit=${submit} noValidate
        onInput=${() => { if (err && err.field) setErr(null); /* being corrected */ }}>
      ${err && !err.field && html`<div class="error-box" role="alert">${err.detail}</div>`}
      ${err && err.field && html`<p class="sr-only" role="alert">${err.detail}</p>`}
      <div class="form-grid">
        <div class="field wide">
          <label for="tm-name">Name</label>
          <input id="tm-name" value=${name} required ...${bad('name')}
            onInput=${(e) => { setName(e.target.value); setNamed(true); }}/>
          <${FieldError} field="name" err=${err}/>
        </div>
        <div class="field">
          <label for="tm-target">Target</label>
          <select id="tm-target" value=${target} ...${bad('target')} onChange=${(e) => pickTarget(e.target.value)}>
            ${!targets.targets.length && html`<option value="">No numeric field found</option>`}
            ${targets.targets.map((t) => html`<option value=${t.name}>${t.name}${t.numeric ? '' : ' (two labels)'}</option>`)}
          </select>
          <p class="hint">${file.kind === 'table' ? 'Numeric columns, and columns of two labels.' : 'SD fields of the records with numbers, or two labels.'}</p>
          <${FieldError} field="target" err=${err}/>
        </div>
        <div class="field">
          <label for="tm-task">Task</label>
          <select id="tm-task" value=${task} ...${bad('task')} onChange=${(e) => setTask(e.target.value)}>
            <option value="">Automatic</option><option value="regression">Regression</option>
            <option value="classification">Classification</option></select>
          <${FieldError} field="task" err=${err}/>
        </div>
        <div class="field">
          <label for="tm-threshold">Threshold (optional)</label>
          <input id="tm-threshold" type="number" step="any" value=${threshold} ...${bad('threshold')}
            onInput=${(e) => setThreshold(e.target.value)} aria-describedby=${err && err.field === 'threshold' ? 'err-tm-threshold' : 'tm-threshold-hint'}/>
          <p class="hint" id="tm-threshold-hint">Makes two classes: a value at or above it is positive.</p>
          <${FieldError} field="threshold" err=${err}/>
        </div>
        <div class="field">
          <label for="tm-method">Method</label>
          <select id="tm-method" value=${method} ...${bad('method')} onChange=${(e) => setMethod(e.target.value)}>
            ${METHODS.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select>
          <${FieldError} field="method" err=${err}/>
        </div>
        ${file.kind === 'table' && html`<div class="field">
          <label for="tm-smiles">SMILES column</label>
          <select id="tm-smiles" value=${smilesColumn} ...${bad('smiles_column')} onChange=${(e) => setSmilesColumn(e.target.value)}>
            <option value="">Found by its name</option>
            ${targets.text.map((c) => html`<option value=${c}>${c}</option>`)}</select>
          <${FieldError} field="smiles_column" err=${err}/>
        </div>`}
      </div>
      <fieldset class="group"><legend>Features</legend>
        <div class="form-grid">
          <div class="field">
            <label for="tm-fp">Fingerprint</label>
            <select id="tm-fp" value=${fp} ...${bad('features.fingerprint')} onChange=${(e) => setFp(e.target.value)}>
              ${FINGERPRINTS.map((f) => html`<option value=${f}>${f.toUpperCase()}</option>`)}
              <option value="">None (descriptors only)</option></select>
            <${FieldError} field="features.fingerprint" err=${err}/>
          </div>
          <div class="field">
            <label for="tm-bits">Bits</label>
            <select id="tm-bits" value=${bits} disabled=${!ecfp} ...${bad('features.bits')} onChange=${(e) => setBits(e.target.value)}>
              ${['1024', '2048', '4096'].map((b) => html`<option value=${b}>${b}</option>`)}</select>
            <p class="hint">${ecfp ? 'The ECFP folded to this width.' : 'This fingerprint has a width of its own.'}</p>
            <${FieldError} field="features.bits" err=${err}/>
          </div>
        </div>
        <fieldset class="checks" id="tm-desc" tabindex="-1" ...${bad('features.descriptors')}><legend>Descriptors</legend>
          ${DESCRIPTORS.map(([d, label]) => html`<label class="check-label" key=${d}>
            <input type="checkbox" checked=${desc.includes(d)} onChange=${(e) => toggleDesc(d, e.target.checked)}/> ${label}</label>`)}
        </fieldset>
        <${FieldError} field="features.descriptors" err=${err}/>
      </fieldset>
      <fieldset class="group"><legend>Validation</legend>
        <div class="form-grid three">
          <div class="field">
            <label for="tm-folds">Folds</label>
            <input id="tm-folds" type="number" min="2" max="10" step="1" value=${folds} ...${bad('validation.folds')} onInput=${(e) => setFolds(e.target.value)}/>
            <${FieldError} field="validation.folds" err=${err}/>
          </div>
          <div class="field">
            <label for="tm-test">Test fraction</label>
            <input id="tm-test" type="number" min="0" max="0.5" step="0.05" value=${testFraction} ...${bad('validation.test_fraction')} onInput=${(e) => setTestFraction(e.target.value)}/>
            <${FieldError} field="validation.test_fraction" err=${err}/>
          </div>
          <div class="field">
            <label for="tm-seed">Seed</label>
            <input id="tm-seed" type="number" min="0" step="1" value=${seed} ...${bad('validation.seed')} onInput=${(e) => setSeed(e.target.value)}/>
            <${FieldError} field="validation.seed" err=${err}/>
          </div>
        </div>
      </fieldset>
      <div class="actions">
        <button type="button" class="btn" onClick=${onClose}>Cancel</button>
        <button type="submit" class="btn primary" disabled=${busy}>${busy ? 'Starting…' : 'Train'}</button>
      </div>
    </form>`}
  <//>`;
}

function useTargets(file) {
  const [targets, setTargets] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { loadTargets(file).then(setTargets, setError); }, [file.id, file.version]);
  return { targets, error };
}

// Follows one job to its end: the event stream, and a poll in case an event was missed.
export function useJob(id) {
  const [job, setJob] = useState(null);
  useEffect(() => {
    if (!id) return undefined;
    let live = true;
    let timer = null;
    const ended = (j) => ['succeeded', 'failed', 'canceled'].includes(j.state);
    const poll = () => get('/jobs/' + id).then((j) => {
      if (!live) return;
      setJob(j);
      if (!ended(j)) timer = setTimeout(poll, 1500);
    }, () => { if (live) timer = setTimeout(poll, 3000); });
    poll();
    const stop = listen((type, ev) => {
      if (type !== 'job' || ev.id !== id) return;
      if (['succeeded', 'failed', 'canceled'].includes(ev.state)) { clearTimeout(timer); poll(); } else setJob((j) => (j ? { ...j, ...ev } : j));
    });
    return () => { live = false; clearTimeout(timer); stop(); };
  }, [id]);
  return job;
}

export function PredictFileDialog({ file, onClose }) {
  const [models, setModels] = useState(null);
  const [error, setError] = useState(null);
  const [modelId, setModelId] = useState('');
  const [jobId, setJobId] = useState(null);
  const [busy, setBusy] = useState(false);
  const job = useJob(jobId);
  const [output, setOutput] = useState(null);
  useEffect(() => {
    get('/models?limit=1000').then((r) => {
      const usable = r.models.filter((m) => m.file_id);
      setModels(usable);
      if (usable.length) setModelId(usable[0].id);
    }, setError);
  }, []);
  useEffect(() => {
    const out = job && job.state === 'succeeded' && (job.outputs || [])[0];
    if (out) get('/files/' + out).then(setOutput, () => setOutput({ id: out, name: 'the output file' }));
  }, [job && job.state]);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const j = await post(`/models/${modelId}/predict`, { file_id: file.id });
      setJobId(j.id);
    } catch (ex) { setError(ex); }
    setBusy(false);
  };
  const model = models && models.find((m) => m.id === modelId);
  return html`<${Dialog} title=${'Predict for ' + file.name} onClose=${onClose}>
    <${ErrorBox} error=${error}/>
    ${!models && !error && html`<${Spinner}/>`}
    ${models && !models.length && html`<p class="muted">No trained model you can use yet: train one with "Train a model".</p>`}
    ${models && models.length > 0 && html`<form onSubmit=${submit}>
      <label for="pf-model">Model</label>
      <select id="pf-model" value=${modelId} disabled=${!!jobId} onChange=${(e) => setModelId(e.target.value)}>
        ${models.map((m) => html`<option value=${m.id}>${m.name} — ${m.task} of ${m.target}</option>`)}</select>
      ${model && html`<p class="hint">${METHOD_NAMES[model.method] || model.method}, version ${model.version}.
        The records with the predictions added go into a new file beside this one.</p>`}
      ${!jobId && html`<div class="actions">
        <button type="button" class="btn" onClick=${onClose}>Cancel</button>
        <button type="submit" class="btn primary" disabled=${busy || !modelId}>Predict</button></div>`}
    </form>`}
    ${jobId && html`<div class="job-follow" aria-live="polite">
      <p>Prediction job: <span class=${'badge st-' + (job ? job.state : 'queued')}>${job ? job.state : 'queued'}</span></p>
      ${job && !['succeeded', 'failed', 'canceled'].includes(job.state) && html`<${Progress} value=${job.progress} label="Progress of the prediction"/>`}
      ${job && job.error && html`<div class="error-box" role="alert">${job.error}</div>`}
      ${output && html`<p>Written: <${Link} href=${'/files/' + output.id}>${output.name}<//></p>`}
      <div class="actions"><${Link} href="/jobs" class="btn ghost">All jobs<//>
        <button type="button" class="btn" onClick=${onClose}>Close</button></div>
    </div>`}
  <//>`;
}

// On a model's bundle file: the model's page (found among its folder's models).
export function ModelLink({ file }) {
  const [model, setModel] = useState(null);
  const live = useRef(true);
  useEffect(() => {
    live.current = true;
    get(`/models?folder_id=${file.folder_id}&limit=1000`).then((r) => {
      if (live.current) setModel(r.models.find((m) => m.file_id === file.id) || null);
    }, () => {});
    return () => { live.current = false; };
  }, [file.id, file.folder_id]);
  if (!model) return null;
  return html`<${Link} href=${'/models/' + model.id} class="btn">Open the model's report<//>`;
}
