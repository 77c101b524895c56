//! The continuous double auction's compiled core. It is driven only through
//! `backend.market.Engine`, which keeps the pure engine's interface and events; the pure engine
//! (`backend.market.PyEngine`) is the reference the property tests hold this one to.

use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

mod book;
mod commands;
mod matching;
mod take;
mod vocab;

use book::{Side, Slab};
use vocab::Vocab;

/// The market's limits, as `MarketSpec` has them (checked there; all within u64 here).
pub struct Limits {
    pub tick: u64,
    pub lot: u64,
    pub max_price: u64,
    pub max_amount: u64,
    pub fee_bps: u64,
    pub stp: u8,
}

#[pyclass(module = "gridx_market_core")]
pub struct Core {
    v: Vocab,
    lim: Limits,
    seq: u64,
    slab: Slab,
    /// indexed by the side an order rests on: SELL (0) rests on the asks, BUY (1) on the bids
    sides: [Side; 2],
}

/// `(order_id, owner, side, price, remaining)` of a resting order.
type Resting = (PyObject, PyObject, u8, u64, u64);

#[pymethods]
impl Core {
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        tick: u64,
        lot: u64,
        max_price: u64,
        max_amount: u64,
        fee_bps: u64,
        stp: u8,
        vocab: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let n = (max_price / tick + 1) as usize;
        let lim = Limits {
            tick,
            lot,
            max_price,
            max_amount,
            fee_bps,
            stp,
        };
        Ok(Core {
            v: Vocab::from_namespace(vocab)?,
            lim,
            seq: 0,
            slab: Slab::default(),
            sides: [Side::new(n, false), Side::new(n, true)],
        })
    }

    #[getter]
    fn get_seq(&self) -> u64 {
        self.seq
    }

    #[setter]
    fn set_seq(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// One command in, its events out (the contract of `backend.market`).
    fn apply<'py>(&mut self, cmd: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        let py = cmd.py();
        let mut ev = Vec::with_capacity(4);
        let t = cmd.get_type();
        if t.is(&self.v.new_order) {
            self.new_order(cmd.downcast::<PyTuple>()?, &mut ev)?;
        } else if t.is(&self.v.cancel) {
            self.cancel(cmd.downcast::<PyTuple>()?, &mut ev)?;
        } else if t.is(&self.v.amend) {
            self.amend(cmd.downcast::<PyTuple>()?, &mut ev)?;
        } else {
            let oid = cmd
                .getattr("order_id")
                .ok()
                .filter(|o| o.is_exact_instance_of::<pyo3::types::PyInt>());
            let oid = oid.map_or_else(|| 0u8.into_pyobject(py).map(|o| o.into_any()), Ok)?;
            let reason = self.v.r.bad_command.clone_ref(py);
            self.reject(py, oid.unbind(), reason, &mut ev)?;
        }
        PyList::new(py, ev)
    }

    /// The live order `order_id`, if any.
    fn order(&self, py: Python<'_>, order_id: u64) -> Option<Resting> {
        let slot = *self.slab.index.get(&order_id)?;
        let o = self.slab.get(slot);
        Some((
            o.id_obj.clone_ref(py),
            o.owner.clone_ref(py),
            o.side,
            o.tick * self.lim.tick,
            o.rem,
        ))
    }

    /// `(price, amount, orders)` per live level of `side`, best first.
    fn levels(&self, side: u8) -> Vec<(u64, u128, u32)> {
        let sd = &self.sides[side as usize & 1];
        let t = |t: u64| (t * self.lim.tick, sd.amt[t as usize], sd.cnt[t as usize]);
        sd.ticks().into_iter().map(t).collect()
    }

    /// Every live order, asks then bids, best price first, in queue order.
    fn resting(&self, py: Python<'_>) -> Vec<Resting> {
        let mut out = Vec::new();
        for sd in &self.sides {
            for t in sd.ticks() {
                for &slot in &sd.levels[t as usize] {
                    let o = self.slab.get(slot);
                    if o.rem != 0 {
                        let price = t * self.lim.tick;
                        out.push((
                            o.id_obj.clone_ref(py),
                            o.owner.clone_ref(py),
                            o.side,
                            price,
                            o.rem,
                        ));
                    }
                }
            }
        }
        out
    }
}

impl Core {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn reject(
        &mut self,
        py: Python<'_>,
        oid: PyObject,
        reason: PyObject,
        ev: &mut Vec<PyObject>,
    ) -> PyResult<()> {
        let seq = self.next_seq();
        ev.push(self.v.event(py, &self.v.rejected, (seq, oid, reason))?);
        Ok(())
    }
}

/// A level total as a Python int: the u64 conversion (fast) whenever it fits.
pub(crate) fn int(py: Python<'_>, v: u128) -> PyResult<Bound<'_, PyAny>> {
    Ok(match u64::try_from(v) {
        Ok(v) => v.into_pyobject(py)?.into_any(),
        Err(_) => v.into_pyobject(py)?.into_any(),
    })
}

#[pymodule]
fn gridx_market_core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Core>()
}
