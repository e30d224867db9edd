// The patient explorer's page: one patient's history in sentences, every access's inclusion
// proof checked here (merkle.js) against a root this page reads from the node the patient
// names, or, on the embedded chain, the root the explorer read (labelled so). And an
// institution's accesses for auditors.

import { fromHex, toHex, leafHash, verifyInclusion, verifyConsistency, entryFromLeaf } from "./merkle.js";

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
// Purposes, for an auditor's page.
const PURPOSE_AUDIT_WORDS = {
  treatment: "for treatment", emergency_treatment: "for emergency treatment", payment: "for payment",
  operations: "for healthcare operations", research: "for research", public_health: "for public health",
  patient_request: "at the patient's request", legal: "for legal reasons",
};
// The same reasons, for an auditor's page (about a patient, not to them).
const BREAK_GLASS_AUDIT_WORDS = {
  life_threatening: "the patient's life was in danger",
  patient_incapacitated: "the patient could not give consent at the time",
  urgent_care: "the patient needed urgent care",
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
  custodian_changed: "ended because your records moved to another custodian",
  right_lapsed: "ended because whoever asked for it may no longer recover your identity",
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

// A record id for people: `#<institution>:<first 4 bytes of its digest>…` for an id in an
// institution's namespace (they all start with the mark "CsNs"), else as any other id.
function shortRecord(hex) {
  const mark = "0x43734e73";
  return hex.startsWith(mark) && hex.length === 66
    ? `#${parseInt(hex.slice(10, 18), 16)}:${hex.slice(18, 26)}…`
    : short(hex);
}

function institution(id) {
  const name = about.names.institutions[String(id)];
  return name ? `${name} (institution ${id})` : `institution ${id}`;
}

function kind(code) {
  return about.names.codes[code] ?? `a record of kind ${short(code)}`;
}

function record(target) {
  return `record ${shortRecord(target.record)}, version ${target.version}`;
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

/**
 * Asks the node the patient named, over JSON-RPC, for a contract query's answer (a dry run of
 * the message `selector` with `args` encoded after it): the message's own output bytes.
 */
async function queryNode(url, contract, selector, args) {
  const input = new Uint8Array([...fromHex(selector), ...args]);
  const call = new Uint8Array([
    ...new Uint8Array(32), ...fromHex(contract), ...new Uint8Array(16), 0, 0, ...compact(input.length), ...input,
  ]);
  const answer = await new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const timer = setTimeout(() => { socket.close(); reject(new Error("the node did not answer")); }, 10000);
    socket.onerror = () => { clearTimeout(timer); reject(new Error("cannot reach the node")); };
    socket.onopen = () => socket.send(JSON.stringify({ id: 1, jsonrpc: "2.0", method: "state_call", params: ["ContractsApi_call", toHex(call)] }));
    socket.onmessage = (message) => {
      clearTimeout(timer);
      socket.close();
      const reply = JSON.parse(message.data);
      if (reply.error) reject(new Error(reply.error.message)); else resolve(fromHex(reply.result));
    };
  });
  // ContractResult: two weights (compact pairs), a deposit (variant + u128), the debug
  // message, then Ok(ExecReturnValue { flags: u32, data }) whose data is ink!'s
  // MessageResult: Ok (0) and the message's own output.
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
  if (data[0] !== 0) throw new Error("the contract refused the query");
  return data.subarray(1);
}

/** Reads the access log's root for `size` from the node the patient named. */
async function rootFromNode(url, size) {
  const answer = await queryNode(url, about.contracts.access_log, about.selectors.root_at, u64(size));
  if (answer.length !== 33 || answer[0] !== 1) throw new Error(`the node has no root for ${size} entries`);
  return answer.subarray(1);
}

/** How many entries the log holds about `patient` (hex), and the newest's index, from the node. */
async function countFromNode(url, patient) {
  const answer = await queryNode(url, about.contracts.access_log, about.selectors.patient_accesses, fromHex(patient));
  if (answer.length === 1 && answer[0] === 0) return { count: 0n, newest: null };
  if (answer.length !== 17 || answer[0] !== 1) throw new Error("the node's count could not be read");
  return { count: le64(answer, 1), newest: le64(answer, 9) };
}

/** Whether the node says `alias` (hex) is joined to `patient` (hex) as an accepted alias. */
async function aliasFromNode(url, alias, patient) {
  const answer = await queryNode(url, about.contracts.directory, about.selectors.alias, fromHex(alias));
  return answer.length === 34 && answer[0] === 1 && toHex(answer.subarray(1, 33)) === patient && answer[33] === 1;
}

function le64(bytes, at) {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]);
  return v;
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
 * Checks one access: the entry the page shows was read from the proof's leaf itself; it must
 * be about the patient whose page this is (or an id joined to theirs, `ids`), appear once, and its leaf must be in the log of
 * `size` entries whose root is `root`. Returns whether it held, and why not.
 */
