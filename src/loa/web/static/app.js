// Loa dashboard: small progressive enhancements; every page also works without them.
"use strict";
(function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const postJSON = (url, body) =>
    fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
      credentials: "same-origin",
    }).then((r) => r.json());
  const debounce = (fn, ms) => {
    let t;
    return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
  };

  // Phone menu.
  const toggle = document.querySelector(".menu-toggle");
  if (toggle) {
    toggle.addEventListener("click", () => {
      const nav = document.getElementById("nav");
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }

  // Import progress: poll the job until it is done, then show the report (server-rendered).
  const job = document.querySelector("[data-import-job]");
  if (job && job.dataset.state === "running") {
    const bar = document.getElementById("import-progress");
    const tick = () =>
      fetch(job.dataset.importJob, { credentials: "same-origin" }).then((r) => r.json()).then((s) => {
        bar.value = s.pct;
        document.getElementById("import-pct").textContent = s.pct;
        document.getElementById("import-phase").textContent = s.phase_text;
        if (s.state === "running") setTimeout(tick, 300);
        else window.location.reload();
      }).catch(() => setTimeout(tick, 1000));
    setTimeout(tick, 200);
  }

  // Segment rule builder with a live count.
  const builder = document.querySelector("[data-rule-builder]");
  if (builder) {
    const rows = builder.querySelector("[data-rows]");
    const tpl = builder.querySelector("[data-row-template]");
    const ruleBox = builder.querySelector("[data-rule]");
    const countOut = builder.querySelector("[data-count]");
    const countErr = builder.querySelector("[data-count-error]");
    const numeric = { purchases: 1, spend: 1, birthday_within_days: 1, created_within_days: 1 };
    const one = (row) => {
      const field = row.querySelector("[data-field]").value;
      const op = row.querySelector("[data-op]").value;
      const raw = row.querySelector("[data-value]").value.trim();
      const n = Number(raw.replace(/[.,\s]/g, ""));
      if (field === "consent") return { consent: { channel: "sms", purpose: "marketing" } };
      if (field === "tag") return { tag: raw };
      if (field === "purchases" || field === "spend") {
        const cmp = {}; cmp[["gte", "lte", "eq", "ne"].includes(op) ? op : "gte"] = n;
        const rule = { event: "purchase" }; rule[field === "purchases" ? "count" : "sum"] = cmp;
        return rule;
      }
      if (numeric[field]) { const r = {}; r[field] = n; return r; }
      if (op === "in") return { attr: field, op: "in", value: raw.split(",").map((s) => s.trim()).filter(Boolean) };
      return { attr: field, op: ["gte", "lte"].includes(op) ? "eq" : op, value: raw };
    };
    const build = () => {
      const parts = Array.from(rows.querySelectorAll("[data-row]")).map(one);
      const match = builder.querySelector("[data-match]").value;
      const rule = {}; rule[match] = parts;
      ruleBox.value = JSON.stringify(rule);
      count();
    };
    const count = debounce(() => {
      postJSON("/segments/count", { rule: ruleBox.value }).then((d) => {
        countOut.textContent = d.error ? "—" : d.text;
        countErr.textContent = d.error || "";
      });
    }, 250);
    const add = () => {
      const row = tpl.content.firstElementChild.cloneNode(true);
      const i = rows.children.length;
      row.querySelectorAll("select, input").forEach((el) => { el.id = `rule-${i}-${el.dataset.field !== undefined ? "field" : el.dataset.op !== undefined ? "op" : "value"}`; });
      row.querySelector("[data-remove]").addEventListener("click", () => { row.remove(); build(); });
      row.addEventListener("input", build);
      row.addEventListener("change", build);
      rows.appendChild(row);
      row.querySelector("[data-field]").focus();
      build();
    };
    builder.querySelector("[data-add]").addEventListener("click", add);
    builder.querySelector("[data-match]").addEventListener("change", build);
    ruleBox.addEventListener("input", count);
    count();
    document.querySelectorAll("[data-count-name]").forEach((b) =>
      b.addEventListener("click", () =>
        postJSON("/segments/count", { rule: b.dataset.countName }).then((d) => { b.textContent = d.error || d.text; })));
  }

  // Composer: live characters, parts, encoding, accents, cost, warnings, phone preview.
  document.querySelectorAll("[data-compose]").forEach((box) => {
    const form = box.closest("form") || document;
    const q = (s) => box.querySelector(s);
    const out = (k) => box.querySelector(`[data-out="${k}"]`);
    const segField = () => form.querySelector(`[name="${box.dataset.segmentField}"]`);
    const render = (d) => {
      if (d.error) { out("warnings").innerHTML = ""; const li = document.createElement("li"); li.className = "bad"; li.textContent = d.error; out("warnings").appendChild(li); return; }
      const a = d.unaccent ? d.without_accents : d.with_accents;
      out("chars").textContent = a.chars;
      out("parts").textContent = a.parts;
      out("encoding").textContent = a.encoding;
      out("left").textContent = a.left_in_part;
      out("accents").textContent = d.has_accents
        ? `${document.documentElement.lang === "en" ? "With accents" : "Có dấu"}: ${d.with_accents.parts} (${d.with_accents.encoding}), ${d.cost_text} · ${document.documentElement.lang === "en" ? "without" : "không dấu"}: ${d.without_accents.parts} (${d.without_accents.encoding}), ${d.cost_unaccented_text}`
        : "";
      out("cost").textContent = d.cost_text;
      out("audience").textContent = d.audience_text;
      out("sender").textContent = d.sender;
      out("preview").textContent = d.text;
      out("example").textContent = d.example
        ? `${document.documentElement.lang === "en" ? "As it reaches" : "Tin gửi tới"} ${d.example}` : "";
      const ul = out("warnings"); ul.innerHTML = "";
      d.warnings.forEach((w) => { const li = document.createElement("li"); li.className = w.level; li.textContent = w.message; ul.appendChild(li); });
      box.dataset.ready = "1";
    };
    const update = debounce(() => {
      const seg = segField();
      postJSON("/compose/preview", {
        text: q("[data-compose-text]").value,
        cls: q("[data-compose-cls]").value,
        sender: q("[data-compose-sender]").value,
        segment: seg ? seg.value : "",
        unaccent: q("[data-compose-unaccent]").checked,
      }).then(render);
    }, 200);
    box.addEventListener("input", update);
    box.addEventListener("change", update);
    const seg = segField(); if (seg) seg.addEventListener("change", update);
    update();
  });

  // Live campaign progress.
  const prog = document.querySelector("[data-progress]");
  if (prog && ["scheduled", "running", "paused"].includes(prog.dataset.state)) {
    const bar = prog.querySelector("progress");
    const tick = () =>
      fetch(prog.dataset.progress, { credentials: "same-origin" }).then((r) => r.json()).then((d) => {
        bar.value = d.done_pct;
        Object.entries(d.texts).forEach(([k, v]) => { const el = prog.querySelector(`[data-p="${k}"]`); if (el) el.textContent = v; });
        prog.querySelector('[data-p="state_text"]').textContent = d.state_text;
        if (d.state !== prog.dataset.state && ["completed", "cancelled"].includes(d.state)) window.location.reload();
        else setTimeout(tick, 700);
      }).catch(() => setTimeout(tick, 1500));
    setTimeout(tick, 500);
  }
})();
