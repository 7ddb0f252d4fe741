// Charts and the live dispatch preview. Without JavaScript the pages still work:
// the forms post and the server renders the same tables.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var STATUS_COLOURS = { running: "#2e7d32", idle: "#1e63b8", down: "#9e9e9e" };
  var PALETTE = ["#1e63b8", "#2e7d32", "#f9a825", "#c62828", "#6a1b9a", "#00838f",
                 "#ef6c00", "#5d4037", "#ad1457", "#558b2f", "#283593", "#00695c"];
  var DISPATCHED = "#2e7d32";
  var SPARE = "rgba(120, 120, 120, 0.25)";
  var number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  function kw(value) { return number.format(value) + " kW"; }
  var charts = {};

  function draw(Chart, id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    if (charts[id]) {
      charts[id].data = config.data;
      charts[id].update("none");
      return;
    }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false },
                                   config.options);
    charts[id] = new Chart(canvas, config);
  }

  function drawCapacityChart(Chart) {
    if (!data.plants.length) return;
    draw(Chart, "capacity-chart", {
      type: "bar",
      data: {
        labels: data.plants.map(function (p) { return p.name; }),
        datasets: [{
          label: "Max capacity (kW)",
          data: data.plants.map(function (p) { return p.max; }),
          backgroundColor: data.plants.map(function (p) { return STATUS_COLOURS[p.status]; }),
        }],
      },
      options: {
        plugins: {
          legend: { labels: { generateLabels: function () {
            return data.statuses.map(function (s) {
              return { text: s, fillStyle: STATUS_COLOURS[s], strokeStyle: STATUS_COLOURS[s] };
            });
          } } },
          tooltip: { callbacks: { label: function (ctx) {
            return kw(ctx.parsed.y) + " (" + data.plants[ctx.dataIndex].status + ")";
          } } },
        },
        scales: { y: { beginAtZero: true, title: { display: true, text: "kW" } } },
      },
    });
  }

  function drawDispatchCharts(Chart, view) {
    var running = view.rows.filter(function (r) { return r.output > 0; });
    draw(Chart, "allocation-chart", {
      type: "doughnut",
      data: {
        labels: running.map(function (r) { return r.name; }),
        datasets: [{
          data: running.map(function (r) { return r.output; }),
          backgroundColor: running.map(function (_, i) { return PALETTE[i % PALETTE.length]; }),
        }],
      },
      options: { plugins: { tooltip: { callbacks: { label: function (ctx) { return kw(ctx.parsed); } } } } },
    });
    var merit = view.rows.filter(function (r) { return r.reason !== "down"; });
    draw(Chart, "merit-chart", {
      type: "bar",
      data: {
        labels: merit.map(function (r) { return r.name; }),
        datasets: [
          { label: "Dispatched (kW)", data: merit.map(function (r) { return r.output; }),
            backgroundColor: DISPATCHED, stack: "kw", yAxisID: "y" },
          { label: "Not dispatched (kW)", data: merit.map(function (r) { return Math.max(r.max - r.output, 0); }),
            backgroundColor: SPARE, stack: "kw", yAxisID: "y" },
          { type: "line", label: "Marginal cost (per MWh)", data: merit.map(function (r) { return r.cost; }),
            borderColor: "#c62828", backgroundColor: "#c62828", stepped: "middle", pointRadius: 2, yAxisID: "cost" },
        ],
      },
      options: {
        plugins: {
          title: { display: true, text: "Merit order: cheapest first" },
          tooltip: { callbacks: { afterBody: function (items) {
            var row = merit[items[0].dataIndex];
            return data.reasons[row.reason];
          } } },
        },
        scales: {
          x: { stacked: true },
          y: { stacked: true, beginAtZero: true, title: { display: true, text: "kW" } },
          cost: { position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "per MWh" } },
        },
      },
    });
  }

  function meritOrder(a, b) {
    var downA = a.reason === "down", downB = b.reason === "down";
    if (downA !== downB) return downA ? 1 : -1;
    return a.cost - b.cost || a.id - b.id;
  }

  // An API preview as the server's dispatch view: one row per plant, in merit order.
  function viewFromPreview(result) {
    var reasonOf = {};
    Object.keys(result.reasons).forEach(function (code) {
      result.reasons[code].forEach(function (id) { reasonOf[id] = code; });
    });
    var rows = data.plants.map(function (p) {
      var output = result.allocations[p.id];
      return Object.assign({}, p, { output: output || 0, reason: reasonOf[p.id] || "down" });
    });
    rows.sort(meritOrder);
    return Object.assign({}, result, { rows: rows });
  }

  function cell(text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function renderView(view) {
    var box = document.getElementById("dispatch-result");
    box.hidden = false;
    box.querySelector('[data-field="meta"]').textContent =
      (view.optimal ? "Proven optimal" : "Not proven optimal (" + view.status.replace("_", " ") + ")") +
      " · solved in " + number.format(view.solve_time_ms) + " ms · preview, not recorded";
    box.querySelector('[data-field="demand"]').textContent = kw(view.demand);
    box.querySelector('[data-field="total_dispatched"]').textContent = kw(view.total_dispatched);
    box.querySelector('[data-field="unmet_demand"]').textContent = kw(view.unmet_demand);
    box.querySelector('[data-field="total_cost"]').textContent = number.format(view.total_cost) + " / h";
    var body = document.querySelector("#allocation-table tbody");
    body.replaceChildren.apply(body, view.rows.map(function (r) {
      var tr = document.createElement("tr");
      if (r.reason === "down") tr.className = "muted";
      tr.append(cell(r.name), cell(number.format(r.cost), "num"), cell(kw(r.output), "num"),
                cell(data.reasons[r.reason]));
      return tr;
    }));
    window.vppChartReady.then(function (Chart) { drawDispatchCharts(Chart, view); });
  }

  function setUpLivePreview() {
    var slider = document.getElementById("demand-slider");
    var input = document.getElementById("demand");
    var form = document.getElementById("dispatch-form");
    if (!slider || !input || !form) return;
    document.getElementById("demand-slider-label").hidden = false;
    var timer = null;
    var latest = 0;
    function preview() {
      var demand = parseFloat(input.value);
      if (!(demand > 0)) return;
      var ticket = ++latest;
      fetch(form.dataset.previewUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ demand: demand }),
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (result) {
        if (result && ticket === latest) renderView(viewFromPreview(result));
      }).catch(function () { /* the form still posts */ });
    }
    function schedule() { clearTimeout(timer); timer = setTimeout(preview, 150); }
    slider.addEventListener("input", function () {
      input.value = Math.round(parseFloat(slider.value) * 1000) / 1000;
      schedule();
    });
    input.addEventListener("input", function () {
      if (input.value !== "") slider.value = input.value;
      schedule();
    });
  }

  window.vppChartReady.then(function (Chart) {
    drawCapacityChart(Chart);
    if (data.dispatch) drawDispatchCharts(Chart, data.dispatch);
  }).catch(function (err) {
    document.querySelectorAll("canvas").forEach(function (c) {
      c.insertAdjacentText("afterend", "Charts unavailable: " + err.message + ". The tables hold the same numbers.");
    });
  });
  setUpLivePreview();
})();
