//! A helper's drawing, message by message (one JSON annotation per line), applied to the
//! sharer's sketch: whatever arrives, the sketch stays within its budgets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_proto::annotation::{
    Annotation, Sketch, MAX_INK, MAX_POINTS, MAX_POINTS_PER_STROKE, MAX_STROKES,
};

fuzz_target!(|data: &[u8]| {
    let mut sketch = Sketch::new(3840, 2160);
    for line in data.split(|b| *b == b'\n') {
        if let Ok(annotation) = serde_json::from_slice::<Annotation>(line) {
            let _ = sketch.apply(&annotation);
        }
        assert!(sketch.strokes.len() <= MAX_STROKES);
        assert!(sketch.ink() <= MAX_INK);
        let points: usize = sketch.strokes.iter().map(|s| s.points.len()).sum();
        assert!(points <= MAX_POINTS);
        for stroke in &sketch.strokes {
            assert!(stroke.points.len() <= MAX_POINTS_PER_STROKE);
            assert!(stroke.points.iter().all(|&(x, y)| x < 3840 && y < 2160));
        }
    }
});
