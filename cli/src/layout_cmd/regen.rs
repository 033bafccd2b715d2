//! `layout regen DIR`: writes ringproof's golden layouts (only the regeneration command in
//! `golden-layouts/README.md` runs this).

use super::fail;
use clap::Args;
use ringproof::kit::layout::golden;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(super) struct RegenArgs {
    /// The golden-layouts directory to write into.
    dir: PathBuf,
}

pub(super) fn regen(a: RegenArgs) -> ExitCode {
    let mut images: Vec<(String, Result<Vec<u8>, String>)> = golden::ringproof()
        .iter()
        .map(|e| {
            (
                e.path(),
                e.image()
                    .map(|i| i.bytes().to_vec())
                    .map_err(|e| e.to_string()),
            )
        })
        .collect();
    images.extend(
        golden::counters()
            .iter()
            .map(|e| (e.path(), e.image().map_err(|e| e.to_string()))),
    );
    for (rel, image) in &images {
        let path = a.dir.join(rel);
        let image = match image {
            Ok(i) => i,
            Err(err) => return fail(false, format!("{rel}: {err}")),
        };
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, image));
        if let Err(err) = written {
            return fail(false, format!("{}: cannot write: {err}", path.display()));
        }
    }
    println!(
        "wrote {} ringproof goldens under {}",
        images.len(),
        a.dir.join(golden::RINGPROOF_DIR).display()
    );
    ExitCode::SUCCESS
}
