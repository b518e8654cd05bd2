// Draws the dashboard charts (Chart.js, vendored) from the JSON island that htmx swaps in
// every few seconds. No inline script anywhere: the CSP allows scripts from this origin only.
(function () {
  "use strict";
  var COLORS = { allow: "#15803d", deny: "#b91c1c", defer: "#b45309", opt_outs: "#1d4ed8", complaints: "#9333ea" };
  var charts = {};

  function names() {
    var live = document.getElementById("live");
    try { return JSON.parse(live.getAttribute("data-names")); } catch (e) { return {}; }
  }

  function draw() {
    var island = document.getElementById("chart-data");
    if (!island || typeof window.Chart === "undefined") { return; }
    var data = JSON.parse(island.getAttribute("data-json"));
    var label = names();
    var caption = document.getElementById("caption-text");
    var cap = document.getElementById("cap-decisions");
    if (caption && cap) { cap.textContent = caption.textContent; }
    var verdicts = ["allow", "deny", "defer"].map(function (v) {
      return { label: label[v] || v, data: data.decisions[v], backgroundColor: COLORS[v], stack: "d" };
    });
    var events = ["opt_outs", "complaints"].map(function (k) {
      return { label: label[k] || k, data: data[k], borderColor: COLORS[k], backgroundColor: COLORS[k], tension: 0.2, pointRadius: 0, borderWidth: 2 };
    });
    update("chart-decisions", "bar", data.labels, verdicts, true);
    update("chart-optouts", "line", data.labels, events, false);
  }

  function update(id, type, labels, datasets, stacked) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    canvas.setAttribute("data-points", String(datasets.reduce(function (n, ds) {
      return n + ds.data.reduce(function (a, b) { return a + b; }, 0); }, 0)));
    var chart = charts[id];
    if (chart) {
      chart.data.labels = labels;
      chart.data.datasets.forEach(function (ds, i) { ds.data = datasets[i].data; });
      chart.update("none");
      return;
    }
    charts[id] = new window.Chart(canvas, {
      type: type,
      data: { labels: labels, datasets: datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { stacked: stacked, ticks: { maxTicksLimit: 8 } }, y: { stacked: stacked, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom" } }
      }
    });
  }

  document.addEventListener("htmx:afterSettle", draw);
  document.addEventListener("DOMContentLoaded", draw);
})();
