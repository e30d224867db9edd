// The patient explorer's page: one patient's history in sentences, every access's inclusion
// proof checked here (merkle.js) against a root this page reads from the node the patient
// names, or, on the embedded chain, the root the explorer read (labelled so). And an
// institution's accesses for auditors.

import { fromHex, toHex, leafHash, verifyInclusion, entryFromLeaf } from "./merkle.js";

const PURPOSE_WORDS = {
  treatment: "to treat you",
  emergency_treatment: "to treat you in an emergency",
  payment: "to arrange payment for your care",
  operations: "to run the hospital's services (quality checks, administration)",
  research: "for research",
  public_health: "for public health reporting",
  patient_request: "because you asked for it",
  legal: "for a legal reason",
};
const BREAK_GLASS_WORDS = {
  life_threatening: "your life was in danger",
  patient_incapacitated: "you could not give consent at the time",
  urgent_care: "you needed urgent care",
  legal_obligation: "the law required it",
};
const HOW_WORDS = {
  replaces: "replaced", amends: "added to (amended)", corrects: "corrected", transforms: "converted to another format",
};
const ERASURE_WORDS = {
  patient_request: "you asked for it to be deleted",
  entered_in_error: "it was entered in error",
  legal_order: "a legal order required it",
  retention_expired: "the period it had to be kept ended",
  other: "another reason",
};
const RECOVERY_WORDS = {
  completed: "was carried out", vetoed: "was stopped by you (veto)", cancelled: "was withdrawn",
  replaced: "was replaced by another request", control_changed: "ended because control changed",
  policy_changed: "ended because your recovery settings changed",
};

const main = document.getElementById("main");
let about = null;

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function when(ms) {
  return new Date(Number(ms)).toLocaleString("en-GB", { dateStyle: "long", timeStyle: "short", timeZone: "UTC" }) + " UTC";
}

function short(hex) {
  return hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex;
}

function institution(id) {
  const name = about.names.institutions[String(id)];
  return name ? `${name} (institution ${id})` : `institution ${id}`;
}

function kind(code) {
  return about.names.codes[code] ?? `a record of kind ${short(code)}`;
}

function record(target) {
  return `record ${short(target.record)}, version ${target.version}`;
}

function blockLink(at) {
  return el("span", { class: "when" }, `${when(at.time)} · block ${at.block}`);
}

function section(id, title, intro) {
  const list = el("ol", { class: "items", id: `${id}-list` });
  const box = el("section", { id, "aria-labelledby": `${id}-title` }, el("h2", { id: `${id}-title` }, title));
  if (intro) box.append(el("p", { class: "intro" }, intro));
  box.append(list);
  return [box, list];
}

function empty(list, text) {
  list.append(el("li", { class: "none" }, text));
}

/** Reads the access log's root for `size` from the node the patient named, over JSON-RPC. */
async function rootFromNode(url, size) {
  const input = new Uint8Array([...fromHex(about.root_at_selector), ...u64(size)]);
  const args = new Uint8Array([
    ...new Uint8Array(32), ...fromHex(about.access_log), ...new Uint8Array(16), 0, 0, ...compact(input.length), ...input,
  ]);
  const answer = await new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const timer = setTimeout(() => { socket.close(); reject(new Error("the node did not answer")); }, 10000);
    socket.onerror = () => { clearTimeout(timer); reject(new Error("cannot reach the node")); };
    socket.onopen = () => socket.send(JSON.stringify({ id: 1, jsonrpc: "2.0", method: "state_call", params: ["ContractsApi_call", toHex(args)] }));
    socket.onmessage = (message) => {
      clearTimeout(timer);
      socket.close();
      const reply = JSON.parse(message.data);
      if (reply.error) reject(new Error(reply.error.message)); else resolve(fromHex(reply.result));
    };
  });
  // ContractResult: two weights (compact pairs), a deposit (variant + u128), the debug
  // message, then Ok(ExecReturnValue { flags: u32, data }) whose data is
  // Ok(Option<[u8; 32]>) (ink!'s MessageResult).
  let at = 0;
  const skipCompact = () => { const mode = answer[at] & 3; at += mode === 0 ? 1 : mode === 1 ? 2 : mode === 2 ? 4 : 1 + (answer[at] >> 2) + 4; };
  const readCompact = () => {
    const mode = answer[at] & 3;
    if (mode === 0) return answer[at++] >> 2;
    if (mode === 1) { const v = (answer[at] | (answer[at + 1] << 8)) >> 2; at += 2; return v; }
    const v = (answer[at] | (answer[at + 1] << 8) | (answer[at + 2] << 16) | (answer[at + 3] << 24)) >>> 2; at += 4; return v;
  };
  skipCompact(); skipCompact(); skipCompact(); skipCompact();
  at += 1 + 16;
  const debugMessage = readCompact();
  at += debugMessage;
  if (answer[at++] !== 0) throw new Error("the node refused the query");
  at += 4;
  const length = readCompact();
  const data = answer.subarray(at, at + length);
  if (data.length !== 34 || data[0] !== 0 || data[1] !== 1) throw new Error(`the node has no root for ${size} entries`);
  return data.subarray(2);
}

