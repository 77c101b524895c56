//! The Python vocabulary the core speaks: the event classes and enum members of
//! `backend.market._types`, handed over once by the Python wrapper, so the events built here
//! are the very same `NamedTuple` instances the pure engine builds.

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::types::PyType;
use pyo3::{ffi, BoundObject};

// codes are positions in `sides` (SELL 0, BUY 1), `tifs` (GTC 0) and `stps` (CTAKER 1)
pub const BUY: u8 = 1;
pub const IOC: u8 = 1;
pub const FOK: u8 = 2;
pub const POST: u8 = 3;
pub const CMAKER: u8 = 0;
pub const ABORT: u8 = 2;

/// Rejection reasons the core can give itself (the rest come from the Python verdict).
pub struct Reasons {
    pub bad_command: PyObject,
    pub post_only: PyObject,
    pub self_trade: PyObject,
    pub fok: PyObject,
    pub unknown: PyObject,
    pub not_owner: PyObject,
    pub not_down: PyObject,
    pub bad_amount: PyObject,
}

pub struct Vocab {
    pub accepted: PyObject,
    pub rejected: PyObject,
    pub trade: PyObject,
    pub cancelled: PyObject,
    pub amended: PyObject,
    pub level_changed: PyObject,
    pub new_order: PyObject,
    pub cancel: PyObject,
    pub amend: PyObject,
    /// indexed by the codes above
    pub sides: [PyObject; 2],
    pub tifs: [PyObject; 4],
    pub stps: [PyObject; 3],
    pub c_self_trade: PyObject,
    pub c_unfilled: PyObject,
    pub c_user: PyObject,
    pub r: Reasons,
    /// `verdict(cmd, live) -> RejectReason`: why a new order failed the core's check
    pub verdict: PyObject,
}

fn get(ns: &Bound<'_, PyAny>, name: &str) -> PyResult<PyObject> {
    Ok(ns.getattr(name)?.unbind())
}

/// An event class: a tuple subclass that allocates as `tuple` does (what `Vocab::event` relies on).
fn event_class(ns: &Bound<'_, PyAny>, name: &str) -> PyResult<PyObject> {
    let cls = ns.getattr(name)?;
    let t = cls.downcast::<PyType>()?;
    // SAFETY: both are live type objects; reading their allocator slots has no side effect.
    let (own, tuple) = unsafe {
        (
            (*t.as_type_ptr()).tp_alloc,
            (*std::ptr::addr_of!(ffi::PyTuple_Type)).tp_alloc,
        )
    };
    let plain_alloc = matches!((own, tuple), (Some(a), Some(b)) if std::ptr::fn_addr_eq(a, b));
    if !t.is_subclass_of::<PyTuple>()? || !plain_alloc {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{name} is not a plain tuple subclass"
        )));
    }
    Ok(cls.unbind())
}

fn get_n<const N: usize>(ns: &Bound<'_, PyAny>, name: &str) -> PyResult<[PyObject; N]> {
    let seq = ns.getattr(name)?;
    let mut out = Vec::with_capacity(N);
    for i in 0..N {
        out.push(seq.get_item(i)?.unbind());
    }
    out.try_into()
        .map_err(|_| pyo3::exceptions::PyValueError::new_err(format!("{name}: need {N} items")))
}

impl Vocab {
    pub fn from_namespace(ns: &Bound<'_, PyAny>) -> PyResult<Self> {
        let r = Reasons {
            bad_command: get(ns, "bad_command")?,
            post_only: get(ns, "post_only_would_take")?,
            self_trade: get(ns, "self_trade")?,
            fok: get(ns, "fok_unfillable")?,
            unknown: get(ns, "unknown_order")?,
            not_owner: get(ns, "not_owner")?,
            not_down: get(ns, "not_down")?,
            bad_amount: get(ns, "bad_amount")?,
        };
        Ok(Vocab {
            accepted: event_class(ns, "Accepted")?,
            rejected: event_class(ns, "Rejected")?,
            trade: event_class(ns, "Trade")?,
            cancelled: event_class(ns, "Cancelled")?,
            amended: event_class(ns, "Amended")?,
            level_changed: event_class(ns, "LevelChanged")?,
            new_order: get(ns, "NewOrder")?,
            cancel: get(ns, "Cancel")?,
            amend: get(ns, "Amend")?,
            sides: get_n(ns, "sides")?,
            tifs: get_n(ns, "tifs")?,
            stps: get_n(ns, "stps")?,
            c_self_trade: get(ns, "c_self_trade")?,
            c_unfilled: get(ns, "c_unfilled")?,
            c_user: get(ns, "c_user")?,
            r,
            verdict: get(ns, "verdict")?,
        })
    }

    /// An instance of the `NamedTuple` class `cls` holding `fields`, made as `tuple.__new__(cls,
    /// fields)` makes it, minus the call: a tuple subtype of the right length, items moved in.
    pub fn event<'py, T>(&self, py: Python<'py>, cls: &PyObject, fields: T) -> PyResult<PyObject>
    where
        T: IntoPyObject<'py, Target = PyTuple>,
    {
        let fields = fields.into_pyobject(py).map_err(Into::into)?.into_bound();
        let n = fields.len() as ffi::Py_ssize_t;
        // SAFETY: `cls` is a tuple subclass without its own allocator (checked in
        // `from_namespace`), so `PyType_GenericAlloc` gives a zeroed tuple of `n` slots, exactly
        // what `tuple.__new__` allocates for it. Each slot is filled once with a new reference
        // to the item at the same index of `fields` (which keeps its own), before the object is
        // handed to anyone; a failed allocation is reported as the Python error it set.
        unsafe {
            let obj = ffi::PyType_GenericAlloc(cls.as_ptr().cast::<ffi::PyTypeObject>(), n);
            if obj.is_null() {
                return Err(PyErr::fetch(py));
            }
            for i in 0..n {
                let item = ffi::PyTuple_GET_ITEM(fields.as_ptr(), i);
                ffi::Py_INCREF(item);
                ffi::PyTuple_SET_ITEM(obj, i, item);
            }
            Ok(PyObject::from_owned_ptr(py, obj))
        }
    }
}
