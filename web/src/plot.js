// A model's plots with Chart.js (only the parts a scatter chart needs), in a chunk of its
// own that only the model page loads (model.js imports it with import()). Chart.js draws
// on a canvas and sets styles through the CSSOM only, which the page's
// Content-Security-Policy (style-src 'self') allows.
import { Chart, ScatterController, PointElement, LineElement, LinearScale, Legend, Tooltip } from 'chart.js';

Chart.register(ScatterController, PointElement, LineElement, LinearScale, Legend, Tooltip);

const ACCENT = '#1f5fbf';
const GREY = '#8a8f99';
const INK = '#1d2433';

const axis = (title, min, max) => ({
  type: 'linear', min, max,
  title: { display: true, text: title, color: INK },
  grid: { color: '#e4e9f1' }, ticks: { color: '#5d6678' },
});
const line = (label, data, colour, dashed) => ({
  label, data, showLine: true, pointRadius: 0, pointStyle: 'line', pointHitRadius: dashed ? 0 : 4, borderWidth: dashed ? 1.5 : 2.2,
  borderColor: colour, backgroundColor: colour, borderDash: dashed ? [6, 4] : [], tension: 0,
});
const xy = (pairs) => pairs.map(([x, y]) => ({ x, y }));

function options(x, y) {
  return {
    animation: false, responsive: true, maintainAspectRatio: false, parsing: false, normalized: true,
    scales: { x, y },
    plugins: {
      legend: { position: 'bottom', labels: { color: INK, usePointStyle: true } },
      tooltip: { callbacks: { label: (c) => `${c.dataset.label}: (${Number(c.parsed.x).toPrecision(3)}, ${Number(c.parsed.y).toPrecision(3)})` } },
    },
  };
}

// kind: "roc", "pr" (a classifier's curves) or "scatter" (a regression's predicted
// against observed); m: the model as GET /models/{id} gives it. Returns the chart.
export function draw(canvas, kind, m) {
  const c = m.curves || {};
  let config;
  if (kind === 'roc') {
    config = {
      type: 'scatter',
      data: { datasets: [line('ROC', xy(c.roc), ACCENT, false), line('Chance', [{ x: 0, y: 0 }, { x: 1, y: 1 }], GREY, true)] },
      options: options(axis('False positive rate', 0, 1), axis('True positive rate', 0, 1)),
    };
  } else if (kind === 'pr') {
    const cm = (m.metrics && m.metrics.cv && m.metrics.cv.confusion) || null;
    const n = cm ? cm.tp + cm.fp + cm.tn + cm.fn : 0;
    const base = n ? (cm.tp + cm.fn) / n : null;
    const sets = [line('Precision–recall', xy(c.pr), '#19806b', false)];
    if (base != null) sets.push(line('Share of positives', [{ x: 0, y: base }, { x: 1, y: base }], GREY, true));
    config = { type: 'scatter', data: { datasets: sets }, options: options(axis('Recall', 0, 1), axis('Precision', 0, 1)) };
  } else {
    const pts = c.observed_predicted || [];
    let lo = Infinity;
    let hi = -Infinity;
    for (const [a, b] of pts) { lo = Math.min(lo, a, b); hi = Math.max(hi, a, b); }
    const pad = (hi - lo) * 0.05 || 1;
    lo -= pad;
    hi += pad;
    config = {
      type: 'scatter',
      data: {
        datasets: [
          { label: 'Records', data: xy(pts), pointStyle: 'circle', pointRadius: 3, pointHoverRadius: 5, borderWidth: 0, backgroundColor: 'rgba(31, 95, 191, 0.55)' },
          line('y = x', [{ x: lo, y: lo }, { x: hi, y: hi }], GREY, true),
        ],
      },
      options: options(axis(`Observed ${m.target}`, lo, hi), axis(`Predicted ${m.target}`, lo, hi)),
    };
  }
  return new Chart(canvas, config);
}
