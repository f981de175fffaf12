//! TURN over a stream (TCP, TLS): messages follow each other without datagram boundaries,
//! so each is found from its header (RFC 8656 §12.5). Shared by the app's TURN client and
//! the embedded TURN server.

/// Largest TURN message on a stream: a STUN message, or ChannelData with its padding.
pub const MAX_FRAME: usize = 65535 + 20;

/// The first bytes are neither a STUN message nor ChannelData.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a TURN message")]
pub struct NotTurn;

/// Length of the first whole message in `buf`: a STUN message is its 20-byte header plus
/// the length it announces, ChannelData its 4-byte header plus its length padded to 4.
/// `None` until the whole message is buffered.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, NotTurn> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    let total = match buf[0] >> 6 {
        0b00 => 20 + len,
        0b01 => 4 + len.div_ceil(4) * 4,
        _ => return Err(NotTurn),
    };
    Ok((buf.len() >= total).then_some(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_stun_and_padded_channel_data() {
        assert_eq!(frame_len(&[]), Ok(None));
        // A STUN header announcing 8 bytes of attributes: 28 in all.
        let mut buf = vec![0x01, 0x01, 0x00, 0x08];
        buf.extend_from_slice(&[0; 16]);
        assert_eq!(frame_len(&buf), Ok(None));
        buf.extend_from_slice(&[0; 8]);
        assert_eq!(frame_len(&buf), Ok(Some(28)));
        // ChannelData 0x4000 with 5 bytes: padded to 8, 12 in all.
        let mut cd = vec![0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0];
        assert_eq!(frame_len(&cd), Ok(None));
        cd.push(0);
        assert_eq!(frame_len(&cd), Ok(Some(12)));
        assert_eq!(frame_len(&[0xff, 0, 0, 0]), Err(NotTurn));
        // The embedded server's cases.
        assert_eq!(frame_len(&[0, 1, 0, 4, 0, 0]), Ok(None));
        assert_eq!(frame_len(&[0x40, 0, 0, 1, 9, 0, 0, 0]), Ok(Some(8)));
        assert_eq!(frame_len(&[0xc0, 0, 0, 0]), Err(NotTurn));
    }
}
