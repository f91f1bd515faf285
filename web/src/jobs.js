// Jobs: the caller's background work with progress, live from the event stream, with
// cancel and retry.
import { useEffect, useState } from 'preact/hooks';
import { html, Link, ErrorBox, Spinner, when, Progress, notify } from './ui.js';
import { get, post, listen } from './api.js';

const STATES = ['', 'queued', 'running', 'succeeded', 'failed', 'canceled'];
// Jobs the server runs for itself while someone looks at a page (depictions) are left out
// of every list by the server; an administrator may ask for them (?helpers=true).
export function JobsPage({ me }) {
  const [state, setState] = useState('');
  const [jobs, setJobs] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  const [helpers, setHelpers] = useState(false);
  useEffect(() => { document.title = 'Jobs · carboy'; }, []);
  const query = () => '/jobs?limit=100' + (state ? '&state=' + state : '') + (helpers ? '&helpers=true' : '');
  useEffect(() => {
    get(query()).then((r) => { setJobs(r.jobs); setCursor(r.next_cursor); setError(null); }, setError);
  }, [state, tick, helpers]);
  useEffect(() => listen((type, ev) => {
    if (type !== 'job') return;
    setJobs((js) => {
      if (!js) return js;
      if (!js.some((j) => j.id === ev.id)) { setTick((t) => t + 1); return js; }
      return js.map((j) => j.id === ev.id ? { ...j, state: ev.state, progress: ev.progress, error: ev.error } : j);
    });
  }), []);
  const more = async () => {
    const r = await get(query() + '&cursor=' + encodeURIComponent(cursor));
    setJobs([...jobs, ...r.jobs]);
    setCursor(r.next_cursor);
  };
  const act = async (j, what) => {
    try { await post(`/jobs/${j.id}/${what}`); notify(`${what === 'cancel' ? 'Canceled' : 'Retrying'} job ${j.type}`); setTick((t) => t + 1); } catch (e) { notify(e.message, 'error'); }
  };
  return html`<div class="page">
    <h1>Jobs</h1>
    <div class="toolbar">
      <label for="job-state">State</label>
      <select id="job-state" value=${state} onChange=${(e) => setState(e.target.value)}>
        ${STATES.map((s) => html`<option value=${s}>${s || 'all'}</option>`)}</select>
      ${me && me.is_admin && html`<label class="check-label"><input type="checkbox" checked=${helpers}
        onChange=${(e) => setHelpers(e.target.checked)}/> Show drawing helpers</label>`}
      <button type="button" class="btn ghost" onClick=${() => setTick((t) => t + 1)}>Refresh</button>
    </div>
    <${ErrorBox} error=${error}/>
    ${!jobs && !error && html`<${Spinner}/>`}
    ${jobs && html`<table class="jobs">
      <caption class="sr-only">Jobs</caption>
      <thead><tr><th scope="col">Type</th><th scope="col">Input</th><th scope="col">State</th><th scope="col">Progress</th>
        <th scope="col">Tries</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${jobs.map((j) => html`<tr key=${j.id} data-state=${j.state}>
        <td>${j.type}</td>
        <td>${(j.inputs || []).map((id) => html`<${Link} href=${'/files/' + id} key=${id}>file<//> `)}
            ${(j.outputs || []).length > 0 && html`→ ${j.outputs.map((id) => html`<${Link} href=${'/files/' + id} key=${id}>output<//> `)}`}</td>
        <td><span class=${'badge st-' + j.state}>${j.state}</span>${j.error && html`<div class="muted small">${j.error}</div>`}</td>
        <td><${Progress} value=${j.state === 'succeeded' ? 1 : j.progress} label=${'Progress of job ' + j.type}/></td>
        <td class="num">${j.attempts}</td>
        <td>${when(j.created_at)}</td>
        <td class="actions-cell">
          ${(j.state === 'queued' || j.state === 'running') && html`<button type="button" class="btn small" onClick=${() => act(j, 'cancel')}>Cancel</button>`}
          ${(j.state === 'failed' || j.state === 'canceled') && html`<button type="button" class="btn small" onClick=${() => act(j, 'retry')}>Retry</button>`}
        </td></tr>`)}</tbody>
    </table>
    ${jobs.length === 0 && html`<p class="empty">No jobs${state ? ' in this state' : ''}.</p>`}
    ${cursor && html`<button type="button" class="btn" onClick=${more}>More</button>`}`}
  </div>`;
}
