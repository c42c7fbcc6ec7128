// CycleHub status page: reads status.json every 5 s and renders it. Plain
// DOM (textContent only, no HTML strings) and an inline SVG chart; the
// page's Content-Security-Policy allows nothing but this file and app.css.
"use strict";

(function () {
  var REFRESH_MS = 5000;
  var TIMEOUT_MS = 10000;
  var SVG = "http://www.w3.org/2000/svg";
  var lastGood = null; // generated_at of the last data shown

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    setAttrs(e, attrs);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    setAttrs(e, attrs);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function setAttrs(e, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
  }

  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }

  function num(n) { return Number(n || 0).toLocaleString("en"); }

  // age formats a duration in seconds for people.
  function age(seconds) {
    var s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 86400) return (s / 3600).toFixed(1).replace(/\.0$/, "") + " h";
    return (s / 86400).toFixed(1).replace(/\.0$/, "") + " d";
  }

  function clock(iso) {
    var d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString();
  }

  function timeEl(iso, text) {
    var t = el("time", { datetime: iso }, text);
    t.title = clock(iso);
    return t;
  }

  // section shows a section's content, or why it is unavailable.
  function section(id, sec, render) {
    var root = $(id);
    var msg = root.querySelector(".unavailable");
    var content = root.querySelectorAll(".scroll, figure, dl");
    var ok = sec && sec.ok;
    root.setAttribute("data-ok", ok ? "true" : "false");
    msg.hidden = !!ok;
    msg.textContent = ok ? "" : "Unavailable: " + ((sec && sec.error) || "no data");
    content.forEach(function (c) { c.hidden = !ok; });
    if (ok) render(sec.data);
  }

  function renderSources(items, now) {
    var body = $("sources-body");
    clear(body);
    if (!items || items.length === 0) {
      var tr = el("tr");
      tr.appendChild(el("td", { colspan: "5", class: "empty" }, "No sources configured"));
      body.appendChild(tr);
      return;
    }
    items.forEach(function (s) {
      var tr = el("tr", { "data-source": s.name });
      tr.appendChild(el("th", { scope: "row" }, s.name));
      var last = el("td", { class: "last" });
      if (s.last_request) {
        last.appendChild(timeEl(s.last_request, age((now - new Date(s.last_request)) / 1000) + " ago"));
      } else {
        last.textContent = "never";
        last.classList.add("empty");
      }
      tr.appendChild(last);
      tr.appendChild(el("td", { class: "num accepted" }, num(s.accepted)));
      var rej = el("td", { class: "num rejected" }, num(s.rejected));
      var reasons = Object.keys(s.rejected_by || {}).filter(function (k) { return s.rejected_by[k] > 0; }).sort();
      if (reasons.length > 0) {
        rej.appendChild(el("span", { class: "reasons" },
          "(" + reasons.map(function (k) { return k.replace(/_/g, " ") + " " + num(s.rejected_by[k]); }).join(", ") + ")"));
      }
      tr.appendChild(rej);
      var sig = el("td", { class: "num signature" }, num(s.signature_failures));
      if (s.signature_failures > 0) sig.classList.add("alert");
      tr.appendChild(sig);
      body.appendChild(tr);
    });
  }

  function renderFunnel(stages) {
    var chart = $("funnel-chart");
    clear(chart);
    stages = stages || [];
    var barX = 200, barMax = 360, rowH = 30, pad = 6;
    if (stages.length === 0) {
      chart.setAttribute("viewBox", "0 0 640 40");
      chart.setAttribute("aria-label", "Funnel: no stages");
      chart.appendChild(svg("text", { x: 0, y: 20, class: "empty" }, "No stages"));
      return;
    }
    var max = stages.reduce(function (m, s) { return Math.max(m, s.customers); }, 0);
    var total = stages.reduce(function (m, s) { return m + s.customers; }, 0);
    var height = stages.length * rowH + pad;
    chart.setAttribute("viewBox", "0 0 640 " + height);
    chart.setAttribute("aria-label", "Funnel, customers per stage: " + stages.map(function (s) {
      return (s.stage || "no stage") + " " + s.customers;
    }).join(", ") + "; " + total + " in all");
    stages.forEach(function (s, i) {
      var y = pad + i * rowH;
      var name = s.stage || "(no stage)";
      var w = max > 0 ? Math.round((s.customers / max) * barMax) : 0;
      if (s.customers > 0 && w < 2) w = 2;
      var g = svg("g", { "data-stage": s.stage });
      g.appendChild(svg("text", { x: 0, y: y + 9, class: "label" }, name));
      g.appendChild(svg("rect", { x: barX, y: y, width: barMax, height: 18, rx: 3, class: "track" }));
      var bar = svg("rect", { x: barX, y: y, width: w, height: 18, rx: 3, class: "bar", "data-customers": s.customers });
      bar.appendChild(svg("title", null, name + ": " + s.customers));
      g.appendChild(bar);
      g.appendChild(svg("text", { x: barX + barMax + 10, y: y + 9, class: "count" }, num(s.customers)));
      chart.appendChild(g);
    });
  }

  function renderStream(lag) {
    $("stream-events").textContent = num(lag.unpublished_events);
    $("stream-oldest").textContent = lag.unpublished_events > 0 ? age(lag.oldest_unpublished_seconds) : "–";
  }

  function renderDeliveries(dests) {
    var body = $("deliveries-body");
    clear(body);
    if (!dests || dests.length === 0) {
      var tr = el("tr");
      tr.appendChild(el("td", { colspan: "6", class: "empty" }, "No destinations configured"));
      body.appendChild(tr);
      return;
    }
    dests.forEach(function (d) {
      var tr = el("tr", { "data-destination": d.name });
      tr.appendChild(el("th", { scope: "row" }, d.name));
      tr.appendChild(el("td", { class: "num pending" }, num(d.pending)));
      tr.appendChild(el("td", { class: "num delivering" }, num(d.delivering)));
      var dead = el("td", { class: "num dead" }, num(d.dead));
      if (d.dead > 0) dead.classList.add("alert");
      tr.appendChild(dead);
      tr.appendChild(el("td", { class: "oldest" }, d.pending > 0 ? age(d.oldest_pending_seconds) : "–"));
      var state = el("td", { class: "state" }, d.disabled ? "disabled" : "active");
      if (d.disabled) state.classList.add("alert");
      tr.appendChild(state);
      body.appendChild(tr);
    });
  }

  function render(st) {
    var now = new Date(st.generated_at);
    section("sources", st.sources, function (d) { renderSources(d, now); });
    section("funnel", st.funnel, renderFunnel);
    section("stream", st.stream, renderStream);
    section("deliveries", st.deliveries, renderDeliveries);
    $("started").textContent = clock(st.started_at);
    $("updated").textContent = "Updated " + clock(st.generated_at);
  }

  function fail(why) {
    var banner = $("banner");
    banner.textContent = "Could not load the status data (" + why + "). " +
      (lastGood ? "Showing the data from " + clock(lastGood) + "; " : "No data yet; ") +
      "retrying every " + REFRESH_MS / 1000 + " s.";
    banner.hidden = false;
    document.body.setAttribute("data-state", "error");
  }

  function load() {
    var ctrl = new AbortController();
    var timer = setTimeout(function () { ctrl.abort(); }, TIMEOUT_MS);
    fetch("status.json", { cache: "no-store", signal: ctrl.signal, headers: { Accept: "application/json" } })
      .then(function (resp) {
        if (!resp.ok) throw new Error("HTTP " + resp.status);
        return resp.json();
      })
      .then(function (st) {
        render(st);
        lastGood = st.generated_at;
        $("banner").hidden = true;
        document.body.setAttribute("data-state", "ready");
      })
      .catch(function (err) {
        fail(err && err.name === "AbortError" ? "timed out" : (err && err.message) || "unknown error");
      })
      .finally(function () {
        clearTimeout(timer);
        setTimeout(load, REFRESH_MS);
      });
  }

  document.addEventListener("DOMContentLoaded", load);
})();
