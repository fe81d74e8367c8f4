// The project page's per-camera chart: sequences per day (bars) and the false-positive rate of
// reviewed tracks (a line, 0 to 100 %), one small inline SVG per camera. The table beside it
// holds the same numbers for readers and screen readers.
import { api } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 320;
const HEIGHT = 80;

function element(name, attributes, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text) node.textContent = text;
  return node;
}

function chart(camera) {
  const days = camera.days;
  const most = Math.max(1, ...days.map((d) => d.sequences));
  const step = WIDTH / Math.max(1, days.length);
  const svg = element("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT + 16}`, class: "camera-chart" });
  svg.append(element("title", {}, `${camera.name}: sequences per day and false-positive rate`));
  days.forEach((day, i) => {
    const h = (day.sequences / most) * HEIGHT;
    const bar = element("rect", { x: i * step + 1, y: HEIGHT - h, width: Math.max(1, step - 2), height: h, class: "bar" });
    bar.append(element("title", {}, `${day.day}: ${day.sequences} sequences`));
    svg.append(bar);
  });
  const points = days
    .map((day, i) => (day.false_positive_rate === null ? null : `${i * step + step / 2},${HEIGHT - day.false_positive_rate * HEIGHT}`))
    .filter(Boolean);
  if (points.length > 1) svg.append(element("polyline", { points: points.join(" "), class: "rate" }));
  days.forEach((day, i) => {
    if (day.false_positive_rate === null) return;
    const dot = element("circle", { cx: i * step + step / 2, cy: HEIGHT - day.false_positive_rate * HEIGHT, r: 3, class: "rate-dot" });
    dot.append(element("title", {}, `${day.day}: ${Math.round(day.false_positive_rate * 100)} % false positives`));
    svg.append(dot);
  });
  svg.append(element("text", { x: 0, y: HEIGHT + 13, class: "label" }, camera.name));
  return svg;
}

async function draw(holder) {
  const stats = await api(holder.dataset.api);
  holder.replaceChildren(...stats.cameras.map(chart));
}

const holder = document.getElementById("camera-chart");
if (holder) draw(holder).catch(() => holder.remove());
