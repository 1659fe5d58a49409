// innofin pages: charts (Apache ECharts, served by innofin) from the JSON next to each chart.
// The pages work without this script; it only draws charts. No inline scripts (CSP).
(function () {
  "use strict";
  var charts = [];
  function draw(root) {
    if (typeof echarts === "undefined") { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) { return; }
      var source = document.getElementById(el.dataset.chart);
      if (!source) { return; }
      var chart = echarts.init(el, null, { renderer: "svg" });
      chart.setOption(JSON.parse(source.textContent));
      el.dataset.drawn = "1";
      charts.push(chart);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (event) { draw(event.target); });
  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });
})();
