//! The printable QC batch report behind `idcheck qc report`: one self-contained HTML file (inline
//! CSS with a print stylesheet, photos as `data:` URIs, no script, nothing loaded from elsewhere)
//! with the batch's counts per status and cause, the list of its cards and, per invalid card, the
//! three columns side by side (acceptance record, printed card, chip) with the marked rows — the
//! same marking rule as the page (`super::finding_marks`); and a CSV of the batch's cards.
//! Everything that comes from the JSON (names and addresses come from records) is HTML-escaped;
//! CSV cells are quoted and guarded against spreadsheet formulas. Input JSON of any shape renders
//! (missing fields show as "—"); nothing panics.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::Value;

use super::{cause_title, finding_marks, row_key, Column};
use idcheck_core::spreadsheet::{self, LineEnd};

/// One card of the report: its view JSON (`GET /v1/verifications/{id}/view`) and the PNG bytes
/// of its photos, keyed by the same URL the view names in `photos`.
pub struct ReportCard {
    pub view: Value,
    pub images: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for ReportCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportCard")
            .field("id", &self.view.get("id"))
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

/// A JSON value as display text: strings as they are, numbers and booleans printed, null or
/// missing as "—".
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "—".to_string(),
        Some(Value::String(s)) if s.is_empty() => "—".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.as_f64().map(fmt_num).unwrap_or_else(|| n.to_string()),
        Some(other) => other.to_string(),
    }
}