function u64(n) {
  const bytes = new Uint8Array(8);
  let v = BigInt(n);
  for (let i = 0; i < 8; i++) { bytes[i] = Number(v & 255n); v >>= 8n; }
  return bytes;
}

function compact(n) {
  if (n < 64) return [n << 2];
  if (n < 16384) return [((n << 2) | 1) & 255, n >> 6];
  return [((n << 2) | 2) & 255, (n >> 6) & 255, (n >> 14) & 255, (n >> 22) & 255];
}

/**
 * Checks one access: its leaf is in the log under the root, and the leaf says what the page
 * shows (the page shows the entry read from the leaf itself, and requires the server's fields
 * to agree). Returns a sentence and whether it held.
 */
async function check(access, patient, root) {
  if (!access.proof) return [false, "No proof was given for this access."];
  const leaf = fromHex(access.proof.leaf);
  const entry = entryFromLeaf(leaf);
  if (!entry) return [false, "The proof's entry could not be read."];
  const agrees = entry.patient === patient && entry.institution === access.institution
    && entry.purpose === access.purpose && BigInt(access.accessed_at) === entry.accessed_at
    && JSON.stringify(entry.target ?? null) === JSON.stringify(access.target)
    && JSON.stringify(entry.authorization, (_, v) => (typeof v === "bigint" ? Number(v) : v)) === JSON.stringify(access.authorization);
  if (!agrees) return [false, "The entry in the proof differs from what the explorer says."];
  const ok = await verifyInclusion(await leafHash(leaf), access.leaf, access.proof.size, access.proof.path.map(fromHex), root);
  return ok ? [true, null] : [false, "The proof does not lead to the log's root."];
}

function consentSentence(c) {
  const who = institution(c.grantee) + (c.grantee_account ? ` (only account ${short(c.grantee_account)})` : "");
  const what = c.scope === "all_records" ? "all your records"
    : c.scope.record ? `record ${short(c.scope.record)}`
    : c.scope.version ? record(c.scope.version)
    : `your records of these kinds: ${c.scope.categories.map(kind).join(", ")}`;
  const why = c.purposes.map((p) => PURPOSE_WORDS[p] ?? p).join("; ");
  const verb = c.decision === "permit" ? `You allowed ${who} to see ${what}` : `You refused ${who} access to ${what}`;
  return `${verb}, ${c.decision === "permit" ? "" : "even "}${why}, from ${when(c.valid_from)} until ${when(c.valid_until)}.`;
}

function accessSentence(a) {
  const what = a.target ? record(a.target) : `a search of ${kind(a.query)}`;
  const by = `${institution(a.institution)}, account ${short(a.account)}`;
  return `${by} looked at ${what} ${PURPOSE_WORDS[a.purpose] ?? a.purpose}, on ${when(a.accessed_at)}.`;
}