async function check(row, ids, size, root) {
  const { a, entry, duplicate } = row;
  if (!entry) return [false, "The entry could not be read from its proof."];
  if (!ids.has(entry.patient)) return [false, "The entry is about someone else."];
  if (duplicate) return [false, "The same entry is shown twice."];
  if (BigInt(a.proof.size) !== BigInt(size)) return [false, "The proof is for another size of the log."];
  const ok = await verifyInclusion(await leafHash(fromHex(a.proof.leaf)), a.leaf, a.proof.size, a.proof.path.map(fromHex), root);
  return ok ? [true, null] : [false, "The proof does not lead to the log's root."];
}

function consentSentence(c) {
  const who = institution(c.grantee) + (c.grantee_account ? ` (only account ${short(c.grantee_account)})` : "");
  const what = c.scope === "all_records" ? "all your records"
    : c.scope.record ? `record ${shortRecord(c.scope.record)}`
    : c.scope.version ? record(c.scope.version)
    : `your records of these kinds: ${c.scope.categories.map(kind).join(", ")}`;
  const why = c.purposes.map((p) => PURPOSE_WORDS[p] ?? p).join("; ");
  // Who gave it: the patient's own key, or (for a patient in custodial care) the custodian
  // acting for them; the account says which.
  const verb = c.decision === "permit" ? `${who} may see ${what}` : `${who} may not see ${what}`;
  return `${verb}, ${c.decision === "permit" ? "" : "even "}${why}, from ${when(c.valid_from)} until ${when(c.valid_until)}`
    + ` (given for you by account ${short(c.granted_by)}).`;
}

/** An access in words, from the entry read from its leaf. */
function accessSentence(entry) {
  const what = entry.target ? record(entry.target) : `a search of ${kind(entry.query)}`;
  const by = `${institution(entry.institution)}, account ${short(entry.account)}`;
  return `${by} looked at ${what} ${PURPOSE_WORDS[entry.purpose] ?? entry.purpose}, on ${when(entry.accessed_at)}.`;
}

/** A CSV field: quoted, and never read as a formula by a spreadsheet. */
function csvField(value) {
  const text = String(value ?? "");
  return `"${(/^[=+\-@\t\r]/.test(text) ? `'${text}` : text).replaceAll('"', '""')}"`;
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
    case "institution_linked":
      return `Your id was linked to ${institution(c.institution)}: its records of you are part of this history from now on (consents you gave before do not cover them).`;
    case "institution_unlinked":
      return `${institution(c.institution)} was unlinked from your id: it adds no new records to this history.`;
    case "custodian_changed":
      return `${institution(c.from)} handed you over to ${institution(c.to)}, which keeps your records from now on (account ${short(c.by)}).`;
    case "recovery_approved": return `A guardian approved the recovery (${c.approvals} of ${c.threshold}).`;
    case "recovery_ended": return `The recovery request ${RECOVERY_WORDS[c.outcome] ?? c.outcome}.`;
    case "alias": return aliasSentence(c);
    default: return "Your recovery settings changed.";
  }
}

/** An alias's change, told from the side of the page's id (`c.mine`: it is the id joined). */
function aliasSentence(c) {
  const other = short(c.mine ? c.alias : c.of);
  const words = c.mine
    ? { offered: `A hospital that registered you under a second id (${other}), when you could not give it yours, asked to join that id to yours.`,
        accepted: `The second id ${other} was joined to yours: what happened under it is part of this history from now on (consents you gave under one id do not cover the other's records).`,
        removed: `The second id ${other} is no longer joined to yours.` }
    : { offered: `This id was offered to be joined to the id ${other} (the same person).`,
        accepted: `This id was joined to the id ${other}: its history is shown there too.`,
        removed: `This id is no longer joined to the id ${other}.` };
  return `${words[c.change] ?? c.change} (account ${short(c.by)})`;
}

