// A done schedule's charts: output stacked by kind over time with the demand as a line
// and unmet demand on top, the marginal price per interval, and the energy held by
// the batteries. Every chart draws per-interval sums (by kind), never one line per
// plant, so the page costs the same for 10 plants and for 100,000. The totals and
// the tables above and below say the same in words.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("schedule-data").textContent);
  // Okabe and Ito's palette, as on the dashboard: one colour per kind.
  var OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                   "#F0E442", "#000000", "#999999"];
  var number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  var money = new Intl.NumberFormat("en-US", { style: "currency", currency: data.currency || "EUR" });
  function kw(value) {
    var size = Math.abs(value);
    if (size >= 1e6) return number.format(value / 1e6) + " GW";
    if (size >= 1e3) return number.format(value / 1e3) + " MW";
    return number.format(value) + " kW";
  }
  function kwh(value) {
    var size = Math.abs(value);
    if (size >= 1e6) return number.format(value / 1e6) + " GWh";
    if (size >= 1e3) return number.format(value / 1e3) + " MWh";
    return number.format(value) + " kWh";
  }
  function label(word) {
    return { chp: "CHP", demand_response: "Demand response" }[word] ||
      word.charAt(0).toUpperCase() + word.slice(1).replace(/_/g, " ");
  }
  function hhmm(iso) {  // "2026-11-27T13:15:00+00:00" -> "13:15" (UTC), with the day when it changes
    return iso.slice(11, 16);
  }
  var times = data.times.map(hhmm);
  var common = { responsive: true, maintainAspectRatio: false, animation: false,
                 interaction: { mode: "index", intersect: false } };

  function drawOutput(Chart) {
    var kinds = data.kinds.filter(function (k) { return data.by_kind[k]; });
    var datasets = kinds.map(function (kind) {
      var colour = OKABE_ITO[data.kinds.indexOf(kind) % OKABE_ITO.length];
      return { type: "line", label: label(kind), data: data.by_kind[kind], stack: "plan",
               fill: true, backgroundColor: colour, borderColor: colour, borderWidth: 1,
               pointRadius: 0, stepped: true, order: 2 };
    });
    datasets.push({ type: "line", label: "Unmet demand", data: data.unmet.map(function (v) { return Math.max(0, v); }),
                    stack: "plan", fill: true, backgroundColor: "rgba(213, 94, 0, 0.25)", borderColor: "#D55E00",
                    borderDash: [4, 3], borderWidth: 1, pointRadius: 0, stepped: true, order: 2 });
    datasets.push({ type: "line", label: "Demand", data: data.demand, borderColor: "#000000",
                    borderWidth: 2, pointRadius: 0, fill: false, stepped: true, order: 1 });
    new Chart(document.getElementById("schedule-output-chart"), {
      type: "line",
      data: { labels: times, datasets: datasets },
      options: Object.assign({}, common, {
        plugins: { tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + kw(ctx.parsed.y); } } } },
        scales: { y: { stacked: true, title: { display: true, text: "Output" },
                       ticks: { callback: function (v) { return kw(v); } } },
                  x: { title: { display: true, text: "Interval start (UTC)" } } }
      })
    });
  }

  function drawPrice(Chart) {
    if (!data.marginal_price) return;
    new Chart(document.getElementById("schedule-price-chart"), {
      type: "line",
      data: { labels: times, datasets: [{ label: "Marginal price per MWh", data: data.marginal_price,
              borderColor: "#0072B2", backgroundColor: "#0072B2", pointRadius: 0, stepped: true }] },
      options: Object.assign({}, common, {
        plugins: { tooltip: { callbacks: { label: function (ctx) { return money.format(ctx.parsed.y) + " / MWh"; } } } },
        scales: { y: { ticks: { callback: function (v) { return money.format(v); } } } }
      })
    });
  }

  function drawStorage(Chart) {
    new Chart(document.getElementById("schedule-storage-chart"), {
      type: "line",
      data: { labels: data.boundaries.map(hhmm), datasets: [{ label: "Stored energy", data: data.stored_energy_kwh,
              borderColor: "#009E73", backgroundColor: "rgba(0, 158, 115, 0.2)", fill: true, pointRadius: 0 }] },
      options: Object.assign({}, common, {
        plugins: { tooltip: { callbacks: { label: function (ctx) { return kwh(ctx.parsed.y); } } } },
        scales: { y: { beginAtZero: true, ticks: { callback: function (v) { return kwh(v); } } } }
      })
    });
  }

  window.vppChartReady.then(function (Chart) {
    drawOutput(Chart);
    drawPrice(Chart);
    drawStorage(Chart);
    document.documentElement.dataset.schedulesDrawn = "true";
  }).catch(function () { /* no charts: the totals and tables still say it all */ });
})();
