// TrainGuard dashboard: charts (uPlot) and the timeline's zoom. Loaded from this origin only; no inline script,
// no eval. Chart data comes from data-* attributes (HTML-encoded by the server, read here as JSON).
(function () {
  "use strict";

  var sevColors = { critical: "#8b0a1a", high: "#c62828", medium: "#d97706", low: "#2e7d32", informational: "#546e7a" };

  function width(el) { return Math.max(300, el.clientWidth || 600); }

  function utc(ts) {
    var d = new Date(ts * 1000);
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  // Alerts over time: one line per severity, counts per bucket.
  function alertsChart(el) {
    var spec = JSON.parse(el.getAttribute("data-series"));
    var series = [{}];
    var data = [spec.x];
    spec.series.forEach(function (s) {
      series.push({ label: s.label, stroke: sevColors[s.label] || "#2456c7", width: 2, points: { show: true } });
      data.push(s.y);
    });
    new uPlot({ width: width(el), height: 200, series: series, axes: [{}, { label: "alerts" }], scales: { x: { time: true } } }, data, el);
  }

  // A timeline: events and alerts as points on a time axis, one row per host; drag to zoom (the list below follows),
  // double-click to zoom out.
  function timelineChart(el) {
    var spec = JSON.parse(el.getAttribute("data-series"));
    var rows = spec.rows;
    var list = document.getElementById(el.getAttribute("data-list"));
    function filter(min, max) {
      if (!list) { return; }
      var shown = 0;
      list.querySelectorAll("tr[data-t]").forEach(function (tr) {
        var t = Number(tr.getAttribute("data-t"));
        var inside = min === null || (t >= min && t <= max);
        tr.classList.toggle("hidden", !inside);
        if (inside) { shown++; }
      });
      var counter = document.getElementById(el.getAttribute("data-counter"));
      if (counter) { counter.textContent = min === null ? "all entries" : shown + " entries from " + utc(min) + " to " + utc(max); }
    }
    var opts = {
      width: width(el),
      height: Math.max(140, 60 + rows.length * 34),
      scales: { x: { time: true }, y: { range: [-0.7, rows.length - 0.3] } },
      series: [
        {},
        { label: "events", stroke: "#2456c7", width: 0, paths: function () { return null; }, points: { show: true, size: 7, fill: "#2456c7" } },
        { label: "alerts", stroke: "#c62828", width: 0, paths: function () { return null; }, points: { show: true, size: 12, fill: "#c62828" } }
      ],
      axes: [
        {},
        { size: 110, splits: function () { return rows.map(function (_, i) { return i; }); },
          values: function (u, splits) { return splits.map(function (i) { return rows[i] || ""; }); } }
      ],
      hooks: {
        setScale: [function (u, key) {
          if (key === "x") {
            var min = u.scales.x.min, max = u.scales.x.max;
            var full = min <= spec.min && max >= spec.max;
            filter(full ? null : min, full ? null : max);
          }
        }]
      }
    };
    new uPlot(opts, [spec.x, spec.events, spec.alerts], el);
  }

  function init(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.getAttribute("data-drawn")) { return; }
      el.setAttribute("data-drawn", "1");
      try {
        var kind = el.getAttribute("data-chart");
        if (kind === "alerts") { alertsChart(el); }
        else if (kind === "timeline") { timelineChart(el); }
      } catch (e) {
        el.textContent = "chart unavailable: " + e.message;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    if (window.htmx) { window.htmx.onLoad(init); }
  });
})();