async function showPatient(id) {
  document.title = "Your health records log — Custodia";
  const wanted = id.toLowerCase();
  const answer = await fetch(`/api/patients/${encodeURIComponent(id)}`);
  const data = await answer.json();
  if (!answer.ok) {
    main.append(el("p", { role: "alert", class: "problem" }, data.error ?? "The explorer could not answer."));
    return;
  }
  if (String(data.patient).toLowerCase() !== wanted) {
    main.append(el("p", { role: "alert", class: "problem" }, "The explorer answered with another person's history: nothing is shown."));
    document.body.dataset.checked = "failed";
    return;
  }
  // Every access as its proof's leaf says, not as the server says.
  const seen = new Set();
  const rows = data.accesses.map((a) => {
    const duplicate = seen.has(a.leaf);
    seen.add(a.leaf);
    return { a, entry: a.proof ? entryFromLeaf(fromHex(a.proof.leaf)) : null, duplicate };
  });
  const readable = rows.filter((r) => r.entry);
  const glass = readable.filter((r) => r.entry.authorization.break_glass);
  const summary = el("section", { id: "summary", "aria-labelledby": "summary-title" },
    el("h2", { id: "summary-title" }, "In short"),
    el("p", {}, readable.length === 0 ? "Nobody has looked at your records."
      : `Your records were looked at ${readable.length} time${readable.length === 1 ? "" : "s"}`
        + (glass.length ? `, ${glass.length} of them in an emergency without your consent.` : ", each time with your consent.")),
    el("p", { id: "proof-summary", "aria-live": "polite" }, "Checking every access in your browser…"));
  main.append(summary);

  // Accesses, with filters.
  const [accessBox, accessList] = section("accesses", "Who looked at your records",
    "Newest logged first. Each one is read from the log's own entry and checked in your browser.");
  const purposes = [...new Set(readable.map((r) => r.entry.purpose))];
  const institutions = [...new Set(readable.map((r) => r.entry.institution))];
  const purposeFilter = el("select", { id: "filter-purpose" }, el("option", { value: "" }, "any reason"),
    ...purposes.map((p) => el("option", { value: p }, PURPOSE_WORDS[p] ?? p)));
  const whoFilter = el("select", { id: "filter-institution" }, el("option", { value: "" }, "anyone"),
    ...institutions.map((i) => el("option", { value: String(i) }, institution(i))));
  const glassOnly = el("input", { type: "checkbox", id: "filter-glass" });
  const shown = el("p", { id: "filter-status", "aria-live": "polite", class: "intro" }, "");
  const filters = el("form", { class: "filters", "aria-label": "Filter the accesses" },
    el("label", { for: "filter-institution" }, "Who: "), whoFilter,
    el("label", { for: "filter-purpose" }, "Why: "), purposeFilter,
    el("span", {}, glassOnly, el("label", { for: "filter-glass" }, " emergency access only")));
  accessBox.insertBefore(filters, accessList);
  accessBox.insertBefore(shown, accessList);
  for (const row of rows) {
    const { a, entry } = row;
    const glassReason = entry?.authorization.break_glass;
    const item = el("li", { class: glassReason ? "access break-glass" : "access", "data-leaf": String(a.leaf) });
    if (!entry) {
      item.append(el("span", { class: "sentence" }, `Entry ${a.leaf} of the log could not be read from its proof.`));
    } else {
      if (glassReason) item.append(el("strong", { class: "flag" }, `Emergency access without your consent: ${BREAK_GLASS_WORDS[glassReason] ?? glassReason}. `));
      item.append(el("span", { class: "sentence" }, accessSentence(entry)));
      item.append(el("span", { class: "detail" }, entry.authorization.consent !== undefined
        ? ` Allowed by your consent #${entry.authorization.consent}.` : " No consent was needed: the emergency rules applied."));
      item.append(el("span", { class: "detail" }, ` Logged ${when(entry.at)}, block ${a.logged.block}, entry ${a.leaf}.`));
    }
    row.status = el("span", { class: "proof pending" }, "Checking…");
    item.append(el("div", {}, row.status));
    row.item = item;
    accessList.append(item);
  }
  if (!rows.length) empty(accessList, "Nobody has looked at your records.");
  const applyFilters = () => {
    let count = 0;
    for (const { entry, item } of rows) {
      const show = !entry || ((!purposeFilter.value || entry.purpose === purposeFilter.value)
        && (!whoFilter.value || String(entry.institution) === whoFilter.value)
        && (!glassOnly.checked || entry.authorization.break_glass));
      item.hidden = !show;
      if (show) count++;
    }
    shown.textContent = `Showing ${count} of ${rows.length} accesses.`;
  };
  applyFilters();
  for (const control of [purposeFilter, whoFilter, glassOnly]) control.addEventListener("change", applyFilters);
  const csv = el("button", { type: "button", id: "download-csv" }, "Download the accesses (CSV)");
  csv.addEventListener("click", () => {
    const header = ["entry", "institution", "account", "purpose", "accessed_at", "record", "version", "consent", "emergency_reason", "logged_at"];
    const lines = [header.map(csvField).join(",")];
    for (const { a, entry } of readable) {
      lines.push([a.leaf, entry.institution, entry.account, entry.purpose, new Date(Number(entry.accessed_at)).toISOString(),
        entry.target?.record ?? entry.query, entry.target?.version ?? "", entry.authorization.consent ?? "",
        entry.authorization.break_glass ?? "", new Date(Number(entry.at)).toISOString()].map(csvField).join(","));
    }
    const href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
    el("a", { href, download: "accesses.csv" }).click();
    setTimeout(() => URL.revokeObjectURL(href), 10000);
  });
  const print = el("button", { type: "button", id: "print" }, "Print this page");
  print.addEventListener("click", () => window.print());
  const fhir = el("a", { id: "download-fhir", href: `/api/patients/${wanted}/audit-events`, download: "accesses.fhir.json" },
    "Download the accesses as FHIR AuditEvents");
  accessBox.append(el("p", { class: "actions" }, csv, " ", print, " ", fhir));
  main.append(accessBox);

  // Records.
  const [versionBox, versionList] = section("versions", "Your records", "Each version a hospital or lab stored, newest first.");
  for (const v of data.versions) {
    const item = el("li", { class: v.erased ? "version erased" : "version" },
      el("span", { class: "sentence" }, `${institution(v.custodian)} stored version ${v.version} of ${kind(v.kind)} (record ${shortRecord(v.record)}).`),
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
  const now = data.now;
  for (const c of data.consents) {
    const state = c.revoked ? `Withdrawn on ${when(c.revoked.at.time)} by account ${short(c.revoked.by)}.`
      : c.valid_until <= now ? "Expired." : "In force.";
    consentList.append(el("li", { class: `consent ${c.decision}${c.revoked ? " revoked" : ""}` },
      el("strong", {}, `Consent #${c.receipt}: `), el("span", { class: "sentence" }, consentSentence(c)), " ",
      el("span", { class: "state" }, state), " ", blockLink(c.granted)));
  }
  if (!data.consents.length) empty(consentList, "You have not shared your records with anyone.");
  main.append(consentBox);

  if (about.actions) showActions(data);

  // Control.
  const [controlBox, controlList] = section("control", "Who controls your identity", "Newest first.");
  for (const c of data.control) controlList.append(el("li", {}, el("span", { class: "sentence" }, controlSentence(c)), " ", blockLink(c.at)));
  if (!data.control.length) empty(controlList, "Nothing recorded.");
  main.append(controlBox);

  showSources();
  const completeness = el("p", { id: "completeness", class: "completeness", "aria-live": "polite" },
    "Checking that no access to your records is missing from this page…");
  document.getElementById("summary").append(completeness);

  // Proofs, checked here.
  const summaryLine = document.getElementById("proof-summary");
  let root;
  let source;
  const node = nodeUrl();
  try {
    if (node) {
      root = await rootFromNode(node, data.log.size);
      source = `the root read by your browser from the node ${node}`;
    } else {
      root = fromHex(data.log.root);
      source = "the root this explorer reported (the embedded chain has no node your browser could ask, so this is not an independent check)";
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
  // The ids whose entries belong on this page: the patient's, and those the explorer says are
  // joined to it as aliases (asked of the node where there is one).
  const ids = new Set([wanted]);
  const counted = [];
  let counts = "unchecked";
  try {
    for (const c of data.counted ?? []) {
      if (c.patient !== wanted && !(node ? await aliasFromNode(node, c.patient, wanted) : true)) {
        throw new Error(`the id ${short(c.patient)} is not joined to yours on the ledger`);
      }
      ids.add(c.patient);
      counted.push(node ? await countFromNode(node, c.patient)
        : { count: BigInt(c.count), newest: c.count ? BigInt(c.newest) : null });
    }
    counts = "read";
  } catch (error) {
    completeness.textContent = `Whether an access is missing could not be checked: ${error.message}.`;
    completeness.className = "completeness failed";
    document.body.dataset.complete = "unchecked";
  }
  let failed = 0;
  for (const row of rows) {
    const [ok, why] = await check(row, ids, data.log.size, root);
    row.status.classList.remove("pending");
    row.status.classList.add(ok ? (node ? "verified" : "server-root") : "failed");
    row.status.textContent = ok ? `✓ In the log: checked in your browser against ${source}.` : `✗ Check failed: ${why}`;
    if (!ok) failed++;
  }
  summaryLine.textContent = failed
    ? `${failed} of ${rows.length} accesses failed the check in your browser.`
    : `All ${rows.length} accesses were checked in your browser against ${source}.`;
  summaryLine.className = failed ? "failed" : node ? "verified" : "server-root";
  document.body.dataset.checked = failed ? "failed" : node ? "verified" : "server-root";
  if (counts === "read") checkComplete(completeness, counted, BigInt(rows.length - failed), BigInt(data.log.size), node);
}

/**
 * Completeness: the ledger counts the entries about each of the patient's ids; every one of
 * them older than the log the proofs were checked against must be on the page, checked.
 */
function checkComplete(line, counted, shown, size, node) {
  const total = counted.reduce((n, c) => n + c.count, 0n);
  const newest = counted.reduce((n, c) => (c.newest !== null && (n === null || c.newest > n) ? c.newest : n), null);
  const whose = node ? `the count your browser read from the node ${node}` : "the count this explorer reported (not an independent check)";
  let state;
  if (newest !== null && newest >= size) {
    state = "newer";
    line.textContent = `Your records were looked at again since this page was made: reload it to see every access (${whose}).`;
  } else if (shown === total) {
    state = "complete";
    line.textContent = `Nothing is missing: the ledger counts ${total} access${total === 1n ? "" : "es"} to your records, and every one is on this page, checked (${whose}).`;
  } else {
    state = "incomplete";
    line.textContent = `Something is missing: the ledger counts ${total} access${total === 1n ? "" : "es"} to your records, but this page shows ${shown} that passed the check (${whose}).`;
  }
  line.className = `completeness ${state === "incomplete" ? "failed" : state === "complete" ? (node ? "verified" : "server-root") : ""}`;
  document.body.dataset.complete = state;
}

/**
 * Acting with the patient's own key: it is made from the secret in this page (polkadot.js,
 * served by the explorer from the project's own bundle), signs here, and is sent nowhere; the
 * transaction goes from the browser to the node. This trusts the explorer that served the
 * page's code and the node the transaction goes to (the page says so). The chain decides who
 * may withdraw: the patient's controller any consent, the custodian's accounts a permit.
 */
function showActions(data) {
  const [box, list] = section("act", "Act with your own key",
    "If you hold your own key (you took control of your identity), you can share your records, refuse, withdraw, "
    + "accept control and stop a recovery here. Your key is used only in this browser and never sent; but the page's "
    + `code comes from this explorer and your transaction goes to ${nodeUrl()}: use a key here only if you trust both.`);
  // A text area outside any form, so that password managers do not offer to keep the phrase.
  const secret = el("textarea", { id: "patient-key", rows: "2", autocomplete: "off", autocapitalize: "off",
    autocorrect: "off", spellcheck: "false", "data-1p-ignore": "", "data-lpignore": "true", "aria-describedby": "key-help",
    class: "secret" });
  const use = el("button", { type: "button", id: "use-key" }, "Use my key");
  const status = el("p", { id: "key-status", "aria-live": "polite" }, "");
  const forget = () => { secret.value = ""; };
  window.addEventListener("pagehide", forget);
  box.insertBefore(el("label", { for: "patient-key" }, "Your key (your secret phrase)"), list);
  box.insertBefore(secret, list);
  box.insertBefore(el("p", { id: "key-help", class: "intro" }, "The twelve or more words you were given when you took control, or your key's secret."), list);
  box.insertBefore(use, list);
  box.insertBefore(status, list);
  list.hidden = true;
  use.addEventListener("click", async () => {
    try {
      const { Keyring, cryptoWaitReady } = await import("/vendor/polkadot.js");
      await cryptoWaitReady();
      const pair = new Keyring({ type: "sr25519" }).addFromUri(secret.value.trim());
      forget();
      status.className = "";
      status.textContent = `Signing as account ${pair.address}.`;
      list.replaceChildren(...actionsFor(data, pair, status));
      list.hidden = false;
      document.body.dataset.key = "ready";
    } catch (error) {
      forget();
      status.textContent = `That key could not be used: ${error.message}`;
      status.className = "failed";
    }
  });
  main.append(box);
}

/** The patient's pseudonym as bytes. */
function patientBytes(data) {
  return fromHex(data.patient);
}

/** What a patient can do with their key now, as list items with their buttons and forms. */
function actionsFor(data, pair, status) {
  const items = [];
  const buttons = [];
  const button = (id, label, call) => {
    const b = el("button", { type: "button", id }, label);
    b.addEventListener("click", () => sign(id, call, pair, buttons, status));
    buttons.push(b);
    return b;
  };
  // Control: an offer to this key to accept; a pending recovery to stop.
  const newest = (events) => data.control.find((c) => events.includes(c.event));
  const offer = newest(["offered", "changed"]);
  if (offer?.event === "offered") {
    items.push(el("li", {}, el("span", { class: "sentence" }, `Your custodian offered control of your identity to the key ${short(offer.to)}.`), " ",
      button("accept-control", "Accept control of my identity", () => ({
        contract: "directory", what: "accept control of your identity",
        data: [...fromHex(about.selectors.accept_control), ...patientBytes(data)],
        done: "You now control your identity.",
      }))));
  }
  const recovery = newest(["recovery_requested", "recovery_ended"]);
  if (recovery?.event === "recovery_requested") {
    items.push(el("li", {}, el("span", { class: "sentence" }, controlSentence(recovery)), " ",
      button("veto-recovery", "Stop this recovery (veto)", () => ({
        contract: "directory", what: "stop the recovery",
        data: [...fromHex(about.selectors.veto_recovery), ...patientBytes(data)],
        done: "The recovery is stopped: control stays with you.",
      }))));
  }
  // Consents in force, by the chain's time.
  const open = data.consents.filter((c) => !c.revoked && c.valid_from <= data.now && c.valid_until > data.now);
  for (const c of open) {
    const label = c.decision === "permit" ? `Withdraw consent #${c.receipt}` : `Withdraw refusal #${c.receipt} (this allows access again)`;
    items.push(el("li", {}, el("span", { class: "sentence" }, consentSentence(c)), " ",
      button(`withdraw-${c.receipt}`, label, () => ({
        contract: "consents", what: `withdraw #${c.receipt}`,
        data: [...fromHex(about.selectors.revoke), ...u64(c.receipt)],
        done: c.decision === "permit" ? `Consent #${c.receipt} is withdrawn: it allows nothing from now on.`
          : `Refusal #${c.receipt} is withdrawn.`,
      }))));
  }
  items.push(grantForm(data, button));
  return items;
}

/**
 * A form to share one's records (all, those of one kind, one record or one version) with an
 * institution, or refuse it, for purposes, for a time.
 */
function grantForm(data, button) {
  const institutionIds = Object.keys(about.names.institutions);
  const who = el("input", { id: "grant-institution", type: "number", min: "1", inputmode: "numeric", list: "grant-institutions" });
  const known = el("datalist", { id: "grant-institutions" },
    ...institutionIds.map((id) => el("option", { value: id }, institution(id))));
  const purposes = Object.keys(PURPOSE_WORDS).map((p, index) => {
    const box = el("input", { type: "checkbox", id: `grant-purpose-${p}`, value: String(index) });
    return el("span", { class: "choice" }, box, el("label", { for: `grant-purpose-${p}` }, ` ${PURPOSE_WORDS[p]}`));
  });
  const days = el("input", { id: "grant-days", type: "number", min: "1", value: "365", inputmode: "numeric" });
  // All records, the records of one kind, one record, or one version of it.
  const records = [...new Map(data.versions.map((v) => [v.record, v])).values()];
  const kinds = [...new Set(data.versions.map((v) => v.kind))];
  const which = el("select", { id: "grant-scope" }, el("option", { value: "all" }, "All your records"),
    ...kinds.map((code) => el("option", { value: `kind:${code}` }, `All your records of this kind: ${kind(code)}, from any hospital`)),
    ...records.map((v) => el("option", { value: `record:${v.record}` }, `Only ${kind(v.kind)} (record ${shortRecord(v.record)}), every version`)),
    ...data.versions.filter((v) => !v.erased).map((v) => el("option", { value: `version:${v.record}:${v.version}` },
      `Only version ${v.version} of ${kind(v.kind)} (record ${shortRecord(v.record)})`)));
  const refuse = el("input", { type: "checkbox", id: "grant-refuse" });
  const submit = button("grant-submit", "Record my decision", () => {
    const id = Number(who.value);
    const chosen = purposes.map((p) => p.querySelector("input")).filter((b) => b.checked).map((b) => Number(b.value));
    const length = Number(days.value);
    if (!Number.isInteger(id) || id < 1) throw new Error("say which institution, by its number");
    if (!chosen.length) throw new Error("choose at least one reason");
    if (!Number.isInteger(length) || length < 1) throw new Error("say for how many days");
    const bits = chosen.reduce((set, index) => set | (1 << index), 0);
    const from = BigInt(data.now);
    const until = from + BigInt(length) * 86400000n;
    // Terms { patient, grantee { institution, account: None }, scope, purposes, decision,
    // valid_from, valid_until }, as SCALE; the scope is Record(id) (0), Version { record,
    // version } (1), Categories([code]) (2, a list of one) or AllRecords (3).
    const [shape, hex, number] = which.value.split(":");
    const [scope, what] = {
      all: () => [[3], "your records"],
      kind: () => [[2, ...compact(1), ...fromHex(hex)], `your records of this kind: ${kind(hex)}`],
      record: () => [[0, ...fromHex(hex)], `record ${shortRecord(hex)}`],
      version: () => [[1, ...fromHex(hex), ...u32(Number(number))], `version ${number} of record ${shortRecord(hex)}`],
    }[shape]();
    const terms = [...patientBytes(data), ...u32(id), 0, ...scope, bits & 255, bits >> 8, refuse.checked ? 1 : 0, ...u64(from), ...u64(until)];
    return {
      contract: "consents", what: refuse.checked ? `refuse ${institution(id)} ${what}` : `share ${what} with ${institution(id)}`,
      data: [...fromHex(about.selectors.grant), ...terms],
      done: refuse.checked ? `${institution(id)} is refused ${what}.` : `${institution(id)} may now see ${what}, for what you chose.`,
    };
  });
  return el("li", { class: "grant" },
    el("fieldset", {}, el("legend", {}, "Share your records with an institution, or refuse it"),
      el("label", { for: "grant-institution" }, "Institution (its number): "), who, known,
      el("label", { for: "grant-scope" }, " Which records: "), which,
      el("fieldset", { class: "purposes" }, el("legend", {}, "For these reasons:"), ...purposes),
      el("label", { for: "grant-days" }, "For how many days: "), days,
      el("span", { class: "choice" }, refuse, el("label", { for: "grant-refuse" }, " Refuse instead (no access, even with other consents)")),
      el("p", {}, submit)));
}

function u32(n) {
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
}

/** Why the chain refuses a call, from a dry run's answer, in words (null if it does not). */
function refusal(api, dry, contract) {
  if (dry.result.isErr) {
    const error = dry.result.asErr;
    return error.isModule ? api.registry.findMetaError(error.asModule).name : error.toString();
  }
  const answer = dry.result.asOk;
  if ((answer.flags.toU8a()[0] & 1) === 0) return null;
  // ink!'s MessageResult, then the message's Result<_, Error>, then the error's variant.
  const bytes = answer.data.toU8a(true);
  if (bytes[0] !== 0) return "the contract could not read the call";
  if (bytes[1] === 1) return about.refusals[contract][String(bytes[2])] ?? `error ${bytes[2]}`;
  return "the contract reverted";
}

/** `weight` (refTime, proofSize) plus a tenth, as the Rust client's estimates allow. */
function withMargin(api, weight) {
  const more = (value) => (value.toBigInt() * 11n) / 10n;
  return api.registry.createType("WeightV2", { refTime: more(weight.refTime), proofSize: more(weight.proofSize) });
}

/**
 * Signs the call `makeCall` makes ({ contract, data, what, done }) with the patient's key,
 * here, after asking the chain (a refusal is named and nothing is sent), and sends it to the
 * node. The page's `data-action` says how the action `id` (its button) ended.
 */
async function sign(id, makeCall, pair, buttons, status) {
  let call;
  try {
    call = makeCall();
  } catch (error) {
    status.className = "failed";
    status.textContent = `Not sent: ${error.message}.`;
    document.body.dataset.action = `failed:${id}`;
    return;
  }
  for (const b of buttons) b.disabled = true;
  const contract = about.contracts[call.contract];
  status.className = "pending";
  status.textContent = `To ${call.what} (contract ${contract}): signing here, sending to ${nodeUrl()}…`;
  let provider;
  try {
    const { ApiPromise, WsProvider } = await import("/vendor/polkadot.js");
    provider = new WsProvider(nodeUrl(), false);
    await provider.connect();
    const api = await ApiPromise.create({ provider, noInitWarn: true, throwOnConnect: true });
    const data = toHex(new Uint8Array(call.data));
    // The chain's own answer first: a refusal comes back, named, without anything being sent.
    const dry = await api.call.contractsApi.call(pair.address, contract, 0, null, null, data);
    const refused = refusal(api, dry, call.contract);
    if (refused) throw new Error(`the chain refuses this key: ${refused}. Nothing was sent`);
    const deposit = dry.storageDeposit.isCharge ? (dry.storageDeposit.asCharge.toBigInt() * 11n) / 10n : 0n;
    const block = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the node did not include it within 2 minutes")), 120000);
      api.tx.contracts.call(contract, 0, withMargin(api, dry.gasRequired), deposit, data)
        .signAndSend(pair, (result) => {
          if (result.dispatchError) {
            clearTimeout(timer);
            const error = result.dispatchError;
            reject(new Error(error.isModule ? api.registry.findMetaError(error.asModule).name : error.toString()));
          } else if (result.isError) {
            clearTimeout(timer);
            reject(new Error(`the node dropped it (${result.status.type})`));
          } else if (result.status.isInBlock) {
            clearTimeout(timer);
            resolve(result.status.asInBlock.toHex());
          }
        })
        .catch((error) => { clearTimeout(timer); reject(error); });
    });
    status.className = "verified";
    status.textContent = `${call.done} (In block ${block.slice(0, 10)}…; this page shows it once the block is final.)`;
    document.body.dataset.action = `done:${id}`;
  } catch (error) {
    status.className = "failed";
    status.textContent = `Not done (${call.what}): ${error.message}.`;
    document.body.dataset.action = `failed:${id}`;
  } finally {
    for (const b of buttons) b.disabled = false;
    await provider?.disconnect().catch(() => {});
  }
}

/** The node the page reads roots from: the one the patient chose here, else the explorer's. */
function nodeUrl() {
  return localStorage.getItem("custodia-node") || about.roots.node || null;
}

/** Where the checks come from, and a way for the patient to name their own node. */
function showSources() {
  const input = el("input", { id: "node-url", type: "text", autocomplete: "off", spellcheck: "false", value: nodeUrl() ?? "",
    "aria-describedby": "node-help" });
  const save = el("button", { type: "submit", id: "node-save" }, "Use this node");
  const form = el("form", { id: "sources" },
    el("label", { for: "node-url" }, "The node your browser reads the log's root from"), input,
    el("p", { id: "node-help", class: "intro" }, `A node of the network you trust (ws:// or wss://). The access log is the contract ${about.contracts.access_log}.`),
    save);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const url = input.value.trim();
    if (url) localStorage.setItem("custodia-node", url); else localStorage.removeItem("custodia-node");
    location.reload();
  });
  main.append(el("details", { class: "sources" }, el("summary", {}, "Where the checks come from"), form));
}

