// The portal API (/api/portal) over fetch: JSON in and out, the session cookie, the CSRF
// header, and every failure as an ApiError carrying the server's error_description.

const BASE = '/api/portal';

/** A failed call: `code` and `description` come from the JSON error body. */
export class ApiError extends Error {
  constructor(status, code, description) {
    super(description);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.description = description;
    // Field errors read "<field>: <what is wrong>", or "<field>[<n>]: …" for one entry of
    // a list; the form shows them by that field.
    const m = /^([a-z][a-z0-9_]*)(?:\[(\d+)\])?: (.+)$/s.exec(description || '');
    this.field = m ? m[1] : null;
    this.index = m && m[2] !== undefined ? Number(m[2]) : null;
    this.detail = m ? m[3] : description;
  }
}

let unauthorizedHandler = null;

/** Registers what to do when a signed-in call answers 401 (the session ended). */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/**
 * Calls the portal API. Resolves with the parsed JSON body (null for 204), rejects with
 * ApiError for any non-2xx answer or a network failure.
 */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json', 'X-Requested-With': 'set-portal' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, 'network_error', 'The server could not be reached. Check your connection and try again.');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.ok) return data;
  const code = (data && data.error) || 'server_error';
  const description =
    (data && data.error_description) || `The server answered ${res.status} ${res.statusText}.`.trim();
  const err = new ApiError(res.status, code, description);
  if (res.status === 401 && code === 'unauthorized' && path !== '/me' && unauthorizedHandler) {
    unauthorizedHandler(err);
  }
  throw err;
}

export const get = (path) => api('GET', path);
export const post = (path, body = {}) => api('POST', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

/** Reads a public JSON document outside the portal API (the docs page's /openapi.json). */
export async function getPublic(path) {
  let res;
  try {
    res = await fetch(path, { headers: { Accept: 'application/json' }, credentials: 'omit' });
  } catch {
    throw new ApiError(0, 'network_error', 'The server could not be reached. Check your connection and try again.');
  }
  if (!res.ok) throw new ApiError(res.status, 'server_error', `GET ${path} answered ${res.status}.`);
  return res.json();
}

/** Path segment escaping for ids in URLs. */
export const seg = (value) => encodeURIComponent(String(value));
