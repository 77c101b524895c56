//! A new order: the field check, the pre-trade refusals (post-only, FOK, abort), matching at
//! price-time priority, and resting the remainder. Event for event what `_engine.Engine` does.

use pyo3::prelude::*;
use pyo3::types::{PyInt, PyString, PyTuple};

use crate::book::Order;
use crate::vocab::{ABORT, BUY, CMAKER, FOK, IOC, POST};
use crate::Core;

/// A new order whose fields passed the check; the `*_obj` are the command's own objects,
/// echoed in its events.
pub(crate) struct Incoming<'py> {
    pub oid: u64,
    pub oid_obj: Bound<'py, PyAny>,
    pub owner: Bound<'py, PyAny>,
    pub side: u8,
    pub lim: u64,
    pub amount: u64,
    pub tif: u8,
    pub stp: u8,
}

fn exact_u64(o: &Bound<'_, PyAny>) -> Option<u64> {
    if o.is_exact_instance_of::<PyInt>() {
        o.extract::<u64>().ok()
    } else {
        None
    }
}

fn position(o: &Bound<'_, PyAny>, members: &[PyObject]) -> Option<u8> {
    members.iter().position(|m| o.is(m)).map(|i| i as u8)
}

/// Two owners (exact `str`s) are one owner.
pub(crate) fn same_owner(py: Python<'_>, a: &PyObject, b: &Bound<'_, PyAny>) -> bool {
    a.is(b) || {
        let (a, b) = (a.downcast_bound::<PyString>(py), b.downcast::<PyString>());
        matches!((a, b), (Ok(a), Ok(b)) if a.to_str().ok() == b.to_str().ok())
    }
}

impl Core {
    pub(crate) fn new_order(
        &mut self,
        cmd: &Bound<'_, PyTuple>,
        ev: &mut Vec<PyObject>,
    ) -> PyResult<()> {
        let py = cmd.py();
        if cmd.len() != 7 {
            let reason = self.v.r.bad_command.clone_ref(py);
            return self.reject(py, 0u8.into_pyobject(py)?.into_any().unbind(), reason, ev);
        }
        if let Some(inc) = self.check(cmd)? {
            return self.place(cmd, inc, ev);
        }
        let oid = cmd.get_item(0)?;
        let live = exact_u64(&oid).is_some_and(|o| self.slab.index.contains_key(&o));
        let reason = self.v.verdict.call1(py, (cmd, live))?;
        let oid = if oid.is_exact_instance_of::<PyInt>() {
            oid
        } else {
            0u8.into_pyobject(py)?.into_any()
        };
        self.reject(py, oid.unbind(), reason, ev)
    }

