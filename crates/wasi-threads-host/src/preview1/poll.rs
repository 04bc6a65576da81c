//! `poll_oneoff`: one `poll(2)` over the descriptors the subscriptions
//! name and the run's end signal, with the nearest clock as its timeout.

use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use rustix::event::PollFlags;
use wiggle::{GuestMemory, GuestPtr};

use super::descriptors::Desc;
use super::types::{self, Errno, Error};
use super::WasiCtx;

/// The most subscriptions one `poll_oneoff` takes.
pub const MAX_SUBSCRIPTIONS: u32 = 16384;

pub(super) fn poll_oneoff(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    subs: GuestPtr<types::Subscription>,
    events: GuestPtr<types::Event>,
    nsubscriptions: types::Size,
) -> Result<types::Size, Error> {
    // Nothing to wait for, or more than one call may take (each
    // subscription is 48 bytes the host copies).
    if nsubscriptions == 0 || nsubscriptions > MAX_SUBSCRIPTIONS {
        return Err(Errno::Inval.into());
    }
    let end = cx.run.end_signal_arc().clone();
    let subs: Vec<types::Subscription> = subs
        .as_array(nsubscriptions)
        .iter()
        .map(|s| mem.read(s?))
        .collect::<Result<_, wiggle::GuestError>>()?;
    // Each clock subscription's deadline on the monotonic clock.
    let now = Instant::now();
    let deadlines: Vec<Option<Instant>> = subs
        .iter()
        .map(|s| match &s.u {
            types::SubscriptionU::Clock(c) => {
                let abs = c
                    .flags
                    .contains(types::Subclockflags::SUBSCRIPTION_CLOCK_ABSTIME);
                let wait = match (c.id, abs) {
                    (_, false) => c.timeout,
                    (types::Clockid::Realtime, true) => {
                        c.timeout.saturating_sub(cx.clock.realtime())
                    }
                    (_, true) => c.timeout.saturating_sub(cx.clock.monotonic()),
                };
                Some(now + Duration::from_nanos(wait))
            }
            _ => None,
        })
        .collect();
    // Each descriptor is looked up once, as the call starts: what
    // another thread closes meanwhile is still waited on, as on POSIX.
    let descs: Vec<Option<Result<Desc, Errno>>> = subs
        .iter()
        .map(|s| match &s.u {
            types::SubscriptionU::Clock(_) => None,
            types::SubscriptionU::FdRead(r) | types::SubscriptionU::FdWrite(r) => {
                Some(match cx.fds.get(u32::from(r.file_descriptor)) {
                    Err(_) => Err(Errno::Badf),
                    Ok(entry) if !entry.base.contains(types::Rights::POLL_FD_READWRITE) => {
                        Err(Errno::Notcapable)
                    }
                    Ok(entry) => Ok(entry.desc),
                })
            }
        })
        .collect();
    // Descriptors the system is asked about, and subscriptions that are
    // ready (or failed) whatever happens.
    // One entry per descriptor, however many subscriptions name it, so
    // the count stays within the process's limit.
    let mut polled: Vec<(std::os::fd::BorrowedFd<'_>, PollFlags)> = Vec::new();
    let mut slots: std::collections::HashMap<std::os::fd::RawFd, usize> =
        std::collections::HashMap::new();
    // (subscription, its entry in `polled`, what it waits for)
    let mut polled_subs: Vec<(usize, usize, PollFlags)> = Vec::new();
    let mut settled: Vec<(usize, Errno)> = Vec::new();
    for (i, (s, desc)) in subs.iter().zip(&descs).enumerate() {
        let read = matches!(s.u, types::SubscriptionU::FdRead(_));
        let Some(desc) = desc else { continue };
        let fd = match (desc, read) {
            (Err(e), _) => {
                settled.push((i, *e));
                continue;
            }
            (Ok(Desc::Stdio(0)), true) => match cx.stdin.poll_fd(&end) {
                Some(fd) => fd,
                // Input in memory is always ready.
                None => {
                    settled.push((i, Errno::Success));
                    continue;
                }
            },
            (Ok(Desc::Socket(socket)), _) => socket.as_fd(),
            // FIFOs and character devices are waited for like sockets.
            (Ok(Desc::File(f)), _) if f.stream => f.file.as_fd(),
            // Regular files and the output streams are always ready.
            (Ok(Desc::File(_)), _) | (Ok(Desc::Stdio(1 | 2)), false) => {
                settled.push((i, Errno::Success));
                continue;
            }
            (Ok(_), _) => {
                settled.push((i, Errno::Badf));
                continue;
            }
        };
        // A peer that shut its side down (RDHUP) is a hangup for reads.
        let events = if read {
            PollFlags::IN | PollFlags::RDHUP
        } else {
            PollFlags::OUT
        };
        let slot = *slots.entry(fd.as_raw_fd()).or_insert_with(|| {
            polled.push((fd, PollFlags::empty()));
            polled.len() - 1
        });
        polled[slot].1 |= events;
        polled_subs.push((i, slot, events));
    }
    let next_deadline = deadlines.iter().flatten().min().copied();
    let event = |i: usize, error, nbytes, flags| {
        let s = &subs[i];
        types::Event {
            userdata: s.userdata,
            error,
            type_: match s.u {
                types::SubscriptionU::Clock(_) => types::Eventtype::Clock,
                types::SubscriptionU::FdRead(_) => types::Eventtype::FdRead,
                types::SubscriptionU::FdWrite(_) => types::Eventtype::FdWrite,
            },
            fd_readwrite: types::EventFdReadwrite { nbytes, flags },
        }
    };
    let ready: Vec<types::Event> = loop {
        let timeout = if settled.is_empty() {
            next_deadline
        } else {
            Some(Instant::now())
        };
        let revents = end.wait(&polled, timeout).map_err(Error::from)?;
        let mut ready: Vec<(usize, types::Event)> = settled
            .iter()
            .map(|&(i, error)| (i, event(i, error, 0, types::Eventrwflags::empty())))
            .collect();
        for &(i, slot, events) in &polled_subs {
            let revents =
                revents[slot] & (events | PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL);
            if revents.is_empty() {
                continue;
            }
            let error = if revents.contains(PollFlags::NVAL) {
                Errno::Badf
            } else {
                Errno::Success
            };
            let mut flags = types::Eventrwflags::empty();
            if revents.intersects(PollFlags::HUP | PollFlags::RDHUP) {
                flags |= types::Eventrwflags::FD_READWRITE_HANGUP;
            }
            let nbytes = match (&descs[i], &subs[i].u) {
                (Some(Ok(Desc::Socket(socket))), types::SubscriptionU::FdRead(_)) => {
                    socket.ready_bytes()
                }
                (Some(Ok(Desc::Stdio(0))), _) => cx.stdin.ready_bytes(&end),
                _ => 0,
            };
            ready.push((i, event(i, error, nbytes, flags)));
        }
        let now = Instant::now();
        for (i, deadline) in deadlines.iter().enumerate() {
            if deadline.is_some_and(|d| d <= now) {
                ready.push((i, event(i, Errno::Success, 0, types::Eventrwflags::empty())));
            }
        }
        if !ready.is_empty() {
            ready.sort_by_key(|(i, _)| *i);
            break ready.into_iter().map(|(_, e)| e).collect();
        }
    };
    let count = ready.len() as u32;
    for (i, e) in ready.into_iter().enumerate() {
        mem.write(events.add(i as u32)?, e)?;
    }
    Ok(count)
}
