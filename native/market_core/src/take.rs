//! Matching a taker against the maker side: levels best first while they cross its limit,
//! each level's FIFO in order; trades priced at the sell order's limit, paid as the trading
//! program pays (`floor(amount * price / 10**6)`, fee `floor(payment * bps / 10**4)`).

use pyo3::prelude::*;

use crate::matching::{same_owner, Incoming};
use crate::vocab::{BUY, CMAKER};
use crate::Core;

const PRICE_SCALE: u128 = 1_000_000;
const BPS: u128 = 10_000;

impl Core {
    /// Match `o` (remaining `q`) against side `maker`; true when self-trade prevention stopped
    /// it. A `LevelChanged` per touched level follows the trades, in the order they were met.
    pub(crate) fn take(
        &mut self,
        py: Python<'_>,
        maker: usize,
        o: &Incoming<'_>,
        q: &mut u64,
        ev: &mut Vec<PyObject>,
    ) -> PyResult<bool> {
        let mut touched = Vec::new();
        let mut stopped = false;
        while *q > 0 {
            let Some(t) = self.sides[maker].best() else {
                break;
            };
            if (o.side == BUY && t > o.lim) || (o.side != BUY && t < o.lim) {
                break;
            }
            let a0 = self.sides[maker].amt[t as usize];
            stopped = self.take_level(py, maker, t, o, q, ev)?;
            if self.sides[maker].amt[t as usize] != a0 {
                touched.push(t);
            }
            if stopped {
                break;
            }
        }
        let sd = &self.sides[maker];
        for t in touched {
            self.seq += 1;
            let (a, n) = (crate::int(py, sd.amt[t as usize])?, sd.cnt[t as usize]);
            let fields = (self.seq, &self.v.sides[maker], t * self.lim.tick, a, n);
            ev.push(self.v.event(py, &self.v.level_changed, fields)?);
        }
        Ok(stopped)
    }

    /// Work one level's FIFO until `o` is filled, the level is empty, or self-trade prevention
    /// stops `o` (true).
    fn take_level(
        &mut self,
        py: Python<'_>,
        maker: usize,
        t: u64,
        o: &Incoming<'_>,
        q: &mut u64,
        ev: &mut Vec<PyObject>,
    ) -> PyResult<bool> {
        let i = t as usize;
        let price = if o.side == BUY { t } else { o.lim } * self.lim.tick;
        while *q > 0 {
            let sd = &mut self.sides[maker];
            let Some(&slot) = sd.levels[i].front() else {
                break;
            };
            let m = self.slab.get(slot);
            let r = m.rem;
            if r == 0 {
                sd.levels[i].pop_front();
                sd.dead[i] -= 1;
                self.slab.free(slot);
                continue;
            }
            self.seq += 1;
            let f = if same_owner(py, &m.owner, &o.owner) {
                if o.stp != CMAKER {
                    self.seq -= 1;
                    return Ok(true);
                }
                let fields = (self.seq, &m.id_obj, r, &self.v.c_self_trade);
                ev.push(self.v.event(py, &self.v.cancelled, fields)?);
                r
            } else {
                let f = r.min(*q);
                // within u64 for every fill MarketSpec admits (it refuses markets where not)
                let pay = u64::try_from(f as u128 * price as u128 / PRICE_SCALE)?;
                let fee = (pay as u128 * self.lim.fee_bps as u128 / BPS) as u64;
                let (s, mid, mo) = (self.seq, m.id_obj.bind(py), m.owner.bind(py));
                let (oid, owner) = (&o.oid_obj, &o.owner);
                let fields = if o.side == BUY {
                    (s, price, f, pay, fee, mid, oid, mo, owner, mid)
                } else {
                    (s, price, f, pay, fee, oid, mid, owner, mo, mid)
                };
                ev.push(self.v.event(py, &self.v.trade, fields)?);
                *q -= f;
                f
            };
            if self.fill_maker(slot, t, maker, r, f) {
                break;
            }
        }
        Ok(false)
    }

    /// Take `f` off maker `slot` (remaining `r`) on level `t`; true when the level emptied.
    fn fill_maker(&mut self, slot: u32, t: u64, maker: usize, r: u64, f: u64) -> bool {
        let i = t as usize;
        let sd = &mut self.sides[maker];
        sd.amt[i] -= f as u128;
        if f < r {
            self.slab.get_mut(slot).rem = r - f;
            return false;
        }
        sd.levels[i].pop_front();
        let id = self.slab.get(slot).id;
        self.slab.index.remove(&id);
        self.slab.free(slot);
        sd.cnt[i] -= 1;
        if sd.cnt[i] == 0 {
            sd.clear_level(&mut self.slab, t);
            return true;
        }
        false
    }
}
