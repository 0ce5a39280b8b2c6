// Draws the figures page's charts from the numbers embedded in the page (the report's JSON).
(function () {
  "use strict";
  var payload = JSON.parse(document.getElementById("figures-data").textContent);
  var rows = payload.data.breakdown;
  var labels = payload.labels;
  var names = rows.map(function (row) { return row.name; });
  var percent = function (value) { return value === null ? null : Math.round(value * 1000) / 10; };
  var grid = { left: 8, right: 16, top: 36, bottom: 8, containLabel: true };
  var axis = { type: "category", data: names, axisLabel: { interval: 0, rotate: names.length > 6 ? 40 : 0 } };
  var charts = [];

  function draw(id, option) {
    var element = document.getElementById(id);
    if (!element) { return; }
    var chart = echarts.init(element, null, { renderer: "svg" });
    chart.setOption(option);
    charts.push(chart);
  }

  draw("chart-counts", {
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: grid,
    xAxis: axis,
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: labels.collected, type: "bar", data: rows.map(function (r) { return r.collected; }) },
      { name: labels.resolved, type: "bar", data: rows.map(function (r) { return r.resolved; }) }
    ]
  });
  draw("chart-rates", {
    animation: false,
    tooltip: { trigger: "axis", valueFormatter: function (v) { return v === null ? "—" : v + "%"; } },
    legend: { top: 0 },
    grid: grid,
    xAxis: axis,
    yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
    series: [
      { name: labels.resolution_rate, type: "bar", data: rows.map(function (r) { return percent(r.resolution_rate); }) },
      { name: labels.satisfaction_rate, type: "line", data: rows.map(function (r) { return percent(r.satisfaction_rate); }) }
    ]
  });
  var trend = payload.trend;
  draw("chart-trend", {
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: grid,
    xAxis: { type: "category", data: trend.map(function (w) { return w.week; }) },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: labels.collected, type: "line", data: trend.map(function (w) { return w.collected; }) },
      { name: labels.resolved, type: "line", data: trend.map(function (w) { return w.resolved; }) }
    ]
  });
  var late = rows.filter(function (r) { return r.overdue > 0; })
    .sort(function (a, b) { return a.overdue - b.overdue; });
  if (late.length === 0) {
    var quiet = document.getElementById("chart-overdue");
    quiet.className = "chart-note";
    quiet.textContent = payload.none_overdue;
  } else draw("chart-overdue", {
    animation: false,
    tooltip: { trigger: "axis" },
    grid: grid,
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: late.map(function (r) { return r.name; }) },
    series: [{ name: labels.overdue, type: "bar", itemStyle: { color: "#b42318" },
               data: late.map(function (r) { return r.overdue; }) }]
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  document.body.setAttribute("data-charts", "drawn");
})();
