/* bertviz_graph app: viewport moves, tooltips and draw timing for the cytoscape graph (no server trips). */
(function () {
  "use strict";
  var CY_ID = "bv-cyto";
  var MAX_FIT_ZOOM = 1.25;
  var MIN_READABLE_ZOOM = 0.75;

  var state = { firstDraw: null, lastDraw: null, draws: 0, dirty: true, lastTap: null, tip: null };
  window.bvGraph = state;

  function getCy() {
    var el = document.getElementById(CY_ID);
    return el && el._cyreg ? el._cyreg.cy : null;
  }
  state.cy = getCy;

  function tipDiv() {
    if (!state.tip) {
      state.tip = document.createElement("div");
      state.tip.className = "bv-tip";
      state.tip.style.display = "none";
      document.body.appendChild(state.tip);
    }
    return state.tip;
  }

  function bind(cy) {
    if (cy.scratch("_bvBound")) return;
    cy.scratch("_bvBound", true);
    cy.on("add remove position data", function () { state.dirty = true; });
    cy.on("render", function () {
      if (!state.dirty) {  // a picture of the current elements: remember where the frame bars are
        var pos = {};
        cy.nodes(".bar").forEach(function (n) { pos[n.id()] = n.renderedPosition(); });
        state.barPos = pos;
        return;
      }
      if (cy.elements().length === 0) return;
      state.dirty = false;
      state.lastDraw = performance.now();
      state.draws += 1;
      if (state.firstDraw === null) state.firstDraw = state.lastDraw;
    });
    cy.on("tap", "node", function (e) {
      state.lastTap = { id: e.target.data("target") || e.target.id(), rp: e.target.renderedPosition(),
                        bar: e.target.hasClass("bar") };
    });
    var tip = tipDiv();
    function place(e) {
      var oe = e.originalEvent;
      if (!oe) return;
      var x = oe.clientX + 14, y = oe.clientY + 14;
      var w = tip.offsetWidth, h = tip.offsetHeight;
      if (x + w > window.innerWidth - 4) x = Math.max(4, oe.clientX - w - 10);
      if (y + h > window.innerHeight - 4) y = Math.max(4, oe.clientY - h - 10);
      tip.style.left = x + "px";
      tip.style.top = y + "px";
    }
    cy.on("mouseover", "node.box, node.bar, edge", function (e) {
      var t = e.target.data("tip");
      if (!t) return;
      tip.textContent = t;
      tip.style.display = "block";
      place(e);
    });
    cy.on("mousemove", "node.box, node.bar, edge", place);
    cy.on("mouseout", "node, edge", function () { tip.style.display = "none"; });
    cy.on("viewport", function () { tip.style.display = "none"; });
  }

  setInterval(function () { var cy = getCy(); if (cy) bind(cy); }, 100);

  function fitAll(cy) {
    cy.stop();
    cy.fit(cy.elements(), 16);
    if (cy.zoom() > MAX_FIT_ZOOM) { cy.zoom(MAX_FIT_ZOOM); cy.center(); }
  }

  function showBox(cy, ele, mode) {
    var bb = ele.boundingBox({ includeLabels: false });
    var W = cy.width(), H = cy.height(), pad = 24;
    var z;
    if (mode === "center") {
      z = Math.min(Math.max(cy.zoom(), 1.0), 1.5);
      cy.zoom(z);
      cy.center(ele);
      return;
    }
    z = Math.min((W - 2 * pad) / bb.w, (H - 2 * pad) / bb.h, MAX_FIT_ZOOM);
    if (z >= MIN_READABLE_ZOOM) {
      cy.zoom(z);
      cy.center(ele);
      return;
    }
    // too big to be readable in one screen: as wide as fits (readable), top of the box at the top
    z = Math.max(Math.min((W - 2 * pad) / bb.w, 1.0), MIN_READABLE_ZOOM);
    cy.zoom(z);
    cy.pan({ x: W / 2 - z * (bb.x1 + bb.w / 2), y: pad - z * bb.y1 });
  }

  function applyFocus(f) {
    var cy = getCy();
    if (!cy) return false;
    if (f.n !== undefined && cy.elements().length !== f.n) return false;  // new elements not there yet
    if (f.mode === "all") { fitAll(cy); return true; }
    if (f.mode === "top") { showBox(cy, cy.elements(), "fit"); return true; }  // all if readable, else its top
    var ele = f.id !== undefined && f.id !== null ? cy.getElementById(f.id) : null;
    if (!ele || ele.length === 0) return true;
    if (f.mode === "keep" || f.mode === "keep-top") {
      var last = state.lastTap;
      if (f.mode === "keep" && last && last.id === f.id && last.rp) {
        var now = ele.renderedPosition();
        var want = last.rp;
        if (last.bar) {  // the title bar was clicked: put the closed box where the bar was
          now = { x: now.x, y: now.y - ele.renderedHeight() / 2 + 10 };
        }
        cy.panBy({ x: want.x - now.x, y: want.y - now.y });
      } else {
        var bar = cy.getElementById(f.id + "::bar");
        var before = state.barPos && state.barPos[f.id + "::bar"];
        if (bar.length && before) {  // the same frame, another member shown: keep its bar in place
          var p = bar.renderedPosition();
          cy.panBy({ x: before.x - p.x, y: before.y - p.y });
        } else {
          var bb = ele.renderedBoundingBox({ includeLabels: false });
          if (bb.y1 < 0 || bb.y1 > cy.height() * 0.5) cy.panBy({ x: 0, y: 24 - bb.y1 });
        }
      }
      return true;
    }
    showBox(cy, ele, f.mode);
    return true;
  }

  function later(f, tries) {
    if (applyFocus(f) || tries <= 0) return;
    setTimeout(function () { later(f, tries - 1); }, 16);
  }

  var ns = {
    fit: function () {
      var cy = getCy();
      if (cy) fitAll(cy);
      return Date.now();
    },
    zoom: function () {
      var cy = getCy();
      var trig = window.dash_clientside.callback_context.triggered;
      if (!cy || !trig || !trig.length) return window.dash_clientside.no_update;
      var factor = trig[0].prop_id.indexOf("zoom-in") >= 0 ? 1.25 : 0.8;
      cy.zoom({ level: cy.zoom() * factor, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
      return Date.now();
    },
    focus: function (f) {
      if (f) later(f, 60);
      return Date.now();
    },
    select: function (tap) {
      if (!tap) return window.dash_clientside.no_update;
      return { id: tap.target || tap.id };
    },
    crumb: function () {
      var nu = window.dash_clientside.no_update;
      var trig = window.dash_clientside.callback_context.triggered;
      if (!trig || trig.length !== 1 || !trig[0].value) return [nu, nu];
      var key = trig[0].prop_id.slice(0, trig[0].prop_id.lastIndexOf("."));
      var id;
      try { id = JSON.parse(key); } catch (err) { return [nu, nu]; }
      var sel = id.id === "" ? nu : { id: id.id };
      var focus = id.rep ? { id: id.rep, mode: "fit", nonce: Date.now() } : { mode: "all", nonce: Date.now() };
      return [focus, sel];
    },
  };
  window.dash_clientside = Object.assign({}, window.dash_clientside, { bv: ns });
})();
