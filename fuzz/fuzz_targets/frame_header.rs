//! The header before each video frame on its stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_proto::protocol::FrameHeader;

fuzz_target!(|data: &[u8]| {
    if let Some(header) = FrameHeader::decode(data) {
        let encoded = header.encode();
        assert_eq!(&encoded[..], &data[..FrameHeader::LEN]);
        assert_eq!(FrameHeader::decode(&encoded), Some(header));
    }
});
