//! `memwire record --info FILE`: what a recording holds, per region.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use memwire_cli::recording::Recording;

pub(super) fn run(file: &Path) -> Result<()> {
    let recording = Recording::read(file)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", file.display())?;
    if recording.cut {
        writeln!(
            out,
            "  cut: the file ends without its summary (its recorder did not finish it); \
             what follows is what was written before the cut"
        )?;
    }
    if let (Some(first), Some(last)) = (recording.updates.first(), recording.updates.last()) {
        let span = last.time_ns.saturating_sub(first.time_ns);
        writeln!(
            out,
            "  {} updates over {:.3} s",
            recording.updates.len(),
            span as f64 / 1e9
        )?;
    } else {
        writeln!(out, "  no updates")?;
    }
    for (index, channel) in recording.channels.iter().enumerate() {
        let updates = recording.updates.iter().filter(|u| u.channel == index);
        let (mut count, mut snapshots, mut gaps, mut bytes) = (0_u64, 0_u64, 0_u64, 0_u64);
        let (mut first, mut last) = (None, None);
        for recorded in updates {
            let update = &recorded.update;
            count += 1;
            snapshots += u64::from(update.snapshot);
            gaps += u64::from(update.gap);
            bytes += update
                .ranges
                .iter()
                .map(|(_, b)| b.len() as u64)
                .sum::<u64>();
            first.get_or_insert(update.generation);
            last = Some(update.generation);
        }
        writeln!(
            out,
            "  {}: {} variables, {} bytes; {count} updates ({snapshots} snapshots, {gaps} gaps), \
             {bytes} bytes of values; generations {} to {}",
            channel.path,
            channel.layout.schema.variables().len(),
            channel.layout.data_len,
            first.map_or_else(|| "-".to_owned(), |g| g.to_string()),
            last.map_or_else(|| "-".to_owned(), |g| g.to_string()),
        )?;
    }
    Ok(())
}
