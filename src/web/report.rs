//! The printable QC batch report behind `idcheck qc report`: one self-contained HTML file (inline
//! CSS with a print stylesheet, photos as `data:` URIs, no script, nothing loaded from elsewhere)
//! with the batch's counts per status and cause, the list of its cards and, per invalid card, the
//! three columns side by side (acceptance record, printed card, chip) with the marked rows — the
//! same marking rule as the page (`super::finding_marks`); and a CSV of the batch's cards.
//! The input is the API's types (`daemon::wire`: the batch and the views the daemon serves).
//! Everything shown that comes from them (names and addresses come from records) is HTML-escaped;
//! CSV cells are quoted and guarded against spreadsheet formulas. Empty or missing values show as
//! "—"; nothing panics.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use base64::Engine as _;

use super::{cause_title, chip_unauthenticated_in, marks_of_finding, row_key, Column};
use crate::wire::{carry_by_name, Batch, BatchItem, VerificationView};
use idcheck_core::qc::Carry;
use idcheck_core::spreadsheet::{self, LineEnd};
use idcheck_core::verdict::{Cause, Finding, NotChecked, Status};

/// One card of the report: its view (`GET /v1/verifications/{id}/view`) and the PNG bytes of its
/// photos, keyed by the same URL the view names in `photos`.
pub struct ReportCard {
    pub view: VerificationView,
    pub images: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for ReportCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportCard")
            .field("id", &self.view.id)
            .field("view", &"REDACTED")
            .field("images", &format_args!("{} REDACTED", self.images.len()))
            .finish()
    }
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A value as display text: as it is, empty or missing as "—".
fn text(v: Option<impl AsRef<str>>) -> String {
    match v.as_ref().map(AsRef::as_ref) {
        None | Some("") => "—".to_string(),
        Some(s) => s.to_string(),
    }
}

fn esc(v: Option<impl AsRef<str>>) -> String {
    escape(&text(v))
}

/// A number (an id) as display text, missing as "—".
fn num(v: Option<i64>) -> String {
    v.map_or_else(|| "—".to_string(), |n| n.to_string())
}

/// Scores as the page prints them: three decimals, or two significant digits in exponent form
/// for very small or large values.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "—".to_string();
    }
    let a = x.abs();
    if a != 0.0 && !(0.001..100_000.0).contains(&a) {
        return format!("{x:.2e}");
    }
    let r = (x * 1000.0).round() / 1000.0;
    format!("{r}")
}

