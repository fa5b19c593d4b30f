//! The QC station's web front end and printable batch report. Owns the static page the daemon
//! serves (`assets/`: index.html, app.js, style.css, embedded in the binary; no external asset,
//! works offline; the page talks only to the same origin's JSON API with relative URLs), the
//! rule that turns a verdict's findings into marked cells of the three-column view (acceptance,
//! printed card, chip) — shared by the page (app.js implements the same rule), the report and
//! the browser tests — and the batch report renderer (`report`: self-contained HTML and CSV).
//! Nothing here judges a card: it only shows the verdict `verify` made.

pub mod report;

use std::collections::BTreeSet;

use serde_json::Value;

use idcheck_core::verdict::{Finding, Verdict};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// The page's static files by URL path: `/` (index.html), `/ui/app.js`, `/ui/style.css`.
/// Returns the content type and the bytes, or `None` for any other path (the daemon answers 404).
pub fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    match path {
        "/" | "/index.html" | "/ui/" | "/ui/index.html" => Some(("text/html; charset=utf-8", INDEX_HTML.as_bytes())),
        "/ui/app.js" => Some(("text/javascript; charset=utf-8", APP_JS.as_bytes())),
        "/ui/style.css" => Some(("text/css; charset=utf-8", STYLE_CSS.as_bytes())),
        _ => None,
    }
}

/// One of the three columns of the view: where a source's value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Column {
    /// A: the acceptance record.
    Acceptance,
    /// S: the printed card (surface scan).
    Surface,
    /// C: the chip.
    Chip,
}

impl Column {
    pub const ALL: [Column; 3] = [Column::Acceptance, Column::Surface, Column::Chip];

    /// The name used in the view JSON (`photos`, `rows`) and in the page's `data-col`.
    pub fn name(self) -> &'static str {
        match self {
            Column::Acceptance => "acceptance",
            Column::Surface => "surface",
            Column::Chip => "chip",
        }
    }

    /// The column's title as shown (Chinese and English).
    pub fn title(self) -> &'static str {
        match self {
            Column::Acceptance => "受理信息 acceptance record",
            Column::Surface => "卡面 printed card",
            Column::Chip => "芯片 chip",
        }
    }

    fn letter(self) -> char {
        match self {
            Column::Acceptance => 'A',
            Column::Surface => 'S',
            Column::Chip => 'C',
        }
    }
}

/// The columns a finding's `sources` names ("A~S" -> acceptance and surface, "C" -> chip).
pub fn columns(sources: &str) -> Vec<Column> {
    Column::ALL.into_iter().filter(|c| sources.contains(c.letter())).collect()
}

/// The row a finding's item marks: the item up to its first "." or "[" (`photo.sharpness` ->
/// `photo`, `valid_until` -> `valid_until`), except fingerprint slots, which keep their index
/// (`fingerprint[2].finger` -> `fingerprint[2]`), and chip steps (`chip.dg13.hash`,
/// `chip.read.read_dg2`), which all mark the chip column as a whole (row `chip`).
pub fn row_key(item: &str) -> String {
    if item == "chip" || item.starts_with("chip.") || item.starts_with("chip[") {
        return "chip".to_string();
    }
    if let Some(rest) = item.strip_prefix("fingerprint[") {
        if let Some(end) = rest.find(']') {
            return format!("fingerprint[{}]", &rest[..end]);
        }
    }
    let end = item.find(['.', '[']).unwrap_or(item.len());
    item[..end].to_string()
}

/// One highlighted cell: the row (`data-item`), the column (`data-col`) and a cause it carries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mark {
    pub item: String,
    pub col: Column,
    pub cause: u8,
}

/// The cells one finding marks. A chip step (row `chip`) marks the chip column only, whatever
/// its sources say; any other finding marks its row in each column its sources name.
pub fn finding_marks(finding: &Value) -> Vec<Mark> {
    let item = finding.get("item").and_then(Value::as_str).unwrap_or("");
    let sources = finding.get("sources").and_then(Value::as_str).unwrap_or("");
    let Some(cause) = finding.get("cause").and_then(Value::as_u64).and_then(|c| u8::try_from(c).ok()) else {
        return Vec::new();
    };
    marks(item, sources, cause)
}

/// The rule of [`finding_marks`], on a finding's parts.
fn marks(item: &str, sources: &str, cause: u8) -> Vec<Mark> {
    let row = row_key(item);
    let cols = if row == "chip" { vec![Column::Chip] } else { columns(sources) };
    cols.into_iter().map(|col| Mark { item: row.clone(), col, cause }).collect()
}

/// [`finding_marks`] of a typed finding (the report; the API's `wire` types).
pub fn marks_of_finding(f: &Finding) -> Vec<Mark> {
    marks(&f.item, &f.sources.to_string(), f.cause.number())
}

/// [`verdict_marks`] of a typed verdict.
pub fn marks_of_verdict(v: &Verdict) -> BTreeSet<Mark> {
    v.findings.iter().flat_map(marks_of_finding).collect()
}

/// [`chip_unauthenticated`] of a typed verdict.
pub fn chip_unauthenticated_in(v: &Verdict) -> bool {
    v.findings.iter().any(|f| f.chip_unauthenticated)
}

