// The sharing dialog of a folder or file: visibility, grants to users and groups, and
// share links with an expiry and a copy button.
import { useEffect, useState } from 'preact/hooks';
import { html, Dialog, ErrorBox, Spinner, when, notify } from './ui.js';
import { get, post, put, del } from './api.js';

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    return ok;
  }
}

export function ShareDialog({ type, id, name, onClose }) {
  const base = `/${type}s/${id}`;
  const [obj, setObj] = useState(null);
  const [grants, setGrants] = useState(null);
  const [links, setLinks] = useState(null);
  const [error, setError] = useState(null);
  const [who, setWho] = useState('');
  const [whoKind, setWhoKind] = useState('user');
  const [role, setRole] = useState('viewer');
  const [expiry, setExpiry] = useState('');
  const [newLink, setNewLink] = useState(null);
  const [copied, setCopied] = useState(false);

  const load = () => Promise.all([get(base), get(base + '/grants'), get(base + '/links')])
    .then(([o, g, l]) => { setObj(o); setGrants(g.grants); setLinks(l.links); }, setError);
  useEffect(() => { load(); }, [type, id]);

  const setVisibility = async (visibility) => {
    try { await put(base + '/visibility', { visibility }); setObj({ ...obj, visibility }); notify(`Now ${visibility}`); } catch (e) { setError(e); }
  };
  const addGrant = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await post(base + '/grants', { [whoKind === 'user' ? 'username' : 'group']: who.trim(), role });
      setWho('');
      notify(`Shared with ${who.trim()} as ${role}`);
      load();
    } catch (err) { setError(err); }
  };
  const revoke = async (g) => {
    try { await del(base + '/grants/' + g.id); load(); } catch (err) { setError(err); }
  };
  const makeLink = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = expiry ? { expires_at: new Date(expiry + 'T23:59:59').toISOString() } : {};
      const l = await post(base + '/links', body);
      setNewLink(new URL(l.url, location.origin).href);
      setCopied(false);
      load();
    } catch (err) { setError(err); }
  };
  const revokeLink = async (l) => {
    try { await del('/links/' + l.id); load(); } catch (err) { setError(err); }
  };
  const today = new Date().toISOString().slice(0, 10);

  return html`<${Dialog} title=${'Share ' + (name || type)} onClose=${onClose} wide>
    ${!obj && !error && html`<${Spinner}/>`}
    <${ErrorBox} error=${error}/>
    ${obj && html`
      <fieldset class="share-section">
        <legend>Visibility</legend>
        <label class="radio"><input type="radio" name="vis" checked=${obj.visibility === 'private'}
          onChange=${() => setVisibility('private')}/> Private — only people given access</label>
        <label class="radio"><input type="radio" name="vis" checked=${obj.visibility === 'public'}
          onChange=${() => setVisibility('public')}/> Public — anyone can read it, signed in or not</label>
      </fieldset>
      <section class="share-section" aria-labelledby="grants-h">
        <h3 id="grants-h">People and groups</h3>
        <form class="inline-form" onSubmit=${addGrant}>
          <label class="sr-only" for="grant-kind">Grant to</label>
          <select id="grant-kind" value=${whoKind} onChange=${(e) => setWhoKind(e.target.value)}>
            <option value="user">User</option><option value="group">Group</option></select>
          <label class="sr-only" for="grant-who">${whoKind === 'user' ? 'User name' : 'Group name'}</label>
          <input id="grant-who" placeholder=${whoKind === 'user' ? 'user name' : 'group name'} required
            value=${who} onInput=${(e) => setWho(e.target.value)}/>
          <label class="sr-only" for="grant-role">Role</label>
          <select id="grant-role" value=${role} onChange=${(e) => setRole(e.target.value)}>
            <option value="viewer">can view</option><option value="editor">can edit</option></select>
          <button class="btn primary" type="submit">Share</button>
        </form>
        ${grants && grants.length === 0 && html`<p class="muted">Not shared with anyone yet.</p>`}
        ${grants && grants.length > 0 && html`<ul class="plain-list">
          ${grants.map((g) => html`<li key=${g.id}>
            <span>${g.username ? html`<span class="muted small">user</span> ${g.username}`
                               : html`<span class="muted small">group</span> ${g.group_name || g.group_id}`}</span>
            <span class="badge">${g.role}</span>
            <button type="button" class="btn ghost small" onClick=${() => revoke(g)}
              aria-label=${'Remove access of ' + (g.username || g.group_name)}>Remove</button></li>`)}
        </ul>`}
      </section>
      <section class="share-section" aria-labelledby="links-h">
        <h3 id="links-h">Share links</h3>
        <form class="inline-form" onSubmit=${makeLink}>
          <label for="link-expiry">Expires</label>
          <input id="link-expiry" type="date" min=${today} value=${expiry} onInput=${(e) => setExpiry(e.target.value)}/>
          <button class="btn" type="submit">Create link</button>
        </form>
        ${newLink && html`<div class="new-link">
          <label for="link-url">New link (shown once)</label>
          <div class="inline-form">
            <input id="link-url" readonly value=${newLink} onFocus=${(e) => e.target.select()}/>
            <button type="button" class="btn primary" onClick=${async () => setCopied(await copy(newLink))}>${copied ? 'Copied' : 'Copy'}</button>
          </div></div>`}
        ${links && links.length > 0 && html`<ul class="plain-list">
          ${links.map((l) => html`<li key=${l.id}><span>Link created ${when(l.created_at)}</span>
            <span class="muted">${l.expires_at ? 'expires ' + when(l.expires_at) : 'no expiry'}</span>
            <button type="button" class="btn ghost small" onClick=${() => revokeLink(l)}>Revoke</button></li>`)}
        </ul>`}
      </section>`}
    <div class="actions"><button type="button" class="btn" onClick=${onClose}>Done</button></div>
  <//>`;
}
