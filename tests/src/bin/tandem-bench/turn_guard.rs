//! What the embedded TURN server's guard costs per relayed packet (it reads every packet a
//! client sends or receives), against what relaying a packet costs at the least in user
//! space: a copy of it and a lookup of its allocation. Same thread, same packets, same run.

use std::collections::HashMap;
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use tandem_rendezvous::turn_guard::{PeerPolicy, TurnGuard, TurnQuotas, Verdict};

/// A STUN Allocate request / success for `client`, so that the guard counts its traffic.
fn allocate(guard: &TurnGuard, local: SocketAddr, client: SocketAddr) {
    const MAGIC: u32 = 0x2112_A442;
    let tx = [7u8; 12];
    let user = b"9999999999:ABCD-helper";
    let mut req = Vec::new();
    req.extend_from_slice(&0x0003u16.to_be_bytes());
    req.extend_from_slice(&((4 + user.len() + 2) as u16).to_be_bytes());
    req.extend_from_slice(&MAGIC.to_be_bytes());
    req.extend_from_slice(&tx);
    req.extend_from_slice(&0x0006u16.to_be_bytes());
    req.extend_from_slice(&(user.len() as u16).to_be_bytes());
    req.extend_from_slice(user);
    req.extend_from_slice(&[0, 0]);
    let _ = guard.inbound(local, client, &req, Instant::now());
    let mut ok = Vec::new();
    ok.extend_from_slice(&0x0103u16.to_be_bytes());
    ok.extend_from_slice(&0u16.to_be_bytes());
    ok.extend_from_slice(&MAGIC.to_be_bytes());
    ok.extend_from_slice(&tx);
    let _ = guard.outbound(local, client, &ok, Instant::now());
}

pub fn run(packets: usize) -> anyhow::Result<()> {
    let local: SocketAddr = "203.0.113.1:3478".parse()?;
    let client: SocketAddr = "198.51.100.9:50000".parse()?;
    // Unlimited bandwidth: the cost measured is the guard's, not its drops.
    let guard = TurnGuard::new(
        PeerPolicy::default(),
        TurnQuotas {
            bytes_per_second: u64::MAX / 4,
            burst_bytes: u64::MAX / 4,
            ..TurnQuotas::default()
        },
    );
    allocate(&guard, local, client);
    let mut packet = vec![0u8; 1200];
    packet[0] = 0x40;
    packet[2..4].copy_from_slice(&1196u16.to_be_bytes());

    println!("| per 1200-byte ChannelData packet | ns | ratio |");
    println!("| --- | ---: | ---: |");
    let mut results = Vec::new();
    for round in 0..3 {
        // Reference: copy the packet and find its allocation, as any relay must.
        let mut allocations: HashMap<(SocketAddr, SocketAddr), u64> = HashMap::new();
        allocations.insert((local, client), 0);
        let mut buf = vec![0u8; 1500];
        let start = Instant::now();
        for _ in 0..packets {
            buf[..packet.len()].copy_from_slice(black_box(&packet));
            if let Some(n) = allocations.get_mut(black_box(&(local, client))) {
                *n += buf[0] as u64;
            }
        }
        let reference = start.elapsed().as_nanos() as f64 / packets as f64;
        let start = Instant::now();
        let mut passed = 0usize;
        for _ in 0..packets {
            let now = Instant::now();
            if guard.inbound(local, client, black_box(&packet), now) == Verdict::Pass {
                passed += 1;
            }
        }
        let guarded = start.elapsed().as_nanos() as f64 / packets as f64;
        anyhow::ensure!(
            passed == packets,
            "the guard dropped traffic within its quota"
        );
        results.push((reference, guarded));
        if round == 2 {
            let median = |i: usize| {
                let mut v: Vec<f64> = results
                    .iter()
                    .map(|r| if i == 0 { r.0 } else { r.1 })
                    .collect();
                v.sort_by(f64::total_cmp);
                v[1]
            };
            let (r, g) = (median(0), median(1));
            println!("| copy + allocation lookup (reference) | {r:.0} | 1.00 |");
            println!("| guard (parse, quota, clock) | {g:.0} | {:.2} |", g / r);
        }
    }
    Ok(())
}