    /// The order's fields if every one is valid for this market, else None (the Python verdict
    /// then names the first bad field).
    fn check<'py>(&self, cmd: &Bound<'py, PyTuple>) -> PyResult<Option<Incoming<'py>>> {
        let l = &self.lim;
        let f = cmd.as_slice(); // borrowed: no reference counting per field
        let Some(oid) = exact_u64(&f[0]) else {
            return Ok(None);
        };
        let (oid_obj, owner) = (f[0].clone(), f[1].clone());
        let side = position(&f[2], &self.v.sides);
        let price = exact_u64(&f[3]).filter(|&p| 0 < p && p <= l.max_price && p % l.tick == 0);
        let amount = exact_u64(&f[4]).filter(|&a| 0 < a && a <= l.max_amount && a % l.lot == 0);
        let tif = position(&f[5], &self.v.tifs);
        let stp_o = &f[6];
        let stp = if stp_o.is_none() {
            Some(l.stp)
        } else {
            position(stp_o, &self.v.stps)
        };
        if self.slab.index.contains_key(&oid) || !owner.is_exact_instance_of::<PyString>() {
            return Ok(None);
        }
        Ok(match (side, price, amount, tif, stp) {
            (Some(side), Some(p), Some(amount), Some(tif), Some(stp)) => Some(Incoming {
                oid,
                oid_obj,
                owner,
                side,
                lim: p / l.tick,
                amount,
                tif,
                stp,
            }),
            _ => None,
        })
    }

    fn place(
        &mut self,
        cmd: &Bound<'_, PyTuple>,
        o: Incoming<'_>,
        ev: &mut Vec<PyObject>,
    ) -> PyResult<()> {
        let py = cmd.py();
        let maker = if o.side == BUY { 0 } else { 1 };
        let crosses = self.sides[maker].best().is_some_and(|b| {
            if o.side == BUY {
                b <= o.lim
            } else {
                b >= o.lim
            }
        });
        let refusal = if crosses {
            self.refusal(py, maker, &o)
        } else {
            (o.tif == FOK).then(|| self.v.r.fok.clone_ref(py))
        };
        if let Some(reason) = refusal {
            return self.reject(py, cmd.get_item(0)?.unbind(), reason, ev);
        }
        let f = cmd.as_slice();
        let seq = self.next_seq();
        let acc = (seq, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5]);
        ev.push(self.v.event(py, &self.v.accepted, acc)?);
        let mut q = o.amount;
        let stopped = crosses && self.take(py, maker, &o, &mut q, ev)?;
        if q == 0 {
            return Ok(());
        }
        let seq = self.next_seq();
        if stopped || o.tif == IOC {
            let why = if stopped {
                &self.v.c_self_trade
            } else {
                &self.v.c_unfilled
            };
            ev.push(self.v.event(py, &self.v.cancelled, (seq, &f[0], q, why))?);
            return Ok(());
        }
        self.rest(f, &o, q, seq, ev)
    }

    /// Rest the remainder `q` of `o` (command fields `f`) on its side of the book.
    fn rest(
        &mut self,
        f: &[Bound<'_, PyAny>],
        o: &Incoming<'_>,
        q: u64,
        seq: u64,
        ev: &mut Vec<PyObject>,
    ) -> PyResult<()> {
        let py = o.owner.py();
        let id_obj = f[0].clone().unbind();
        let owner = o.owner.clone().unbind();
        let order = Order {
            rem: q,
            id: o.oid,
            id_obj,
            owner,
            side: o.side,
            tick: o.lim,
        };
        let slot = self.slab.insert(order);
        let own = &mut self.sides[o.side as usize];
        own.push(slot, o.lim, q);
        let (a, n) = (
            crate::int(py, own.amt[o.lim as usize])?,
            own.cnt[o.lim as usize],
        );
        ev.push(
            self.v
                .event(py, &self.v.level_changed, (seq, &f[2], &f[3], a, n))?,
        );
        Ok(())
    }

    /// Why a crossing order is refused before it trades: post-only, FOK that cannot fill
    /// whole, or `abort` that would meet its owner's order.
    fn refusal(&self, py: Python<'_>, maker: usize, o: &Incoming<'_>) -> Option<PyObject> {
        if o.tif == POST {
            return Some(self.v.r.post_only.clone_ref(py));
        }
        if o.tif != FOK && o.stp != ABORT {
            return None;
        }
        let (avail, blocked) = self.fillable(py, maker, o);
        if blocked && o.stp == ABORT {
            return Some(self.v.r.self_trade.clone_ref(py));
        }
        (o.tif == FOK && avail < o.amount as u128).then(|| self.v.r.fok.clone_ref(py))
    }

    /// Walk, without touching them, the orders `o` would meet, in priority order: (amount it
    /// could fill, whether it met its owner's order first). Under cancel-maker own orders are
    /// passed over (they would be cancelled, not traded).
    fn fillable(&self, py: Python<'_>, maker: usize, o: &Incoming<'_>) -> (u128, bool) {
        let sd = &self.sides[maker];
        let skip_own = o.stp == CMAKER;
        let mut avail = 0u128;
        for t in sd.ticks_to(o.lim) {
            for &slot in &sd.levels[t as usize] {
                let m = self.slab.get(slot);
                if m.rem == 0 {
                    continue;
                }
                if same_owner(py, &m.owner, &o.owner) {
                    if skip_own {
                        continue;
                    }
                    return (avail, true);
                }
                avail += m.rem as u128;
                if avail >= o.amount as u128 {
                    return (avail, false);
                }
            }
        }
        (avail, false)
    }
}
