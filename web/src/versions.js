// A file's versions on its page: each one to download, and "Restore" on the earlier ones
// for whoever may change the file, which makes that version's content a new, newest
// version (nothing is lost: the one it replaces stays in the list).
import { useState } from 'preact/hooks';
import { html, Dialog, ErrorBox, bytes, when, notify, may } from './ui.js';
import { API, ROOT, post, inLink } from './api.js';

function RestoreDialog({ file, version, onDone, onClose }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    try {
      const f = await post(`${ROOT}/files/${file.id}/versions/${version.version}/restore`);
      notify(`Version ${version.version} restored as version ${f.version}`);
      onDone(f);
    } catch (err) { setError(err); setBusy(false); }
  };
  return html`<${Dialog} title=${'Restore version ' + version.version} onClose=${onClose}>
    <p>Make the content of version ${version.version} of <strong>${file.name}</strong>
      (${bytes(version.size)}, ${when(version.created_at)}) the newest version?</p>
    <p class="muted">It becomes version ${file.version + 1}; version ${file.version} stays in the list.</p>
    <${ErrorBox} error=${error}/>
    <div class="actions"><button type="button" class="btn" onClick=${onClose}>Cancel</button>
      <button type="button" class="btn primary" onClick=${submit} disabled=${busy} autofocus>Restore</button></div>
  <//>`;
}

export function Versions({ file, me, onChanged }) {
  const [restoring, setRestoring] = useState(null);
  const writable = !!me && !inLink() && may(file, 'write');
  const versions = file.versions || [];
  return html`<section class="card" aria-labelledby="ver-h">
    <h2 id="ver-h">Versions</h2>
    <div class="table-wrap"><table class="versions"><caption class="sr-only">Versions of ${file.name}</caption>
      <thead><tr><th scope="col">Version</th><th scope="col">Size</th><th scope="col">Uploaded</th><th scope="col">SHA-256</th>
        <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${versions.map((v) => html`<tr key=${v.version} data-version=${v.version}>
        <td>${v.version}${v.version === file.version && html` <span class="badge">newest</span>`}</td>
        <td class="num">${bytes(v.size)}</td>
        <td>${when(v.created_at)}</td><td><code class="hash" title=${v.sha256}>${v.sha256.slice(0, 16)}…</code></td>
        <td class="row-actions"><a href=${`${API}/files/${file.id}/content?version=${v.version}`} download=${file.name}>Download v${v.version}</a>
          ${writable && v.version !== file.version && html`<button type="button" class="btn small"
            aria-label=${'Restore version ' + v.version} onClick=${() => setRestoring(v)}>Restore</button>`}</td></tr>`)}</tbody>
    </table></div>
    ${restoring && html`<${RestoreDialog} file=${file} version=${restoring} onClose=${() => setRestoring(null)}
        onDone=${(f) => { setRestoring(null); onChanged(f); }}/>`}
  </section>`;
}
