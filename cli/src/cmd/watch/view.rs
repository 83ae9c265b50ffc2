//! The live view of `memwire watch tenant/region`, one frame at a time.
//!
//! ```text
//! demo/robot  generation 1234  60 updates/s  3.5 KiB/s
//!   name         type    value
//! * speed        f32     1.5
//!   position     f64[3]  [0.25, -1.0, 3.0]
//!   ... 12 more
//! ```
//!
//! A header (the region's path, its generation, updates and bytes received
//! per second over the last second), the column titles, then one row per
//! variable in schema order. Rows whose bytes changed within the last second
//! are highlighted: reverse video in colour, a `*` in the first column in
//! plain text. A numeric array too long for the line is summarised (its
//! smallest, largest and last element and a sparkline of its newest
//! elements: [`value::fitted`]); every line is cut to the terminal's width
//! with `…`; rows that do not fit its height are counted in a last
//! `... N more` line.
//!
//! [`Screen`] is pure: the caller passes the time to [`Screen::update`] and
//! [`Screen::render`], so tests need no clock. To draw a frame, write
//! [`CLEAR_SCREEN`] and the frame in one write, so that the terminal never
//! shows an empty screen.

use std::fmt;
use std::time::{Duration, Instant};

use memwire_cli::value;
use memwire_std::core::schema::{Schema, Variable};

/// Moves the cursor home and clears the screen: written before each frame.
pub(crate) const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J";

const REVERSE: &str = "\x1b[7m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// How long a changed row stays highlighted.
const HIGHLIGHT_FOR: Duration = Duration::from_secs(1);

/// The rate window is `SLOTS` slots of `SLOT` each: a sliding second with a
/// fixed memory, whatever the update rate.
const SLOT: Duration = Duration::from_millis(100);
const SLOTS: usize = 10;

/// What `memwire watch` shows of one region.
pub(crate) struct Screen {
    path: String,
    vars: Vec<Variable>,
    /// The data area as of the last update.
    data: Vec<u8>,
    /// When each variable's bytes last changed, by schema index.
    changed_at: Vec<Option<Instant>>,
    /// `None` until the first update.
    generation: Option<u64>,
    rate: Rate,
    /// False while the client reconnects: the values shown are the last
    /// ones received.
    connected: bool,
}

impl Screen {
    /// A screen for the region at `path` (`tenant/region`) with `schema`,
    /// before any data has arrived.
    pub(crate) fn new(path: &str, schema: Schema<'_>) -> Self {
        Screen {
            path: path.to_owned(),
            vars: schema.variables().to_vec(),
            data: Vec::new(),
            changed_at: vec![None; schema.len()],
            generation: None,
            rate: Rate::default(),
            connected: true,
        }
    }

    /// Whether the client is connected; the header says "reconnecting"
    /// when it is not.
    pub(crate) fn set_connected(&mut self, connected: bool) {
        self.connected = connected;
    }

    /// Takes the region's data area as of `generation`, received at `now`
    /// in `bytes` bytes (counted in the bytes/s figure).
    ///
    /// Variables whose bytes differ from the previous update are marked
    /// changed at `now`; the first update marks nothing. An update counts
    /// towards updates/s when its generation differs from the previous one.
    pub(crate) fn update(&mut self, now: Instant, generation: u64, data: &[u8], bytes: u64) {
        if self.generation.is_some() {
            for (var, changed_at) in self.vars.iter().zip(&mut self.changed_at) {
                if bytes_of(&self.data, var) != bytes_of(data, var) {
                    *changed_at = Some(now);
                }
            }
        }
        let new_generation = self.generation != Some(generation);
        self.generation = Some(generation);
        self.data.clear();
        self.data.extend_from_slice(data);
        self.rate.record(now, u64::from(new_generation), bytes);
    }

