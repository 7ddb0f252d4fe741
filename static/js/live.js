// The Live page: the fleet's measured output against its target, per minute over the
// last hour, and the figures above it, fetched again every few seconds from the JSON
// API (the page's session is the credential) and redrawn in place: no reload. The
// chart is exposed as window.vppLiveChart (the browser test reads it).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("live-data").textContent);
  var number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
  function kw(value) {
    var size = Math.abs(value);
    if (size >= 1e6) return number.format(value / 1e6) + " GW";
    if (size >= 1e3) return number.format(value / 1e3) + " MW";
    return number.format(value) + " kW";
  }
  function series(body) {
    return {
      labels: body.buckets.map(function (b) { return b.start.slice(11, 16); }),
      measured: body.buckets.map(function (b) { return b.measured_kw; }),
      target: body.buckets.map(function (b) { return b.target_kw; })
    };
  }
  function setFigures(status) {
    document.querySelectorAll("[data-live]").forEach(function (element) {
      var key = element.getAttribute("data-live");
      var value = status[key];
      var text = value === null || value === undefined ? (key === "setpoint_source" ? "nothing committed yet" : "never")
        : typeof value === "number" ? number.format(value) : String(value);
      var target = element.querySelector("a") || element;
      target.textContent = text;
    });
  }
  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(url + ": " + response.status);
        return response.json();
      });
  }
  window.vppChartReady.then(function (Chart) {
    var first = series(data.series);
    var chart = new Chart(document.getElementById("live-chart"), {
      type: "line",
      data: {
        labels: first.labels,
        datasets: [
          { label: "Measured", data: first.measured, borderColor: "#0072B2", backgroundColor: "rgba(0, 114, 178, 0.15)",
            fill: true, pointRadius: 0, borderWidth: 2, spanGaps: false },
          // Points drawn too: a target that began in the minute under way is one point.
          { label: "Target", data: first.target, borderColor: "#D55E00", borderDash: [6, 3],
            pointRadius: 2, borderWidth: 2, stepped: true, fill: false }
        ]
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { tooltip: { callbacks: { label: function (ctx) {
          return ctx.dataset.label + ": " + (ctx.parsed.y === null ? "none" : kw(ctx.parsed.y)); } } } },
        scales: { y: { beginAtZero: true, title: { display: true, text: "Output" },
                       ticks: { callback: function (v) { return kw(v); } } },
                  x: { title: { display: true, text: "Minute (UTC)" } } }
      }
    });
    window.vppLiveChart = chart;
    function refresh() {
      Promise.all([getJson(data.fleet_url), getJson(data.status_url)]).then(function (answers) {
        var next = series(answers[0]);
        chart.data.labels = next.labels;
        chart.data.datasets[0].data = next.measured;
        chart.data.datasets[1].data = next.target;
        chart.update("none");
        setFigures(answers[1]);
        window.vppLiveRefreshes = (window.vppLiveRefreshes || 0) + 1;
      }).catch(function (error) {
        // Kept as it was; the next refresh tries again.
        if (window.console) window.console.warn("live: " + error.message);
      }).then(function () { window.setTimeout(refresh, data.refresh_ms); });
    }
    window.setTimeout(refresh, data.refresh_ms);
  });
})();