async function showInstitution(id) {
  document.title = `Accesses by institution ${id} — Custodia`;
  document.querySelector("h1").textContent = "An institution's accesses, for auditors";
  const answer = await fetch(`/api/institutions/${encodeURIComponent(id)}`);
  const data = await answer.json();
  if (!answer.ok) {
    main.append(el("p", { role: "alert", class: "problem" }, data.error ?? "The explorer could not answer."));
    return;
  }
  const [box, list] = section("audit", `Accesses by ${institution(data.institution)}`,
    `${data.entries} accesses logged; ${data.break_glass.count} in an emergency without consent `
    + `(${(data.break_glass.rate * 100).toFixed(1)} %).`);
  for (const [purpose, count] of Object.entries(data.by_purpose)) list.append(el("li", {}, `${count} access${count === 1 ? "" : "es"} ${PURPOSE_AUDIT_WORDS[purpose] ?? purpose}`));
  main.append(box);
  const [glassBox, glassList] = section("audit-break-glass", "Emergency accesses", "Newest first.");
  for (const g of data.break_glass.entries) {
    glassList.append(el("li", { class: "access break-glass" }, `Account ${short(g.account)} accessed a patient's records `
      + `on ${when(g.accessed_at)} because ${BREAK_GLASS_AUDIT_WORDS[g.reason] ?? g.reason} (entry ${g.leaf}).`));
  }
  if (!data.break_glass.entries.length) empty(glassList, "None.");
  main.append(glassBox);
  const [endedBox, endedList] = section("audit-consent-ended", "Accesses whose consent has since ended",
    "Allowed when they happened; the consent was withdrawn or expired afterwards. Newest first.");
  for (const a of data.consent_since_ended) {
    const end = a.consent_ended.withdrawn ? `withdrawn on ${when(a.consent_ended.withdrawn.time)}` : `expired on ${when(a.consent_ended.expired)}`;
    endedList.append(el("li", { class: "access" }, `Account ${short(a.account)} accessed a patient's records on ${when(a.accessed_at)} `
      + `under consent #${a.receipt}, since ${end} (entry ${a.leaf}).`));
  }
  if (!data.consent_since_ended.length) empty(endedList, "None.");
  main.append(endedBox);
  await showConsistency();
}

