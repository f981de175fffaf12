//! The link emulator's I/O: a thread in the link's own network namespace moves Ethernet
//! frames between its two interfaces with raw packet sockets, each direction through a
//! [`LinkModel`]. The namespace has no addresses and does not route: every frame between
//! the peer and the rest of the network passes here.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::link::LinkModel;
use super::profile::Profile;

/// Larger than any frame on a 1500-byte MTU; a bigger one (an offload left on) is dropped.
const FRAME_MAX: usize = 2048;
/// The thread looks at its stop flag at least this often.
const STOP_POLL: Duration = Duration::from_millis(20);

/// A running emulator; stops (and joins its thread) when dropped.
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Time zero of the profile's rate schedule.
    started: Instant,
}

impl Forwarder {
    /// Starts moving frames between `peer_side` (what the peer sends arrives there) and
    /// `net_side`, two interfaces of namespace `ns`, shaped as `profile`.
    pub fn start(ns: &str, peer_side: &str, net_side: &str, profile: &Profile) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let started = Instant::now();
        let thread = {
            let (ns, peer_side, net_side) =
                (ns.to_string(), peer_side.to_string(), net_side.to_string());
            let profile = profile.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("link-emulator".into())
                .spawn(move || {
                    let sockets = crate::netns::enter(&ns)
                        .and_then(|()| Ok((packet_socket(&peer_side)?, packet_socket(&net_side)?)));
                    let (peer, net) = match sockets {
                        Ok(s) => {
                            let _ = ready_tx.send(Ok(()));
                            s
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let seed = rand::random();
                    let mut up = LinkModel::new(profile.up, started, seed);
                    let mut down = LinkModel::new(profile.down, started, seed ^ 0x5eed);
                    run(&peer, &net, &mut up, &mut down, &stop);
                })
                .expect("spawn the link emulator")
        };
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("link emulator in {ns}: {e}"),
            Err(_) => panic!("link emulator in {ns} ended before it was ready"),
        }
        Self {
            stop,
            thread: Some(thread),
            started,
        }
    }

    /// Time zero of the profile's rate schedule.
    pub fn started(&self) -> Instant {
        self.started
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(peer: &OwnedFd, net: &OwnedFd, up: &mut LinkModel, down: &mut LinkModel, stop: &AtomicBool) {
    let mut buf = vec![0u8; FRAME_MAX];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wake = [up.next_delivery(), down.next_delivery()]
            .into_iter()
            .flatten()
            .min()
            .map_or(STOP_POLL, |at| at.saturating_duration_since(now))
            .min(STOP_POLL);
        let mut fds = [
            libc::pollfd {
                fd: peer.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: net.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let timeout = libc::timespec {
            tv_sec: wake.as_secs() as libc::time_t,
            tv_nsec: wake.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `fds` is a valid array of two pollfds for the duration of the call.
        unsafe { libc::ppoll(fds.as_mut_ptr(), 2, &timeout, std::ptr::null()) };
        let now = Instant::now();
        while let Some(frame) = receive(peer, &mut buf) {
            up.arrive(now, frame);
        }
        while let Some(frame) = receive(net, &mut buf) {
            down.arrive(now, frame);
        }
        while let Some(frame) = up.deliver(now) {
            transmit(net, &frame);
        }
        while let Some(frame) = down.deliver(now) {
            transmit(peer, &frame);
        }
    }
}

/// A raw packet socket on interface `name` of the current namespace, non-blocking.
fn packet_socket(name: &str) -> io::Result<OwnedFd> {
    let protocol = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            i32::from(protocol),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let cname = std::ffi::CString::new(name).map_err(io::Error::other)?;
    // SAFETY: `cname` is a valid C string.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = protocol;
    addr.sll_ifindex = index as i32;
    // SAFETY: `addr` is a sockaddr_ll of the size given.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            std::ptr::addr_of!(addr).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// The next frame that arrived on the interface (not one this side sent), if any.
fn receive(fd: &OwnedFd, buf: &mut [u8]) -> Option<Vec<u8>> {
    loop {
        // SAFETY: sockaddr_ll is plain data.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut from_len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
        // SAFETY: `buf` and `from` are valid for the lengths given.
        let n = unsafe {
            libc::recvfrom(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                std::ptr::addr_of_mut!(from).cast(),
                &mut from_len,
            )
        };
        if n < 0 {
            return None;
        }
        let n = n as usize;
        // Our own transmissions show up as outgoing; oversized frames cannot be re-sent.
        if from.sll_pkttype == libc::PACKET_OUTGOING || n > buf.len() {
            continue;
        }
        return Some(buf[..n].to_vec());
    }
}

fn transmit(fd: &OwnedFd, frame: &[u8]) {
    // A full socket buffer drops the frame, as a busy link would.
    // SAFETY: `frame` is valid for its length.
    unsafe {
        libc::send(
            fd.as_raw_fd(),
            frame.as_ptr().cast(),
            frame.len(),
            libc::MSG_DONTWAIT,
        )
    };
}
