// The portal's one way to the control API. Keeps the token for this browser tab (taken
// once from `?token=` and then dropped from the address bar), adds it and the api-version
// to every call, and turns ARM errors into ApiError values that name the field they blame.
// Knows the API only by its HTTP contract, like any other client.

const TOKEN_KEY = 'waci.token';

/** Set once at start from /portal/config: front door port, images, location, subscription. */
export const portal = { config: null };

/** Moves a `?token=` from the address into this tab's storage, leaving the address clean. */
export function takeTokenFromAddress() {
  const url = new URL(window.location.href);
  if (!url.searchParams.has('token')) return;
  const token = url.searchParams.get('token').trim();
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  url.searchParams.delete('token');
  history.replaceState(history.state, '', url.pathname + url.search + url.hash);
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(t) {
  sessionStorage.setItem(TOKEN_KEY, t);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An error answer of the API: `{"error":{"code","message"}}` and the field it names. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = fieldOf(message);
  }
  /** The message without its `(field '...')` tail, for showing beside that field. */
  get plain() {
    return this.message.replace(/\s*\(field '[^']*'\)\s*$/, '');
  }
}

/** The JSON path an API message blames: `... (field 'properties.ipAddress.dnsNameLabel')`. */
export function fieldOf(message) {
  const m = /\(field '([^']+)'\)\s*$/.exec(message || '');
  return m ? m[1] : null;
}

function withVersion(path) {
  // A list's nextLink carries its api-version already.
  if (/[?&]api-version=/i.test(path)) return path;
  const sep = path.includes('?') ? '&' : '?';
  return `${path}${sep}api-version=${encodeURIComponent(portal.config.apiVersion)}`;
}

async function send(method, path, body, signal) {
  const headers = { Authorization: `Bearer ${token() || ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(withVersion(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'Unreachable', 'The platform did not answer. Is `waci serve` still running?');
  }
  if (resp.ok) return resp;
  let code = `Http${resp.status}`;
  let message = `The platform answered ${resp.status} ${resp.statusText}.`;
  try {
    const err = (await resp.json()).error;
    if (err) ({ code, message } = err);
  } catch {
    // Not the error shape: keep the status line.
  }
  if (resp.status === 401) {
    forgetToken();
    window.dispatchEvent(new CustomEvent('waci:unauthorized', { detail: message }));
  }
  throw new ApiError(resp.status, code, message);
}

/** One API call; answers the JSON body, or null for an empty one. */
export async function call(method, path, body, { signal } = {}) {
  const resp = await send(method, path, body, signal);
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

/** Every item of a list: its first page, then each page its `nextLink` names, to the last
 *  (ARM lists come in pages). A link is followed on this page's own origin, where the API
 *  answers, whatever public address the platform wrote into it. */
export async function list(path, { signal } = {}) {
  const items = [];
  const seen = new Set();
  for (let next = path; next;) {
    if (seen.has(next)) throw new ApiError(0, 'BadNextLink', 'The platform sent a list whose nextLink leads back to a page already read.');
    seen.add(next);
    const page = await call('GET', next, undefined, { signal });
    items.push(...(page?.value || []));
    const link = page?.nextLink && new URL(page.nextLink, window.location.href);
    next = link ? link.pathname + link.search : null;
  }
  return items;
}

/** Follows a container's log: calls `onText` with each piece as the guest writes it, and
 *  resolves when the platform ends the stream (the container has ended for good). */
export async function follow(path, onText, { signal } = {}) {
  const resp = await send('GET', path, undefined, signal);
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    onText(decoder.decode(value, { stream: true }));
  }
  const rest = decoder.decode();
  if (rest) onText(rest);
}

/** The platform's `/metrics` text (Prometheus format). Unlike an API call, a refusal here
 *  keeps the token: a token scoped to one subscription may not read metrics, and is still
 *  good for the rest of the page. */
export async function metricsText() {
  let resp;
  try {
    resp = await fetch('/metrics', { headers: { Authorization: `Bearer ${token()}` }, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'Unreachable', 'The platform did not answer. Is `waci serve` still running?');
  }
  if (!resp.ok) throw new ApiError(resp.status, `Http${resp.status}`, `The platform answered ${resp.status} for /metrics.`);
  return resp.text();
}

const seg = encodeURIComponent;

export function subscriptionPath() {
  return `/subscriptions/${seg(portal.config.subscription)}`;
}

export function groupsPath() {
  return `${subscriptionPath()}/providers/Microsoft.ContainerInstance/containerGroups`;
}

export function resourceGroupsPath() {
  return `${subscriptionPath()}/resourcegroups`;
}

export function groupPath(rg, name) {
  return `${subscriptionPath()}/resourceGroups/${seg(rg)}/providers/Microsoft.ContainerInstance/containerGroups/${seg(name)}`;
}

/** The resource group named in an ARM id. */
export function resourceGroupOf(id) {
  const m = /\/resourceGroups\/([^/]+)\//i.exec(id || '');
  return m ? decodeURIComponent(m[1]) : '';
}

/** The address that opens a group's FQDN through the front door. */
export function frontDoorUrl(fqdn) {
  return `http://${fqdn}:${portal.config.frontDoorPort}/`;
}