fn esc(v: Option<&Value>) -> String {
    escape(&text(v))
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

fn arr(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

fn causes_of(v: Option<&Value>) -> Vec<u64> {
    arr(v).iter().filter_map(Value::as_u64).collect()
}

fn same_id(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) if !a.is_null() && !b.is_null() => text(Some(a)) == text(Some(b)),
        _ => false,
    }
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

fn badge(cause: u64, extra: &str) -> String {
    format!("<span class=\"badge cause-{cause}\">⚑ cause {cause}{}</span>", escape(extra))
}

fn score_text(f: &Value) -> String {
    let mut s = String::new();
    if let Some(score) = f.get("score").and_then(Value::as_f64) {
        let _ = write!(s, " · score {}", fmt_num(score));
        if let Some(t) = f.get("threshold").and_then(Value::as_f64) {
            let _ = write!(s, " · threshold {}", fmt_num(t));
        }
    }
    s
}

/// The batch report as one self-contained, printable HTML document. `cards` are the views of
/// the batch's cards (any subset); only invalid ones get a detail section, in the order of the
/// batch's items (cards the batch does not list come last).
pub fn batch_report_html(batch: &Value, cards: &[ReportCard]) -> String {
    let name = text(batch.get("name").filter(|v| !v.is_null()).or(batch.get("id")));
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
        esc(batch.get("id")),
        esc(batch.get("created_at")),
    );

    // counts
    let counts = batch.get("counts");
    let count = |k: &str| counts.and_then(|c| c.get(k)).and_then(Value::as_u64).unwrap_or(0);
    h.push_str("<section>\n<h2>Counts</h2>\n<table class=\"counts\">\n<tbody>\n");
    for (key, label) in [
        ("total", "cards".to_string()),
        ("pass", "pass 合格".to_string()),
        ("invalid", "invalid 无效".to_string()),
        ("unavailable", "unavailable 暂停服务 (not judged)".to_string()),
        ("cause1", format!("cause 1 · {}", cause_title(1))),
        ("cause2", format!("cause 2 · {}", cause_title(2))),
        ("cause3", format!("cause 3 · {}", cause_title(3))),
        ("cause4", format!("cause 4 · {}", cause_title(4))),
    ] {
        let _ = writeln!(
            h,
            "<tr data-count=\"{key}\"><th scope=\"row\">{}</th><td class=\"num\">{}</td></tr>",
            escape(&label),
            count(key)
        );
    }
    h.push_str("</tbody>\n</table>\n<p class=\"muted\">A card may have several causes: the cause counts may add up to more than the invalid cards.</p>\n</section>\n");

    // all items
    let items = arr(batch.get("items"));
    let _ = writeln!(h, "<section>\n<h2>Cards ({})</h2>", items.len());
    if items.is_empty() {
        h.push_str("<p>No card in this batch.</p>\n");
    } else {
        h.push_str(
            "<table class=\"items\">\n<thead><tr><th>#</th><th>scan</th><th>record</th><th>verification</th><th>status</th><th>causes</th><th>whose data the card carries</th></tr></thead>\n<tbody>\n",
        );
        for (i, it) in items.iter().enumerate() {
            let status = it.get("status").and_then(Value::as_str).unwrap_or("");
            let (_, cls) = status_words(status);
            let causes: String = causes_of(it.get("causes")).iter().map(|c| badge(*c, "")).collect();
            let _ = writeln!(
                h,
                "<tr data-scan=\"{}\"><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{cls}\">{}</td><td>{causes}</td><td>{}</td></tr>",
                esc(it.get("scan_id")),
                i + 1,
                esc(it.get("scan_id")),
                esc(it.get("record_id")),
                esc(it.get("verification_id")),
                escape(status),
                escape(&carries_text(it)),
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str("</section>\n");

    // invalid cards in detail, in the batch's order
    let invalid = |c: &&ReportCard| c.view.get("verdict").and_then(|v| v.get("status")).and_then(Value::as_str) == Some("invalid");
    let mut ordered: Vec<(Option<&Value>, &ReportCard)> = Vec::new();
    let mut used = vec![false; cards.len()];
    for it in items {
        for (k, c) in cards.iter().enumerate() {
            if !used[k] && same_id(it.get("verification_id"), c.view.get("id")) {
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
    let n_invalid_items =
        items.iter().filter(|it| it.get("status").and_then(Value::as_str) == Some("invalid")).count().max(ordered.len());
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

fn carries_text(it: &Value) -> String {
    let cs = arr(it.get("carries"));
    if cs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = cs
        .iter()
        .map(|c| {
            let mut s = format!("record {} (by {}", text(c.get("record_id")), text(c.get("by")));
            if let Some(x) = c.get("score").and_then(Value::as_f64) {
                let _ = write!(s, ", score {}", fmt_num(x));
            }
            s.push(')');
            s
        })
        .collect();
    format!("carries the data of {}", parts.join(", "))
}

/// The data: URI of a photo, when the card has PNG bytes for the URL the view names.
fn image_uri(card: &ReportCard, url: Option<&Value>) -> Option<String> {
    let url = url.and_then(Value::as_str)?;
    let (_, bytes) = card.images.iter().find(|(u, _)| u == url)?;
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return None;
    }
    Some(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

fn card_html(h: &mut String, n: usize, item: Option<&Value>, card: &ReportCard) {
    let view = &card.view;
    let empty = Value::Null;
    let verdict = view.get("verdict").unwrap_or(&empty);
    let status = verdict.get("status").and_then(Value::as_str).unwrap_or("");
    let (words, cls) = status_words(status);
    let causes = causes_of(verdict.get("causes"));
    let scan = view.get("scan_id").filter(|v| !v.is_null()).or(item.and_then(|i| i.get("scan_id")));
    let _ = writeln!(
        h,
        "<article class=\"card\" data-verification=\"{}\">\n<h3>{n}. scan {} · record {} · verification {}</h3>",
        esc(view.get("id")),
        esc(scan),
        esc(view.get("record_id")),
        esc(view.get("id")),
    );
    let causes_txt = if causes.is_empty() {
        String::new()
    } else {
        format!(" — cause {}", causes.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))
    };
    let _ = writeln!(h, "<p class=\"status {cls}\">{words}{}</p>", escape(&causes_txt));
    for c in &causes {
        let _ = writeln!(h, "<div>{} {}</div>", badge(*c, ""), escape(cause_title(*c as u8)));
    }
    // whose data the card carries: the batch item's search result, else the view's own
    let carries = item.map(carries_text).filter(|c| !c.is_empty()).unwrap_or_else(|| carries_text(view));
    if !carries.is_empty() {
        let _ = writeln!(h, "<p><strong>{}</strong></p>", escape(&carries));
    }
    if let Some(a) = verdict.get("advice").and_then(Value::as_str) {
        let _ = writeln!(h, "<p>{}</p>", escape(a));
    }
    let _ = writeln!(
        h,
        "<p class=\"muted\">reader {} · finished {}</p>",
        esc(view.get("reader")),
        esc(view.get("finished_at"))
    );

    // findings
    let findings = arr(verdict.get("findings"));
    if !findings.is_empty() {
        h.push_str("<ol class=\"findings\">\n");
        for f in findings {
            let cause = f.get("cause").and_then(Value::as_u64).unwrap_or(0);
            let _ = write!(h, "<li>{} <strong>{}</strong> ({})", badge(cause, ""), esc(f.get("item")), esc(f.get("sources")));
            if f.get("expected").is_some_and(|v| !v.is_null()) || f.get("actual").is_some_and(|v| !v.is_null()) {
                let _ = write!(
                    h,
                    " · expected <strong lang=\"zh-Hans\">{}</strong> · actual <strong lang=\"zh-Hans\">{}</strong>",
                    esc(f.get("expected")),
                    esc(f.get("actual"))
                );
            }
            let st = score_text(f);
            if !st.is_empty() {
                let _ = write!(h, "{}", escape(&st));
            }
            if f.get("borderline").and_then(Value::as_bool) == Some(true) {
                h.push_str(" <span class=\"badge borderline\">borderline: look</span>");
            }
            if f.get("chip_unauthenticated").and_then(Value::as_bool) == Some(true) {
                h.push_str(" <span class=\"badge unauth\">chip not authenticated</span>");
            }
            let _ = writeln!(h, "<br><span class=\"muted\">{}</span></li>", esc(f.get("detail")));
        }
        h.push_str("</ol>\n");
    }

    // marks and not-checked cells
    let mut marks: BTreeMap<(String, Column), Vec<&Value>> = BTreeMap::new();
    for f in findings {
        for m in finding_marks(f) {
            marks.entry((m.item, m.col)).or_default().push(f);
        }
    }
    let mut whole_nc: BTreeMap<Column, Vec<&Value>> = BTreeMap::new();
    let mut cell_nc: BTreeMap<(String, Column), Vec<&Value>> = BTreeMap::new();
    for n in arr(verdict.get("not_checked")) {
        let it = n.get("item").and_then(Value::as_str).unwrap_or("");
        let sources = n.get("sources").and_then(Value::as_str).unwrap_or("");
        match Column::ALL.into_iter().find(|c| c.name() == it) {
            Some(col) => whole_nc.entry(col).or_default().push(n),
            None => {
                for col in super::columns(sources) {
                    cell_nc.entry((row_key(it), col)).or_default().push(n);
                }
            }
        }
    }
    let cell = |item: &str, col: Column, class: &str, content: String| -> String {
        let mut attrs = format!(" data-item=\"{}\" data-col=\"{}\"", escape(item), col.name());
        let mut classes = class.to_string();
        let mut extra = String::new();
        if let Some(fs) = marks.get(&(item.to_string(), col)) {
            let set: BTreeSet<u64> = fs.iter().filter_map(|f| f.get("cause").and_then(Value::as_u64)).collect();
            let list: Vec<String> = set.iter().map(u64::to_string).collect();
            let _ = write!(attrs, " data-cause=\"{}\"", list.join(" "));
            if let Some(first) = set.iter().next() {
                let _ = write!(classes, " cause-{first}");
            }
            for f in fs {
                extra.push_str(&badge(f.get("cause").and_then(Value::as_u64).unwrap_or(0), &score_text(f)));
            }
        }
        if let Some(ns) = cell_nc.get(&(item.to_string(), col)) {
            let srcs: Vec<String> = ns.iter().map(|n| text(n.get("sources"))).collect();
            let _ = write!(attrs, " data-not-checked=\"{}\"", escape(&srcs.join(" ")));
            for n in ns {
                let _ = write!(extra, "<span class=\"badge nc\">not checked: {}</span>", esc(n.get("reason")));
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
                let _ = write!(title, " <span class=\"badge nc\">not checked: {}</span>", esc(n.get("reason")));
            }
        }
        if col == Column::Chip {
            if super::chip_unauthenticated(verdict) {
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
    let photos = view.get("photos");
    h.push_str("<tr><th>照片 photo</th>");
    for col in Column::ALL {
        let url = photos.and_then(|p| p.get(col.name()));
        let content = match image_uri(card, url) {
            Some(uri) => format!("<img src=\"{}\" alt=\"{} photo\">", escape(&uri), col.name()),
            None if url.is_some_and(|u| !u.is_null()) => "<span class=\"muted\">photo not available</span>".to_string(),
            None => "<span class=\"muted\">no photo</span>".to_string(),
        };
        h.push_str(&cell("photo", col, "photo", content));
    }
    h.push_str("</tr>\n");
    seen.insert("photo".into());

    // text rows
    for r in arr(view.get("rows")) {
        let item = r.get("item").and_then(Value::as_str).unwrap_or("");
        seen.insert(item.to_string());
        let label = r.get("label").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or(item);
        let _ = write!(h, "<tr><th lang=\"zh-Hans\">{}</th>", escape(label));
        for col in Column::ALL {
            h.push_str(&cell(item, col, "value", format!("<span lang=\"zh-Hans\">{}</span>", esc(r.get(col.name())))));
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
    let fingers = arr(view.get("fingers"));
    h.push_str("<tr><th>指纹 fingerprints</th>");
    for col in Column::ALL {
        let content = if col == Column::Surface {
            "<span class=\"muted\">not printed on the card</span>".to_string()
        } else {
            let n = fingers.iter().filter(|f| f.get(col.name()).is_some_and(|v| !v.is_null())).count();
            format!("{n} finger{}", if n == 1 { "" } else { "s" })
        };
        h.push_str(&cell("fingerprints", col, "value", content));
    }
    h.push_str("</tr>\n");
    let mut positions: BTreeSet<u64> = fingers.iter().filter_map(|f| f.get("position").and_then(Value::as_u64)).collect();
    for (item, _) in marks.keys() {
        if let Some(p) = item.strip_prefix("fingerprint[").and_then(|r| r.strip_suffix(']')).and_then(|p| p.parse().ok()) {
            positions.insert(p);
        }
    }
    for p in positions {
        let fp = fingers.iter().find(|f| f.get("position").and_then(Value::as_u64) == Some(p));
        let item = format!("fingerprint[{p}]");
        let _ = write!(h, "<tr><th>指纹 {p} fingerprint {p}</th>");
        for col in Column::ALL {
            let mut content = String::new();
            match (col, fp.and_then(|f| f.get(col.name())).filter(|v| !v.is_null())) {
                (Column::Surface, _) | (_, None) => content.push('—'),
                (_, Some(f)) => {
                    content.push_str(&esc(f.get("finger")));
                    if let Some(q) = f.get("quality").and_then(Value::as_f64) {
                        let _ = write!(content, " · quality {}", fmt_num(q));
                    }
                }
            }
            if col == Column::Chip {
                if let Some(s) = fp.and_then(|f| f.get("score")).and_then(Value::as_f64) {
                    let _ = write!(content, "<span class=\"score\">A~C score {}", fmt_num(s));
                    if let Some(t) = fp.and_then(|f| f.get("threshold")).and_then(Value::as_f64) {
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

    let nc = arr(verdict.get("not_checked"));
    if !nc.is_empty() {
        h.push_str("<p class=\"muted\">Not checked: ");
        let parts: Vec<String> =
            nc.iter().map(|n| format!("{} ({}): {}", esc(n.get("item")), esc(n.get("sources")), esc(n.get("reason")))).collect();
        h.push_str(&parts.join("; "));
        h.push_str("</p>\n");
    }
    h.push_str("</article>\n");
}

fn csv_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The batch's cards as CSV (RFC 4180, CRLF line ends): one header line, then one line per card
/// in the batch's order: `batch,batch_name,n,scan_id,record_id,verification_id,status,causes,carries`
/// (`causes` space-separated; `carries` as `record_id by score` entries separated by `; `).
/// Written through `spreadsheet` (the `csv` crate and its formula guard).
pub fn batch_report_csv(batch: &Value) -> String {
    const HEADER: [&str; 9] = ["batch", "batch_name", "n", "scan_id", "record_id", "verification_id", "status", "causes", "carries"];
    let mut out: Vec<u8> = spreadsheet::row(&HEADER, LineEnd::CrLf).unwrap_or_default();
    let id = csv_text(batch.get("id"));
    let name = csv_text(batch.get("name"));
    for (i, it) in arr(batch.get("items")).iter().enumerate() {
        let causes: Vec<String> = causes_of(it.get("causes")).iter().map(u64::to_string).collect();
        let carries: Vec<String> = arr(it.get("carries"))
            .iter()
            .map(|c| {
                let mut s = format!("{} by {}", csv_text(c.get("record_id")), csv_text(c.get("by")));
                if let Some(x) = c.get("score").and_then(Value::as_f64) {
                    let _ = write!(s, " {}", fmt_num(x));
                }
                s
            })
            .collect();
        let cells = [
            id.clone(),
            name.clone(),
            (i + 1).to_string(),
            csv_text(it.get("scan_id")),
            csv_text(it.get("record_id")),
            csv_text(it.get("verification_id")),
            csv_text(it.get("status")),
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
    use serde_json::json;

    fn fixture(name: &str) -> Value {
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
        let views = fixture("views.json");
        views
            .as_array()
            .expect("views")
            .iter()
            .map(|v| {
                let mut images = Vec::new();
                for col in ["acceptance", "surface", "chip"] {
                    if let Some(u) = v["photos"][col].as_str() {
                        images.push((u.to_string(), png([10, 20, 30])));
                    }
                }
                ReportCard { view: v.clone(), images }
            })
            .collect()
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
        let batch = fixture("batch.json");
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
        let batch = fixture("batch.json");
        let cs = cards();
        let html = batch_report_html(&batch, &cs);
        let mut want = BTreeSet::new();
        for c in &cs {
            if c.view["verdict"]["status"] != "invalid" {
                continue;
            }
            let mut per: BTreeMap<(String, &str), BTreeSet<u8>> = BTreeMap::new();
            for m in super::super::verdict_marks(&c.view["verdict"]) {
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
        let batch = fixture("batch.json");
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
        let batch = fixture("batch.json");
        let mut cs = cards();
        let card = cs.iter_mut().find(|c| c.view["id"] == 104).expect("card 104: bad signature");
        // The chip holds another name: a cause-2 difference in content that is not authenticated.
        card.view["rows"][0]["chip"] = json!("王二");
        card.view["verdict"]["findings"].as_array_mut().expect("findings").push(json!({
            "cause": 2, "item": "name", "sources": "S~C", "expected": "x", "actual": "王二", "score": null, "threshold": null,
            "borderline": false, "detail": "name differs (S~C), edit distance 2; the chip content is not authenticated",
            "chip_unauthenticated": true
        }));
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
        let pass = cs.iter().find(|c| c.view["id"] == 101).expect("card 101");
        assert!(!super::super::chip_unauthenticated(&pass.view["verdict"]));
        assert!(super::super::chip_unauthenticated(&cs.iter().find(|c| c.view["id"] == 104).expect("104").view["verdict"]));
    }

    #[test]
    fn html_escapes_everything_from_the_records() {
        let batch = fixture("batch.json");
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
        for batch in [json!(null), json!([]), json!({"items": "x", "counts": 5}), json!({"items": [null, 1, {"causes": "x"}]})] {
            let views = [json!(null), json!({"verdict": {"status": "invalid", "findings": [null, {"cause": 99, "item": 5}]}, "rows": [1, {}], "fingers": [{"position": "x"}]})];
            let cards: Vec<ReportCard> = views.iter().map(|v| ReportCard { view: v.clone(), images: vec![("x".into(), vec![])] }).collect();
            let html = batch_report_html(&batch, &cards);
            assert!(html.starts_with("<!doctype html>") && html.ends_with("</html>\n"));
            let _ = batch_report_csv(&batch);
        }
    }

    #[test]
    fn csv_has_one_line_per_card_quoted_and_guarded() {
        let batch = fixture("batch.json");
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
        let c = ReportCard { view: json!({"id": 5, "rows": [{"acceptance": "张三"}]}), images: vec![("u".into(), vec![1, 2])] };
        let d = format!("{c:?}");
        assert!(!d.contains("张三") && d.contains("REDACTED"), "{d}");
    }
}
