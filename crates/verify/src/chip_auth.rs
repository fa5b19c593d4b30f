//! What a live read proved about the chip itself, in the verdict: the access control used
//! (`chip.access`), Chip Authentication (`chip.chip_authentication`) and Active Authentication
//! (`chip.active_authentication`). A pass counts only when passive authentication verified the
//! data group its key came from (DG14 / DG15 come from the chip itself: a clone carrying a copied
//! EF.SOD passes passive authentication only with the original DG14 / DG15, whose private keys it
//! lacks). A failed Active Authentication is cause 3; a failed Chip Authentication already failed
//! the read (cause 3 through `failures`).

use idcheck_chip::AuthRun;
use idcheck_core::lds::{parse_dg14, ChipImage, FileId};
use idcheck_core::verdict::{Cause, ChipCheck, Finding, Sources};

use super::Report;

/// The session facts of one live read.
pub(crate) struct Session<'a> {
    pub access: String,
    pub pace: bool,
    pub chip_authentication: &'a AuthRun,
    pub active_authentication: &'a AuthRun,
}

/// The chip checks of a verdict; a failed Active Authentication adds its cause-3 finding and an
/// image without a live session its not-checked items.
pub(crate) fn checks(image: &ChipImage, session: Option<&Session<'_>>, pa_verified: bool, report: &mut Report) -> Vec<ChipCheck> {
    let ca_offered = image.get(FileId::Dg14).and_then(|b| parse_dg14(b).ok()).is_some_and(|i| !i.chip_authentication().is_empty());
    let aa_offered = image.get(FileId::Dg15).is_some();
    let Some(s) = session else {
        let why = "chip image without a live chip: chip authentication protocols cannot run";
        if ca_offered {
            report.not_checked("chip.chip_authentication", Sources::C, why);
        }
        if aa_offered {
            report.not_checked("chip.active_authentication", Sources::C, why);
        }
        return Vec::new();
    };
    let mut out = vec![ChipCheck {
        item: "chip.access".to_string(),
        result: if s.pace { "pace" } else { "bac" }.to_string(),
        detail: s.access.clone(),
    }];
    out.push(one("chip.chip_authentication", "dg14", s.chip_authentication, ca_offered, pa_verified, report));
    out.push(one("chip.active_authentication", "dg15", s.active_authentication, aa_offered, pa_verified, report));
    out
}

fn one(item: &str, dg: &str, run: &AuthRun, offered: bool, pa_verified: bool, report: &mut Report) -> ChipCheck {
    let (result, detail) = match run {
        AuthRun::NotOffered if offered => {
            // The chip has the data group but the read did not use it: say so, never a pass.
            report.not_checked(item, Sources::C, format!("{dg} present but the protocol did not run"));
            ("not_run", format!("{dg} present but the protocol did not run"))
        }
        AuthRun::NotOffered => ("not_offered", format!("the chip has no {dg} for it")),
        AuthRun::NotRun(why) => {
            report.not_checked(item, Sources::C, why.clone());
            ("not_run", why.clone())
        }
        AuthRun::Passed(d) if pa_verified => ("passed", d.clone()),
        AuthRun::Passed(d) => (
            "not_counted",
            format!("{d}; not counted: passive authentication did not verify the {dg} the key came from"),
        ),
        AuthRun::Failed(d) => {
            let mut f = Finding::new(
                Cause::ChipUnreadable,
                item.to_string(),
                Sources::C,
                format!("the chip is not the one personalised: {d}"),
            );
            f.actual = Some("failed".to_string().into());
            report.findings.push(f);
            ("failed", d.clone())
        }
    };
    ChipCheck { item: item.to_string(), result: result.to_string(), detail }
}