/// Every cell a verdict's findings mark (the verdict object: `status`, `causes`, `findings`...).
pub fn verdict_marks(verdict: &Value) -> BTreeSet<Mark> {
    verdict
        .get("findings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(finding_marks)
        .collect()
}

/// Whether the verdict compared chip content that failed passive authentication (a finding
/// carries `chip_unauthenticated`): the chip column is then shown, marked as not authenticated.
pub fn chip_unauthenticated(verdict: &Value) -> bool {
    verdict
        .get("findings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|f| f.get("chip_unauthenticated").and_then(Value::as_bool) == Some(true))
}

/// The words shown on the chip column of such a verdict.
pub const CHIP_UNAUTHENTICATED: &str = "not authenticated: passive authentication failed; the content was compared, its differences are cause 2";

/// What a cause means, for headings and legends.
pub fn cause_title(cause: u8) -> &'static str {
    match cause {
        1 => "受理信息与卡面不一致 · acceptance record differs from the printed card",
        2 => "卡面与芯片不一致 · printed card differs from the chip",
        3 => "芯片无法读取 · the chip cannot be read or trusted",
        4 => "受理信息有误 · the acceptance information is incorrect",
        _ => "unknown cause",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn assets_are_served_by_path_and_nothing_else() {
        let (ct, body) = asset("/").expect("index");
        assert!(ct.starts_with("text/html"));
        let html = std::str::from_utf8(body).expect("utf-8");
        assert!(html.contains("ui/app.js") && html.contains("ui/style.css"), "index names its assets");
        assert!(asset("/ui/app.js").expect("js").0.starts_with("text/javascript"));
        assert!(asset("/ui/style.css").expect("css").0.starts_with("text/css"));
        for p in ["/ui/../Cargo.toml", "/ui/nope.js", "/v1/health", "", "/ui/app.js/"] {
            assert!(asset(p).is_none(), "{p}");
        }
    }

    #[test]
    fn assets_name_no_external_url() {
        for p in ["/", "/ui/app.js", "/ui/style.css"] {
            let text = std::str::from_utf8(asset(p).expect("asset").1).expect("utf-8");
            for bad in ["http://", "https://", "//cdn", "@import", "url(http"] {
                assert!(!text.contains(bad), "{p} contains {bad}");
            }
        }
    }

    #[test]
    fn the_css_names_the_cjk_font_the_tests_install() {
        let css = std::str::from_utf8(asset("/ui/style.css").expect("css").1).expect("utf-8");
        assert!(css.contains("\"WenQuanYi Zen Hei\""), "font stack names WenQuanYi Zen Hei (fonts-wqy-zenhei)");
        assert!(css.contains(":focus-visible"), "visible keyboard focus");
    }

    #[test]
    fn row_keys() {
        for (item, row) in [
            ("name", "name"),
            ("valid_until", "valid_until"),
            ("photo", "photo"),
            ("photo.sharpness", "photo"),
            ("fingerprint[1]", "fingerprint[1]"),
            ("fingerprint[2].finger", "fingerprint[2]"),
            ("fingerprints", "fingerprints"),
            ("chip.dg13.hash", "chip"),
            ("chip.read.read_dg2", "chip"),
            ("chip", "chip"),
            ("fingerprint[", "fingerprint"),
            ("", ""),
        ] {
            assert_eq!(row_key(item), row, "{item}");
        }
    }

    #[test]
    fn marks_follow_the_sources_and_chip_steps_mark_the_chip_column() {
        let v = json!({"findings": [
            {"cause": 1, "item": "name", "sources": "A~S"},
            {"cause": 2, "item": "fingerprint[2].finger", "sources": "A~C"},
            {"cause": 3, "item": "chip.sod.signature", "sources": "C"},
            {"cause": 4, "item": "photo.sharpness", "sources": "A"},
            {"cause": 2, "item": "name", "sources": "S~C"},
            {"cause": "x", "item": "bad", "sources": "A"},
        ]});
        let m: Vec<(String, &str, u8)> = verdict_marks(&v).into_iter().map(|m| (m.item, m.col.name(), m.cause)).collect();
        let want: Vec<(String, &str, u8)> = vec![
            ("chip".into(), "chip", 3),
            ("fingerprint[2]".into(), "acceptance", 2),
            ("fingerprint[2]".into(), "chip", 2),
            ("name".into(), "acceptance", 1),
            ("name".into(), "surface", 1),
            ("name".into(), "surface", 2),
            ("name".into(), "chip", 2),
            ("photo".into(), "acceptance", 4),
        ];
        let mut want_sorted = want.clone();
        want_sorted.sort_by(|a, b| (a.0.clone(), a.1, a.2).cmp(&(b.0.clone(), b.1, b.2)));
        let mut got = m.clone();
        got.sort_by(|a, b| (a.0.clone(), a.1, a.2).cmp(&(b.0.clone(), b.1, b.2)));
        assert_eq!(got, want_sorted);
        assert!(verdict_marks(&json!({"status": "pass", "findings": []})).is_empty());
        assert!(verdict_marks(&json!(null)).is_empty());
    }

    #[test]
    fn typed_verdicts_mark_the_same_cells_as_their_json() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/testdata/views.json");
        let views: Vec<Value> = serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("json");
        let mut marked = 0;
        for v in &views {
            let typed: Verdict = serde_json::from_value(v["verdict"].clone()).expect("a verdict");
            assert_eq!(marks_of_verdict(&typed), verdict_marks(&v["verdict"]), "{}", v["id"]);
            assert_eq!(chip_unauthenticated_in(&typed), chip_unauthenticated(&v["verdict"]), "{}", v["id"]);
            marked += marks_of_verdict(&typed).len();
        }
        assert!(marked > 0, "the fixture marks cells");
    }
}
