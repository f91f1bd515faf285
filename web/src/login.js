// Sign in: a username and password form; the server sets the session cookie.
import { useState } from 'preact/hooks';
import { html } from './ui.js';
import { api } from './api.js';

export function Login({ onSignedIn }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const r = await api('POST', '/auth/login', { username, password }, { quiet401: true });
      onSignedIn(r.user);
    } catch (err) {
      setError(err.status === 401 ? 'Wrong user name or password.' : err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="login" id="main">
    <form class="card login-card" onSubmit=${submit} aria-labelledby="login-title">
      <img src=${new URL('./icon.svg', import.meta.url).href} alt="" width="48" height="48"/>
      <h1 id="login-title">Sign in to carboy</h1>
      <label for="login-user">User name</label>
      <input id="login-user" name="username" autocomplete="username" required autofocus
        value=${username} onInput=${(e) => setUsername(e.target.value)}/>
      <label for="login-password">Password</label>
      <input id="login-password" name="password" type="password" autocomplete="current-password" required
        value=${password} onInput=${(e) => setPassword(e.target.value)}/>
      ${error && html`<div class="error-box" role="alert">${error}</div>`}
      <button class="btn primary" type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  </main>`;
}
