// Administration: users and groups (administrators only).
import { useEffect, useState } from 'preact/hooks';
import { html, ErrorBox, Spinner, when, notify } from './ui.js';
import { get, post, del } from './api.js';
import { UserActions } from './users.js';
import { CategoriesAdmin } from './categories.js';

function Users({ users, reload, me }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [admin, setAdmin] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await post('/users', { username: username.trim(), password, is_admin: admin });
      notify(`User ${username.trim()} created`);
      setUsername(''); setPassword(''); setAdmin(false);
      reload();
    } catch (err) { setError(err); }
  };
  return html`<section class="card users-card" aria-labelledby="users-h">
    <h2 id="users-h">Users</h2>
    <form class="inline-form" onSubmit=${submit} aria-label="New user">
      <label for="nu-name">User name</label><input id="nu-name" required value=${username} onInput=${(e) => setUsername(e.target.value)} autocomplete="off"/>
      <label for="nu-pass">Password</label><input id="nu-pass" type="password" required minlength="8" value=${password} onInput=${(e) => setPassword(e.target.value)} autocomplete="new-password"/>
      <label class="check-label"><input type="checkbox" checked=${admin} onChange=${(e) => setAdmin(e.target.checked)}/> Administrator</label>
      <button class="btn primary" type="submit">Add user</button>
    </form>
    <${ErrorBox} error=${error}/>
    <div class="table-wrap"><table class="users-table"><caption class="sr-only">Users</caption>
      <thead><tr><th scope="col">User name</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Created</th>
        <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${users.map((u) => html`<tr key=${u.id} data-user=${u.username}><td>${u.username}</td><td>${u.is_admin ? 'administrator' : 'user'}</td>
        <td>${u.disabled ? html`<span class="badge st-disabled">disabled</span>` : html`<span class="badge st-ready">active</span>`}</td>
        <td>${when(u.created_at)}</td>
        <td class="row-actions"><${UserActions} user=${u} users=${users} me=${me} reload=${reload}/></td></tr>`)}</tbody>
    </table></div>
  </section>`;
}

function Groups({ groups, users, reload }) {
  const [name, setName] = useState('');
  const [error, setError] = useState(null);
  const [pick, setPick] = useState({});
  const create = async (e) => {
    e.preventDefault();
    try { await post('/groups', { name: name.trim() }); notify(`Group ${name.trim()} created`); setName(''); reload(); } catch (err) { setError(err); }
  };
  const add = async (g) => {
    const uid = pick[g.id];
    if (!uid) return;
    try { await post(`/groups/${g.id}/members`, { user_id: uid }); reload(); } catch (err) { setError(err); }
  };
  const remove = async (g, u) => {
    try { await del(`/groups/${g.id}/members/${u.id}`); reload(); } catch (err) { setError(err); }
  };
  return html`<section class="card" aria-labelledby="groups-h">
    <h2 id="groups-h">Groups</h2>
    <form class="inline-form" onSubmit=${create} aria-label="New group">
      <label for="ng-name">Group name</label><input id="ng-name" required value=${name} onInput=${(e) => setName(e.target.value)}/>
      <button class="btn primary" type="submit">Add group</button>
    </form>
    <${ErrorBox} error=${error}/>
    ${groups.length === 0 && html`<p class="muted">No groups yet.</p>`}
    ${groups.map((g) => html`<div class="group" key=${g.id}>
      <h3>${g.name}</h3>
      <ul class="chips">${(g.members || []).map((u) => html`<li key=${u.id}>${u.username}
        <button type="button" class="icon-btn" aria-label=${`Remove ${u.username} from ${g.name}`} onClick=${() => remove(g, u)}>✕</button></li>`)}
        ${(g.members || []).length === 0 && html`<li class="muted">no members</li>`}</ul>
      <div class="inline-form">
        <label class="sr-only" for=${'add-' + g.id}>Add a member to ${g.name}</label>
        <select id=${'add-' + g.id} value=${pick[g.id] || ''} onChange=${(e) => setPick({ ...pick, [g.id]: e.target.value })}>
          <option value="">Add a member…</option>
          ${users.filter((u) => !(g.members || []).some((m) => m.id === u.id)).map((u) => html`<option value=${u.id}>${u.username}</option>`)}
        </select>
        <button type="button" class="btn small" onClick=${() => add(g)} disabled=${!pick[g.id]}>Add</button>
      </div>
    </div>`)}
  </section>`;
}

export function AdminPage({ me }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  useEffect(() => { document.title = 'Admin · carboy'; }, []);
  useEffect(() => {
    Promise.all([get('/users'), get('/groups')]).then(([u, g]) => setData({ users: u.users, groups: g.groups }), setError);
  }, [tick]);
  const reload = () => setTick((t) => t + 1);
  return html`<div class="page">
    <h1>Administration</h1>
    <${ErrorBox} error=${error}/>
    ${!data && !error && html`<${Spinner}/>`}
    ${data && html`<div class="admin-grid"><${Users} users=${data.users} reload=${reload} me=${me}/>
      <${Groups} groups=${data.groups} users=${data.users} reload=${reload}/></div>`}
    <${CategoriesAdmin}/>
  </div>`;
}
