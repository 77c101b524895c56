//! Cancel and amend-down of a live order by id, with the pure engine's checks and events.

use pyo3::prelude::*;
use pyo3::types::{PyInt, PyString, PyTuple};

use crate::Core;

impl Core {
    /// The slot of `cmd`'s live order if `cmd` (of `len` fields) names one its owner holds,
    /// else the rejection reason.
    fn live(&self, cmd: &Bound<'_, PyTuple>, len: usize) -> PyResult<Result<u32, PyObject>> {
        let py = cmd.py();
        let r = &self.v.r;
        if cmd.len() != len {
            return Ok(Err(r.bad_command.clone_ref(py)));
        }
        let (oid, owner) = (cmd.get_item(0)?, cmd.get_item(1)?);
        if !oid.is_exact_instance_of::<PyInt>() || !owner.is_exact_instance_of::<PyString>() {
            return Ok(Err(r.bad_command.clone_ref(py)));
        }
        let slot = oid
            .extract::<u64>()
            .ok()
            .and_then(|o| self.slab.index.get(&o).copied());
        let Some(slot) = slot else {
            return Ok(Err(r.unknown.clone_ref(py)));
        };
        if !crate::matching::same_owner(py, &self.slab.get(slot).owner, &owner) {
            return Ok(Err(r.not_owner.clone_ref(py)));
        }
        Ok(Ok(slot))
    }

    /// The order id a rejection names: the command's, when it is an int.
    fn oid_of(cmd: &Bound<'_, PyTuple>) -> PyResult<PyObject> {
        let py = cmd.py();
        match cmd.get_item(0) {
            Ok(o) if o.is_exact_instance_of::<PyInt>() => Ok(o.unbind()),
            _ => Ok(0u8.into_pyobject(py)?.into_any().unbind()),
        }
    }

    pub(crate) fn cancel(
        &mut self,
        cmd: &Bound<'_, PyTuple>,
        ev: &mut Vec<PyObject>,
    ) -> PyResult<()> {
        let py = cmd.py();
        let slot = match self.live(cmd, 2)? {
            Ok(slot) => slot,
            Err(reason) => return self.reject(py, Self::oid_of(cmd)?, reason, ev),
        };
        let o = self.slab.get(slot);
        let (rem, id, side, t, id_obj) =
            (o.rem, o.id, o.side as usize, o.tick, o.id_obj.clone_ref(py));
        self.slab.index.remove(&id);
        let sd = &mut self.sides[side];
        sd.remove(&mut self.slab, slot, t);
        let (a, n) = (crate::int(py, sd.amt[t as usize])?, sd.cnt[t as usize]);
        let seq = self.next_seq();
        ev.push(
            self.v
                .event(py, &self.v.cancelled, (seq, id_obj, rem, &self.v.c_user))?,
        );
        let seq = self.next_seq();
        let fields = (seq, &self.v.sides[side], t * self.lim.tick, a, n);
        ev.push(self.v.event(py, &self.v.level_changed, fields)?);
        Ok(())
    }

    pub(crate) fn amend(
        &mut self,
        cmd: &Bound<'_, PyTuple>,
        ev: &mut Vec<PyObject>,
    ) -> PyResult<()> {
        let py = cmd.py();
        let slot = match self.live(cmd, 3)? {
            Ok(slot) => slot,
            Err(reason) => return self.reject(py, Self::oid_of(cmd)?, reason, ev),
        };
        let new = cmd.get_item(2)?;
        let rem = self.slab.get(slot).rem;
        let new = if new.is_exact_instance_of::<PyInt>() {
            new.extract::<u64>().ok()
        } else {
            None
        };
        let reason = match new {
            Some(n) if 0 < n && n < rem => {
                (n % self.lim.lot != 0).then(|| self.v.r.bad_amount.clone_ref(py))
            }
            _ => Some(self.v.r.not_down.clone_ref(py)),
        };
        if let Some(reason) = reason {
            return self.reject(py, Self::oid_of(cmd)?, reason, ev);
        }
        let new = new.unwrap_or(rem);
        let o = self.slab.get_mut(slot);
        o.rem = new;
        let (side, t, id_obj) = (o.side as usize, o.tick, o.id_obj.clone_ref(py));
        let sd = &mut self.sides[side];
        sd.amt[t as usize] -= (rem - new) as u128;
        let (a, n) = (crate::int(py, sd.amt[t as usize])?, sd.cnt[t as usize]);
        let seq = self.next_seq();
        ev.push(self.v.event(py, &self.v.amended, (seq, id_obj, new))?);
        let seq = self.next_seq();
        let fields = (seq, &self.v.sides[side], t * self.lim.tick, a, n);
        ev.push(self.v.event(py, &self.v.level_changed, fields)?);
        Ok(())
    }
}
