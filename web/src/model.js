// A model's page: its state (progress while it trains, the reason when it failed), the
// report — metrics of cross-validation and of the test set side by side, the confusion
// matrix, an ROC and a precision-recall curve or predicted against observed (Chart.js,
// loaded with plot.js only here) —, what it was trained on and with, the bundle to
// download, and predictions for typed or drawn SMILES.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html, Link, ErrorBox, Spinner, Progress, StatusBadge, when, num, notify } from './ui.js';
import { API, get, post, listen } from './api.js';
import { METHOD_NAMES } from './train.js';

const REGRESSION = [['r2', 'R²'], ['rmse', 'RMSE'], ['mae', 'MAE'], ['spearman', 'Spearman ρ'], ['n', 'Records']];
const CLASSIFICATION = [['auc', 'ROC AUC'], ['accuracy', 'Accuracy'], ['balanced_accuracy', 'Balanced accuracy'],
  ['f1', 'F1'], ['mcc', 'MCC'], ['precision', 'Precision'], ['recall', 'Recall'], ['n', 'Records']];
const SKIPPED = [['unreadable_structure', 'Unreadable structure'], ['missing_target', 'No target value'], ['not_numeric', 'Target not a number']];

const metric = (v, k) => (v == null ? '—' : k === 'n' ? String(v) : Number(v).toFixed(3));

// The names of the classes: [negative, positive].
function classNames(m) {
  if (m.threshold != null) return [`${m.target} < ${num(m.threshold)}`, `${m.target} ≥ ${num(m.threshold)}`];
  const c = m.classes || [0, 1];
  return [String(c[0]), String(c[1])];
}

function MetricsTable({ m }) {
  const rows = m.task === 'classification' ? CLASSIFICATION : REGRESSION;
  const { cv, test } = m.metrics || {};
  return html`<table class="metrics" data-testid="metrics">
    <caption>Metrics (${m.task})</caption>
    <thead><tr><th scope="col">Metric</th><th scope="col" class="num">Cross-validation${cv && html`<span class="muted small"> (${m.validation && m.validation.folds} folds)</span>`}</th>
      ${test && html`<th scope="col" class="num">Test set</th>`}</tr></thead>
    <tbody>${rows.map(([k, label]) => html`<tr key=${k} data-metric=${k}>
      <th scope="row">${label}</th>
      <td class="num">${metric(cv && cv[k], k)}</td>
      ${test && html`<td class="num">${metric(test[k], k)}</td>`}</tr>`)}</tbody>
  </table>`;
}

function Confusion({ m, which, c }) {
  if (!c) return null;
  const [neg, pos] = classNames(m);
  const n = c.tp + c.fp + c.tn + c.fn;
  return html`<table class="confusion" data-testid=${'confusion-' + which}>
    <caption>Confusion matrix (${which === 'cv' ? 'cross-validation' : 'test set'}, ${n} records)</caption>
    <thead><tr><td></td><th scope="col">Predicted ${pos}</th><th scope="col">Predicted ${neg}</th></tr></thead>
    <tbody>
      <tr><th scope="row">Observed ${pos}</th><td class="num good" title="true positives">${c.tp}</td><td class="num bad" title="false negatives">${c.fn}</td></tr>
      <tr><th scope="row">Observed ${neg}</th><td class="num bad" title="false positives">${c.fp}</td><td class="num good" title="true negatives">${c.tn}</td></tr>
    </tbody>
  </table>`;
}

// One plot, drawn by plot.js (Chart.js) once it has loaded; the canvas is an image with a
// description, and the figure a caption.
function Plot({ m, kind, label, caption }) {
  const ref = useRef(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let chart = null;
    let dead = false;
    import('./plot.js').then(({ draw }) => {
      if (dead || !ref.current) return;
      chart = draw(ref.current, kind, m);
      ref.current.dataset.drawn = 'true';
    }, (e) => !dead && setError(e));
    return () => { dead = true; if (chart) chart.destroy(); };
  }, [m.id, m.version, m.updated_at, kind]);
  return html`<figure class="plot" data-kind=${kind}>
    <div class="plot-box"><canvas ref=${ref} role="img" aria-label=${label}>${label}</canvas></div>
    <figcaption>${caption}</figcaption>
    <${ErrorBox} error=${error}/>
  </figure>`;
}