function controlSentence(c) {
  const controller = (x) => (x.custodian !== undefined ? institution(x.custodian) : `your own key ${short(x.patient_key)}`);
  switch (c.event) {
    case "registered": return `${institution(c.custodian)} registered you (account ${short(c.by)}).`;
    case "offered": return `Control of your identity was offered to the key ${short(c.to)}.`;
    case "changed": return `Control of your identity moved from ${controller(c.from)} to ${controller(c.to)}.`;
    case "recovery_requested":
      return `${c.route === "custodian" ? "Your custodian" : "Your guardians"} asked to move control to ${controller(c.to)}`
        + (c.executable_at ? `; it can happen from ${when(c.executable_at)} unless you stop it.` : ".");
    case "recovery_approved": return `A guardian approved the recovery (${c.approvals} of ${c.threshold}).`;
    case "recovery_ended": return `The recovery request ${RECOVERY_WORDS[c.outcome] ?? c.outcome}.`;
    default: return "Your recovery settings changed.";
  }
}

async function showPatient(id) {
  document.title = "Your health records log — Custodia";
  const answer = await fetch(`/api/patients/${encodeURIComponent(id)}`);
  const data = await answer.json();
  if (!answer.ok) {
    main.append(el("p", { role: "alert", class: "problem" }, data.error ?? "The explorer could not answer."));
    return;
  }
  const accesses = data.accesses;
  const glass = accesses.filter((a) => a.authorization.break_glass);
  const summary = el("section", { id: "summary", "aria-labelledby": "summary-title" },
    el("h2", { id: "summary-title" }, "In short"),
    el("p", {}, `Your records were looked at ${accesses.length} time${accesses.length === 1 ? "" : "s"}`
      + (glass.length ? `, ${glass.length} of them in an emergency without your consent.` : ", each time with your consent.")),
    el("p", { id: "proof-summary", "aria-live": "polite" }, "Checking every access in your browser…"));
  main.append(summary);

  // Accesses, with filters.
  const [accessBox, accessList] = section("accesses", "Who looked at your records",
    "Newest first. Each one is checked in your browser against the log on the chain.");
  const purposes = [...new Set(accesses.map((a) => a.purpose))];
  const institutions = [...new Set(accesses.map((a) => a.institution))];
  const purposeFilter = el("select", { id: "filter-purpose" }, el("option", { value: "" }, "any reason"),
    ...purposes.map((p) => el("option", { value: p }, PURPOSE_WORDS[p] ?? p)));
  const whoFilter = el("select", { id: "filter-institution" }, el("option", { value: "" }, "anyone"),
    ...institutions.map((i) => el("option", { value: String(i) }, institution(i))));
  const glassOnly = el("input", { type: "checkbox", id: "filter-glass" });
  const filters = el("form", { class: "filters", "aria-label": "Filter the accesses" },
    el("label", { for: "filter-institution" }, "Who: "), whoFilter,
    el("label", { for: "filter-purpose" }, "Why: "), purposeFilter,
    el("span", {}, glassOnly, el("label", { for: "filter-glass" }, " emergency access only")));
  accessBox.insertBefore(filters, accessList);
  const rows = [];
  for (const a of accesses) {
    const glassReason = a.authorization.break_glass;
    const item = el("li", { class: glassReason ? "access break-glass" : "access", "data-leaf": String(a.leaf) });
    if (glassReason) item.append(el("strong", { class: "flag" }, `Emergency access without your consent: ${BREAK_GLASS_WORDS[glassReason] ?? glassReason}. `));
    item.append(el("span", { class: "sentence" }, accessSentence(a)));
    item.append(el("span", { class: "detail" }, a.authorization.consent !== undefined
      ? ` Allowed by your consent #${a.authorization.consent}.` : " No consent was needed: the emergency rules applied."));
    item.append(el("span", { class: "detail" }, ` Logged ${when(a.logged.time)}, block ${a.logged.block}, entry ${a.leaf}.`));
    const status = el("span", { class: "proof pending", role: "status" }, "Checking…");
    item.append(el("div", {}, status));
    accessList.append(item);
    rows.push({ a, item, status });
  }
  if (!accesses.length) empty(accessList, "Nobody has looked at your records.");
  const applyFilters = () => {
    for (const { a, item } of rows) {
      const show = (!purposeFilter.value || a.purpose === purposeFilter.value)
        && (!whoFilter.value || String(a.institution) === whoFilter.value)
        && (!glassOnly.checked || a.authorization.break_glass);
      item.hidden = !show;
    }
  };
  for (const control of [purposeFilter, whoFilter, glassOnly]) control.addEventListener("change", applyFilters);
  const csv = el("button", { type: "button", id: "download-csv" }, "Download the accesses (CSV)");
  csv.addEventListener("click", () => {
    const lines = [["entry", "institution", "account", "purpose", "accessed_at", "record", "version", "consent", "emergency_reason", "block"].join(",")];
    for (const a of accesses) {
      lines.push([a.leaf, a.institution, a.account, a.purpose, new Date(a.accessed_at).toISOString(), a.target?.record ?? a.query,
        a.target?.version ?? "", a.authorization.consent ?? "", a.authorization.break_glass ?? "", a.logged.block].join(","));
    }
    const link = el("a", { href: URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" })), download: "accesses.csv" });
    link.click();
  });
  const print = el("button", { type: "button", id: "print" }, "Print this page");
  print.addEventListener("click", () => window.print());
  accessBox.append(el("p", { class: "actions" }, csv, " ", print));
  main.append(accessBox);

  // Records.
  const [versionBox, versionList] = section("versions", "Your records", "Each version a hospital or lab stored, newest first.");
  for (const v of data.versions) {
    const item = el("li", { class: v.erased ? "version erased" : "version" },
      el("span", { class: "sentence" }, `${institution(v.custodian)} stored version ${v.version} of ${kind(v.kind)} (record ${short(v.record)}).`),
      " ", blockLink(v.committed));
    if (v.supersedes) item.append(el("p", { class: "detail" }, `It ${v.supersedes.how === "corrects" ? "corrects" : v.supersedes.how === "amends" ? "amends" : v.supersedes.how} version ${v.supersedes.target.version}.`));
    if (v.superseded_by) item.append(el("p", { class: "detail" }, `Later ${HOW_WORDS[v.superseded_by.how] ?? v.superseded_by.how} by version ${v.superseded_by.target.version}.`));
    if (v.erased) item.append(el("p", { class: "tombstone" }, el("strong", {}, "Erased. "),
      `Account ${short(v.erased.by)} erased it on ${when(v.erased.time)} because ${ERASURE_WORDS[v.erased.reason] ?? v.erased.reason}. The record of its existence stays.`));
    versionList.append(item);
  }
  if (!data.versions.length) empty(versionList, "No records are stored for you.");
  main.append(versionBox);

  // Consents.
  const [consentBox, consentList] = section("consents", "Who you shared your records with", "Your consents and refusals, newest first.");
  const now = Date.now();
  for (const c of data.consents) {
    const state = c.revoked ? `Withdrawn on ${when(c.revoked.at.time)} by account ${short(c.revoked.by)}.`
      : c.valid_until <= now ? "Expired." : "In force.";
    consentList.append(el("li", { class: `consent ${c.decision}${c.revoked ? " revoked" : ""}` },
      el("strong", {}, `Consent #${c.receipt}: `), el("span", { class: "sentence" }, consentSentence(c)), " ",
      el("span", { class: "state" }, state), " ", blockLink(c.granted)));
  }
  if (!data.consents.length) empty(consentList, "You have not shared your records with anyone.");
  main.append(consentBox);

  // Control.
  const [controlBox, controlList] = section("control", "Who controls your identity", "Newest first.");
  for (const c of data.control) controlList.append(el("li", {}, el("span", { class: "sentence" }, controlSentence(c)), " ", blockLink(c.at)));
  if (!data.control.length) empty(controlList, "Nothing recorded.");
  main.append(controlBox);

  main.append(el("p", { class: "completeness" }, "This page proves that each access shown is in the log. It cannot yet prove that "
    + "no access is missing: the chain does not yet keep a count of accesses per patient."));

  // Proofs, checked here.
  const summaryLine = document.getElementById("proof-summary");
  let root;
  let source;
  try {
    if (about.roots.node) {
      root = await rootFromNode(about.roots.node, data.log.size);
      source = `the root read by your browser from the node ${about.roots.node}`;
    } else {
      root = fromHex(data.log.root);
      source = "the root this explorer read (the embedded chain has no node your browser could ask)";
    }
  } catch (error) {
    summaryLine.textContent = `The log's root could not be read: ${error.message}. The accesses are not checked.`;
    summaryLine.className = "failed";
    for (const { status } of rows) {
      status.classList.replace("pending", "failed");
      status.textContent = "Not checked: the log's root could not be read.";
    }
    document.body.dataset.checked = "unchecked";
    return;
  }
  let failed = 0;
  for (const { a, status } of rows) {
    const [ok, why] = await check(a, data.patient, root);
    status.classList.remove("pending");
    status.classList.add(ok ? "verified" : "failed");
    status.textContent = ok ? `✓ Checked in your browser against ${source}.` : `✗ Check failed: ${why}`;
    if (!ok) failed++;
  }
  summaryLine.textContent = failed
    ? `${failed} of ${rows.length} accesses failed the check in your browser.`
    : `All ${rows.length} accesses were checked in your browser against ${source}.`;
  summaryLine.className = failed ? "failed" : "verified";
  document.body.dataset.checked = failed ? "failed" : "verified";
}

async function showInstitution(id) {
  document.title = `Accesses by institution ${id} — Custodia`;
  const answer = await fetch(`/api/institutions/${encodeURIComponent(id)}`);
  const data = await answer.json();
  if (!answer.ok) {
    main.append(el("p", { role: "alert", class: "problem" }, data.error ?? "The explorer could not answer."));
    return;
  }
  const [box, list] = section("audit", `Accesses by ${institution(data.institution)}`,
    `${data.entries} accesses logged; ${data.break_glass.count} in an emergency without consent `
    + `(${(data.break_glass.rate * 100).toFixed(1)} %).`);
  for (const [purpose, count] of Object.entries(data.by_purpose)) list.append(el("li", {}, `${count} ${PURPOSE_WORDS[purpose] ?? purpose}`));
  main.append(box);
  const [glassBox, glassList] = section("audit-break-glass", "Emergency accesses", "Newest first.");
  for (const g of data.break_glass.entries) {
    glassList.append(el("li", { class: "access break-glass" }, `Account ${short(g.account)} accessed the records of patient ${short(g.patient)} `
      + `on ${when(g.accessed_at)} because ${BREAK_GLASS_WORDS[g.reason] ?? g.reason} (entry ${g.leaf}).`));
  }
  if (!data.break_glass.entries.length) empty(glassList, "None.");
  main.append(glassBox);
}

function showFinder() {
  const input = el("input", { id: "pseudonym", name: "pseudonym", type: "text", autocomplete: "off", spellcheck: "false",
    pattern: "0x[0-9a-fA-F]{64}", required: "", "aria-describedby": "pseudonym-help" });
  const form = el("form", { id: "find", "aria-labelledby": "find-title" },
    el("h2", { id: "find-title" }, "See your records' log"),
    el("label", { for: "pseudonym" }, "Your patient code"), input,
    el("p", { id: "pseudonym-help", class: "intro" }, "Your hospital gives you this code (it starts with 0x). It is not your name or number."),
    el("button", { type: "submit" }, "Show my log"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.assign(`/patient/${input.value.trim()}`);
  });
  main.append(form);
}

async function start() {
  about = await (await fetch("/api/about")).json();
  const [, page, id] = location.pathname.split("/");
  try {
    if (page === "patient" && id) await showPatient(id);
    else if (page === "institution" && id) await showInstitution(id);
    else showFinder();
  } catch (error) {
    main.append(el("p", { role: "alert", class: "problem" }, `Something went wrong: ${error.message}`));
  }
  document.body.dataset.ready = "true";
}

start();
