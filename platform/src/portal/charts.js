// A group's headline figures as small live charts: requests per second, p99 latency, memory
// in use and restarts, drawn from the platform's own `/metrics` (the numbers Prometheus
// scrapes), read every few seconds while the group's overview is shown. Plain SVG, no
// external script. Reading `/metrics` needs the admin token (or a metrics token); with a
// token scoped to one subscription the charts say so and the rest of the page works as
// before.

import { metricsText } from './api.js';

/** Points kept per chart: with a read every 2 s, the last minute. */
const POINTS = 30;
const SVG = 'http://www.w3.org/2000/svg';

/** The samples of a Prometheus text exposition: `{ name, labels, value }` for each line that
 *  is not a comment. Label values are unescaped (`\\`, `\"`, `\n`). */
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    let l;
    while ((l = re.exec(m[3] || '')) !== null) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

/** The figures of one group at one moment, summed over its containers. */
export function groupFigures(samples, sub, rg, name) {
  const mine = samples.filter((s) => s.labels.group === name
    && s.labels.subscription === sub
    && (s.labels.resource_group || '').toLowerCase() === rg.toLowerCase());
  const sum = (metric) => mine.filter((s) => s.name === metric).reduce((a, s) => a + s.value, 0);
  const buckets = new Map();
  for (const s of mine.filter((x) => x.name === 'waci_container_http_request_duration_seconds_bucket')) {
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    buckets.set(le, (buckets.get(le) || 0) + s.value);
  }
  return {
    at: performance.now() / 1000,
    requests: sum('waci_container_http_requests_total'),
    buckets,
    memory: sum('waci_container_memory_bytes'),
    restarts: sum('waci_container_restarts_total'),
    seen: mine.length > 0,
  };
}

/** The 99th percentile of the requests between two readings, in seconds: the smallest
 *  bucket bound that holds 99% of them (as Prometheus's histogram_quantile, without its
 *  interpolation); null when no request came in between. */
export function p99Between(before, after) {
  const bounds = [...after.buckets.keys()].sort((a, b) => a - b);
  const count = (le) => (after.buckets.get(le) || 0) - (before.buckets.get(le) || 0);
  const total = count(Infinity);
  if (!(total > 0)) return null;
  for (const le of bounds) {
    if (count(le) >= 0.99 * total) return le;
  }
  return Infinity;
}

function chart(root, id, title) {
  const figure = document.createElement('figure');
  figure.className = 'chart';
  figure.id = id;
  const caption = document.createElement('figcaption');
  const label = document.createElement('span');
  label.textContent = title;
  const value = document.createElement('strong');
  value.className = 'chart-value';
  value.textContent = '–';
  caption.append(label, value);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${POINTS - 1} 20`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('aria-hidden', 'true');
  const line = document.createElementNS(SVG, 'polyline');
  svg.append(line);
  figure.append(caption, svg);
  root.append(figure);
  const points = [];
  return (v, text) => {
    value.textContent = text;
    points.push(Number.isFinite(v) ? v : 0);
    if (points.length > POINTS) points.shift();
    const top = Math.max(...points, 1e-9);
    const start = POINTS - points.length;
    line.setAttribute('points', points.map((p, i) => `${start + i},${(20 - (p / top) * 18).toFixed(2)}`).join(' '));
  };
}

const num = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

function ms(seconds) {
  if (seconds === null) return 'no requests';
  if (seconds === Infinity) return 'over the last bucket';
  return `≤ ${num.format(seconds * 1000)} ms`;
}

/** Draws the charts into `root` (emptied first); `read()` takes one reading. */
export function metricsPanel(root, sub, rg, name) {
  root.replaceChildren();
  const note = document.createElement('p');
  note.className = 'muted';
  note.hidden = true;
  const grid = document.createElement('div');
  grid.className = 'charts';
  root.append(grid, note);
  const rps = chart(grid, 'm-rps', 'Requests/s');
  const p99 = chart(grid, 'm-p99', 'p99 latency');
  const memory = chart(grid, 'm-memory', 'Memory in use');
  const restarts = chart(grid, 'm-restarts', 'Restarts');
  let last = null;

  return async function read() {
    let text;
    try {
      text = await metricsText();
    } catch (err) {
      note.textContent = err.status === 401 || err.status === 404
        ? 'Live figures need the admin token or a metrics token (waci token create --metrics-only).'
        : `Live figures are unavailable: ${err.message}`;
      note.hidden = false;
      return;
    }
    note.hidden = true;
    const now = groupFigures(parseMetrics(text), sub, rg, name);
    if (last) {
      const dt = now.at - last.at;
      const rate = dt > 0 ? Math.max(0, now.requests - last.requests) / dt : 0;
      rps(rate, num.format(rate));
      const q = p99Between(last, now);
      p99(q === null || q === Infinity ? 0 : q * 1000, ms(q));
    }
    memory(now.memory / 2 ** 20, `${num.format(now.memory / 2 ** 20)} MiB`);
    restarts(now.restarts, String(now.restarts));
    last = now;
  };
}