/** The auditor's check that the log only grew between two recorded sizes, in the browser. */
async function showConsistency() {
  const log = await (await fetch("/api/log")).json();
  const [box] = section("consistency", "Check that the log only grew",
    "Pick two moments the log recorded; your browser checks that nothing logged by the first was changed or removed by the second.");
  box.querySelector("ol").remove();
  const sizes = log.recorded.map((r) => r.size);
  const option = (size) => el("option", { value: String(size) }, `${size} entries`);
  const older = el("select", { id: "consistency-old" }, ...[...sizes].reverse().map(option));
  const newer = el("select", { id: "consistency-new" }, ...sizes.map(option));
  const run = el("button", { type: "submit", id: "consistency-check" }, "Check");
  const result = el("p", { id: "consistency-result", role: "status" }, "");
  const form = el("form", { class: "filters", "aria-label": "Check that the log only grew" },
    el("label", { for: "consistency-old" }, "From: "), older, el("label", { for: "consistency-new" }, "To: "), newer, run);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.className = "pending";
    result.textContent = "Checking…";
    const [ok, text] = await checkConsistency(older.value, newer.value);
    result.className = ok ? "verified" : "failed";
    result.textContent = text;
    document.body.dataset.consistency = ok ? "verified" : "failed";
  });
  box.append(form, result);
  main.append(box);
}

