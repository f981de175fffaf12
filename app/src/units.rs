//! Quantities as people read them.

/// `1.5 MB`, `820 kB`, `12 B` (decimal units, as file managers show).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_as_file_managers_show_them() {
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(820_000), "820.0 kB");
        assert_eq!(human_size(104_857_600), "104.9 MB");
        assert_eq!(human_size(4_294_967_296), "4.3 GB");
    }
}
