/* The dashboard's charts: drawn with ECharts from the figures the server shaped (web/stats/charts.py),
   redrawn while the statistics job runs (polling its status every half second), in the current
   colour scheme. The server renders every figure as text too (key figures and tables), so the
   page is complete without this script; here the tables become the charts' "Table" view.
   No inline styles: tooltips render inside the canvas (renderMode "richText"). */
(function () {
  "use strict";

  var root = document.getElementById("dashboard");
  if (!root || !window.echarts) return;

  var POLL_MS = 500;
  var MAX_BACKOFF_MS = 8000;
  var lang = root.dataset.locale || document.documentElement.lang || "de";  /* "en-GB": as the server writes */
  var text = root.dataset;
  var state = {
    url: root.dataset.statusUrl,
    payload: null,
    measure: "amount",
    charts: {},
    tables: {},
    timer: null,
    delay: POLL_MS,
    lastState: root.dataset.state
  };
  var ARROWS = { up: "bi-arrow-up-right", down: "bi-arrow-down-right", flat: "bi-arrow-right" };
  /* the colour keys come from the page (web.stats.charts writes the vocabulary once) */
  var STATUS_KEYS = (root.dataset.statusKeys || "").split(" ");
  var SETTLEMENT_KEYS = (root.dataset.settlementKeys || "").split(" ");

  /* -- colours come from CSS custom properties, so both schemes are defined in portal.css */
  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function palette() {
    var colours = { status: {}, settlement: {} };
    STATUS_KEYS.forEach(function (key) { colours.status[key] = cssVar("--dash-status-" + key); });
    SETTLEMENT_KEYS.forEach(function (key) { colours.settlement[key] = cssVar("--dash-settle-" + key); });
    colours.text = cssVar("--bs-body-color");
    colours.muted = cssVar("--portal-muted");
    colours.border = cssVar("--portal-border");
    colours.card = cssVar("--portal-card");
    colours.accent = cssVar("--dash-series");
    colours.median = cssVar("--dash-median");
    colours.font = getComputedStyle(document.body).fontFamily;
    return colours;
  }

  /* -- numbers in the user's language (tables and cards come formatted from the server) */
  function money(value, currency, compact) {
    var options = { style: "currency", currency: currency };
    if (compact && Math.abs(value) >= 1e6) {
      options.notation = "compact";
      options.maximumFractionDigits = 1;
    } else if (compact) {
      options.maximumFractionDigits = 0;
    }
    return new Intl.NumberFormat(lang, options).format(value);
  }

  function number(value) {
    return new Intl.NumberFormat(lang).format(value);
  }

  /* One fraction digit always, as the server writes shares: "50.0%" beside "33.3%". */
  function percent(ratio, digits) {
    var fixed = digits === undefined ? 1 : digits;
    return new Intl.NumberFormat(lang, {
      style: "percent", minimumFractionDigits: fixed, maximumFractionDigits: fixed
    }).format(ratio);
  }

  /* -- layout: ECharts does not say how tall a wrapped legend grows, so it is measured here the
     way ECharts lays it out (icon, 5 px, text, itemGap), to give the plot the room that is left */
  var NARROW = 440;  /* px of chart width below which legends go under the chart */
  var LEGEND_ROW = 24;  /* a row of 12 px text with its 10 px gap */
  var measurer = document.createElement("canvas").getContext("2d");

  function legendRows(labels, width, colours) {
    measurer.font = "12px " + colours.font;
    var rows = 1;
    var x = 0;
    labels.forEach(function (label) {
      var item = 10 + 5 + measurer.measureText(label).width;
      if (x > 0 && x + item > width) { rows += 1; x = 0; }
      x += item + 10;
    });
    return rows;
  }

  /* -- chart options ------------------------------------------------------------------------ */
  function base(colours, id) {
    return {
      backgroundColor: "transparent",
      textStyle: { color: colours.text, fontFamily: colours.font },
      aria: { enabled: true, decal: { show: false } },
      animationDuration: 300,
      animationDurationUpdate: 300,
      toolbox: {
        right: 0,
        top: 0,
        itemSize: 14,
        iconStyle: { borderColor: colours.muted },
        feature: {
          saveAsImage: {
            title: text.textSave,
            name: fileName(id),
            backgroundColor: colours.card,
            pixelRatio: 2
          }
        }
      },
      tooltip: {
        renderMode: "richText",
        backgroundColor: colours.card,
        borderColor: colours.border,
        textStyle: { color: colours.text, fontFamily: colours.font, fontSize: 12 },
        confine: true
      }
    };
  }

  function categoryAxis(colours, labels, extra) {
    return Object.assign({
      type: "category",
      data: labels,
      axisLine: { lineStyle: { color: colours.border } },
      axisTick: { show: false },
      axisLabel: { color: colours.muted, hideOverlap: true }
    }, extra || {});
  }

  function valueAxis(colours, format) {
    return {
      type: "value",
      axisLabel: { color: colours.muted, formatter: format },
      splitLine: { lineStyle: { color: colours.border } }
    };
  }

  var builders = {
    volume: function (data, colours, currency, size) {
      var measure = state.measure;
      var format = measure === "amount" ? function (v) { return money(v, currency, true); } : number;
      var option = base(colours, "volume");
      /* every status in view, wrapped into rows (a paged legend hid some behind the save icon) */
      var rows = legendRows(data.series.map(function (series) { return series.name; }), size.width - 42, colours);
      option.grid = { left: 12, right: 8, top: 16 + rows * LEGEND_ROW, bottom: 4, containLabel: true };
      option.legend = {
        top: 0, left: 0, right: 32, icon: "roundRect", itemWidth: 10, itemHeight: 10,
        textStyle: { color: colours.text }
      };
      option.xAxis = categoryAxis(colours, data.labels);
      option.yAxis = valueAxis(colours, format);
      option.tooltip.trigger = "axis";
      option.tooltip.axisPointer = { type: "shadow" };
      option.tooltip.formatter = function (items) {
        if (!items.length) return "";
        var lines = [data.titles[items[0].dataIndex]];
        var total = 0;
        items.forEach(function (item) {
          if (!item.value) return;
          total += item.value;
          lines.push(item.marker + item.seriesName + ": " + format(item.value));
        });
        lines.push(text.textTotal + ": " + (measure === "amount" ? money(total, currency) : number(total)));
        return lines.join("\n");
      };
      option.series = data.series.map(function (series) {
        return {
          name: series.name, type: "bar", stack: "total", barMaxWidth: 32,
          data: series[measure], itemStyle: { color: colours.status[series.key] },
          emphasis: { focus: "series" }
        };
      });
      return option;
    },

    status: function (data, colours, currency, size) {
      var option = base(colours, "status");
      var total = data.points.reduce(function (sum, point) { return sum + point.value; }, 0);
      var shares = {};
      data.points.forEach(function (point) { shares[point.name] = total ? point.value / total : 0; });
      var entry = function (name) { return name + "  " + percent(shares[name]); };
      /* wide: the legend beside the ring; narrow: under it, and the ring in the room above */
      var narrow = size.width < NARROW;
      var legendHeight = narrow
        ? 10 + LEGEND_ROW * legendRows(data.points.map(function (p) { return entry(p.name); }), size.width - 10, colours)
        : 0;
      var ringHeight = size.height - legendHeight;
      var outer = narrow ? Math.max(40, Math.min(size.width, ringHeight) / 2 - 12) : null;
      var centre = narrow ? [size.width / 2, ringHeight / 2 + 4] : ["30%", "50%"];
      option.title = {
        text: number(total), subtext: text.textTransactions, textAlign: "center",
        left: narrow ? "50%" : "30%", top: narrow ? centre[1] - 22 : "40%",
        textStyle: { color: colours.text, fontSize: 20, fontWeight: 600 },
        subtextStyle: { color: colours.muted, fontSize: 12 }
      };
      option.legend = narrow ? {
        orient: "horizontal", left: "center", bottom: 0, icon: "roundRect", itemWidth: 10, itemHeight: 10,
        itemGap: 10, textStyle: { color: colours.text }, formatter: entry
      } : {
        orient: "vertical", right: 8, top: "middle", icon: "roundRect", itemWidth: 10, itemHeight: 10,
        itemGap: 10, textStyle: { color: colours.text }, formatter: entry
      };
      option.tooltip.trigger = "item";
      option.tooltip.formatter = function (item) {
        return item.marker + item.name + "\n" + number(item.value) + " · " + percent(item.percent / 100);
      };
      option.series = [{
        type: "pie", radius: narrow ? [outer * 0.66, outer] : ["52%", "78%"], center: centre, label: { show: false },
        itemStyle: { borderColor: colours.card, borderWidth: 2 },
        data: data.points.map(function (point) {
          return { name: point.name, value: point.value, href: point.href,
                   itemStyle: { color: colours.status[point.key] } };
        })
      }];
      return option;
    },

    payment_method: function (data, colours, currency) { return bars(data, colours, currency, "payment_method"); },
    country: function (data, colours, currency) { return bars(data, colours, currency, "country"); },

    amount: function (data, colours) {
      var option = base(colours, "amount");
      option.grid = { left: 4, right: 8, top: 28, bottom: 4, containLabel: true };
      option.xAxis = categoryAxis(colours, data.labels, { axisLabel: { color: colours.muted, rotate: data.labels.length > 6 ? 30 : 0, hideOverlap: true } });
      option.yAxis = valueAxis(colours, number);
      option.tooltip.trigger = "axis";
      option.tooltip.axisPointer = { type: "shadow" };
      option.tooltip.formatter = function (items) {
        var item = items[0];
        return item.name + "\n" + text.textTransactions + ": " + number(item.value);
      };
      option.series = [{
        type: "bar", barMaxWidth: 40, itemStyle: { color: colours.accent, borderRadius: [3, 3, 0, 0] },
        data: data.points.map(function (point) { return { value: point.value, href: point.href }; })
      }];
      return option;
    },

    days_to_pay: function (data, colours) {
      var option = base(colours, "days_to_pay");
      /* two rows above the plot: the median's label, and over it the due date's (never on the bars) */
      option.grid = { left: 4, right: 8, top: 52, bottom: 24, containLabel: true };
      option.xAxis = categoryAxis(colours, data.labels, {
        name: data.axis_name, nameLocation: "middle", nameGap: 26, nameTextStyle: { color: colours.muted },
        axisLabel: { color: colours.muted, interval: function (index) {
          return index % 7 === 0 || index === data.labels.length - 1;  /* and the "≥ N" overflow bar */
        } }
      });
      option.yAxis = valueAxis(colours, number);
      option.tooltip.trigger = "axis";
      option.tooltip.axisPointer = { type: "shadow" };
      option.tooltip.formatter = function (items) {
        var item = items[0];
        return data.titles[item.dataIndex] + "\n" + number(item.value);
      };
      var series = {
        type: "bar", barCategoryGap: "15%", data: data.values,
        itemStyle: { color: colours.accent, borderRadius: [2, 2, 0, 0] }
      };
      var marks = [];
      if (data.due_index !== null) {
        marks.push({ xAxis: data.labels[data.due_index], lineStyle: { color: colours.muted, type: "dotted", width: 1 },
                     label: { formatter: data.due_label, color: colours.muted, position: "end", distance: [0, 22] } });
      }
      if (data.median_index !== null) {
        marks.push({ xAxis: data.labels[data.median_index], lineStyle: { color: colours.median, type: "dashed", width: 2 },
                     label: { formatter: data.median_label, color: colours.median, position: "end", fontWeight: 600 } });
      }
      series.markLine = { symbol: "none", silent: true, data: marks };
      option.series = [series];
      return option;
    },

    settlement: function (data, colours) {
      var option = base(colours, "settlement");
      option.grid = { left: 32, right: 72, top: 28, bottom: 4, containLabel: true };
      option.yAxis = categoryAxis(colours, data.points.map(function (p) { return p.name; }), { inverse: true, axisLabel: { color: colours.text } });
      option.xAxis = valueAxis(colours, number);
      option.xAxis.axisLabel.show = false;
      option.tooltip.trigger = "item";
      option.tooltip.formatter = function (item) {
        return item.name + "\n" + number(item.value) + " · " + percent(item.data.share);
      };
      option.series = [{
        type: "bar", barMaxWidth: 22,
        label: {
          show: true, position: "right", color: colours.muted,
          formatter: function (item) { return number(item.value) + " · " + percent(item.data.share); }
        },
        data: data.points.map(function (point) {
          return { value: point.value, share: point.share, href: point.href,
                   itemStyle: { color: colours.settlement[point.key], borderRadius: [0, 3, 3, 0] } };
        })
      }];
      return option;
    }
  };

  function bars(data, colours, currency, id) {
    var option = base(colours, id);
    option.grid = { left: 16, right: 80, top: 28, bottom: 4, containLabel: true };
    option.yAxis = categoryAxis(colours, data.points.map(function (p) { return p.name; }), { inverse: true, axisLabel: { color: colours.text } });
    option.xAxis = valueAxis(colours, function (v) { return money(v, currency, true); });
    option.xAxis.axisLabel.show = false;
    option.tooltip.trigger = "item";
    option.tooltip.formatter = function (item) {
      return item.name + "\n" + money(item.value, currency) + "\n" + text.textTransactions + ": " + number(item.data.count);
    };
    option.series = [{
      type: "bar", barMaxWidth: 26,
      label: { show: true, position: "right", color: colours.muted,
               formatter: function (item) { return money(item.value, currency, true); } },
      data: data.points.map(function (point) {
        return { value: point.value, count: point.count, href: point.href,
                 itemStyle: { color: colours.accent, borderRadius: [0, 3, 3, 0] } };
      })
    }];
    return option;
  }

  function fileName(id) {
    var today = new Date().toISOString().slice(0, 10);
    return "dashboard-" + id + "-" + today;
  }

  /* -- drill-down: a click opens the transactions table filtered to the segment */
  function volumeLink(data, item) {
    var series = data.series[item.seriesIndex];
    var range = data.ranges[item.dataIndex];
    if (!series || !range) return null;
    var url = new URL(data.drill, window.location.href);
    url.searchParams.set("period", "custom");
    url.searchParams.set("from", range[0]);
    url.searchParams.set("to", range[1]);
    url.searchParams.delete("status");
    url.searchParams.append("status", series.key);
    return url.pathname + url.search;
  }

  function chartFor(id, element) {
    var chart = state.charts[id];
    if (chart) return chart;
    chart = window.echarts.init(element, null, { renderer: "canvas", locale: lang.slice(0, 2) === "de" ? "DE" : "EN" });
    chart.on("click", function (item) {
      var model = state.payload && state.payload.view.charts[id];
      if (!model) return;
      var href = id === "volume" ? volumeLink(model.data, item) : item.data && item.data.href;
      if (href) window.location.assign(href);
    });
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        chart.resize();
        /* the legends' rows and the ring's place follow the width: draw again when it changed */
        if (chart.__portalWidth !== undefined && chart.getWidth() !== chart.__portalWidth) drawCharts();
      }).observe(element);
    }
    state.charts[id] = chart;
    return chart;
  }

  /* ECharts' aria option replaces the element's label with a generated English data dump;
     keep the page's own (translated) label, which points to the same figures as a table. */
  function describe(element) {
    if (!element.dataset.description) element.dataset.description = element.getAttribute("aria-label") || "";
    return element.dataset.description;
  }

  function drawCharts() {
    var payload = state.payload;
    if (!payload) return;
    var colours = palette();
    var view = payload.view;
    root.querySelectorAll("[data-chart]").forEach(function (element) {
      var id = element.getAttribute("data-chart");
      var model = view.charts[id];
      if (!model || !builders[id]) return;
      var chart = chartFor(id, element);
      var size = { width: chart.getWidth(), height: chart.getHeight() };
      var option = builders[id](model.data, colours, view.currency, size);
      option.aria.label = { description: describe(element) };
      chart.setOption(option, { notMerge: true });
      chart.__portalWidth = size.width;
      chart.getDom().classList.toggle("dash-clickable", id !== "days_to_pay");
    });
  }

  /* -- tables: the same model the server renders (macro figure_table) */
  function cellNode(cell, header, numeric) {
    var node = document.createElement(header ? "th" : "td");
    if (header) node.setAttribute("scope", "row");
    if (numeric) node.className = "num";
    if (cell && typeof cell === "object") {
      var link = document.createElement("a");
      link.href = cell.href;
      link.textContent = cell.text;
      node.appendChild(link);
    } else {
      node.textContent = cell;
    }
    return node;
  }

  function buildTable(model, id) {
    var table = document.createElement("table");
    table.className = "table table-sm table-hover dash-figures-table";
    table.id = "figures-" + id;
    var caption = document.createElement("caption");
    caption.textContent = model.caption;
    table.appendChild(caption);
    var head = table.createTHead().insertRow();
    model.columns.forEach(function (column) {
      var th = document.createElement("th");
      th.setAttribute("scope", "col");
      if (column.numeric) th.className = "num";
      th.textContent = column.label;
      head.appendChild(th);
    });
    var body = table.createTBody();
    model.rows.forEach(function (row) {
      var tr = body.insertRow();
      row.forEach(function (cell, index) { tr.appendChild(cellNode(cell, index === 0, index > 0)); });
    });
    if (model.foot) {
      var foot = table.createTFoot().insertRow();
      model.foot.forEach(function (cell, index) { foot.appendChild(cellNode(cell, index === 0, index > 0)); });
    }
    return table;
  }

  function drawTables() {
    var view = state.payload.view;
    root.querySelectorAll("[data-table]").forEach(function (holder) {
      var id = holder.getAttribute("data-table");
      var model = view.charts[id];
      holder.replaceChildren(model ? buildTable(model.table, id) : "");
    });
  }

  /* -- the job's state, the key figures, the switches ---------------------------------------- */
  function bind(scope, name, value) {
    scope.querySelectorAll('[data-bind="' + name + '"]').forEach(function (node) { node.textContent = value; });
  }

  function drawStatus(job) {
    root.dataset.state = job.state;
    root.setAttribute("aria-busy", job.running ? "true" : "false");
    var status = document.getElementById("stats-status");
    status.querySelector('[data-part="running"]').hidden = !job.running;
    status.querySelector('[data-part="done"]').hidden = !job.complete;
    status.querySelector('[data-part="failed"]').hidden = !job.failure;
    bind(status, "progress_text", job.progress_text);
    bind(status, "detail", job.detail);
    bind(status, "as_of", job.as_of || "");
    bind(status, "failure_title", job.failure ? job.failure.title : "");
    bind(status, "failure_detail", job.failure ? job.failure.detail : "");
    var bar = status.querySelector('[data-bind="progressbar"]');
    if (bar) {
      bar.value = job.percent;
      bar.textContent = percent(job.percent / 100, 0);
    }
    root.querySelectorAll('[data-part="partial"]').forEach(function (badge) { badge.hidden = job.complete; });
  }

  function drawKeyFigures(cards) {
    cards.forEach(function (card) {
      var node = root.querySelector('[data-figure="' + card.key + '"]');
      if (!node) return;
      bind(node, "value", card.value);
      bind(node, "delta", card.delta);
      bind(node, "spoken", card.spoken);
      bind(node, "previous", card.previous);
      bind(node, "detail", card.detail);
      var wrap = node.querySelector('[data-bind="delta_wrap"]');
      wrap.dataset.tone = card.tone;
      wrap.dataset.trend = card.trend;
      wrap.querySelector(".dash-delta-arrow").className = "bi dash-delta-arrow " + (ARROWS[card.trend] || "");
    });
  }

  function drawSwitches(view) {
    var switcher = root.querySelector('[data-part="currencies"]');
    if (switcher) {
      switcher.hidden = view.currencies.length < 2;
      var group = switcher.querySelector('[data-bind="currency_links"]');
      group.replaceChildren();
      view.currencies.forEach(function (code) {
        var link = document.createElement("a");
        var active = code === view.currency;
        link.className = "btn btn-outline-primary" + (active ? " active" : "");
        link.href = view.currency_links[code];
        link.textContent = code;
        link.setAttribute("data-view-link", "");
        if (active) link.setAttribute("aria-current", "true");
        group.appendChild(link);
      });
    }
    root.querySelectorAll("[data-granularity]").forEach(function (link) {
      var choice = link.getAttribute("data-granularity");
      var active = choice === view.granularity;
      link.href = view.granularity_links[choice];
      link.classList.toggle("active", active);
      if (active) link.setAttribute("aria-current", "true"); else link.removeAttribute("aria-current");
    });
  }

  function render(payload) {
    state.payload = payload;
    var job = payload.job;
    var view = payload.view;
    drawStatus(job);
    var empty = job.complete && view.empty;
    document.getElementById("dashboard-empty").hidden = !empty;
    document.getElementById("dashboard-figures").hidden = empty || !!job.failure;
    root.dataset.currency = view.currency || "";
    drawSwitches(view);
    drawKeyFigures(view.key_figures || []);
    drawTables();
    drawCharts();
    announce(job);
  }

  function announce(job) {
    if (job.state === state.lastState) return;
    state.lastState = job.state;
    var announcer = document.getElementById("dashboard-announcer");
    if (job.complete) announcer.textContent = text.textDone + " " + (job.as_of || "");
  }

  /* -- polling ------------------------------------------------------------------------------ */
  function poll() {
    state.timer = null;
    fetch(state.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401 || response.status === 404) {
          window.location.reload(); /* signed out, or the job expired: the page starts anew */
          return null;
        }
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (payload) {
        if (!payload) return;
        state.delay = POLL_MS;
        pollWarning(false);
        render(payload);
        if (payload.job.running) schedule(POLL_MS);
      })
      .catch(function () {
        pollWarning(true);
        state.delay = Math.min(state.delay * 2, MAX_BACKOFF_MS);
        schedule(state.delay);
      });
  }

  function schedule(delay) {
    if (state.timer) window.clearTimeout(state.timer);
    state.timer = window.setTimeout(poll, delay);
  }

  function pollWarning(on) {
    var status = document.getElementById("stats-status");
    var note = status.querySelector("[data-poll-warning]");
    if (!note && on) {
      note = document.createElement("p");
      note.className = "small text-warning-emphasis mb-0 mt-1";
      note.setAttribute("data-poll-warning", "");
      note.setAttribute("role", "status");
      note.textContent = text.textPollError;
      status.appendChild(note);
    }
    if (note) note.hidden = !on;
  }

  /* -- controls ----------------------------------------------------------------------------- */
  function syncHidden(name, value) {
    document.querySelectorAll("#stats-filters, [data-refresh-form]").forEach(function (form) {
      var input = form.querySelector('input[type="hidden"][name="' + name + '"]');
      if (!value || value === "auto") {
        if (input) input.remove();
        return;
      }
      if (!input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        form.prepend(input);
      }
      input.value = value;
    });
  }

  function switchView(href) {
    var target = new URL(href, window.location.href);
    var url = new URL(state.url, window.location.href);
    ["display_currency", "granularity"].forEach(function (name) {
      var value = target.searchParams.get(name);
      if (value) url.searchParams.set(name, value); else url.searchParams.delete(name);
      syncHidden(name, value);
    });
    state.url = url.pathname + url.search;
    window.history.replaceState(null, "", target.pathname + target.search);
    schedule(0);
  }

  function toggleTable(button) {
    var card = button.closest("[data-chart-card]");
    var showTable = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", showTable ? "true" : "false");
    card.querySelector("[data-chart]").hidden = showTable;
    card.querySelector("[data-table]").hidden = !showTable;
    if (!showTable) {
      var chart = state.charts[card.getAttribute("data-chart-card")];
      if (chart) chart.resize();
    }
  }

  function save(button) {
    var id = button.closest("[data-chart-card]").getAttribute("data-chart-card");
    var chart = state.charts[id];
    if (!chart) return;
    var link = document.createElement("a");
    link.href = chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: palette().card });
    link.download = fileName(id) + ".png";
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  function setMeasure(button) {
    state.measure = button.getAttribute("data-measure");
    root.querySelectorAll("[data-measure]").forEach(function (other) {
      var on = other === button;
      other.classList.toggle("active", on);
      other.setAttribute("aria-pressed", on ? "true" : "false");
    });
    drawCharts();
  }

  root.addEventListener("click", function (event) {
    var link = event.target.closest("[data-view-link]");
    if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey && event.button === 0) {
      event.preventDefault();
      switchView(link.href);
      return;
    }
    var button = event.target.closest("button[data-action], button[data-measure]");
    if (!button) return;
    if (button.hasAttribute("data-measure")) setMeasure(button);
    else if (button.getAttribute("data-action") === "table") toggleTable(button);
    else if (button.getAttribute("data-action") === "save") save(button);
  });

  document.addEventListener("portal:themechange", drawCharts);

  /* Charts replace the tables; each table stays one "Table" click away. */
  root.querySelectorAll("[data-table]").forEach(function (holder) { holder.hidden = true; });
  schedule(0);
})();