const STYLE: &str = r#"
:root { --c1:#b34700; --c1b:#fff0e0; --c2:#6a1fa0; --c2b:#f4e9fb; --c3:#0b4f94; --c3b:#e6f0fb; --c4:#8a1010; --c4b:#fbe4e4; }
* { box-sizing: border-box; }
body { font-family: "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "DejaVu Sans", Arial, sans-serif;
       color: #111; background: #fff; margin: 1.5rem; font-size: 15px; line-height: 1.4; }
h1 { font-size: 1.7rem; margin: 0 0 0.3rem; } h2 { font-size: 1.3rem; margin: 1.5rem 0 0.5rem; } h3 { font-size: 1.15rem; margin: 0 0 0.4rem; }
.muted { color: #555; }
table { border-collapse: collapse; }
th, td { border: 1px solid #aaa; padding: 0.3rem 0.55rem; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
thead th { background: #eef1f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.counts td.num { font-size: 1.3rem; font-weight: bold; }
.badge { display: inline-block; font-weight: bold; font-size: 0.85rem; padding: 0 0.35rem; border: 2px solid currentColor; border-radius: 4px; white-space: nowrap; margin: 0.1rem 0.2rem 0.1rem 0; }
.badge.cause-1 { color: var(--c1); } .badge.cause-2 { color: var(--c2); border-style: double; border-width: 3px; }
.badge.cause-3 { color: var(--c3); border-style: dashed; } .badge.cause-4 { color: var(--c4); border-style: dotted; }
.badge.nc { color: #555; border-style: dashed; font-weight: normal; } .badge.borderline { color: #7a5a00; background: #fff4cc; }
.badge.unauth { color: #8a1c1c; border-style: dashed; font-weight: normal; white-space: normal; }
.st-pass { color: #0b6b2e; font-weight: bold; } .st-invalid { color: #a0001c; font-weight: bold; } .st-unavailable { color: #6b4e00; font-weight: bold; }
.card { border: 2px solid #888; border-radius: 6px; padding: 0.8rem; margin: 1rem 0; break-inside: avoid-page; }
.card .status { font-size: 1.2rem; margin: 0.2rem 0; }
.card ol { margin: 0.3rem 0 0.6rem; padding-left: 1.4rem; }
.card li { margin: 0.15rem 0; }
.grid { width: 100%; table-layout: fixed; }
.grid col.label { width: 15%; }
.grid td.value { font-size: 1.05rem; }
.grid img { display: block; width: 100%; max-width: 160px; height: auto; border: 1px solid #aaa; }
.grid [data-cause] { outline: 3px solid var(--c1); outline-offset: -3px; background: var(--c1b); }
.grid [data-cause].cause-2 { outline-color: var(--c2); background: var(--c2b); }
.grid [data-cause].cause-3 { outline-color: var(--c3); background: var(--c3b); }
.grid [data-cause].cause-4 { outline-color: var(--c4); background: var(--c4b); }
.grid [data-not-checked] { background: #f3f3f3; color: #555; }
.grid .score { display: block; font-size: 0.8rem; color: #333; }
.grid .marks { margin-top: 0.2rem; }
footer { margin-top: 2rem; font-size: 0.85rem; color: #555; }
@media print {
  body { margin: 0; font-size: 10pt; }
  .card { break-inside: avoid; page-break-inside: avoid; }
  .grid [data-cause] { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .badge, .counts, thead th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-after: avoid; }
  @page { size: A4; margin: 12mm; }
}
"#;

fn status_words(status: &str) -> (&'static str, &'static str) {
    match status {
        "pass" => ("✔ 合格 PASS", "st-pass"),
        "invalid" => ("✖ 无效 INVALID", "st-invalid"),
        _ => ("⚠ 暂停服务 UNAVAILABLE", "st-unavailable"),
    }
}

fn badge(cause: u8, extra: &str) -> String {
    format!("<span class=\"badge cause-{cause}\">⚑ cause {cause}{}</span>", escape(extra))
}

fn score_text(f: &Finding) -> String {
    let mut s = String::new();
    if let Some(score) = f.score {
        let _ = write!(s, " · score {}", fmt_num(score));
        if let Some(t) = f.threshold {
            let _ = write!(s, " · threshold {}", fmt_num(t));
        }
    }
    s
}

/// The batch report as one self-contained, printable HTML document. `cards` are the views of
/// the batch's cards (any subset); only invalid ones get a detail section, in the order of the
/// batch's items (cards the batch does not list come last).
pub fn batch_report_html(batch: &Batch, cards: &[ReportCard]) -> String {
    let name = if batch.name.is_empty() { batch.id.to_string() } else { batch.name.clone() };
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>QC batch report · {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&name)
    );
    let _ = write!(
        h,
        "<header>\n<h1>QC batch report · <span lang=\"zh-Hans\">{}</span></h1>\n\
         <p class=\"muted\">batch {} · created {} · the verdicts are those stored by the station; this report only shows them</p>\n</header>\n",
        escape(&name),
        batch.id,
        esc(Some(&batch.created_at)),
    );

    // counts
    let c = &batch.counts;
    h.push_str("<section>\n<h2>Counts</h2>\n<table class=\"counts\">\n<tbody>\n");
    let mut rows = vec![
        ("total", "cards".to_string(), c.total),
        ("pass", "pass 合格".to_string(), c.pass),
        ("invalid", "invalid 无效".to_string(), c.invalid),
        ("unavailable", "unavailable 暂停服务 (not judged)".to_string(), c.unavailable),
    ];
    for (key, cause) in [("cause1", Cause::AcceptanceVsSurface), ("cause2", Cause::SurfaceVsChip), ("cause3", Cause::ChipUnreadable), ("cause4", Cause::AcceptanceIncorrect)] {
        rows.push((key, format!("cause {} · {}", cause.number(), cause_title(cause.number())), c.cause(cause)));
    }
    for (key, label, n) in rows {
        let _ = writeln!(h, "<tr data-count=\"{key}\"><th scope=\"row\">{}</th><td class=\"num\">{n}</td></tr>", escape(&label));
    }
    h.push_str("</tbody>\n</table>\n<p class=\"muted\">A card may have several causes: the cause counts may add up to more than the invalid cards.</p>\n</section>\n");

    // all items
    let items = &batch.items;
    let _ = writeln!(h, "<section>\n<h2>Cards ({})</h2>", items.len());
    if items.is_empty() {
        h.push_str("<p>No card in this batch.</p>\n");
    } else {
        h.push_str(
            "<table class=\"items\">\n<thead><tr><th>#</th><th>scan</th><th>record</th><th>verification</th><th>status</th><th>causes</th><th>whose data the card carries</th></tr></thead>\n<tbody>\n",
        );
        for (i, it) in items.iter().enumerate() {
            let status = it.status.as_str();
            let (_, cls) = status_words(status);
            let causes: String = it.causes.iter().map(|c| badge(c.number(), "")).collect();
            let _ = writeln!(
                h,
                "<tr data-scan=\"{}\"><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{cls}\">{}</td><td>{causes}</td><td>{}</td></tr>",
                esc(Some(&it.scan_id)),
                i + 1,
                esc(Some(&it.scan_id)),
                esc(it.record_id.as_deref()),
                num(it.verification_id),
                escape(status),
                escape(&carries_text(&it.carries)),
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str("</section>\n");

    // invalid cards in detail, in the batch's order
    let invalid = |c: &&ReportCard| c.view.verdict.as_ref().is_some_and(|v| v.status == Status::Invalid);
    let mut ordered: Vec<(Option<&BatchItem>, &ReportCard)> = Vec::new();
    let mut used = vec![false; cards.len()];
    for it in items {
        for (k, c) in cards.iter().enumerate() {
            if !used[k] && it.verification_id == Some(c.view.id) {
                used[k] = true;
                if invalid(&c) {
                    ordered.push((Some(it), c));
                }
                break;
            }
        }
    }
    for (k, c) in cards.iter().enumerate() {
        if !used[k] && invalid(&c) {
            ordered.push((None, c));
        }
    }
    let n_invalid_items = items.iter().filter(|it| it.status == idcheck_store::ItemStatus::Invalid).count().max(ordered.len());
    let _ = writeln!(h, "<section>\n<h2>Invalid cards ({n_invalid_items})</h2>");
    if ordered.len() < n_invalid_items {
        let _ = writeln!(
            h,
            "<p class=\"muted\">{} invalid card(s) of the batch have no stored detail here (see the table above).</p>",
            n_invalid_items - ordered.len()
        );
    }
    for (i, (item, card)) in ordered.iter().enumerate() {
        card_html(&mut h, i + 1, *item, card);
    }
    h.push_str("</section>\n<footer>Generated by idcheck. Columns: A = acceptance record, S = printed card (cropped from the QC scan), C = chip. A marked cell names the cause, and the score and threshold where a comparison made the finding.</footer>\n</body>\n</html>\n");
    h
}

fn carries_text(cs: &[Carry]) -> String {
    if cs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> =
        cs.iter().map(|c| format!("record {} (by {}, score {})", text(Some(&c.record_id)), carry_by_name(c.by), fmt_num(c.score))).collect();
    format!("carries the data of {}", parts.join(", "))
}

/// The data: URI of a photo, when the card has PNG bytes for the URL the view names.
fn image_uri(card: &ReportCard, url: Option<&str>) -> Option<String> {
    let url = url?;
    let (_, bytes) = card.images.iter().find(|(u, _)| u == url)?;
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return None;
    }
    Some(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

fn card_html(h: &mut String, n: usize, item: Option<&BatchItem>, card: &ReportCard) {
    let view = &card.view;
    let verdict = view.verdict.as_ref();
    let status = verdict.map_or("", |v| v.status.as_str());
    let (words, cls) = status_words(status);
    let causes: Vec<u8> = verdict.map(|v| v.causes.iter().map(|c| c.number()).collect()).unwrap_or_default();
    let scan = view.scan_id.as_deref().or(item.map(|i| i.scan_id.as_str()));
    let _ = writeln!(
        h,
        "<article class=\"card\" data-verification=\"{}\">\n<h3>{n}. scan {} · record {} · verification {}</h3>",
        view.id,
        esc(scan),
        esc(view.record_id.as_deref()),
        view.id,
    );
    let causes_txt = if causes.is_empty() {
        String::new()
    } else {
        format!(" — cause {}", causes.iter().map(u8::to_string).collect::<Vec<_>>().join(", "))
    };
    let _ = writeln!(h, "<p class=\"status {cls}\">{words}{}</p>", escape(&causes_txt));
    for c in &causes {
        let _ = writeln!(h, "<div>{} {}</div>", badge(*c, ""), escape(cause_title(*c)));
    }
    // whose data the card carries: the batch item's search result, else the view's own
    let carries = item
        .map(|i| carries_text(&i.carries))
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| carries_text(view.carries.as_deref().unwrap_or_default()));
    if !carries.is_empty() {
        let _ = writeln!(h, "<p><strong>{}</strong></p>", escape(&carries));
    }
    if let Some(a) = verdict.map(|v| v.advice.as_str()) {
        let _ = writeln!(h, "<p>{}</p>", escape(a));
    }
    let _ = writeln!(h, "<p class=\"muted\">reader {} · finished {}</p>", esc(view.reader.as_deref()), esc(Some(&view.finished_at)));

    // findings
    let findings: &[Finding] = verdict.map_or(&[], |v| v.findings.as_slice());
    if !findings.is_empty() {
        h.push_str("<ol class=\"findings\">\n");
        for f in findings {
            let _ = write!(h, "<li>{} <strong>{}</strong> ({})", badge(f.cause.number(), ""), esc(Some(&f.item)), f.sources);
            if f.expected.is_some() || f.actual.is_some() {
                let _ = write!(
                    h,
                    " · expected <strong lang=\"zh-Hans\">{}</strong> · actual <strong lang=\"zh-Hans\">{}</strong>",
                    esc(f.expected.as_ref().map(|t| t.as_str())),
                    esc(f.actual.as_ref().map(|t| t.as_str()))
                );
            }
            let st = score_text(f);
            if !st.is_empty() {
                let _ = write!(h, "{}", escape(&st));
            }
            if f.borderline {
                h.push_str(" <span class=\"badge borderline\">borderline: look</span>");
            }
            if f.chip_unauthenticated {
                h.push_str(" <span class=\"badge unauth\">chip not authenticated</span>");
            }
            let _ = writeln!(h, "<br><span class=\"muted\">{}</span></li>", esc(Some(&f.detail)));
        }
        h.push_str("</ol>\n");
    }

    // marks and not-checked cells
    let mut marks: BTreeMap<(String, Column), Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        for m in marks_of_finding(f) {
            marks.entry((m.item, m.col)).or_default().push(f);
        }
    }
    let not_checked: &[NotChecked] = verdict.map_or(&[], |v| v.not_checked.as_slice());
    let mut whole_nc: BTreeMap<Column, Vec<&NotChecked>> = BTreeMap::new();
    let mut cell_nc: BTreeMap<(String, Column), Vec<&NotChecked>> = BTreeMap::new();
    for n in not_checked {
        match Column::ALL.into_iter().find(|c| c.name() == n.item) {
            Some(col) => whole_nc.entry(col).or_default().push(n),
            None => {
                for col in super::columns(&n.sources.to_string()) {
                    cell_nc.entry((row_key(&n.item), col)).or_default().push(n);
                }
            }
        }
    }
    let cell = |item: &str, col: Column, class: &str, content: String| -> String {
        let mut attrs = format!(" data-item=\"{}\" data-col=\"{}\"", escape(item), col.name());
        let mut classes = class.to_string();
        let mut extra = String::new();
        if let Some(fs) = marks.get(&(item.to_string(), col)) {
            let set: BTreeSet<u8> = fs.iter().map(|f| f.cause.number()).collect();
            let list: Vec<String> = set.iter().map(u8::to_string).collect();
            let _ = write!(attrs, " data-cause=\"{}\"", list.join(" "));
            if let Some(first) = set.iter().next() {
                let _ = write!(classes, " cause-{first}");
            }
            for f in fs {
                extra.push_str(&badge(f.cause.number(), &score_text(f)));
            }
        }
        if let Some(ns) = cell_nc.get(&(item.to_string(), col)) {
            let srcs: Vec<String> = ns.iter().map(|n| n.sources.to_string()).collect();
            let _ = write!(attrs, " data-not-checked=\"{}\"", escape(&srcs.join(" ")));
            for n in ns {
                let _ = write!(extra, "<span class=\"badge nc\">not checked: {}</span>", esc(Some(&n.reason)));
            }
        }
        let tag = if class == "head" { "th" } else { "td" };
        if !extra.is_empty() {
            extra = format!("<div class=\"marks\">{extra}</div>");
        }
        format!("<{tag} class=\"{}\"{attrs}>{content}{extra}</{tag}>", classes.trim())
    };

    h.push_str("<table class=\"grid\">\n<colgroup><col class=\"label\"><col><col><col></colgroup>\n<thead><tr><th>item</th>");
    for col in Column::ALL {
        let mut title = escape(col.title());
        if let Some(ns) = whole_nc.get(&col) {
            for n in ns {
                let _ = write!(title, " <span class=\"badge nc\">not checked: {}</span>", esc(Some(&n.reason)));
            }
        }
        if col == Column::Chip {
            if verdict.is_some_and(chip_unauthenticated_in) {
                let _ = write!(title, " <span class=\"badge unauth\" data-unauthenticated=\"\">{}</span>", escape(super::CHIP_UNAUTHENTICATED));
            }
            h.push_str(&cell("chip", col, "head", title));
        } else {
            let _ = write!(h, "<th data-col-head=\"{}\">{title}</th>", col.name());
        }
    }
    h.push_str("</tr></thead>\n<tbody>\n");

    let mut seen: BTreeSet<String> = BTreeSet::from(["chip".to_string()]);
    // photos
    h.push_str("<tr><th>照片 photo</th>");
    for col in Column::ALL {
        let url = view.photos.url(col.name());
        let content = match image_uri(card, url) {
            Some(uri) => format!("<img src=\"{}\" alt=\"{} photo\">", escape(&uri), col.name()),
            None if url.is_some() => "<span class=\"muted\">photo not available</span>".to_string(),
            None => "<span class=\"muted\">no photo</span>".to_string(),
        };
        h.push_str(&cell("photo", col, "photo", content));
    }
    h.push_str("</tr>\n");
    seen.insert("photo".into());

    // text rows
    for r in &view.rows {
        let item = r.item.as_str();
        seen.insert(item.to_string());
        let label = if r.label.is_empty() { item } else { r.label.as_str() };
        let _ = write!(h, "<tr><th lang=\"zh-Hans\">{}</th>", escape(label));
        for col in Column::ALL {
            h.push_str(&cell(item, col, "value", format!("<span lang=\"zh-Hans\">{}</span>", esc(r.value(col.name())))));
        }
        h.push_str("</tr>\n");
    }
    // items named by findings with no row of their own
    let extra_rows: BTreeSet<String> = marks
        .keys()
        .map(|(i, _)| i.clone())
        .filter(|i| !seen.contains(i) && !i.starts_with("fingerprint"))
        .collect();
    for item in extra_rows {
        let _ = write!(h, "<tr><th>{}</th>", escape(&item));
        for col in Column::ALL {
            h.push_str(&cell(&item, col, "value", "—".into()));
        }
        h.push_str("</tr>\n");
    }
    // fingerprints
    let fingers = &view.fingers;
    h.push_str("<tr><th>指纹 fingerprints</th>");
    for col in Column::ALL {
        let content = if col == Column::Surface {
            "<span class=\"muted\">not printed on the card</span>".to_string()
        } else {
            let n = fingers.iter().filter(|f| f.side(col.name()).is_some()).count();
            format!("{n} finger{}", if n == 1 { "" } else { "s" })
        };
        h.push_str(&cell("fingerprints", col, "value", content));
    }
    h.push_str("</tr>\n");
    let mut positions: BTreeSet<u64> = fingers.iter().map(|f| f.position).collect();
    for (item, _) in marks.keys() {
        if let Some(p) = item.strip_prefix("fingerprint[").and_then(|r| r.strip_suffix(']')).and_then(|p| p.parse().ok()) {
            positions.insert(p);
        }
    }
    for p in positions {
        let fp = fingers.iter().find(|f| f.position == p);
        let item = format!("fingerprint[{p}]");
        let _ = write!(h, "<tr><th>指纹 {p} fingerprint {p}</th>");
        for col in Column::ALL {
            let mut content = String::new();
            match (col, fp.and_then(|f| f.side(col.name()))) {
                (Column::Surface, _) | (_, None) => content.push('—'),
                (_, Some(f)) => {
                    content.push_str(&esc(Some(&f.finger)));
                    if let Some(q) = f.quality {
                        let _ = write!(content, " · quality {}", fmt_num(f64::from(q)));
                    }
                }
            }
            if col == Column::Chip {
                if let Some(s) = fp.and_then(|f| f.score) {
                    let _ = write!(content, "<span class=\"score\">A~C score {}", fmt_num(s));
                    if let Some(t) = fp.and_then(|f| f.threshold) {
                        let _ = write!(content, " · threshold {}", fmt_num(t));
                    }
                    content.push_str("</span>");
                }
            }
            h.push_str(&cell(&item, col, "value", content));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");

    if !not_checked.is_empty() {
        h.push_str("<p class=\"muted\">Not checked: ");
        let parts: Vec<String> = not_checked.iter().map(|n| format!("{} ({}): {}", esc(Some(&n.item)), n.sources, esc(Some(&n.reason)))).collect();
        h.push_str(&parts.join("; "));
        h.push_str("</p>\n");
    }
    h.push_str("</article>\n");
}

/// The batch's cards as CSV (RFC 4180, CRLF line ends): one header line, then one line per card
/// in the batch's order: `batch,batch_name,n,scan_id,record_id,verification_id,status,causes,carries`
/// (`causes` space-separated; `carries` as `record_id by score` entries separated by `; `).
/// Written through `spreadsheet` (the `csv` crate and its formula guard).
pub fn batch_report_csv(batch: &Batch) -> String {
    const HEADER: [&str; 9] = ["batch", "batch_name", "n", "scan_id", "record_id", "verification_id", "status", "causes", "carries"];
    let mut out: Vec<u8> = spreadsheet::row(&HEADER, LineEnd::CrLf).unwrap_or_default();
    for (i, it) in batch.items.iter().enumerate() {
        let causes: Vec<String> = it.causes.iter().map(ToString::to_string).collect();
        let carries: Vec<String> = it.carries.iter().map(|c| format!("{} by {} {}", c.record_id, carry_by_name(c.by), fmt_num(c.score))).collect();
        let cells = [
            batch.id.to_string(),
            batch.name.clone(),
            (i + 1).to_string(),
            it.scan_id.clone(),
            it.record_id.clone().unwrap_or_default(),
            it.verification_id.map(|v| v.to_string()).unwrap_or_default(),
            it.status.as_str().to_string(),
            causes.join(" "),
            carries.join("; "),
        ];
        // Writing into memory fails only on a bug of the csv crate; such a row is left out.
        out.extend(spreadsheet::row(&cells, LineEnd::CrLf).unwrap_or_default());
    }
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ViewRow;
    use idcheck_core::verdict::Verdict;
    use serde_json::{json, Value};

    fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/testdata").join(name);
        serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("fixture json")
    }

    /// A tiny valid PNG of one colour.
    fn png(rgb: [u8; 3]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, 4, 5);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header().expect("png header");
            let data: Vec<u8> = (0..20).flat_map(|_| rgb).collect();
            w.write_image_data(&data).expect("png data");
        }
        out
    }

    fn cards() -> Vec<ReportCard> {
        let views: Vec<VerificationView> = fixture("views.json");
        views
            .into_iter()
            .map(|v| {
                let mut images = Vec::new();
                for col in ["acceptance", "surface", "chip"] {
                    if let Some(u) = v.photos.url(col) {
                        images.push((u.to_string(), png([10, 20, 30])));
                    }
                }
                ReportCard { view: v, images }
            })
            .collect()
    }

    fn verdict(c: &ReportCard) -> &Verdict {
        c.view.verdict.as_ref().expect("the fixture's views have verdicts")
    }

    /// (data-item, data-col, data-cause) of every marked cell in the HTML.
    fn marked_cells(html: &str) -> BTreeSet<(String, String, String)> {
        let mut out = BTreeSet::new();
        for part in html.split('<').skip(1) {
            let tag_end = part.find('>').unwrap_or(part.len());
            let tag = &part[..tag_end];
            let attr = |name: &str| {
                let key = format!(" {name}=\"");
                tag.find(&key).map(|i| {
                    let rest = &tag[i + key.len()..];
                    rest[..rest.find('"').unwrap_or(rest.len())].to_string()
                })
            };
            if let (Some(i), Some(c), Some(k)) = (attr("data-item"), attr("data-col"), attr("data-cause")) {
                out.insert((i, c, k));
            }
        }
        out
    }

    #[test]
    fn html_has_the_counts_every_card_and_the_invalid_cards_in_detail() {
        let batch: Batch = fixture("batch.json");
        let html = batch_report_html(&batch, &cards());
        for (k, n) in [("total", 4), ("pass", 1), ("invalid", 3), ("unavailable", 0), ("cause1", 1), ("cause2", 1), ("cause3", 1), ("cause4", 1)] {
            let row_start = html.find(&format!("data-count=\"{k}\"")).expect("count row");
            let row = &html[row_start..row_start + html[row_start..].find("</tr>").expect("row end")];
            assert!(row.ends_with(&format!("<td class=\"num\">{n}</td>")), "{k}: {row}");
        }
        // every card in the table, invalid ones in detail (the pass card has no detail section)
        assert_eq!(html.matches("<tr data-scan=").count(), 4);
        assert_eq!(html.matches("<article class=\"card\"").count(), 3);
        assert!(!html.contains("data-verification=\"101\""), "the pass card has no detail section");
        // the order of the batch's items
        let p102 = html.find("data-verification=\"102\"").expect("102");
        let p104 = html.find("data-verification=\"104\"").expect("104");
        let p103 = html.find("data-verification=\"103\"").expect("103");
        assert!(p102 < p103 && p103 < p104, "batch order");
        assert!(html.contains("carries the data of record 110101199003071234 (by photo, score 0.041)"));
    }

    #[test]
    fn html_marks_exactly_the_cells_the_findings_name() {
        let batch: Batch = fixture("batch.json");
        let cs = cards();
        let html = batch_report_html(&batch, &cs);
        let mut want = BTreeSet::new();
        for c in &cs {
            if verdict(c).status != Status::Invalid {
                continue;
            }
            let mut per: BTreeMap<(String, &str), BTreeSet<u8>> = BTreeMap::new();
            for m in super::super::marks_of_verdict(verdict(c)) {
                per.entry((m.item, m.col.name())).or_default().insert(m.cause);
            }
            for ((item, col), causes) in per {
                let cs: Vec<String> = causes.iter().map(u8::to_string).collect();
                want.insert((item, col.to_string(), cs.join(" ")));
            }
        }
        assert!(!want.is_empty());
        assert_eq!(marked_cells(&html), want);
        // hard expectations, independent of the marking function
        let got = marked_cells(&html);
        for (i, c, k) in [
            ("name", "acceptance", "1"),
            ("name", "surface", "1"),
            ("photo", "acceptance", "1"),
            ("photo", "surface", "1"),
            ("fingerprint[2]", "acceptance", "2"),
            ("fingerprint[2]", "chip", "2"),
            ("chip", "chip", "3"),
            ("address", "acceptance", "4"),
        ] {
            assert!(got.contains(&(i.to_string(), c.to_string(), k.to_string())), "{i} {c} {k}: {got:?}");
        }
    }

    #[test]
    fn html_is_self_contained_with_images_as_data_uris() {
        let batch: Batch = fixture("batch.json");
        let html = batch_report_html(&batch, &cards());
        assert!(html.contains("<img src=\"data:image/png;base64,iVBORw0KGgo"), "png data uri");
        for bad in ["http://", "https://", "<script", "<link", "src=\"/", "@import"] {
            assert!(!html.contains(bad), "report contains {bad}");
        }
        assert!(html.contains("@media print"));
        assert!(html.contains("WenQuanYi Zen Hei"));
        // a URL whose bytes are not a PNG is not embedded
        let mut cs = cards();
        for c in &mut cs {
            for (_, b) in &mut c.images {
                *b = b"<svg onload=alert(1)>".to_vec();
            }
        }
        let html = batch_report_html(&batch, &cs);
        assert!(!html.contains("data:image"), "non-PNG bytes are not embedded");
        assert!(html.contains("photo not available"));
    }

    #[test]
    fn an_unauthenticated_chip_column_is_shown_marked_not_authenticated() {
        let batch: Batch = fixture("batch.json");
        let mut cs = cards();
        let card = cs.iter_mut().find(|c| c.view.id == 104).expect("card 104: bad signature");
        // The chip holds another name: a cause-2 difference in content that is not authenticated.
        card.view.rows[0].chip = Some("王二".into());
        card.view.verdict.as_mut().expect("verdict").findings.push(
            serde_json::from_value(json!({
                "cause": 2, "item": "name", "sources": "S~C", "expected": "x", "actual": "王二", "score": null, "threshold": null,
                "borderline": false, "detail": "name differs (S~C), edit distance 2; the chip content is not authenticated",
                "chip_unauthenticated": true
            }))
            .expect("finding"),
        );
        let html = batch_report_html(&batch, &cs);
        let start = html.find("data-verification=\"104\"").expect("104");
        let card_html = &html[start..start + html[start..].find("</article>").expect("end")];
        // the chip column is shown (values, not greyed) and its header says not authenticated
        assert!(card_html.contains("王二"), "the chip's value is shown");
        assert!(!card_html.contains("data-not-checked"), "nothing greyed: the content was compared");
        let head = card_html.find("data-unauthenticated").expect("chip header marked not authenticated");
        assert!(card_html[..head].rfind("<th").is_some_and(|th| card_html[th..head].contains("data-col=\"chip\"")), "the mark is in the chip header");
        assert_eq!(card_html.matches("chip not authenticated").count(), 2, "both findings say so");
        let got = marked_cells(card_html);
        assert!(got.contains(&("name".to_string(), "chip".to_string(), "2".to_string())), "{got:?}");
        assert!(got.contains(&("chip".to_string(), "chip".to_string(), "3".to_string())), "{got:?}");
        // a verdict whose chip was authenticated has no such mark
        let pass = cs.iter().find(|c| c.view.id == 101).expect("card 101");
        assert!(!super::super::chip_unauthenticated_in(verdict(pass)));
        assert!(super::super::chip_unauthenticated_in(verdict(cs.iter().find(|c| c.view.id == 104).expect("104"))));
    }

    #[test]
    fn html_escapes_everything_from_the_records() {
        let batch: Batch = fixture("batch.json");
        let html = batch_report_html(&batch, &cards());
        // the fixture's cause-4 card has a name and an address made to break out of HTML
        assert!(!html.contains("<script>alert"), "raw script tag");
        assert!(!html.contains("<img src=x"), "raw img tag");
        assert!(html.contains("&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;"));
        assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
        // the batch name too
        assert!(html.contains("QC batch report · <span lang=\"zh-Hans\">2026-11-25 早班 &lt;b&gt;"));
        let name_in_title = html.find("<title>").expect("title");
        assert!(html[name_in_title..].starts_with("<title>QC batch report · 2026-11-25 早班 &lt;b&gt;"));
    }

    #[test]
    fn html_of_any_json_shape_does_not_panic() {
        // JSON the API types reject is read as the empty value (the report gets typed values);
        // what they accept renders, however sparse
        let lenient_batch = |v: Value| serde_json::from_value::<Batch>(v).unwrap_or_default();
        let lenient_view = |v: Value| serde_json::from_value::<VerificationView>(v).unwrap_or_default();
        let odd = [
            idcheck_core::verdict::Finding::new(Cause::ChipUnreadable, "5", idcheck_core::verdict::Sources::C, ""),
            idcheck_core::verdict::Finding::new(Cause::AcceptanceVsSurface, "fingerprint[9]", idcheck_core::verdict::Sources::AS, "<x>"),
        ];
        let invalid = Verdict { status: Status::Invalid, findings: odd.to_vec(), ..Verdict::unavailable("x") };
        for batch in [json!(null), json!([]), json!({"items": "x", "counts": 5}), json!({"items": [null, 1, {"causes": "x"}]}), json!({"items": [{}], "id": 3})]
            .map(lenient_batch)
        {
            let mut views: Vec<VerificationView> = [
                json!(null),
                json!({"verdict": {"status": "invalid", "findings": [null, {"cause": 99, "item": 5}]}, "rows": [1, {}], "fingers": [{"position": "x"}]}),
                json!({"rows": [{}], "fingers": [{"position": 2}], "photos": {"chip": "y"}}),
            ]
            .map(lenient_view)
            .into();
            views[2].verdict = Some(invalid.clone());
            views.push(VerificationView { verdict: Some(invalid.clone()), rows: vec![ViewRow::default()], ..VerificationView::default() });
            let cards: Vec<ReportCard> = views.into_iter().map(|v| ReportCard { view: v, images: vec![("x".into(), vec![])] }).collect();
            let html = batch_report_html(&batch, &cards);
            assert!(html.starts_with("<!doctype html>") && html.ends_with("</html>\n"));
            let _ = batch_report_csv(&batch);
        }
    }

    #[test]
    fn csv_has_one_line_per_card_quoted_and_guarded() {
        let batch: Batch = fixture("batch.json");
        let csv = batch_report_csv(&batch);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], "batch,batch_name,n,scan_id,record_id,verification_id,status,causes,carries");
        assert_eq!(lines.len(), 4 + 2, "header, 4 cards, empty after the last CRLF");
        assert_eq!(lines[5], "");
        assert_eq!(lines[1], "7,\"2026-11-25 早班 <b>,\"\"x\"\"\",1,QC-20261125-0001,410105199001010011,101,pass,,");
        assert!(lines[2].ends_with(",102,invalid,1,110101199003071234 by photo 0.041"), "{}", lines[2]);
        assert!(lines[4].contains(",\"'=HYPERLINK(\"\"x\"\")\","), "formula guarded and quoted: {}", lines[4]);
        // a CSV reader would see 9 cells in every line
        for l in &lines[1..5] {
            assert_eq!(split_csv(l).len(), 9, "{l}");
        }
    }

    fn split_csv(line: &str) -> Vec<String> {
        let rec = idcheck_core::spreadsheet::reader(line.as_bytes()).records().next().expect("a row").expect("parses");
        rec.iter().map(String::from).collect()
    }

    #[test]
    fn escape_and_numbers() {
        assert_eq!(escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        assert_eq!(fmt_num(0.13778135180473328), "0.138");
        assert_eq!(fmt_num(0.0009494), "9.49e-4");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(f64::NAN), "—");
        assert_eq!(fmt_num(12.0), "12");
    }

    #[test]
    fn report_card_debug_is_redacted() {
        let view = VerificationView { id: 5, rows: vec![ViewRow { acceptance: Some("张三".into()), ..ViewRow::default() }], ..VerificationView::default() };
        let c = ReportCard { view, images: vec![("u".into(), vec![1, 2])] };
        let d = format!("{c:?}");
        assert!(!d.contains("张三") && d.contains("REDACTED"), "{d}");
    }
}