function Plots({ m }) {
  const c = m.curves || {};
  const cv = (m.metrics && m.metrics.cv) || {};
  if (m.task === 'classification') {
    return html`<div class="plots">
      ${c.roc && c.roc.length > 0 && html`<${Plot} m=${m} kind="roc"
        label=${`ROC curve of the cross-validation's predictions: AUC ${metric(cv.auc, 'auc')}, ${c.roc.length} points; the diagonal is chance`}
        caption=${html`ROC curve (cross-validation), AUC ${metric(cv.auc, 'auc')}`}/>`}
      ${c.pr && c.pr.length > 0 && html`<${Plot} m=${m} kind="pr"
        label=${`Precision against recall of the cross-validation's predictions, ${c.pr.length} points`}
        caption="Precision–recall curve (cross-validation)"/>`}
    </div>`;
  }
  if (!c.observed_predicted || !c.observed_predicted.length) return null;
  return html`<div class="plots"><${Plot} m=${m} kind="scatter"
    label=${`Predicted against observed ${m.target} for ${c.observed_predicted.length} records (cross-validation), R² ${metric(cv.r2, 'r2')}; the line is y = x`}
    caption=${`Predicted against observed ${m.target} (out-of-fold predictions), with the line y = x`}/></div>`;
}

function Details({ m }) {
  const f = m.features || {};
  const v = m.validation || {};
  const sk = m.skipped || {};
  const row = (k, val) => html`<tr><th scope="row">${k}</th><td>${val}</td></tr>`;
  return html`<table class="props details">
    <caption class="sr-only">How the model was trained</caption>
    <tbody>
      ${row('Target', html`${m.target}${m.task === 'classification' ? html` <span class="muted">(classes: ${classNames(m).join(' / ')})</span>` : ''}`)}
      ${row('Method', METHOD_NAMES[m.method] || m.method)}
      ${row('Training records', m.training_size != null ? String(m.training_size) : '—')}
      ${m.test_size != null && row('Test records', String(m.test_size))}
      ${row('Skipped', html`<ul class="plain">${SKIPPED.map(([k, label]) => html`<li key=${k}>${label}: ${sk[k] || 0}</li>`)}
        ${sk.first_reason && html`<li class="muted">first: ${sk.first_reason}</li>`}</ul>`)}
      ${row('Fingerprint', f.fingerprint ? `${f.fingerprint.toUpperCase()}${f.bits ? `, ${f.bits} bits` : ''}` : 'none')}
      ${row('Descriptors', (f.descriptors || []).length ? f.descriptors.join(', ') : 'none')}
      ${row('Validation', `${v.folds} folds, test fraction ${num(v.test_fraction || 0)}, seed ${v.seed}`)}
      ${m.applicability && row('Applicability domain',
        `the nearest training molecule at least ${Number(m.applicability.threshold).toFixed(3)} similar (Tanimoto, ${String(m.applicability.fingerprint || '').toUpperCase()})`)}
      ${m.library && row('Library', m.library.name)}
    </tbody>
  </table>`;
}

