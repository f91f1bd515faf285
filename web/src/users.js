// An administrator's controls of one account on the admin page: disable or enable it,
// set a new password, end its sessions (and revoke its tokens), delete it handing what it
// owns to another user. Each asks first, and shows the server's refusal (the last
// administrator, a user who still owns files) in its dialog.
import { useState } from 'preact/hooks';
import { html, Dialog, ErrorBox, notify } from './ui.js';
import { ROOT, api, patch } from './api.js';

function Confirm({ title, children, action, label, danger, onDone, onClose, valid = true }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try { await action(); onDone(); } catch (err) { setError(err); setBusy(false); }
  };
  return html`<${Dialog} title=${title} onClose=${onClose}>
    <form onSubmit=${submit}>
      ${children}
      <${ErrorBox} error=${error}/>
      <div class="actions"><button type="button" class="btn" onClick=${onClose}>Cancel</button>
        <button type="submit" class=${'btn ' + (danger ? 'danger' : 'primary')} disabled=${busy || !valid}>${label}</button></div>
    </form>
  <//>`;
}

export function UserActions({ user, users, me, reload }) {
  const [open, setOpen] = useState(null);
  const [password, setPassword] = useState('');
  const [heir, setHeir] = useState('');
  const self = me && me.id === user.id;
  const close = () => { setOpen(null); setPassword(''); setHeir(''); };
  const done = (text) => () => { notify(text); close(); reload(); };
  const url = `${ROOT}/users/${user.id}`;
  const name = user.username;
  return html`
    ${!self && html`<button type="button" class="btn small" aria-label=${(user.disabled ? 'Enable ' : 'Disable ') + name}
      onClick=${() => setOpen('disable')}>${user.disabled ? 'Enable' : 'Disable'}</button>`}
    <button type="button" class="btn small" aria-label=${'Reset password of ' + name} onClick=${() => setOpen('password')}>Reset password</button>
    <button type="button" class="btn small" aria-label=${'Sign out everywhere (' + name + ')'} onClick=${() => setOpen('sessions')}>Sign out everywhere</button>
    ${!self && html`<button type="button" class="btn small danger-outline" aria-label=${'Delete ' + name} onClick=${() => setOpen('delete')}>Delete</button>`}
    ${open === 'disable' && html`<${Confirm} title=${(user.disabled ? 'Enable ' : 'Disable ') + name}
        label=${user.disabled ? 'Enable' : 'Disable'} danger=${!user.disabled}
        action=${() => patch(url, { disabled: !user.disabled })}
        onDone=${done(`${name} ${user.disabled ? 'enabled' : 'disabled'}`)} onClose=${close}>
      <p>${user.disabled ? html`<strong>${name}</strong> will be able to sign in again, and their API tokens work again.`
        : html`<strong>${name}</strong> can no longer sign in: their sessions end now and their API tokens stop working until the account is enabled again.`}</p>
    <//>`}
    ${open === 'password' && html`<${Confirm} title=${'Reset the password of ' + name} label="Set password"
        valid=${password.length >= 8} action=${() => patch(url, { password })}
        onDone=${done(`New password set for ${name}; their sessions ended`)} onClose=${close}>
      <label for="reset-pass">New password</label>
      <input id="reset-pass" type="password" required minlength="8" autocomplete="new-password" autofocus
        value=${password} onInput=${(e) => setPassword(e.target.value)}/>
      <p class="muted small">At least 8 characters. ${name}'s sessions end; tell them the new password.</p>
    <//>`}
    ${open === 'sessions' && html`<${Confirm} title=${'Sign ' + name + ' out everywhere'} label="Sign out everywhere" danger
        action=${async () => {
          const r = await api('DELETE', `${url}/sessions`);
          notify(`${name}: ${r.sessions_ended} session${r.sessions_ended === 1 ? '' : 's'} ended, ${r.tokens_revoked} token${r.tokens_revoked === 1 ? '' : 's'} revoked`);
        }}
        onDone=${() => { close(); reload(); }} onClose=${close}>
      <p>End every session of <strong>${name}</strong> and revoke all their API tokens? They can sign in again.</p>
    <//>`}
    ${open === 'delete' && html`<${Confirm} title=${'Delete ' + name} label="Delete user" danger
        action=${() => api('DELETE', url + (heir ? '?transfer_to=' + encodeURIComponent(heir) : ''))}
        onDone=${done(`${name} deleted${heir ? `; their files now belong to ${heir}` : ''}`)} onClose=${close}>
      <p>Delete the account <strong>${name}</strong>? This cannot be undone.</p>
      <label for="heir">Hand their folders and files to</label>
      <select id="heir" value=${heir} onChange=${(e) => setHeir(e.target.value)}>
        <option value="">nobody (only if they own nothing)</option>
        ${users.filter((u) => u.id !== user.id).map((u) => html`<option value=${u.username}>${u.username}</option>`)}
      </select>
    <//>`}`;
}