async function checkConsistency(oldSize, newSize) {
  try {
    const answer = await fetch(`/api/consistency?old=${encodeURIComponent(oldSize)}&new=${encodeURIComponent(newSize)}`);
    const proof = await answer.json();
    if (!answer.ok) return [false, `✗ ${proof.error}`];
    let oldRoot;
    let newRoot;
    let source;
    const node = nodeUrl();
    if (node) {
      oldRoot = await rootFromNode(node, oldSize);
      newRoot = await rootFromNode(node, newSize);
      source = `roots read by your browser from the node ${node}`;
    } else {
      oldRoot = fromHex(proof.old.root);
      newRoot = fromHex(proof.new.root);
      source = "the roots this explorer reported (the embedded chain has no node your browser could ask, so this is not an independent check)";
    }
    const ok = await verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof.proof.map(fromHex));
    return ok
      ? [true, `✓ The log only grew from ${oldSize} to ${newSize} entries: checked in your browser against ${source}.`]
      : [false, `✗ The log of ${newSize} entries does not extend the log of ${oldSize}: the check failed.`];
  } catch (error) {
    return [false, `✗ Not checked: ${error.message}`];
  }
}

function showFinder() {
  const input = el("input", { id: "pseudonym", name: "pseudonym", type: "text", autocomplete: "off", spellcheck: "false",
    pattern: "0x[0-9a-fA-F]{64}", required: "", "aria-describedby": "pseudonym-help",
    title: "0x followed by 64 letters and digits (0 to 9, a to f)" });
  const form = el("form", { id: "find", "aria-labelledby": "find-title" },
    el("h2", { id: "find-title" }, "See your records' log"),
    el("label", { for: "pseudonym" }, "Your patient code"), input,
    el("p", { id: "pseudonym-help", class: "intro" }, "Your hospital gives you this code: 0x followed by 64 letters and digits (0 to 9, a to f). It is not your name or number."),
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