// Predictions for SMILES typed one per line, or drawn in the molecule editor (its own
// chunk, loaded when asked for).
function PredictForm({ m }) {
  const [text, setText] = useState('');
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [drawing, setDrawing] = useState(false);
  const [drawn, setDrawn] = useState('');
  const host = useRef(null);
  const editor = useRef(null);
  useEffect(() => {
    if (!drawing || editor.current) return undefined;
    let dead = false;
    import('./editor.js').then(({ createEditor }) => {
      if (dead) return;
      editor.current = createEditor(host.current, '', (s) => setDrawn(s));
    }, (e) => setError(e));
    return () => { dead = true; };
  }, [drawing]);
  useEffect(() => () => { if (editor.current) editor.current.destroy(); }, []);
  const toggleDrawing = () => {
    if (drawing && editor.current) { editor.current.destroy(); editor.current = null; setDrawn(''); }
    setDrawing(!drawing);
  };
  const addDrawn = () => {
    if (!drawn) return;
    setText((t) => (t.trim() ? t.replace(/\s*$/, '\n') : '') + drawn);
  };
  const submit = async (e) => {
    e.preventDefault();
    const smiles = text.split('\n').map((s) => s.trim()).filter(Boolean);
    if (!smiles.length) { setError(new Error('Type a SMILES, or draw a structure and add it.')); return; }
    setBusy(true);
    setError(null);
    try { setResult(await post(`/models/${m.id}/predict`, { smiles })); } catch (ex) { setError(ex); setResult(null); }
    setBusy(false);
  };
  const cls = m.task === 'classification';
  const names = cls ? classNames(m) : null;
  const label = (v) => {
    if (!cls) return num(v);
    const c = m.classes || [0, 1];
    return String(v) === String(c[1]) ? `${v} (${names[1]})` : String(v) === String(c[0]) ? `${v} (${names[0]})` : String(v);
  };
  return html`<section class="card" aria-labelledby="pred-h">
    <h2 id="pred-h">Predict</h2>
    <form class="predict-form" onSubmit=${submit}>
      <label for="pm-smiles">SMILES, one per line</label>
      <textarea id="pm-smiles" rows="4" spellcheck="false" placeholder="c1ccccc1C(=O)O" value=${text}
        onInput=${(e) => setText(e.target.value)}></textarea>
      <div class="toolbar">
        <button type="submit" class="btn primary" disabled=${busy}>${busy ? 'Predicting…' : 'Predict'}</button>
        <button type="button" class="btn ghost" aria-expanded=${drawing} onClick=${toggleDrawing}>
          ${drawing ? 'Hide the editor' : 'Draw a structure'}</button>
        ${drawing && html`<button type="button" class="btn" disabled=${!drawn} onClick=${addDrawn}>Add the drawn structure</button>
          <output class="muted small" for="pm-smiles" aria-live="polite">${drawn ? html`Drawn: <code>${drawn}</code>` : 'Nothing drawn yet'}</output>`}
      </div>
      ${drawing && html`<div class="editor-host" ref=${host} role="application" aria-label="Molecule editor" data-testid="editor"></div>`}
    </form>
    <${ErrorBox} error=${error}/>
    ${result && html`<div class="table-wrap" aria-live="polite"><table class="predictions">
      <caption>Predictions of ${m.name} (version ${result.version})</caption>
      <thead><tr><th scope="col">#</th><th scope="col">SMILES</th>
        <th scope="col" class=${cls ? '' : 'num'}>${cls ? 'Predicted class' : 'Predicted ' + m.target}</th>
        ${cls && html`<th scope="col" class="num">Probability (${names[1]})</th>`}
        <th scope="col">Applicability</th><th scope="col" class="num">Nearest similarity</th></tr></thead>
      <tbody>${result.predictions.map((p, i) => html`<tr key=${i} class=${p.error ? 'pred-error' : ''}>
        <td class="num">${i + 1}</td>
        <td class="smiles"><code>${p.smiles}</code></td>
        ${p.error ? html`<td colspan=${cls ? 4 : 3}><span class="badge st-failed">error</span> ${p.error}</td>` : html`
          <td class=${cls ? 'value' : 'num value'}>${label(p.value)}</td>
          ${cls && html`<td class="num">${p.probability == null ? '—' : Number(p.probability).toFixed(3)}</td>`}
          <td>${p.in_domain ? html`<span class="badge st-succeeded">in domain</span>`
                            : html`<span class="badge st-queued" title="less similar to the training molecules than the threshold">outside the domain</span>`}</td>
          <td class="num">${p.nearest_similarity == null ? '—' : Number(p.nearest_similarity).toFixed(3)}</td>`}
      </tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

export function ModelPage({ modelId, me }) {
  const [m, setM] = useState(null);
  const [folder, setFolder] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    get('/models/' + modelId).then((x) => {
      if (!live) return;
      setM(x);
      setError(null);
      document.title = x.name + ' · carboy';
    }, (e) => live && setError(e));
    return () => { live = false; };
  }, [modelId, tick]);
  const folderId = m && m.folder_id;
  useEffect(() => {
    if (folderId) get('/folders/' + folderId).then(setFolder, () => {});
  }, [folderId]);
  // while it trains: the job's progress from the event stream, and a poll for the end
  const training = m && m.state === 'training';
  useEffect(() => {
    if (!training) return undefined;
    const t = setInterval(() => setTick((n) => n + 1), 1500);
    const stop = listen((type, ev) => {
      if (type !== 'job' || ev.id !== m.job_id) return;
      if (ev.state === 'running') setM((x) => (x ? { ...x, progress: ev.progress } : x));
      else setTick((n) => n + 1);
    });
    return () => { clearInterval(t); stop(); };
  }, [training, m && m.job_id]);
  if (error) return html`<div class="page"><${ErrorBox} error=${error}/></div>`;
  if (!m) return html`<div class="page"><${Spinner}/></div>`;
  const cancel = async () => {
    try { await post(`/jobs/${m.job_id}/cancel`); notify('Training canceled'); setTick((n) => n + 1); } catch (e) { notify(e.message, 'error'); }
  };
  const c = m.metrics || {};
  return html`<div class="page model-page">
    <nav class="crumbs" aria-label="Breadcrumbs"><ol>
      <li><${Link} href="/">Home<//></li>
      ${folder && folder.path.map((p) => html`<li key=${p.id}><${Link} href=${'/folders/' + p.id}>${p.name}<//></li>`)}
      <li><span aria-current="page">${m.name}</span></li>
    </ol></nav>
    <header class="file-head">
      <svg class="ficon" viewBox="0 0 24 24" width="28" height="28" aria-hidden="true">
        <path d="M4 20V4M4 20h16" stroke="#5b6272" stroke-width="1.6" fill="none"/>
        <path d="M6 16l4-5 3 3 6-8" stroke="#1f5fbf" stroke-width="1.8" fill="none"/></svg>
      <h1>${m.name}</h1>
      <${StatusBadge} status=${m.state} error=${m.error}/>
    </header>
    <p class="muted">Model · ${m.task || 'task to be inferred'} of ${m.target} · ${METHOD_NAMES[m.method] || m.method}
      ${m.version ? ` · version ${m.version}` : ''} · ${when(m.updated_at)}</p>
    <div class="toolbar" role="toolbar" aria-label="Model actions">
      ${m.file_id && html`<a class="btn primary" href=${`${API}/files/${m.file_id}/content`} download>Download model</a>
        <${Link} class="btn" href=${'/files/' + m.file_id}>The model's file<//>`}
      ${m.training_file_id && html`<${Link} class="btn ghost" href=${'/files/' + m.training_file_id}>Training file<//>`}
    </div>
    ${training && html`<section class="card" aria-labelledby="train-h">
      <h2 id="train-h">Training…</h2>
      <div class="train-progress"><${Progress} value=${m.progress} label="Training progress"/>
        <span class="muted">${Math.round((m.progress || 0) * 100)} %</span>
        ${me && (me.is_admin || me.id === m.owner_id) && html`<button type="button" class="btn small" onClick=${cancel}>Cancel</button>`}</div>
      <p class="muted small">Cross-validation, then the final model; this page follows it.</p>
    </section>`}
    ${m.state === 'failed' && html`<div class="error-box" role="alert">Training failed: ${m.error || 'no reason given'}</div>`}
    ${c.cv && html`<section class="card" aria-labelledby="report-h">
      <h2 id="report-h">Report${training ? html` <span class="muted small">(of the version trained before)</span>` : ''}</h2>
      <div class="report-grid">
        <div>
          <${MetricsTable} m=${m}/>
          ${m.task === 'classification' && html`<${Confusion} m=${m} which="cv" c=${c.cv.confusion}/>
            ${c.test && html`<${Confusion} m=${m} which="test" c=${c.test.confusion}/>`}
            <p class="hint">A record is predicted ${classNames(m)[1]} when its probability is at least 0.5.</p>`}
        </div>
        <${Plots} m=${m}/>
      </div>
    </section>`}
    ${(m.training_size != null || m.state !== 'training') && html`<section class="card" aria-labelledby="details-h">
      <h2 id="details-h">Training data and settings</h2>
      <${Details} m=${m}/>
    </section>`}
    ${m.file_id ? html`<${PredictForm} m=${m}/>` : m.state !== 'training' && html`<p class="muted">No trained version to predict with.</p>`}
  </div>`;
}