    /// The frame to show at `now` on a terminal of `width` columns and
    /// `height` lines: at most `height` lines of at most `width` characters,
    /// joined by `\n`, with no newline at the end (so that a full-height
    /// frame does not scroll).
    ///
    /// With `color`, the header is bold and changed rows are in reverse
    /// video; without, the text holds no escape sequences.
    pub(crate) fn render(&self, now: Instant, width: usize, height: usize, color: bool) -> String {
        let mut frame = Frame {
            out: String::new(),
            lines: 0,
            width,
            color,
        };
        if height == 0 {
            return frame.out;
        }
        let (updates, bytes) = self.rate.per_second(now);
        let generation = self
            .generation
            .map_or_else(|| "-".to_owned(), |g| g.to_string());
        let state = if self.connected {
            ""
        } else {
            "  reconnecting..."
        };
        frame.line(
            &format!(
                "{}  generation {generation}  {updates} updates/s  {}{state}",
                self.path,
                ByteRate(bytes)
            ),
            Some(BOLD),
        );
        if height == 1 {
            return frame.out;
        }

        let types: Vec<String> = self
            .vars
            .iter()
            .map(|v| value::type_name(v.kind, v.count))
            .collect();
        let name_width = self.vars.iter().map(|v| v.name.as_str().len()).max();
        let name_width = name_width.unwrap_or(0).max("name".len());
        let type_width = types.iter().map(String::len).max();
        let type_width = type_width.unwrap_or(0).max("type".len());
        frame.line(
            &format!("  {:name_width$}  {:type_width$}  value", "name", "type"),
            None,
        );

        let room = height - 2;
        let shown = if self.vars.len() <= room {
            self.vars.len()
        } else {
            room.saturating_sub(1)
        };
        let rows = self.vars.iter().zip(&types).zip(&self.changed_at);
        for ((var, ty), changed_at) in rows.take(shown) {
            let changed =
                changed_at.is_some_and(|t| now.saturating_duration_since(t) < HIGHLIGHT_FOR);
            let marker = if changed && !color { '*' } else { ' ' };
            let mut row = format!(
                "{marker} {:name_width$}  {ty:type_width$}  ",
                var.name.as_str()
            );
            if self.generation.is_none() {
                row.push('-');
            } else {
                // A numeric array too long for the line is summarised, so
                // that a change anywhere in it shows.
                let room = width.saturating_sub(row.chars().count());
                row.push_str(&value::fitted(var, bytes_of(&self.data, var), room));
            }
            frame.line(&row, changed.then_some(REVERSE));
        }
        let hidden = self.vars.len() - shown;
        if hidden > 0 && room > 0 {
            frame.line(&format!("  ... {hidden} more"), None);
        }
        frame.out
    }
}

/// The bytes of `var` in `data`, or as many as `data` holds.
fn bytes_of<'a>(data: &'a [u8], var: &Variable) -> &'a [u8] {
    let range = var.range();
    let end = range.end.min(data.len());
    data.get(range.start..end).unwrap_or_default()
}

/// Lines of a frame being built.
struct Frame {
    out: String,
    lines: usize,
    width: usize,
    color: bool,
}

impl Frame {
    /// Appends `text` cut to the width, in `style` when in colour.
    fn line(&mut self, text: &str, style: Option<&str>) {
        if self.lines > 0 {
            self.out.push('\n');
        }
        self.lines += 1;
        let style = style.filter(|_| self.color);
        if let Some(style) = style {
            self.out.push_str(style);
        }
        match text.char_indices().nth(self.width) {
            None => self.out.push_str(text),
            Some(_) if self.width == 0 => {}
            Some(_) => {
                let keep = text
                    .char_indices()
                    .nth(self.width - 1)
                    .map_or(0, |(i, _)| i);
                self.out.push_str(text.get(..keep).unwrap_or_default());
                self.out.push('…');
            }
        }
        if style.is_some() {
            self.out.push_str(RESET);
        }
    }
}

/// Updates and bytes received over the last second, in slots of 100 ms.
#[derive(Default)]
struct Rate {
    /// The instant of the first update; slot numbers count from it.
    origin: Option<Instant>,
    slots: [Slot; SLOTS],
}

#[derive(Clone, Copy, Default)]
struct Slot {
    /// Which 100 ms since `origin` this slot counts.
    index: u64,
    updates: u64,
    bytes: u64,
}

fn slot_index(origin: Instant, now: Instant) -> u64 {
    let elapsed = now.saturating_duration_since(origin).as_nanos() / SLOT.as_nanos();
    u64::try_from(elapsed).unwrap_or(u64::MAX)
}

impl Rate {
    fn record(&mut self, now: Instant, updates: u64, bytes: u64) {
        let origin = *self.origin.get_or_insert(now);
        let index = slot_index(origin, now);
        let at = usize::try_from(index % SLOTS as u64).unwrap_or(0);
        if let Some(slot) = self.slots.get_mut(at) {
            if slot.index != index {
                *slot = Slot {
                    index,
                    ..Slot::default()
                };
            }
            slot.updates = slot.updates.saturating_add(updates);
            slot.bytes = slot.bytes.saturating_add(bytes);
        }
    }

