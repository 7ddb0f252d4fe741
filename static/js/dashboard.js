// Charts and the live dispatch preview, on the dashboard and a dispatch's page. Without
// JavaScript the pages still work: the forms post and the server renders the same
// totals and tables. Every chart shows a summary (by kind, the supply curve), never
// one element per plant, so the page costs the same at 9 plants and at 100,000.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  // Okabe and Ito's palette, told apart under every common colour blindness; each
  // status also has its own pattern (solid, stripes, dots), so that the bars differ
  // in greyscale too, and the legend and tables name every colour in words.
  var OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                   "#F0E442", "#000000", "#999999"];
  var STATUS_LOOKS = { running: ["#0072B2", "solid"], idle: ["#E69F00", "stripes"],
                       down: ["#555555", "dots"] };
  var PATTERNS = ["solid", "stripes", "dots"];

  // A fill of ``colour`` with a white ``pattern`` over it (a CanvasPattern).
  function fill(colour, pattern) {
    if (pattern === "solid") return colour;
    var tile = document.createElement("canvas");
    tile.width = tile.height = 10;
    var ctx = tile.getContext("2d");
    ctx.fillStyle = colour;
    ctx.fillRect(0, 0, 10, 10);
    ctx.strokeStyle = ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
    ctx.lineWidth = 2.5;
    if (pattern === "stripes") {
      ctx.beginPath();
      ctx.moveTo(0, 10); ctx.lineTo(10, 0);
      ctx.moveTo(-5, 5); ctx.lineTo(5, -5);
      ctx.moveTo(5, 15); ctx.lineTo(15, 5);
      ctx.stroke();
    } else {
      ctx.beginPath();
      ctx.arc(5, 5, 2, 0, 2 * Math.PI);
      ctx.fill();
    }
    return ctx.createPattern(tile, "repeat");
  }
  function statusFill(status) { return fill(STATUS_LOOKS[status][0], STATUS_LOOKS[status][1]); }
  function kindFill(kind) {
    var i = data.kinds.indexOf(kind);
    return fill(OKABE_ITO[i % OKABE_ITO.length], PATTERNS[i % PATTERNS.length]);
  }
  // As vpp/formatting.py: power in kW, MW or GW by magnitude (two decimals), money in the
  // configured currency, thousands separators everywhere.
  var number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  var money = new Intl.NumberFormat("en-US", { style: "currency", currency: data.currency || "EUR" });
  function kw(value) {
    var size = Math.abs(value);
    if (value !== 0 && size < 0.005) {  // never "0 kW" for a value that is not 0
      var tiny = Number(value.toPrecision(3));
      return (Math.abs(tiny) < 1e-6 ? tiny.toFixed(14).replace(/0+$/, "") : String(tiny)) + " kW";
    }
    var units = [[1, " kW"], [1e3, " MW"], [1e6, " GW"]];
    for (var i = 0; i < units.length; i++) {
      var shown = Math.round(size / units[i][0] * 100) / 100;
      if (shown < 1000 || i === units.length - 1) return number.format(value / units[i][0]) + units[i][1];
    }
  }
  function cost(value) { return money.format(value); }
  function label(word) {
    return { chp: "CHP", demand_response: "Demand response" }[word] ||
      word.charAt(0).toUpperCase() + word.slice(1).replace(/_/g, " ");
  }
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
    if (!data.capacity) return;
    var kinds = data.kinds.filter(function (k) {
      return data.statuses.some(function (s) { return data.capacity[k][s] > 0; });
    });
    if (!kinds.length) return;
    draw(Chart, "capacity-chart", {
      type: "bar",
      data: {
        labels: kinds.map(label),
        datasets: data.statuses.map(function (status) {
          return { label: label(status), backgroundColor: statusFill(status),
                   borderColor: STATUS_LOOKS[status][0], borderWidth: 1,
                   data: kinds.map(function (k) { return data.capacity[k][status]; }) };
        }),
      },
      options: {
        plugins: { tooltip: { callbacks: { label: function (ctx) {
          return ctx.dataset.label + ": " + kw(ctx.parsed.y);
        } } } },
        scales: { x: { stacked: true },
                  y: { stacked: true, beginAtZero: true, title: { display: true, text: "capacity" },
                       ticks: { callback: function (v) { return kw(v); } } } },
      },
    });
  }

  function drawAllocationChart(Chart, view) {
    var kinds = data.kinds.filter(function (k) { return view.by_kind[k].dispatched > 0; });
    draw(Chart, "allocation-chart", {
      type: "doughnut",
      data: {
        labels: kinds.map(label),
        datasets: [{
          data: kinds.map(function (k) { return view.by_kind[k].dispatched; }),
          backgroundColor: kinds.map(kindFill),
          borderColor: "#ffffff", borderWidth: 2,
        }],
      },
      options: { plugins: {
        legend: { position: "right" },
        tooltip: { callbacks: { label: function (ctx) { return ctx.label + ": " + kw(ctx.parsed); } } },
      } },
    });
  }

  // The supply curve as steps (x: cumulative kW, y: cost), with the demand as a
  // vertical line and the marginal price as a horizontal one.
  function drawSupplyChart(Chart, view) {
    var curve = view.supply_curve;
    if (!curve.length) return;
    var steps = [];
    var previous = 0;
    curve.forEach(function (point) {
      steps.push({ x: previous, y: point.marginal_cost }, { x: point.capacity, y: point.marginal_cost });
      previous = point.capacity;
    });
    var costs = curve.map(function (p) { return p.marginal_cost; });
    var low = Math.min.apply(null, costs.concat([0]));
    var high = Math.max.apply(null, costs);
    var datasets = [
      { label: "Capacity at or below a cost", data: steps, borderColor: "#0072B2",
        backgroundColor: "rgba(0, 114, 178, 0.15)", fill: "start", pointRadius: 0 },
      { label: "Demand", data: [{ x: view.demand, y: low }, { x: view.demand, y: high }],
        borderColor: "#D55E00", borderWidth: 3, borderDash: [8, 4], pointRadius: 0 },
    ];
    if (view.marginal_cost !== null) {
      datasets.push({ label: "Marginal price", data: [{ x: 0, y: view.marginal_cost },
        { x: Math.max(previous, view.demand), y: view.marginal_cost }],
        borderColor: "#000000", borderDash: [2, 3], pointRadius: 0 });
    }
    draw(Chart, "merit-chart", {
      type: "line",
      data: { datasets: datasets },
      options: {
        parsing: false,
        plugins: { tooltip: { callbacks: { label: function (ctx) {
          return ctx.dataset.label + ": " + kw(ctx.parsed.x) + " at " + cost(ctx.parsed.y) + " / MWh";
        } } } },
        scales: {
          x: { type: "linear", beginAtZero: true, title: { display: true, text: "cumulative capacity" },
               ticks: { callback: function (v) { return kw(v); } } },
          y: { title: { display: true, text: "marginal cost, " + (data.currency || "EUR") + " per MWh" } },
        },
      },
    });
  }

  function cell(text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function setText(box, field, text) {
    var node = box.querySelector('[data-field="' + field + '"]');
    if (node) node.textContent = text;
  }

  // A preview (the API's summary answer) into the totals and the by-kind table.
  function renderPreview(view) {
    var box = document.getElementById("dispatch-result");
    box.hidden = false;
    setText(box, "meta", "Preview, not recorded · " +
      (view.optimal ? "proven optimal" : "not proven optimal (" + view.status.replace("_", " ") + ")") +
      " · solved in " + number.format(view.solve_time_ms) + " ms");
    setText(box, "demand", kw(view.demand));
    setText(box, "total_dispatched", kw(view.total_dispatched));
    setText(box, "unmet_demand", kw(view.unmet_demand));
    box.querySelector('[data-field="unmet_box"]').classList.toggle("unmet", view.unmet_demand > 0);
    setText(box, "total_cost", cost(view.total_cost) + " / h");
    setText(box, "marginal_cost",
            view.marginal_cost === null ? "–" : cost(view.marginal_cost) + " / MWh");
    setText(box, "startups", number.format(view.startups));
    var body = document.querySelector("#by-kind-table tbody");
    body.replaceChildren.apply(body, data.kinds.filter(function (k) {
      return view.by_kind[k].plants > 0;
    }).map(function (k) {
      var part = view.by_kind[k];
      var tr = document.createElement("tr");
      tr.append(cell(label(k)), cell(number.format(part.plants), "num"), cell(kw(part.available), "num"),
                cell(kw(part.dispatched), "num"), cell(number.format(part.startups), "num"));
      return tr;
    }));
    window.vppChartReady.then(function (Chart) {
      drawAllocationChart(Chart, view);
      drawSupplyChart(Chart, view);
    });
  }

  // Previews while the slider moves: one request at a time, at most every 100 ms,
  // always ending on the last value (so the preview follows the drag, not only its end).
  function setUpLivePreview() {
    var slider = document.getElementById("demand-slider");
    var input = document.getElementById("demand");
    var form = document.getElementById("dispatch-form");
    if (!slider || !input || !form || !data.dispatch) return;
    document.getElementById("demand-slider-label").hidden = false;
    var inFlight = false, pending = false, lastSent = 0, timer = null;
    function send() {
      var demand = parseFloat(input.value);
      if (!(demand > 0)) return;
      inFlight = true;
      pending = false;
      lastSent = Date.now();
      fetch(form.dataset.previewUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ demand: demand, detail: "summary" }),
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (result) {
        if (result) renderPreview(result);
      }).catch(function () { /* the form still posts */ }).then(function () {
        inFlight = false;
        if (pending) schedule();
      });
    }
    function schedule() {
      pending = true;
      if (inFlight || timer) return;
      var wait = Math.max(0, 100 - (Date.now() - lastSent));
      timer = setTimeout(function () { timer = null; send(); }, wait);
    }
    slider.addEventListener("input", function () {
      input.value = slider.value;
      schedule();
    });
    input.addEventListener("input", function () {
      if (input.value !== "") slider.value = input.value;
      schedule();
    });
  }

  window.vppChartReady.then(function (Chart) {
    drawCapacityChart(Chart);
    if (data.dispatch) {
      drawAllocationChart(Chart, data.dispatch);
      drawSupplyChart(Chart, data.dispatch);
    }
  }).catch(function (err) {
    document.querySelectorAll("canvas").forEach(function (c) {
      c.insertAdjacentText("afterend", "Charts unavailable: " + err.message + ". The tables hold the same numbers.");
    });
  });
  setUpLivePreview();
})();
