// Daily bar charts as inline SVG: one bar per day, a rounded scale on the left, the first,
// middle and last dates below, and each bar's exact value as a tooltip. Colours come from
// CSS classes (the CSP allows no inline style).

import { svg } from './dom.js';

const H = 180;
const PAD = { top: 12, right: 8, bottom: 26, left: 36 };

const dayFormat = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });

function utcDate(iso) {
  return new Date(`${iso}T00:00:00Z`);
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

/**
 * The last `count` days ending at the later of today (UTC) and the last day in `days`,
 * each with its value of `key` (0 for a day the server did not list).
 */
export function series(days, key, count = 30) {
  const byDate = new Map((days || []).map((d) => [d.date, Number(d[key]) || 0]));
  const today = isoDay(new Date());
  const last = (days || []).reduce((max, d) => (d.date > max ? d.date : max), today);
  const end = utcDate(last);
  const out = [];
  for (let i = count - 1; i >= 0; i -= 1) {
    const day = new Date(end.getTime() - i * 86400000);
    const date = isoDay(day);
    out.push({ date, value: byDate.get(date) || 0 });
  }
  return out;
}

/** A scale maximum that reads well: 1, 2, 5, 10, 20, 50, … at least `max`. */
export function niceMax(max) {
  if (max <= 4) return Math.max(4, Math.ceil(max));
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= max) return step * magnitude;
  }
  return 10 * magnitude;
}

/**
 * A bar chart of `points` ([{date, value}]), `width` pixels wide. `label` names the
 * measure ("new users"; `one` for a count of 1) for the accessible description and
 * tooltips; `tone` picks the colour class; `emptyText` is written across a chart of zeros.
 */
export function barChart(points, { label, one = label, tone = 'green', width = 640, emptyText } = {}) {
  const unit = (n) => `${n.toLocaleString('en-US')} ${n === 1 ? one : label}`;
  const W = width;
  const total = points.reduce((sum, p) => sum + p.value, 0);
  const max = niceMax(Math.max(0, ...points.map((p) => p.value)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(points.length, 1);
  const barW = Math.max(2, slot * 0.68);
  const y = (v) => PAD.top + plotH - (v / max) * plotH;

  const first = points[0];
  const lastPoint = points[points.length - 1];
  const summary = first
    ? `${unit(total)} from ${dayFormat.format(utcDate(first.date))} to ${dayFormat.format(utcDate(lastPoint.date))}`
    : `No ${label}`;
  const chart = svg('svg', {
    class: ['chart', `chart-${tone}`],
    viewBox: `0 0 ${W} ${H}`,
    width: W,
    height: H,
    role: 'img',
    'aria-label': summary,
  });

  for (const tick of [0, max / 2, max]) {
    const ty = y(tick);
    chart.append(
      svg('line', { class: 'chart-gridline', x1: PAD.left, x2: W - PAD.right, y1: ty, y2: ty }),
      svg('text', { class: 'chart-axis', x: PAD.left - 6, y: ty + 4, 'text-anchor': 'end' }, formatTick(tick)),
    );
  }

  points.forEach((p, i) => {
    const x = PAD.left + i * slot + (slot - barW) / 2;
    const top = p.value > 0 ? Math.min(y(p.value), y(0) - 2) : y(0);
    const bar = svg('rect', {
      class: p.value > 0 ? 'chart-bar' : 'chart-bar chart-bar-zero',
      x: x.toFixed(2),
      y: top.toFixed(2),
      width: barW.toFixed(2),
      height: Math.max(0, y(0) - top).toFixed(2),
      rx: Math.min(3, barW / 3).toFixed(2),
    });
    bar.append(svg('title', {}, `${dayFormat.format(utcDate(p.date))}: ${unit(p.value)}`));
    chart.append(bar);
  });

  const labelAt = [0, Math.floor((points.length - 1) / 2), points.length - 1];
  for (const [n, i] of labelAt.entries()) {
    const p = points[i];
    if (!p) continue;
    const x = PAD.left + i * slot + slot / 2;
    const anchor = n === 0 ? 'start' : n === 2 ? 'end' : 'middle';
    const ax = n === 0 ? PAD.left : n === 2 ? W - PAD.right : x;
    chart.append(svg('text', { class: 'chart-axis', x: ax, y: H - 6, 'text-anchor': anchor }, dayFormat.format(utcDate(p.date))));
  }
  chart.append(svg('line', { class: 'chart-baseline', x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0) }));
  if (total === 0 && emptyText) {
    chart.append(svg('text', { class: 'chart-empty', x: PAD.left + plotW / 2, y: PAD.top + plotH / 2, 'text-anchor': 'middle' }, emptyText));
  }
  return chart;
}

/**
 * Draws a bar chart into `container` at its own width (so text keeps its size on a
 * phone), and again whenever that width changes.
 */
export function mountChart(container, points, options) {
  let drawn = 0;
  const draw = () => {
    const width = Math.floor(container.clientWidth);
    if (width <= 0 || width === drawn) return;
    drawn = width;
    container.replaceChildren(barChart(points, { ...options, width: Math.max(width, 200) }));
  };
  new ResizeObserver(draw).observe(container);
  draw();
}

function formatTick(v) {
  if (v >= 1000000) return `${+(v / 1000000).toFixed(1)}M`;
  if (v >= 1000) return `${+(v / 1000).toFixed(1)}k`;
  return `${+v.toFixed(1)}`;
}