    /// Updates and bytes in the slot of `now` and the nine before it.
    fn per_second(&self, now: Instant) -> (u64, u64) {
        let Some(origin) = self.origin else {
            return (0, 0);
        };
        let current = slot_index(origin, now);
        self.slots
            .iter()
            .filter(|s| s.index <= current && current - s.index < SLOTS as u64)
            .fold((0, 0), |(u, b), s| {
                (u.saturating_add(s.updates), b.saturating_add(s.bytes))
            })
    }
}

/// Bytes per second in binary units: `512 B/s`, `1.5 KiB/s`.
struct ByteRate(u64);

impl fmt::Display for ByteRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
        if self.0 < 1024 {
            return write!(f, "{} B/s", self.0);
        }
        #[allow(clippy::cast_precision_loss, reason = "one decimal is shown")]
        let mut value = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}/s", UNITS.get(unit).unwrap_or(&"TiB"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memwire_std::core::schema::{Kind, SchemaBuf, SchemaBuilder};

    static SCHEMA: SchemaBuf<3> = SchemaBuilder::new()
        .var("speed", Kind::F32, 1)
        .var("count", Kind::U32, 1)
        .var("pos", Kind::I16, 3)
        .build();

    /// speed 1.5, count 42, pos [1, -2, 3].
    fn data(count: u32) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend(1.5f32.to_le_bytes());
        d.extend(count.to_le_bytes());
        d.extend([1, 0, 0xfe, 0xff, 3, 0]);
        d
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn screen(t0: Instant) -> Screen {
        let mut s = Screen::new("demo/robot", SCHEMA.as_schema());
        s.update(t0, 7, &data(42), 30);
        s
    }

    #[test]
    fn renders_a_plain_table() {
        let t0 = Instant::now();
        let frame = screen(t0).render(t0 + ms(10), 80, 24, false);
        assert_eq!(
            frame,
            "demo/robot  generation 7  1 updates/s  30 B/s\n\
             \x20 name   type    value\n\
             \x20 speed  f32     1.5\n\
             \x20 count  u32     42\n\
             \x20 pos    i16[3]  [1, -2, 3]"
        );
    }

    #[test]
    fn says_so_while_reconnecting() {
        let t0 = Instant::now();
        let mut s = screen(t0);
        s.set_connected(false);
        let frame = s.render(t0 + ms(10), 80, 1, false);
        assert_eq!(
            frame,
            "demo/robot  generation 7  1 updates/s  30 B/s  reconnecting..."
        );
        s.set_connected(true);
        assert!(!s.render(t0 + ms(10), 80, 1, false).contains("reconnecting"));
    }

    #[test]
    fn shows_dashes_before_data_and_short_data_as_such() {
        let t0 = Instant::now();
        let mut s = Screen::new("a/b", SCHEMA.as_schema());
        assert_eq!(
            s.render(t0, 80, 24, false),
            "a/b  generation -  0 updates/s  0 B/s\n\
             \x20 name   type    value\n\
             \x20 speed  f32     -\n\
             \x20 count  u32     -\n\
             \x20 pos    i16[3]  -"
        );
        s.update(t0, 1, &[0, 0, 0xc0, 0x3f, 9, 0], 6);
        let frame = s.render(t0, 80, 24, false);
        assert!(frame.contains("  speed  f32     1.5\n"), "{frame}");
        assert!(
            frame.contains("  count  u32     <2 bytes, expected 4>\n"),
            "{frame}"
        );
        assert!(
            frame.ends_with("  pos    i16[3]  <0 bytes, expected 6>"),
            "{frame}"
        );
    }

    #[test]
    fn a_change_is_highlighted_for_one_second() {
        let t0 = Instant::now();
        let mut s = screen(t0);
        s.update(t0 + ms(100), 8, &data(43), 10);

        let frame = s.render(t0 + ms(600), 80, 24, true);
        let count = frame.lines().find(|l| l.contains("count")).unwrap();
        assert_eq!(count, "\x1b[7m  count  u32     43\x1b[0m");
        let speed = frame.lines().find(|l| l.contains("speed")).unwrap();
        assert_eq!(speed, "  speed  f32     1.5");
        assert!(
            frame.starts_with("\x1b[1mdemo/robot  generation 8"),
            "{frame}"
        );

        let plain = s.render(t0 + ms(600), 80, 24, false);
        assert!(plain.contains("\n* count  u32     43\n"), "{plain}");
        assert!(plain.contains("\n  speed  f32     1.5\n"), "{plain}");
        assert!(!plain.contains('\x1b'));

        // Exactly one second after the change the highlight is gone.
        let later = s.render(t0 + ms(1100), 80, 24, true);
        assert!(!later.contains(REVERSE), "{later}");
        assert!(later.contains("\n  count  u32     43\n"), "{later}");
    }

    #[test]
    fn the_first_update_and_an_unchanged_one_highlight_nothing() {
        let t0 = Instant::now();
        let mut s = screen(t0);
        assert!(!s.render(t0, 80, 24, true).contains(REVERSE));
        s.update(t0 + ms(50), 8, &data(42), 10);
        assert!(!s.render(t0 + ms(60), 80, 24, true).contains(REVERSE));
    }

    #[test]
    fn rates_cover_the_last_second() {
        let t0 = Instant::now();
        let mut s = Screen::new("a/b", SCHEMA.as_schema());
        for i in 0..5 {
            s.update(t0 + ms(i * 100), i, &data(42), 1000);
        }
        // The same generation again: bytes arrived, but no new update.
        s.update(t0 + ms(450), 4, &data(42), 536);
        let header = |at| s.render(t0 + ms(at), 200, 1, false);
        assert_eq!(header(500), "a/b  generation 4  5 updates/s  5.4 KiB/s");
        // At 1.15 s the slots of 0 ms and 100 ms have left the window.
        assert_eq!(header(1150), "a/b  generation 4  3 updates/s  3.5 KiB/s");
        assert_eq!(header(2000), "a/b  generation 4  0 updates/s  0 B/s");
    }

    #[test]
    fn lines_are_cut_to_the_width() {
        let t0 = Instant::now();
        let frame = screen(t0).render(t0, 20, 24, false);
        assert_eq!(
            frame,
            "demo/robot  generat…\n\
             \x20 name   type    va…\n\
             \x20 speed  f32     1.5\n\
             \x20 count  u32     42\n\
             \x20 pos    i16[3]  [1…"
        );
        for line in frame.lines() {
            assert!(line.chars().count() <= 20, "{line}");
        }
        let narrow = screen(t0).render(t0, 0, 3, true);
        assert_eq!(narrow, "\x1b[1m\x1b[0m\n\n");
    }

    #[test]
    fn a_long_array_is_summarised() {
        static BIG: SchemaBuf<1> = SchemaBuilder::new()
            .var("samples", Kind::U64, 100_000)
            .build();
        let t0 = Instant::now();
        let mut s = Screen::new("a/b", BIG.as_schema());
        s.update(t0, 1, &vec![0; 800_000], 0);
        let frame = s.render(t0, 80, 3, false);
        // The sparkline fills the line: 80 columns less 46.
        let row = format!(
            "  samples  u64[100000]  min 0  max 0  last 0  {}",
            "▁".repeat(34)
        );
        assert_eq!(frame.lines().nth(2), Some(row.as_str()));
        // Narrow values stay whole.
        let frame = screen(t0).render(t0, 80, 24, false);
        assert!(frame.contains("  count  u32     42"), "{frame}");
    }

    #[test]
    fn rows_past_the_height_are_counted() {
        let t0 = Instant::now();
        let s = screen(t0);
        let frame = s.render(t0, 80, 4, false);
        assert_eq!(
            frame,
            "demo/robot  generation 7  1 updates/s  30 B/s\n\
             \x20 name   type    value\n\
             \x20 speed  f32     1.5\n\
             \x20 ... 2 more"
        );
        assert_eq!(frame.lines().count(), 4);
        // Exactly enough room: no summary line.
        assert_eq!(s.render(t0, 80, 5, false).lines().count(), 5);
        assert_eq!(
            s.render(t0, 80, 3, false).lines().last(),
            Some("  ... 3 more")
        );
        assert_eq!(s.render(t0, 80, 2, false).lines().count(), 2);
        assert_eq!(s.render(t0, 80, 0, false), "");
    }

    #[test]
    fn byte_rates_use_binary_units() {
        let shown = |b| ByteRate(b).to_string();
        assert_eq!(shown(0), "0 B/s");
        assert_eq!(shown(1023), "1023 B/s");
        assert_eq!(shown(1536), "1.5 KiB/s");
        assert_eq!(shown(5 << 20), "5.0 MiB/s");
        assert_eq!(shown(u64::MAX), "16777216.0 TiB/s");
    }
}
