// opsdb console: the charts of the Dashboards page (uPlot). No inline script
// anywhere: the Content-Security-Policy allows scripts from this origin only.
"use strict";

function drawCharts(root) {
  const holder = root.querySelector(".charts[data-src]");
  if (!holder || typeof uPlot === "undefined") return;
  fetch(holder.dataset.src, { credentials: "same-origin" })
    .then((r) => r.json())
    .then((data) => {
      const xs = data.days.map((d) => Date.parse(d + "T00:00:00Z") / 1000);
      const colors = ["#2563eb", "#d97706", "#059669", "#dc2626"];
      holder.querySelectorAll(".chart").forEach((el) => {
        const names = el.dataset.series.split(",");
        el.replaceChildren();
        const opts = {
          width: Math.max(320, el.clientWidth || 560),
          height: 200,
          series: [{}].concat(names.map((n, i) => ({ label: n, stroke: colors[i % colors.length], width: 2 }))),
          axes: [{}, {}],
        };
        new uPlot(opts, [xs].concat(names.map((n) => data[n])), el);
        el.dataset.drawn = "true";
      });
      holder.dataset.drawn = "true";
    });
}

document.addEventListener("DOMContentLoaded", () => drawCharts(document));
