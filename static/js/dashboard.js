// Dashboard enhancements: the capacity bar chart, the allocation doughnut, and a
// live dispatch preview as the demand slider moves. Without JavaScript the page
// still works: the forms post and the server renders the same tables.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var STATUS_COLOURS = { running: "#2e7d32", idle: "#1e63b8", down: "#9e9e9e" };
  var PALETTE = ["#1e63b8", "#2e7d32", "#f9a825", "#c62828", "#6a1b9a", "#00838f",
                 "#ef6c00", "#5d4037", "#ad1457", "#558b2f", "#283593", "#00695c"];
  var number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  function kw(value) { return number.format(value) + " kW"; }

  var allocationChart = null;

  function drawCapacityChart(Chart) {
    var canvas = document.getElementById("capacity-chart");
    if (!canvas || !data.capacities.length) return;
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.capacities.map(function (p) { return p.name; }),
        datasets: [{
          label: "Max capacity (kW)",
          data: data.capacities.map(function (p) { return p.max; }),
          backgroundColor: data.capacities.map(function (p) { return STATUS_COLOURS[p.status]; }),
        }],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: {
            labels: {
              generateLabels: function () {
                return data.statuses.map(function (s) {
                  return { text: s, fillStyle: STATUS_COLOURS[s], strokeStyle: STATUS_COLOURS[s] };
                });
              },
            },
          },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                return kw(ctx.parsed.y) + " (" + data.capacities[ctx.dataIndex].status + ")";
              },
            },
          },
        },
        scales: { y: { beginAtZero: true, title: { display: true, text: "kW" } } },
      },
    });
  }

  function nameOf(id) { return data.names[id] || ("Plant " + id); }

  function drawAllocationChart(Chart, result) {
    var canvas = document.getElementById("allocation-chart");
    var ids = Object.keys(result.allocations).filter(function (id) {
      return result.allocations[id] > 0;
    });
    var chartData = {
      labels: ids.map(nameOf),
      datasets: [{
        data: ids.map(function (id) { return result.allocations[id]; }),
        backgroundColor: ids.map(function (_, i) { return PALETTE[i % PALETTE.length]; }),
      }],
    };
    if (allocationChart) {
      allocationChart.data = chartData;
      allocationChart.update("none");
      return;
    }
    allocationChart = new Chart(canvas, {
      type: "doughnut",
      data: chartData,
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          tooltip: { callbacks: { label: function (ctx) { return kw(ctx.parsed); } } },
        },
      },
    });
  }

  function renderResult(result) {
    var box = document.getElementById("dispatch-result");
    box.hidden = false;
    box.querySelector('[data-field="demand"]').textContent = kw(result.demand);
    box.querySelector('[data-field="total_dispatched"]').textContent = kw(result.total_dispatched);
    box.querySelector('[data-field="unmet_demand"]').textContent = kw(result.unmet_demand);
    box.querySelector('[data-field="total_cost"]').textContent = number.format(result.total_cost) + " / h";
    var body = document.querySelector("#allocation-table tbody");
    body.replaceChildren.apply(body, Object.keys(result.allocations).map(function (id) {
      var row = document.createElement("tr");
      var name = document.createElement("td");
      name.textContent = nameOf(id);
      var output = document.createElement("td");
      output.className = "num";
      output.textContent = kw(result.allocations[id]);
      row.append(name, output);
      return row;
    }));
    window.vppChartReady.then(function (Chart) { drawAllocationChart(Chart, result); });
  }

  function setUpLivePreview() {
    var slider = document.getElementById("demand-slider");
    var input = document.getElementById("demand");
    if (!slider || !input) return;
    document.getElementById("demand-slider-label").hidden = false;
    var timer = null;
    var latest = 0;
    function preview() {
      var demand = parseFloat(input.value);
      if (!(demand > 0)) return;
      var ticket = ++latest;
      fetch(document.getElementById("dispatch-form").dataset.previewUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ demand: demand }),
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (result) {
        if (result && ticket === latest) renderResult(result);
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
    if (data.dispatch) drawAllocationChart(Chart, data.dispatch);
  }).catch(function (err) {
    document.querySelectorAll("canvas").forEach(function (c) {
      c.insertAdjacentText("afterend", "Charts unavailable: " + err.message + ". The tables hold the same numbers.");
    });
  });
  setUpLivePreview();
})();
